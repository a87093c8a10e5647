package mailer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/ferryhq/ferry"
)

// Config is how to reach the SMTP server.
type Config struct {
	// Host empty: mail stays queued (each mail is logged once).
	Host     string
	Port     int
	TLS      string // none | starttls | tls
	Username string // with a username, AUTH PLAIN
	Password string
	From     string
	FromName string
	// RetryInitial is the wait after the first temporary failure, doubled
	// (with jitter) after each, up to RetryMax; after MaxAttempts the mail
	// fails for good.
	RetryInitial time.Duration
	RetryMax     time.Duration
	MaxAttempts  int
	// Timeout bounds one delivery: connecting, and each command.
	Timeout time.Duration
	// TLSConfig is used for tls and starttls; nil verifies Host against the
	// system's roots.
	TLSConfig *tls.Config
}

// Store is what the mailer needs of the outbox.
type Store interface {
	DueMail(now time.Time, max int) ([]ferry.QueuedMail, error)
	QueuedMailAfter(id uint64, max int) ([]ferry.QueuedMail, error)
	NextMailDue() (time.Time, bool, error)
	MailSent(id uint64) error
	MailRetry(id uint64, next time.Time, reason string) error
	MailFailed(id uint64, reason string) error
}

// Mailer delivers the outbox. Wake it after queueing mail; Run delivers
// until its context ends.
type Mailer struct {
	cfg    Config
	store  Store
	log    *slog.Logger
	wake   chan struct{}
	logged uint64 // while no host is set: the last mail id logged

	sent, retried, failed atomic.Int64 // deliveries since start, for metrics
}

// Counts returns the deliveries since start: mails sent, attempts that
// failed and will be retried, and mails failed for good.
func (m *Mailer) Counts() (sent, retried, failed int64) {
	return m.sent.Load(), m.retried.Load(), m.failed.Load()
}

// New returns a mailer for the outbox in st.
func New(cfg Config, st Store, log *slog.Logger) *Mailer {
	return &Mailer{cfg: cfg, store: st, log: log, wake: make(chan struct{}, 1)}
}

// Wake tells the mailer that mail was queued. It never blocks.
func (m *Mailer) Wake() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Run delivers due mail until ctx is done: whenever woken, and when the
// next retry is due.
func (m *Mailer) Run(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		m.deliverDue(ctx)
		wait := time.Hour
		if at, ok, err := m.store.NextMailDue(); err != nil {
			m.log.Error("mailer: reading the outbox", "err", err)
			wait = time.Minute
		} else if ok && m.cfg.Host != "" {
			wait = max(time.Until(at), 10*time.Millisecond)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-m.wake:
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// deliverDue delivers every mail due now, one at a time.
func (m *Mailer) deliverDue(ctx context.Context) {
	if m.cfg.Host == "" {
		m.logQueued(ctx)
		return
	}
	for ctx.Err() == nil {
		due, err := m.store.DueMail(time.Now(), 20)
		if err != nil {
			m.log.Error("mailer: reading the outbox", "err", err)
			return
		}
		if len(due) == 0 {
			return
		}
		for _, q := range due {
			m.attempt(q)
		}
	}
}

// logQueued logs, once each, the mails queued since it last looked: with no
// smtp.host they stay in the outbox.
func (m *Mailer) logQueued(ctx context.Context) {
	for ctx.Err() == nil {
		list, err := m.store.QueuedMailAfter(m.logged, 100)
		if err != nil {
			m.log.Error("mailer: reading the outbox", "err", err)
			return
		}
		for _, q := range list {
			m.log.Info("mail kept in the outbox: no smtp.host is configured", "mail", q.ID, "to", q.To, "subject", q.Subject)
			m.logged = q.ID
		}
		if len(list) < 100 {
			return
		}
	}
}

// attempt delivers one mail and records the outcome.
func (m *Mailer) attempt(q ferry.QueuedMail) {
	err := m.deliver(q)
	var record error
	switch {
	case err == nil:
		m.sent.Add(1)
		record = m.store.MailSent(q.ID)
		m.log.Info("mail sent", "mail", q.ID, "to", q.To)
	case isPermanent(err) || q.Attempts+1 >= m.cfg.MaxAttempts:
		m.failed.Add(1)
		record = m.store.MailFailed(q.ID, err.Error())
		m.log.Warn("mail failed for good", "mail", q.ID, "to", q.To, "attempts", q.Attempts+1, "err", err)
	default:
		m.retried.Add(1)
		next := time.Now().Add(m.backoff(q.Attempts))
		record = m.store.MailRetry(q.ID, next, err.Error())
		m.log.Info("mail delivery failed; will retry", "mail", q.ID, "to", q.To, "retry_at", next, "err", err)
	}
	if record != nil {
		m.log.Error("mailer: recording a delivery", "mail", q.ID, "err", record)
	}
}

// backoff is the wait after the n-th failed attempt (from 0): RetryInitial
// doubled n times, at most RetryMax, times a random factor in [0.5, 1.5).
func (m *Mailer) backoff(n int) time.Duration {
	d := m.cfg.RetryInitial
	for i := 0; i < n && d < m.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, m.cfg.RetryMax)
	return time.Duration(float64(d) * (0.5 + rand.Float64()))
}

// isPermanent reports whether a delivery error is a 5xx reply, which no
// retry will change.
func isPermanent(err error) bool {
	var se *smtp.SMTPError
	return errors.As(err, &se) && se.Code >= 500 && se.Code < 600
}

// deliver sends one mail over a new SMTP connection.
func (m *Mailer) deliver(q ferry.QueuedMail) error {
	msg, err := Compose(m.cfg.FromName, m.cfg.From, q, time.Now())
	if err != nil {
		return &smtp.SMTPError{Code: 550, Message: err.Error()} // cannot ever be sent
	}
	addr := net.JoinHostPort(m.cfg.Host, strconv.Itoa(m.cfg.Port))
	conn, err := net.DialTimeout("tcp", addr, m.cfg.Timeout)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", addr, err)
	}
	tlsConfig := m.cfg.TLSConfig
	if tlsConfig == nil {
		tlsConfig = &tls.Config{ServerName: m.cfg.Host}
	}
	var c *smtp.Client
	switch m.cfg.TLS {
	case "tls":
		c = smtp.NewClient(tls.Client(conn, tlsConfig))
	case "starttls":
		if c, err = smtp.NewClientStartTLS(conn, tlsConfig); err != nil {
			conn.Close()
			return fmt.Errorf("starttls: %w", err)
		}
	default:
		c = smtp.NewClient(conn)
	}
	defer c.Close()
	c.CommandTimeout, c.SubmissionTimeout = m.cfg.Timeout, m.cfg.Timeout
	if m.cfg.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", m.cfg.Username, m.cfg.Password)); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	if err := c.Mail(m.cfg.From, nil); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	if err := c.Rcpt(q.To, nil); err != nil {
		return fmt.Errorf("RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	_ = c.Quit() // delivered; a failed QUIT changes nothing
	return nil
}
