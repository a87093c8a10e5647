// Package server is ferry's HTTP API (docs/api.md). It speaks HTTP only: every
// handler parses its parameters, calls one method of the interfaces below,
// and answers JSON or an error.
package server

import (
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/ferryhq/ferry/front"
	"github.com/ferryhq/ferry/version"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/mailtext"
	"github.com/ferryhq/ferry/web"
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
}

// Config is what the server needs of ferry's configuration.
type Config struct {
	PublicURL string
	// BlobRedirect answers a download link with a redirect to the object
	// store, when blobs are there, instead of sending the bytes itself.
	BlobRedirect bool
	// Signup is closed, invite or open (docs/api.md, auth.signup).
	Signup string
	// MaxRequestBody bounds every request body.
	MaxRequestBody int64
	// UploadRequestMax is the most the web app puts in one upload request
	// (config web.upload_request_max; 0: a whole file).
	UploadRequestMax int64
	// LoginFailureBurst failed logins are allowed from one address (twice
	// as many for one email) before 429; one more is allowed every
	// LoginFailureRefill (every half of it for an email).
	LoginFailureBurst  int
	LoginFailureRefill time.Duration
	// LinkDefaultExpiry is a download link's life when the request names
	// none; LinkMaxExpiry the longest it may ask for.
	LinkDefaultExpiry time.Duration
	LinkMaxExpiry     time.Duration
	// SendMaxEntries bounds a send's source entries (0: no limit).
	SendMaxEntries int
	// Mail writes the mails the API's calls queue.
	Mail mailtext.Texts
	// SendExpireAfter is how long a send waits in the inbox (the web
	// app's inbox shows each one's expiry).
	SendExpireAfter time.Duration
	// Metrics serves GET /metrics (Prometheus text); none when nil.
	Metrics http.Handler
	// BodyIdleTimeout bounds the wait for the next bytes of a request body
	// (0: none).
	BodyIdleTimeout time.Duration
	// TrustedProxies are the proxies whose X-Forwarded-For is believed
	// (config trusted_proxies).
	TrustedProxies []netip.Prefix
	// Tracker is /slice's tracker (config slice.tracker).
	Tracker string
	// MetricsToken, when set, is the bearer token GET /metrics requires.
	MetricsToken string
	// Observe, when set, is told of every request: its route template,
	// status, duration and the bytes read and written.
	Observe func(route, method string, status int, d time.Duration, in, out int64)
	// FailedLogin, when set, is told of each failed login (a wrong
	// password, a refused signup, a wrong link password).
	FailedLogin func()
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
	log      *slog.Logger
	now      func() time.Time
	handler  http.Handler
	web      *web.App

	apiRoutes     []string // "get /ops/list", ...: what the router serves under /api/1
	ipFailures    *failureLimiter
	emailFailures *failureLimiter
	resetIP       *failureLimiter // password reset requests per client address
	resetEmail    *failureLimiter // and per email

	davMu          sync.Mutex
	davLockSystems map[uint64]*userLocks // by user id
	davPaths       pathLocks
}

// New returns the server. now is the clock (time.Now in production).
func New(cfg Config, st Store, log *slog.Logger, now func() time.Time) *Server {
	log = slog.New(requestIDHandler{log.Handler()}) // request_id on every line of a request
	s := &Server{
		cfg:           cfg,
		users:         st,
		files:         st,
		uploads:       st,
		messages:      st,
		social:        st,
		dav:           st,
		log:           log,
		now:           now,
		ipFailures:    newFailureLimiter(cfg.LoginFailureBurst, cfg.LoginFailureRefill),
		emailFailures: newFailureLimiter(2*cfg.LoginFailureBurst, cfg.LoginFailureRefill/2),
		resetIP:       newFailureLimiter(10, 6*time.Minute), // 10 at once, then 10 an hour
		resetEmail:    newFailureLimiter(3, 20*time.Minute), // 3 at once, then 3 an hour

		davLockSystems: map[uint64]*userLocks{},
	}
	s.web = web.New(web.Config{
		PublicURL: cfg.PublicURL, Signup: cfg.Signup,
		LinkMaxExpiry: cfg.LinkMaxExpiry, SendExpireAfter: cfg.SendExpireAfter,
		MaxRequestBody: cfg.MaxRequestBody, UploadRequestMax: cfg.UploadRequestMax,
		Users: st, Files: st, Dav: st, Messages: st, Social: st,
		Send:       s.send,
		Mail:       cfg.Mail,
		Forgot:     s.forgotPassword,
		LoginLimit: s.underLoginLimit,
		ServeFile:  s.serveFile,
		Log:        log,
		Now:        now,
	})
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
