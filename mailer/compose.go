// Package mailer delivers the durable outbox: it composes each queued mail
// as a MIME message and hands it to an SMTP server with go-smtp, retrying
// temporary failures with exponential backoff.
package mailer

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ferryhq/ferry"
)

// Compose writes q as an RFC 5322 message from the address from (with the
// display name fromName): UTF-8 plain text, quoted-printable, with Date and
// Message-ID. Every header value is encoded or is a checked address, so
// nothing a user typed can add a header or a recipient.
func Compose(fromName, from string, q ferry.QueuedMail, date time.Time) ([]byte, error) {
	var b bytes.Buffer
	header := func(name, value string) {
		fmt.Fprintf(&b, "%s: %s\r\n", name, value)
	}
	to, err := mail.ParseAddress(q.To)
	if err != nil || strings.ContainsAny(q.To, "\r\n") {
		return nil, fmt.Errorf("bad recipient %q", q.To)
	}
	header("From", (&mail.Address{Name: oneLine(fromName), Address: from}).String())
	header("To", (&mail.Address{Address: to.Address}).String())
	if q.ReplyTo != "" {
		if rt, err := mail.ParseAddress(q.ReplyTo); err == nil {
			header("Reply-To", (&mail.Address{Address: rt.Address}).String())
		}
	}
	header("Subject", encodeHeader(oneLine(q.Subject)))
	header("Date", date.Format(time.RFC1123Z))
	header("Message-ID", "<"+q.MessageID+"@"+domainOf(from)+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	body := strings.ReplaceAll(strings.ReplaceAll(q.Body, "\r\n", "\n"), "\n", "\r\n")
	if _, err := qp.Write([]byte(body)); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// encodeHeader writes a header's text as it is when that is short printable
// ASCII without "=?", and otherwise as RFC 2047 base64 words of at most 75
// characters on folded lines: text a user typed is never read as encoded
// words of its own, and no line grows past 78 characters.
func encodeHeader(s string) string {
	plain := len(s) <= 60 && !strings.Contains(s, "=?") && strings.IndexFunc(s, func(r rune) bool { return r < ' ' || r > '~' }) < 0
	if plain {
		return s
	}
	var words []string
	for len(s) > 0 {
		n := min(len(s), 39) // 39 bytes are 52 in base64: a word of 64, 73 after "Subject: "
		for n < len(s) && !utf8.RuneStart(s[n]) {
			n--
		}
		words = append(words, "=?utf-8?b?"+base64.StdEncoding.EncodeToString([]byte(s[:n]))+"?=")
		s = s[n:]
	}
	return strings.Join(words, "\r\n ")
}

// oneLine folds any line breaks and other control characters to spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return "localhost"
}
