// Package mailer delivers the durable outbox: it composes each queued mail
// as a MIME message and hands it to an SMTP server with go-smtp, retrying
// temporary failures with exponential backoff.
package mailer

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ferryhq/ferry"
)

// Compose writes q as an RFC 5322 message from the address from (with the
// display name fromName): multipart/alternative, the UTF-8 plain text and
// an HTML part made from it (htmlOf), each quoted-printable, with Date and
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
	parts := multipart.NewWriter(&b)
	header("Content-Type", "multipart/alternative;\r\n boundary="+parts.Boundary()) // 60 hex digits: no quotes needed
	b.WriteString("\r\n")
	text := strings.ReplaceAll(q.Body, "\r\n", "\n")
	for _, p := range []struct{ kind, body string }{
		{"text/plain", text},
		{"text/html", htmlOf(q.Subject, text, q.Links)},
	} {
		w, err := parts.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {p.kind + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(w)
		if _, err := qp.Write([]byte(strings.ReplaceAll(p.body, "\n", "\r\n"))); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := parts.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// htmlOf is the HTML part of a mail whose plain text is text: each
// paragraph a <p>, each line of it on a line of its own, everything
// escaped; a line that is one of links, and only such a line, is a link,
// so a name a user typed never becomes one. The signature ("-- ") is
// quieter.
func htmlOf(subject, text string, links []string) string {
	var b strings.Builder
	b.WriteString("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>" + html.EscapeString(oneLine(subject)) + "</title></head>\n")
	b.WriteString(`<body style="font-family: system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif; font-size: 15px; line-height: 1.5; color: #1d1d1f; max-width: 36em;">` + "\n")
	for _, para := range strings.Split(strings.TrimRight(text, "\n"), "\n\n") {
		style := ""
		if strings.HasPrefix(para, "-- \n") {
			style = ` style="color: #5f6368; font-size: 13px;"`
		}
		b.WriteString("<p" + style + ">")
		for i, line := range strings.Split(para, "\n") {
			if i > 0 {
				b.WriteString("<br>\n")
			}
			if t := strings.TrimSpace(line); slices.Contains(links, t) {
				e := html.EscapeString(t)
				b.WriteString(`<a href="` + e + `" style="color: #1b62d1; font-weight: 600;">` + e + "</a>")
				continue
			}
			if indent := len(line) - len(strings.TrimLeft(line, " ")); indent > 0 {
				b.WriteString(strings.Repeat("&nbsp;", indent))
			}
			b.WriteString(html.EscapeString(strings.TrimLeft(line, " ")))
		}
		b.WriteString("</p>\n")
	}
	b.WriteString("</body></html>\n")
	return b.String()
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
