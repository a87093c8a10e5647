package server

import (
	"net/http"

	"github.com/ferryhq/ferry"
)

// settings is the answer of GET /settings/list.
type settings struct {
	Email     string `json:"email"`
	FullName  string `json:"fullname"`
	Photo     string `json:"photo"`
	AcceptAll bool   `json:"accept_all"`
	Package   string `json:"package"`
	// Storage is the storage quota in megabytes (10^6 bytes, rounded down);
	// 0 is unlimited.
	Storage int64 `json:"storage"`
}

// handleSettingsList is GET /settings/list.
func (s *Server) handleSettingsList(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	q, err := s.users.Quota(u.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, settings{
		Email:     u.Email,
		FullName:  u.FullName,
		Photo:     s.photoURL(u.PhotoToken),
		AcceptAll: u.AcceptAll,
		Package:   u.Package,
		Storage:   q.Storage / 1e6,
	})
}

// handleHealthz is GET /healthz: 200 while the store answers.
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	if err := s.users.Ping(); err != nil {
		s.log.Error("health check failed", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: ferry.EUNKNOWN, Message: "The store is not available."})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
