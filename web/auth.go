package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/front"
)

// safeNext returns where to go after signing in: a path of this site, or
// the folder.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || next == "" || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, `\`) {
		return "/files/"
	}
	return next
}

type loginData struct {
	Email, Next, Message string
	Signup, Deleted      bool
	Expired              bool   // a sign-in's code came too late
	SSOName              string // the identity provider's button, when there is one
}

func (a *App) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	if _, err := a.user(r); err == nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	q := r.URL.Query()
	a.render(w, r, http.StatusOK, "login", "Sign in", loginData{Next: q.Get("next"), Signup: a.cfg.Signup == "open",
		Deleted: q.Get("deleted") == "1", Expired: q.Get("expired") == "1", SSOName: a.ssoName()})
}

// handleLogin is the sign-in form: a new token in the cookie, under the
// API's failed-login limit; for an account with two-factor sign-in, the
// page that asks for its code first.
func (a *App) handleLogin(w http.ResponseWriter, r *http.Request) {
	email := strings.ToLower(strings.TrimSpace(r.PostFormValue("email")))
	u, err := a.cfg.Guard.Login(w, r, email, func() (*ferry.User, error) {
		return a.cfg.Users.CheckPassword(r.Context(), email, r.PostFormValue("password"))
	})
	if err != nil {
		status, fe := a.refusal(w, r, err)
		if fe == nil {
			return
		}
		data := loginData{Email: email, Next: r.PostFormValue("next"), Signup: a.cfg.Signup == "open", Message: fe.Message, SSOName: a.ssoName()}
		if fe.Code == ferry.EAUTHFAILED {
			data.Message = "Wrong email or password."
		}
		a.render(w, r, status, "login", "Sign in", data)
		return
	}
	if u.TwoFactor {
		a.askForCode(w, r, u, safeNext(r.PostFormValue("next")))
		return
	}
	a.signIn(w, r, u, safeNext(r.PostFormValue("next")))
}

func (a *App) signIn(w http.ResponseWriter, r *http.Request, u *ferry.User, next string) {
	front.SeenUser(r, u) // the sign-in's actor, in its event
	token, err := a.cfg.Users.CreateToken(r.Context(), u.ID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.setCookie(w, token)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// handleLogout ends the cookie's token, not only the cookie.
func (a *App) handleLogout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(a.sessionCookie()); err == nil && c.Value != "" {
		if err := a.cfg.Users.RevokeToken(r.Context(), c.Value); err != nil && ferry.ErrorCode(err) != ferry.ENOPERMISSION {
			a.fail(w, r, err)
			return
		}
	}
	a.clearCookie(w)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

type signupData struct {
	Mode, Invite, Email, FullName, Message string
	// Invitation is what the invitation of Invite stands for, when it
	// is good.
	Invitation *ferry.Invitation
}

// usedInvitation is what the page says of an invitation link that no
// longer works, where signup is open.
const usedInvitation = "This invitation link has been used or has expired, so nothing waits for the account you make here. You can still create one."

// handleSignupPage is /signup[?invite=CODE], the page an invitation's
// link opens: in open and invite signup alike, it keeps the code, fills
// in the invited email (which may be changed) and says what waits.
func (a *App) handleSignupPage(w http.ResponseWriter, r *http.Request) {
	d := signupData{Mode: a.cfg.Signup, Invite: r.URL.Query().Get("invite")}
	if d.Invite != "" && d.Mode != "closed" {
		inv, err := a.cfg.Users.Invitation(r.Context(), d.Invite)
		switch {
		case err == nil:
			d.Invitation, d.Email = &inv, inv.Email
		case ferry.ErrorCode(err) == ferry.ENOPERMISSION && d.Mode == "open":
			d.Invite, d.Message = "", usedInvitation
		case ferry.ErrorCode(err) == ferry.ENOPERMISSION:
			d.Message = "This invitation link has been used or has expired: ask whoever invited you for a new one."
		default:
			a.fail(w, r, err)
			return
		}
	}
	a.render(w, r, http.StatusOK, "signup", "Create an account", d)
}

// handleSignup makes the account as POST /api/1/auth/register does, and
// goes on into the app signed in.
func (a *App) handleSignup(w http.ResponseWriter, r *http.Request) {
	nu := ferry.NewUser{Email: r.PostFormValue("email"), Password: r.PostFormValue("password"), FullName: r.PostFormValue("fullname")}
	invite := strings.TrimSpace(r.PostFormValue("invite"))
	u, err := a.cfg.Guard.Login(w, r, "", func() (*ferry.User, error) {
		return ferry.Register(r.Context(), a.cfg.Users, a.cfg.Signup, nu, invite)
	}, ferry.ENOPERMISSION, ferry.EEMAILEXISTS)
	if err != nil {
		status, fe := a.refusal(w, r, err)
		if fe == nil {
			return
		}
		d := signupData{Mode: a.cfg.Signup, Invite: invite, Email: nu.Email, FullName: nu.FullName, Message: fe.Message}
		if fe.Code == ferry.ENOPERMISSION {
			status = http.StatusForbidden // 401 in the table; a refusal here
			if a.cfg.Signup == "open" {
				d.Invite, d.Message = "", usedInvitation
			}
		}
		if d.Invite != "" {
			if inv, err := a.cfg.Users.Invitation(r.Context(), d.Invite); err == nil {
				d.Invitation = &inv
			}
		}
		a.render(w, r, status, "signup", "Create an account", d)
		return
	}
	a.signIn(w, r, u, "/files/")
}

type forgotData struct {
	Email, Message string
	Sent           bool
}

func (a *App) handleForgotPage(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "forgot", "Forgot your password?", forgotData{})
}

// handleForgot asks for a reset mail as POST /api/1/auth/password/forgot
// does, under its limits; the page says the same whether or not the email
// has an account.
func (a *App) handleForgot(w http.ResponseWriter, r *http.Request) {
	email := strings.TrimSpace(r.PostFormValue("email"))
	err := a.cfg.Guard.Forgot(w, r, email, func(email string) error {
		return a.cfg.Users.ForgotPassword(r.Context(), email, a.cfg.Mail.ResetLife, a.cfg.Mail.Reset)
	})
	if err != nil {
		status, fe := a.refusal(w, r, err)
		if fe != nil {
			a.render(w, r, status, "forgot", "Forgot your password?", forgotData{Email: email, Message: fe.Message})
		}
		return
	}
	a.render(w, r, http.StatusOK, "forgot", "Forgot your password?", forgotData{Email: email, Sent: true})
}

type resetData struct {
	Code, Message string
	Gone          bool // the code does not work: the page offers a new one
	NeedCode      bool // the account has two-factor sign-in: its code too
}

// handleResetPage is /reset?code=CODE, the page a reset mail links to.
// Opening it uses nothing up.
func (a *App) handleResetPage(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "reset", "Choose a new password", resetData{Code: r.URL.Query().Get("code")})
}

// handleReset sets the new password as POST /api/1/auth/password/reset
// does, and goes on into the app signed in.
func (a *App) handleReset(w http.ResponseWriter, r *http.Request) {
	code := r.PostFormValue("code")
	u, err := a.cfg.Guard.Login(w, r, "", func() (*ferry.User, error) {
		return a.cfg.Users.ResetPassword(r.Context(), code, r.PostFormValue("password"), r.PostFormValue("otp"))
	})
	if err != nil {
		status, fe := a.refusal(w, r, err)
		if fe != nil {
			d := resetData{Code: code, Message: fe.Message, Gone: fe.Code == ferry.ENOPERMISSION}
			switch fe.Code {
			case ferry.ENOPERMISSION:
				status = http.StatusForbidden // 401 in the table; a refusal here
			case ferry.EOTPREQUIRED:
				d.NeedCode, d.Message = true, "Your account signs in with a code from your authenticator app too: enter it with the new password."
			case ferry.EAUTHFAILED:
				d.NeedCode, d.Message = true, "That code is wrong, or it was used already. Enter the code your app shows now, or one of your recovery codes."
			}
			a.render(w, r, status, "reset", "Choose a new password", d)
		}
		return
	}
	a.signIn(w, r, u, "/files/")
}
