package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/ferryhq/ferry"
)

// Personal access tokens (docs/api.md, "Personal access tokens").

// maxTokenDays bounds expires_days: about a hundred years.
const maxTokenDays = 36500

// handleCreateToken is POST /account/tokens: name, expires_days (0 or
// absent: never).
func (s *Server) handleCreateToken(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	p, err := parseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var days int64
	if v := p.String("expires_days"); v != "" {
		days, err = strconv.ParseInt(v, 10, 64)
		if err != nil || days < 0 || days > maxTokenDays {
			s.writeError(w, r, ferry.Errorf(ferry.EBADREQUEST, "expires_days must be a number of days from 0 (never) to %d.", maxTokenDays))
			return
		}
	}
	id, token, err := s.users.CreatePersonalToken(r.Context(), u.ID, p.String("name"), time.Duration(days)*24*time.Hour)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "token": token})
}

// tokenJSON is a personal token in GET /account/tokens.
type tokenJSON struct {
	ID       uint64 `json:"id"`
	Name     string `json:"name"`
	Created  string `json:"created"`
	Expires  string `json:"expires"`
	LastUsed string `json:"last_used"`
}

// handleTokens is GET /account/tokens: the user's personal tokens, newest
// first.
func (s *Server) handleTokens(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	list, err := s.users.PersonalTokens(r.Context(), u.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, eachJSON(list, func(t ferry.PersonalToken) tokenJSON {
		return tokenJSON{ID: t.ID, Name: t.Name, Created: t.Created.Format(timeLayout),
			Expires: formatOptional(t.Expires), LastUsed: formatOptional(t.LastUsed)}
	}))
}

// formatOptional is a timestamp, or "" for none.
func formatOptional(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(timeLayout)
}

// handleRevokeToken is POST /account/tokens/revoke: id stops working.
func (s *Server) handleRevokeToken(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	s.revokeByID(w, r, "a token's", func(id uint64) error { return s.users.RevokePersonalToken(r.Context(), u.ID, id) })
}
