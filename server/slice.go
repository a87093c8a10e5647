package server

import (
	"context"
	"net/http"
	"net/url"

	"github.com/ferryhq/ferry"
)

// handleSlice is GET /slice (password: the current app password) or POST
// /slice/reset (password: a new one; the old one stops working at once):
// where and how to reach the user's folder over WebDAV (docs/api.md, "/slice").
func (s *Server) handleSlice(password func(ctx context.Context, userID uint64) (string, error)) userHandler {
	return func(w http.ResponseWriter, r *http.Request, u *ferry.User) {
		pw, err := password(r.Context(), u.ID)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.answerSlice(w, u, pw)
	}
}

func (s *Server) answerSlice(w http.ResponseWriter, u *ferry.User, password string) {
	host := ""
	if pu, err := url.Parse(s.cfg.PublicURL); err == nil {
		host = pu.Hostname()
	}
	writeJSON(w, http.StatusOK, map[string]string{
		"ip": host, "tracker": s.cfg.Tracker, "login": u.Email, "rsync": password,
	})
}
