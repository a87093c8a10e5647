// Package server is ferry's HTTP API (API.md). It speaks HTTP only: every
// handler parses its parameters, calls one method of the interfaces below,
// and answers JSON or an error.
package server

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/quota"
)

// Users is what the server needs of the store for accounts and tokens.
type Users interface {
	CreateUser(nu ferry.NewUser) (*ferry.User, error)
	CheckPassword(email, password string) (*ferry.User, error)
	CreateToken(userID uint64) (string, error)
	Authenticate(token string) (*ferry.User, error)
	RevokeToken(token string) error
	Ping() error
}

// Config is what the server needs of ferry's configuration.
type Config struct {
	PublicURL string
	// Signup is closed, invite or open (API.md, auth.signup).
	Signup   string
	Packages quota.Packages
	// MaxRequestBody bounds every request body.
	MaxRequestBody int64
	// LoginFailureBurst failed logins are allowed from one address (twice
	// as many for one email) before 429; one more is allowed every
	// LoginFailureRefill (every half of it for an email).
	LoginFailureBurst  int
	LoginFailureRefill time.Duration
}

// Server is ferry's HTTP handler.
type Server struct {
	cfg     Config
	users   Users
	log     *slog.Logger
	now     func() time.Time
	handler http.Handler

	ipFailures    *failureLimiter
	emailFailures *failureLimiter
}

// New returns the server. now is the clock (time.Now in production).
func New(cfg Config, users Users, log *slog.Logger, now func() time.Time) *Server {
	s := &Server{
		cfg:           cfg,
		users:         users,
		log:           log,
		now:           now,
		ipFailures:    newFailureLimiter(cfg.LoginFailureBurst, cfg.LoginFailureRefill),
		emailFailures: newFailureLimiter(2*cfg.LoginFailureBurst, cfg.LoginFailureRefill/2),
	}
	s.handler = s.routes()
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}
