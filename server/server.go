// Package server is ferry's HTTP API (docs/api.md). It speaks HTTP only: every
// handler parses its parameters, calls one method of the interfaces below,
// and answers JSON or an error.
package server

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/ferryhq/ferry/front"
	"github.com/ferryhq/ferry/version"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/mailtext"
)

// Store is every service the server calls: the root package declares
// them, and the store implements them.
type Store interface {
	ferry.UserService
	ferry.FileService
	ferry.UploadService
	ferry.MessageService
	ferry.SocialService
	ferry.DavService
	ferry.RequestService
}

// Config is what the server needs of ferry's configuration.
type Config struct {
	PublicURL string
	// BlobRedirect answers a download link with a redirect to the object
	// store, when blobs are there, instead of sending the bytes itself.
	BlobRedirect bool
	// Signup is closed, invite or open (docs/api.md, auth.signup).
	Signup string
	// Require2FA refuses every call but those that set it up to an
	// account without two-factor sign-in (auth.require_2fa).
	Require2FA bool
	// MaxRequestBody bounds every request body.
	MaxRequestBody int64
	// Guard bounds failed logins and reset requests, for every front end.
	Guard *front.Guard
	// Outsiders bounds what people without an account do to file
	// requests ([requests]).
	Outsiders *front.Outsiders
	// LinkDefaultExpiry is a download link's life when the request names
	// none; LinkMaxExpiry the longest it may ask for.
	LinkDefaultExpiry time.Duration
	LinkMaxExpiry     time.Duration
	// SendMaxEntries bounds a send's source entries (0: no limit).
	SendMaxEntries int
	// Admin is what administrators do (the /admin/ calls; nil: refused).
	Admin ferry.AdminService
	// Mail writes the mails the API's calls queue.
	Mail mailtext.Texts
	// Metrics serves GET /metrics (Prometheus text); none when nil.
	Metrics http.Handler
	// Tracker is /slice's tracker (config slice.tracker).
	Tracker string
	// MetricsToken, when set, is the bearer token GET /metrics requires.
	MetricsToken string
}

// Server is ferry's HTTP handler.
type Server struct {
	cfg      Config
	users    ferry.UserService
	files    ferry.FileService
	uploads  ferry.UploadService
	messages ferry.MessageService
	social   ferry.SocialService
	dav      ferry.DavService
	requests ferry.RequestService
	log      *slog.Logger
	now      func() time.Time
	handler  http.Handler

	apiRoutes []string     // "get /ops/list", ...: what the router serves under /api/1
	guard     *front.Guard // failed logins and reset requests, with the web app
	admin     ferry.AdminService
	upload    front.Uploads
	links     front.Links
}

// New returns the server. now is the clock (time.Now in production).
func New(cfg Config, st Store, log *slog.Logger, now func() time.Time) *Server {
	log = front.WithRequestIDs(log)
	// A server of its own (tests) gets the config's default limits.
	if cfg.Guard == nil {
		cfg.Guard = front.NewGuard(10, time.Minute, nil, now)
	}
	if cfg.Outsiders == nil {
		cfg.Outsiders = front.NewOutsiders(cfg.Guard, front.DefaultOutsiderLimits)
	}
	s := &Server{
		cfg:      cfg,
		users:    st,
		files:    st,
		uploads:  st,
		messages: st,
		social:   st,
		dav:      st,
		requests: st,
		log:      log,
		now:      now,
		guard:    cfg.Guard,
		admin:    cfg.Admin,
	}
	s.upload = front.Uploads{Service: st, Fail: s.writeError}
	s.links = front.Links{Files: st, Guard: cfg.Guard, BlobRedirect: cfg.BlobRedirect, Fail: s.writeError}
	s.handler = s.routes()
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// handleHealthz is GET /healthz: 200 while the store answers.
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	if err := s.users.Ping(r.Context()); err != nil {
		s.log.Error("health check failed", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, front.ErrorBody{Error: ferry.EUNKNOWN, Message: "The store is not available."})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": version.Get().Version})
}
