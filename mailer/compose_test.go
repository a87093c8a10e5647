package mailer_test

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
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
	text, _ := parts(t, msg)
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	require.NoError(t, err)
	return msg, subject, text
}

// parts returns the plain text and the HTML of a multipart/alternative
// mail, as a mail reader decodes them.
func parts(t *testing.T, msg *mail.Message) (text, html string) {
	t.Helper()
	kind, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/alternative", kind)
	r := multipart.NewReader(msg.Body, params["boundary"])
	var kinds []string
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		body, err := io.ReadAll(p) // the reader undoes quoted-printable
		require.NoError(t, err)
		kind, params, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		require.NoError(t, err)
		assert.Equal(t, "utf-8", params["charset"])
		kinds = append(kinds, kind)
		if kind == "text/plain" {
			text = string(body)
		} else {
			html = string(body)
		}
	}
	assert.Equal(t, []string{"text/plain", "text/html"}, kinds, "plain text first, the richer part last")
	return text, html
}

// The HTML part says what the text says, escaped; only the lines that are
// the mail's own links are links, never an address a user typed.
func TestCompose_HTMLPart(t *testing.T) {
	raw, err := mailer.Compose("ferry", "ferry@example.org", ferry.QueuedMail{Mail: ferry.Mail{
		To: "to@example.com", Subject: "<b>Eve</b> sent you 2 items",
		Body:  "Hello,\n\n<b>Eve</b> sent you 2 items:\n\n  https://phish.example/login\n  notes & <script>.txt\n\nAccept or decline them in your inbox:\n\n  https://ferry.example/inbox\n\n-- \nferry at https://ferry.example\n",
		Links: []string{"https://ferry.example/inbox"},
	}, MessageID: "m1"}, time.Now())
	require.NoError(t, err)
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	require.NoError(t, err)
	text, page := parts(t, msg)
	assert.Contains(t, text, "  notes & <script>.txt\r\n")
	assert.Contains(t, page, `<a href="https://ferry.example/inbox"`)
	assert.Equal(t, 1, strings.Count(page, "<a "), "the name that looks like an address is not a link")
	assert.Contains(t, page, "&nbsp;&nbsp;https://phish.example/login")
	assert.Contains(t, page, "notes &amp; &lt;script&gt;.txt")
	assert.Contains(t, page, "<title>&lt;b&gt;Eve&lt;/b&gt; sent you 2 items</title>")
	assert.NotContains(t, page, "<script>")
	assert.NotContains(t, page, "<b>")
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
