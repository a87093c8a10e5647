// Package server is ferry's HTTP API (API.md). It speaks HTTP only: every
// handler parses its parameters, calls one method of the interfaces below,
// and answers JSON or an error.
package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"sync"
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
	Usage(userID uint64) (ferry.Usage, error)
	ChangeSettings(userID uint64, keep string, ch ferry.SettingsChange) error
	CreateInvitedUser(nu ferry.NewUser, code string) (*ferry.User, error)
	SetPhoto(userID uint64, p ferry.Photo) (string, error)
	RemovePhoto(userID uint64) error
	PhotoByToken(token string) (ferry.Photo, error)
}

// Social is what the server needs of the store for contacts,
// notifications and invitations.
type Social interface {
	AddContacts(ownerID uint64, emails []string) ([]error, error)
	Contacts(ownerID uint64, filter string) ([]ferry.Contact, error)
	RemoveContact(ownerID uint64, email string) error
	Notifications(userID uint64) ([]ferry.Notification, error)
	MarkNotificationsRead(userID uint64, ids []uint64) ([]error, error)
	Invite(inviterID uint64, emails []string, lim ferry.InviteLimits, mail func(email, code string) ferry.Mail) ([]error, error)
}

// Files is what the server needs of the store for a user's files. Paths are
// parsed names (paths.Parse); limits are the user's quotas.
type Files interface {
	List(userID uint64, names []string, each func(name []byte, dir bool, size int64)) error
	Mkdir(userID uint64, names []string) error
	Move(userID uint64, src, dst []string, replace bool) error
	Copy(userID uint64, src, dst []string, limits quota.Limits, replace bool) error
	Delete(userID uint64, list [][]string) ([]error, error)
	Sizes(userID uint64, list [][]string) ([]int64, error)
	Stat(userID uint64, names []string) (ferry.FileInfo, error)
	OpenBlob(sha256 string) (*os.File, error)
	PutFile(userID uint64, names []string, resolve bool, limits quota.Limits, r io.Reader, size, limit int64) (ferry.FileInfo, error)
	CreateUpload(userID uint64, names []string, size int64, resolve bool, limits quota.Limits, limit int64) (key, path string, err error)
	WriteChunk(userID uint64, key string, start, end, total int64, body io.Reader) (int64, error)
	UploadStatus(userID uint64, key string) (received, size int64, err error)
	FinalizeUpload(userID uint64, key string, limits quota.Limits) (ferry.FileInfo, error)
	CreateLink(userID uint64, names []string, expires time.Time) (string, error)
	OpenLink(token string) (ferry.FileInfo, error)
}

// Messages is what the server needs of the store for sends and the inbox.
type Messages interface {
	Send(senderID uint64, to string, sources []ferry.SendSource, lim ferry.SendLimits, pkgs quota.Packages,
		notice func(receiver *ferry.User, destinations []string, total int64) ferry.Mail) ([]uint64, error)
	Inbox(receiverID uint64) ([]ferry.Message, error)
	Outbox(senderID uint64) ([]ferry.Message, error)
	UpdateInbox(receiverID uint64, decisions []ferry.Decision, limits quota.Limits) ([]error, error)
}

// Store is everything the server needs of the store.
type Store interface {
	Users
	Files
	Messages
	Social
	Dav
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
	// MaxFileSize bounds a file's size; 0 is no limit.
	MaxFileSize int64
	// LinkDefaultExpiry is a download link's life when the request names
	// none; LinkMaxExpiry the longest it may ask for.
	LinkDefaultExpiry time.Duration
	LinkMaxExpiry     time.Duration
	// SendMaxEntries bounds a send's source entries (0: no limit);
	// SendLimits the files it carries and a receiver's pending messages.
	SendMaxEntries int
	SendLimits     ferry.SendLimits
	// InviteLimits bound invitations per user and day, and their life.
	InviteLimits ferry.InviteLimits
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
	Observe func(route string, status int, d time.Duration, in, out int64)
}

// Server is ferry's HTTP handler.
type Server struct {
	cfg      Config
	users    Users
	files    Files
	messages Messages
	social   Social
	dav      Dav
	log      *slog.Logger
	now      func() time.Time
	handler  http.Handler

	ipFailures    *failureLimiter
	emailFailures *failureLimiter

	davMu          sync.Mutex
	davLockSystems map[uint64]*userLocks // by user id
	davPaths       pathLocks
}

// New returns the server. now is the clock (time.Now in production).
func New(cfg Config, st Store, log *slog.Logger, now func() time.Time) *Server {
	s := &Server{
		cfg:           cfg,
		users:         st,
		files:         st,
		messages:      st,
		social:        st,
		dav:           st,
		log:           log,
		now:           now,
		ipFailures:    newFailureLimiter(cfg.LoginFailureBurst, cfg.LoginFailureRefill),
		emailFailures: newFailureLimiter(2*cfg.LoginFailureBurst, cfg.LoginFailureRefill/2),

		davLockSystems: map[uint64]*userLocks{},
	}
	s.handler = s.routes()
	return s
}

// limitsOf returns the quotas in force for u.
func (s *Server) limitsOf(u *ferry.User) quota.Limits {
	return s.cfg.Packages.For(u)
}

// fileLimit is the largest file allowed, -1 for no limit, as the store
// takes it.
func (s *Server) fileLimit() int64 {
	if s.cfg.MaxFileSize == 0 {
		return -1
	}
	return s.cfg.MaxFileSize
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}
