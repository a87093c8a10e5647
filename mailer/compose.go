// Package mailer delivers the durable outbox: it composes each queued mail
// as a MIME message and hands it to an SMTP server with go-smtp, retrying
// temporary failures with exponential backoff.
package mailer

import (
	"bytes"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"

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
	header("Subject", mime.QEncoding.Encode("utf-8", oneLine(q.Subject)))
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
