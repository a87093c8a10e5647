package mailer_test

import (
	"bytes"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/mailer"
)

func compose(t *testing.T, fromName string, m ferry.Mail) (*mail.Message, string, string) {
	t.Helper()
	raw, err := mailer.Compose(fromName, "ferry@example.org", ferry.QueuedMail{Mail: m, MessageID: "abc123"},
		time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	head, _, _ := strings.Cut(string(raw), "\r\n\r\n")
	for _, line := range strings.Split(head, "\r\n") {
		assert.LessOrEqual(t, len(line), 78, "header line %q", line)
		assert.NotContains(t, line, "\n")
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	require.NoError(t, err)
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	require.NoError(t, err)
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	require.NoError(t, err)
	return msg, subject, string(body)
}

func TestCompose(t *testing.T) {
	long := strings.Repeat("Ünïcödé and a long subject line ", 8)
	for _, subject := range []string{
		"Plain subject",
		"Ünïcödé subject",
		"Line one\r\nBcc: victim@example.com",
		"looks =?utf-8?q?encoded?= but is not",
		long,
	} {
		msg, got, body := compose(t, "Ferry \"Bot\"\r\nBcc: x@y", ferry.Mail{
			To: "to@example.com", ReplyTo: "re@example.com", Subject: subject,
			Body: "Line 1\nLine 2 with ünïcödé and a very long line " + strings.Repeat("x", 200) + "\n",
		})
		want := strings.NewReplacer("\r", " ", "\n", " ").Replace(subject)
		assert.Equal(t, want, got, "the subject reads back as written, on one header")
		assert.Empty(t, msg.Header.Get("Bcc"))
		to, err := msg.Header.AddressList("To")
		require.NoError(t, err)
		assert.Equal(t, []*mail.Address{{Address: "to@example.com"}}, to)
		from, err := msg.Header.AddressList("From")
		require.NoError(t, err)
		require.Len(t, from, 1)
		assert.Equal(t, "ferry@example.org", from[0].Address)
		assert.Equal(t, "<abc123@example.org>", msg.Header.Get("Message-ID"))
		assert.Equal(t, "Sun, 22 Nov 2026 12:00:00 +0000", msg.Header.Get("Date"))
		assert.Equal(t, "1.0", msg.Header.Get("MIME-Version"))
		assert.Equal(t, "Line 1\r\nLine 2 with ünïcödé and a very long line "+strings.Repeat("x", 200)+"\r\n", body)
	}
	_, err := mailer.Compose("", "ferry@example.org", ferry.QueuedMail{Mail: ferry.Mail{To: "a@b.c\r\nBcc: d@e.f"}}, time.Now())
	assert.Error(t, err)
}
