package server

import (
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
	token, err := s.files.CreateLink(r.Context(), u.ID, names, s.now().Add(life))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"url": s.cfg.PublicURL + "/d/" + token})
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
}
