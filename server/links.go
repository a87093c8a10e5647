package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/web"
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
	token, id, err := s.files.CreateLink(r.Context(), u.ID, names, s.now().Add(life))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"url": s.cfg.PublicURL + "/d/" + token, "id": id})
}

// linkJSON is a link in GET /files/links. No link has a download limit or
// a password yet: max_downloads is 0 (none) and password false for all.
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
	out := make([]linkJSON, len(links))
	for i, l := range links {
		out[i] = linkJSON{ID: l.ID, File: l.File, Created: l.Created.UTC().Format(time.RFC3339), Expires: l.Expires.UTC().Format(time.RFC3339), Downloads: l.Downloads}
	}
	writeJSON(w, http.StatusOK, out)
}

// handleRevokeLink is POST /files/link/revoke: id stops working at once.
func (s *Server) handleRevokeLink(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	p, err := parseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	id, err := strconv.ParseUint(p.String("id"), 10, 64)
	if err != nil {
		s.writeError(w, r, ferry.Errorf(ferry.EBADREQUEST, "id must be a link's id."))
		return
	}
	if err := s.files.RevokeLink(r.Context(), u.ID, id); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeOK(w)
}

// handleDownloadLink is GET /d/{token}: the linked file, without auth.
func (s *Server) handleDownloadLink(w http.ResponseWriter, r *http.Request) {
	info, expires, err := s.files.OpenLink(r.Context(), pathVar(r, "token"))
	if web.WantsPage(r) {
		// A browser gets a page with the file's name and a download
		// button (?download=1), or one that says the link is gone.
		s.web.LinkPage(w, r, info, expires.UTC().Format("2006-01-02 15:04 UTC"), err)
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.serveFile(w, r, info)
	if r.Method == http.MethodGet && answered(w) == http.StatusOK {
		// A whole file (not a range, not a 304) is one download.
		if err := s.files.CountDownload(context.WithoutCancel(r.Context()), pathVar(r, "token")); err != nil {
			s.log.WarnContext(r.Context(), "counting a link's download", "err", err)
		}
	}
}
