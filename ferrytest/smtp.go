package ferrytest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"html"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/app"
)

// SMTPPeer is a real SMTP server (go-smtp) on 127.0.0.1 that records every
// mail it accepts. Replies to DATA can be scripted, and it can go down and
// come back on the same port.
type SMTPPeer struct {
	t    testing.TB
	Addr string
	// With TLS set, the peer speaks "starttls" or "tls" (TLSMode) with
	// that certificate; with User set, it requires AUTH PLAIN as
	// User/Pass.
	TLSMode    string
	TLS        *tls.Config
	User, Pass string

	mu       sync.Mutex
	srv      *smtp.Server
	mails    []Mail
	replies  []error // what the next DATA commands answer (nil: accept)
	attempts int     // DATA commands seen
}

type Mail struct {
	From string
	To   []string
	Data []byte
}

// StartSMTP starts a peer on a free port.
func StartSMTP(t testing.TB) *SMTPPeer {
	return StartSMTPWith(t, &SMTPPeer{})
}

// StartSMTPWith starts the peer p (its TLS and auth settings made) on a
// free port.
func StartSMTPWith(t testing.TB, p *SMTPPeer) *SMTPPeer {
	p.t = t
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p.Addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.Stop)
	return p
}

// DownSMTP reserves a port with nobody listening: connections are refused
// until Up is called.
func DownSMTP(t testing.TB) *SMTPPeer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &SMTPPeer{t: t, Addr: ln.Addr().String()}
	require.NoError(t, ln.Close())
	t.Cleanup(p.Stop)
	return p
}

func (p *SMTPPeer) serve(ln net.Listener) {
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &peerSession{peer: p}, nil }))
	srv.Domain = "peer.test"
	srv.AllowInsecureAuth = p.TLSMode == "" // a TLS peer takes AUTH over TLS only
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	switch p.TLSMode {
	case "starttls":
		srv.TLSConfig = p.TLS
	case "tls":
		ln = tls.NewListener(ln, p.TLS)
	}
	p.mu.Lock()
	p.srv = srv
	p.mu.Unlock()
	go srv.Serve(ln)
}

// Up starts listening on the peer's port.
func (p *SMTPPeer) Up() {
	ln, err := net.Listen("tcp", p.Addr)
	require.NoError(p.t, err)
	p.serve(ln)
}

func (p *SMTPPeer) Stop() {
	p.mu.Lock()
	srv := p.srv
	p.srv = nil
	p.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// SelfSigned returns a server TLS config for 127.0.0.1 and a client
// config that trusts it.
func SelfSigned(t testing.TB) (server, client *tls.Config) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}

// Configure points ferry's smtp section at the peer.
func (p *SMTPPeer) Configure(c *app.Config) {
	host, port, _ := net.SplitHostPort(p.Addr)
	c.SMTP.Host = host
	c.SMTP.Port, _ = strconv.Atoi(port)
	c.SMTP.TLS = "none"
	if p.TLSMode != "" {
		c.SMTP.TLS = p.TLSMode
	}
	c.SMTP.From = "ferry@ferry.test"
	c.SMTP.RetryInitial = app.Duration(20 * time.Millisecond)
	c.SMTP.RetryMax = app.Duration(100 * time.Millisecond)
	c.SMTP.Timeout = app.Duration(5 * time.Second)
}

// Answer scripts the replies to the next DATA commands.
func (p *SMTPPeer) Answer(replies ...error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.replies = append(p.replies, replies...)
}

func (p *SMTPPeer) Received() []Mail {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Mail(nil), p.mails...)
}

func (p *SMTPPeer) DataAttempts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.attempts
}

// WaitMails waits until the peer has n mails and returns them.
func (p *SMTPPeer) WaitMails(n int) []Mail {
	p.t.Helper()
	require.Eventually(p.t, func() bool { return len(p.Received()) >= n }, 15*time.Second, 10*time.Millisecond,
		"the SMTP peer has %d of %d mails", len(p.Received()), n)
	return p.Received()
}

var (
	TempFail = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
	PermFail = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such mailbox"}
)

// AuthMechanisms and Auth make a session require AUTH PLAIN when the peer
// has a user.
func (s *peerSession) AuthMechanisms() []string {
	if s.peer.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *peerSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.peer.User || pass != s.peer.Pass {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Bad credentials"}
		}
		s.authed = true
		return nil
	}), nil
}

type peerSession struct {
	authed bool
	peer   *SMTPPeer
	from   string
	to     []string
}

func (s *peerSession) Reset()        { s.from, s.to = "", nil }
func (s *peerSession) Logout() error { return nil }
func (s *peerSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.peer.User != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}
func (s *peerSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *peerSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	p := s.peer
	p.mu.Lock()
	defer p.mu.Unlock()
	p.attempts++
	if len(p.replies) > 0 {
		reply := p.replies[0]
		p.replies = p.replies[1:]
		if reply != nil {
			return reply
		}
	}
	p.mails = append(p.mails, Mail{From: s.from, To: append([]string(nil), s.to...), Data: data})
	return nil
}

// Parsed is a received mail read as a mail reader would: the plain text
// and the HTML of its multipart/alternative body.
type Parsed struct {
	Header mail.Header
	Body   string
	HTML   string
}

func (m Mail) Parse(t testing.TB) Parsed {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	require.NoError(t, err)
	kind, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/alternative", kind)
	p := Parsed{Header: msg.Header}
	r := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := r.NextPart()
		if err == io.EOF {
			return p
		}
		require.NoError(t, err)
		body, err := io.ReadAll(part) // undoes quoted-printable
		require.NoError(t, err)
		switch kind, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type")); kind {
		case "text/plain":
			p.Body = string(body)
		case "text/html":
			p.HTML = string(body)
		}
	}
}

// Links returns the addresses the mail's HTML part links to, in order.
func (p Parsed) Links() []string {
	var links []string
	for _, m := range hrefs.FindAllStringSubmatch(p.HTML, -1) {
		links = append(links, html.UnescapeString(m[1]))
	}
	return links
}

var hrefs = regexp.MustCompile(`<a href="([^"]*)"`)

func (p Parsed) Subject(t testing.TB) string {
	s, err := new(mime.WordDecoder).DecodeHeader(p.Header.Get("Subject"))
	require.NoError(t, err)
	return s
}

// SignupCode finds the invitation code in a mail's body.
func (p Parsed) SignupCode(t testing.TB) string {
	t.Helper()
	_, rest, ok := strings.Cut(p.Body, "/signup?invite=")
	require.True(t, ok, "no signup link in:\n%s", p.Body)
	code, _, _ := strings.Cut(rest, "\r\n")
	code, _, _ = strings.Cut(code, "\n")
	return strings.TrimSpace(code)
}
