package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/ferryhq/ferry"
)

// handleCreateLink is POST /files/link: a download URL that needs no auth,
// for expires seconds (the configured default when absent).
func (s *Server) handleCreateLink(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	p, names, err := s.paramsAndPath(r, "path")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	life := s.cfg.LinkDefaultExpiry
	if v := p.String("expires"); v != "" {
		secs, err := strconv.ParseInt(v, 10, 64)
		maxSecs := int64(s.cfg.LinkMaxExpiry / time.Second)
		if err != nil || secs <= 0 || secs > maxSecs {
			s.writeError(w, r, ferry.Errorf(ferry.EBADREQUEST, "expires must be a number of seconds from 1 to %d.", maxSecs))
			return
		}
		life = time.Duration(secs) * time.Second
	}
	opts := ferry.LinkOptions{Password: p.String("password")}
	if v := p.String("max_downloads"); v != "" {
		if opts.MaxDownloads, err = strconv.ParseUint(v, 10, 64); err != nil {
			s.writeError(w, r, ferry.Errorf(ferry.EBADREQUEST, "max_downloads must be a whole number, 0 for no limit."))
			return
		}
	}
	if len(opts.Password) > ferry.MaxPasswordLen {
		s.writeError(w, r, ferry.Errorf(ferry.EBADREQUEST, "A link's password has at most %d bytes.", ferry.MaxPasswordLen))
		return
	}
	token, id, err := s.files.CreateLink(r.Context(), u.ID, names, s.now().Add(life), opts)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"url": s.cfg.PublicURL + "/d/" + token, "id": id})
}

// linkJSON is a link in GET /files/links.
type linkJSON struct {
	ID           uint64 `json:"id"`
	File         string `json:"file"`
	Created      string `json:"created"`
	Expires      string `json:"expires"`
	Downloads    uint64 `json:"downloads"`
	MaxDownloads uint64 `json:"max_downloads"`
	Password     bool   `json:"password"`
}

// handleLinks is GET /files/links: the user's links, newest first.
func (s *Server) handleLinks(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	links, err := s.files.Links(r.Context(), u.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, eachJSON(links, func(l ferry.Link) linkJSON {
		return linkJSON{ID: l.ID, File: l.File, Created: l.Created.Format(timeLayout), Expires: l.Expires.Format(timeLayout),
			Downloads: l.Downloads, MaxDownloads: l.MaxDownloads, Password: l.Password}
	}))
}

// handleRevokeLink is POST /files/link/revoke: id stops working at once.
func (s *Server) handleRevokeLink(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	s.revokeByID(w, r, "a link's", func(id uint64) error { return s.files.RevokeLink(r.Context(), u.ID, id) })
}

// revokeByID is a revoke call (a link, a token, a file request): the
// parameter id, what it names for the error, and the service's revoke.
func (s *Server) revokeByID(w http.ResponseWriter, r *http.Request, whose string, revoke func(id uint64) error) {
	p, err := parseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	id, err := strconv.ParseUint(p.String("id"), 10, 64)
	if err != nil {
		s.writeError(w, r, ferry.Errorf(ferry.EBADREQUEST, "id must be %s id.", whose))
		return
	}
	if err := revoke(id); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeOK(w)
}

// handleDownloadLink is GET, HEAD or POST /d/{token}: the linked file,
// without an account (front.Links). A browser's request for the page goes
// to the web app instead (app routes it there).
func (s *Server) handleDownloadLink(w http.ResponseWriter, r *http.Request) {
	token := pathVar(r, "token")
	link, _, err := s.links.Open(w, r, token)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.links.Serve(w, r, token, link)
}
