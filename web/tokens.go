package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/ferryhq/ferry"
)

// Personal access tokens on the settings page: made with a name and a
// life, shown once, listed and revoked.

// tokenLives are the lives a token can be given on the page, in days (0:
// never ends); the API takes any number.
var tokenLives = []int{30, 90, 365, 0}

// handleCreateToken makes a personal token and shows it, once.
func (a *App) handleCreateToken(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	days, err := strconv.Atoi(r.PostFormValue("days"))
	if err != nil || days < 0 || days > 36500 {
		days = 30
	}
	name := r.PostFormValue("name")
	_, token, err := a.cfg.Users.CreatePersonalToken(r.Context(), u.ID, name, time.Duration(days)*24*time.Hour)
	if err != nil {
		if status, fe := a.refusal(w, r, err); fe != nil {
			a.renderSettings(w, r, u, status, settingsData{TokenMessage: fe.Message})
		}
		return
	}
	a.renderSettings(w, r, u, http.StatusOK, settingsData{NewToken: token, NewTokenName: name})
}

// handleRevokeToken ends a personal token at once.
func (a *App) handleRevokeToken(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err == nil {
		err = a.cfg.Users.RevokePersonalToken(r.Context(), u.ID, id)
	}
	if err != nil {
		if status, fe := a.refusal(w, r, err); fe != nil {
			a.renderSettings(w, r, u, status, settingsData{TokenMessage: "That token does not exist any more."})
		}
		return
	}
	http.Redirect(w, r, "/settings?saved=token#tokens", http.StatusSeeOther)
}
