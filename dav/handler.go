// Package dav is ferry's WebDAV front end: each user's folder at /dav/,
// with Basic auth of the login and the app password of GET /api/1/slice,
// on the root services. It stands beside the API and the web app: it
// imports neither, and they import it not.
package dav

import (
	"log/slog"
	"net/http"
	"sync"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/front"
)

// Prefix is where WebDAV is served.
const Prefix = "/dav"

// Config is what WebDAV needs of its surroundings.
type Config struct {
	Dav   ferry.DavService
	Files ferry.FileService
	// Guard bounds failed logins, with the other front ends.
	Guard *front.Guard
	// Require2FA refuses an account without two-factor sign-in
	// (auth.require_2fa).
	Require2FA bool
	// MaxRequestBody bounds every body but a PUT's (XML).
	MaxRequestBody int64
	// Page, when set, answers a browser that opens /dav/: a page that says
	// what the address is for.
	Page http.HandlerFunc
	Log  *slog.Logger
}

// Handler serves /dav/.
type Handler struct {
	cfg   Config
	dav   ferry.DavService
	files ferry.FileService
	log   *slog.Logger

	davMu          sync.Mutex
	davLockSystems map[uint64]*userLocks // by user id
	davPaths       pathLocks
}

// New returns the WebDAV handler.
func New(cfg Config) *Handler {
	return &Handler{cfg: cfg, dav: cfg.Dav, files: cfg.Files, log: cfg.Log, davLockSystems: map[uint64]*userLocks{}}
}

// ServeHTTP serves a request below /dav/.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	front.SetRoute(r, Prefix+"/")
	h.handleDav(w, r)
}

func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	front.WriteError(w, r, h.log, "dav", err)
}

func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request, info ferry.FileInfo) {
	front.ServeFile(w, r, h.files.OpenBlob, info, func(err error) { h.writeError(w, r, err) })
}
