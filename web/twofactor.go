package web

import (
	"bytes"
	"crypto/rand"
	"image/png"
	"net/http"
	"strings"
	"time"

	"github.com/pquerna/otp"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/front"
)

// Two-factor sign-in on the web app's pages: the sign-in's second step,
// and setting it up, renewing its recovery codes and turning it off in
// Settings. The calls are the API's (docs/api.md, "Two-factor sign-in").

// halfSignIn is a sign-in whose password was right and whose code is
// still to come: the code page carries its ticket, never the password.
// Tickets wait halfSignInLife.
type halfSignIn struct {
	userID uint64
	email  string
	next   string
}

const halfSignInLife = 5 * time.Minute

type codeData struct {
	Ticket, Message string
}

// askForCode shows the sign-in's second step for u, who gave the right
// password.
func (a *App) askForCode(w http.ResponseWriter, r *http.Request, u *ferry.User, next string) {
	ticket := rand.Text()
	a.half.put(ticket, halfSignIn{userID: u.ID, email: u.Email, next: next}, a.cfg.Now())
	a.render(w, r, http.StatusOK, "code", "Enter your code", codeData{Ticket: ticket})
}

// handleCode is the second step's form: a TOTP or recovery code for the
// ticket's account, under the failed-login limit of its email.
func (a *App) handleCode(w http.ResponseWriter, r *http.Request) {
	ticket := r.PostFormValue("ticket")
	s, ok := a.half.get(ticket, a.cfg.Now())
	if !ok {
		http.Redirect(w, r, "/login?expired=1", http.StatusSeeOther)
		return
	}
	u, err := a.cfg.Guard.Login(w, r, s.email, func() (*ferry.User, error) {
		if err := a.cfg.Users.CheckSecondFactor(r.Context(), s.userID, r.PostFormValue("code")); err != nil {
			return nil, err
		}
		return &ferry.User{ID: s.userID}, nil
	})
	if err != nil {
		status, fe := a.refusal(w, r, err)
		if fe == nil {
			return
		}
		msg := fe.Message
		if fe.Code == ferry.EAUTHFAILED || fe.Code == ferry.EOTPREQUIRED {
			msg = "That code is wrong, or it was used already. Enter the code your app shows now, or one of your recovery codes."
		}
		a.render(w, r, status, "code", "Enter your code", codeData{Ticket: ticket, Message: msg})
		return
	}
	a.half.take(ticket, a.cfg.Now())
	a.signIn(w, r, u, s.next)
}

// twoFactorData is what the settings page shows of two-factor sign-in.
type twoFactorData struct {
	On       bool
	SetupURL string   // a setup that waits for its code
	Secret   string   // its secret, in groups of four, for typing in
	Codes    []string // recovery codes just made: shown this once
	Message  string
	Done     string // what the last change came to
}

// sessionToken is the request's own cookie token, which a change of
// two-factor sign-in keeps.
func (a *App) sessionToken(r *http.Request) string {
	if c, err := r.Cookie(a.sessionCookie()); err == nil {
		return c.Value
	}
	return ""
}

// handleTwoFactorSetup begins a setup: the page shows its QR code.
func (a *App) handleTwoFactorSetup(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	if _, _, err := a.cfg.Users.SetupTwoFactor(r.Context(), u.ID, r.PostFormValue("current_password"), front.Issuer(a.cfg.PublicURL)); err != nil {
		a.twoFactorRefused(w, r, u, err)
		return
	}
	http.Redirect(w, r, "/settings#two-factor", http.StatusSeeOther)
}

// handleTwoFactorEnable turns it on with a code, and shows the recovery
// codes once.
func (a *App) handleTwoFactorEnable(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	codes, err := a.cfg.Users.EnableTwoFactor(r.Context(), u.ID, a.sessionToken(r), r.PostFormValue("code"))
	if err != nil {
		a.twoFactorRefused(w, r, u, err)
		return
	}
	u.TwoFactor = true
	a.renderSettings(w, r, u, http.StatusOK, settingsData{TwoFactor: twoFactorData{On: true, Codes: codes, Done: "on"}})
}

// handleTwoFactorRecovery makes new recovery codes.
func (a *App) handleTwoFactorRecovery(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	codes, err := a.cfg.Users.RenewRecoveryCodes(r.Context(), u.ID, a.sessionToken(r), r.PostFormValue("current_password"), r.PostFormValue("code"))
	if err != nil {
		a.twoFactorRefused(w, r, u, err)
		return
	}
	a.renderSettings(w, r, u, http.StatusOK, settingsData{TwoFactor: twoFactorData{On: true, Codes: codes, Done: "renewed"}})
}

// handleTwoFactorDisable turns it off.
func (a *App) handleTwoFactorDisable(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	if err := a.cfg.Users.DisableTwoFactor(r.Context(), u.ID, a.sessionToken(r), r.PostFormValue("current_password"), r.PostFormValue("code")); err != nil {
		a.twoFactorRefused(w, r, u, err)
		return
	}
	http.Redirect(w, r, "/settings?saved=2fa-off#two-factor", http.StatusSeeOther)
}

// twoFactorRefused says on the settings page why a change was refused.
func (a *App) twoFactorRefused(w http.ResponseWriter, r *http.Request, u *ferry.User, err error) {
	status, fe := a.refusal(w, r, err)
	if fe == nil {
		return
	}
	a.renderSettings(w, r, u, status, settingsData{TwoFactor: twoFactorData{Message: fe.Message}})
}

// handleTwoFactorQR is the QR code of the setup that waits, made here: no
// other service sees the secret.
func (a *App) handleTwoFactorQR(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	setup, err := a.cfg.Users.TwoFactorSetup(r.Context(), u.ID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if setup == "" {
		a.renderError(w, r, http.StatusNotFound, "There is no two-factor setup waiting: start one in Settings.")
		return
	}
	key, err := otp.NewKeyFromURL(setup)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	img, err := key.Image(240, 240)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		a.fail(w, r, err)
		return
	}
	front.Inert(w.Header())
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}

// fillTwoFactor completes d with the account's state: on, or a setup that
// waits for its code.
func (a *App) fillTwoFactor(r *http.Request, u *ferry.User, d *twoFactorData) error {
	d.On = u.TwoFactor
	if d.On {
		return nil
	}
	setup, err := a.cfg.Users.TwoFactorSetup(r.Context(), u.ID)
	if err != nil || setup == "" {
		return err
	}
	key, err := otp.NewKeyFromURL(setup)
	if err != nil {
		return err
	}
	d.SetupURL = setup
	var groups []string
	for s := key.Secret(); len(s) > 0; s = s[min(4, len(s)):] {
		groups = append(groups, s[:min(4, len(s))])
	}
	d.Secret = strings.Join(groups, " ")
	return nil
}

// setUpFirst is what require_2fa leaves an account without two-factor
// sign-in: Settings, to set it up, and signing out.
func setUpFirst(r *http.Request) bool {
	p := r.URL.Path
	return p == "/settings" || strings.HasPrefix(p, "/settings/2fa/") || p == "/logout"
}
