package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/front"
	"github.com/ferryhq/ferry/sso"
)

// Sign-in through the identity provider (docs/api.md, "Sign-in through an
// identity provider"): /auth/oidc/start sends the browser to the provider,
// /auth/oidc/callback takes it back. A flow is kept here, in memory, under
// its state, which the callback must bring both in the URL and in a
// cookie of this browser: a callback that another browser started (a
// sign-in forced on someone) is refused. Each flow is used once.

// ssoFlow is a sign-in or a link under way; it waits ssoFlowLife for the
// provider's answer.
type ssoFlow struct {
	sso.Flow
	link uint64 // the account to link, for a link from Settings; 0 for a sign-in
	next string
}

const ssoFlowLife = 10 * time.Minute

// ssoCookie is the browser's half of a flow's state.
const ssoCookie = "ferry-sso"

// startSSO sends the browser to the provider for a sign-in, or for a link
// of the account link.
func (a *App) startSSO(w http.ResponseWriter, r *http.Request, link uint64, next string) {
	f, url, err := a.cfg.SSO.Start(r.Context())
	if err != nil {
		a.cfg.Log.WarnContext(r.Context(), "identity provider", "err", err)
		a.renderError(w, r, http.StatusBadGateway, "The identity provider cannot be reached right now. Try again in a moment, or sign in with your password.")
		return
	}
	a.ssoFlows.put(f.State, ssoFlow{Flow: f, link: link, next: next}, a.cfg.Now())
	http.SetCookie(w, &http.Cookie{Name: ssoCookie, Value: f.State, Path: "/auth/oidc/", MaxAge: int(ssoFlowLife / time.Second),
		HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, url, http.StatusSeeOther)
}

// handleSSOStart is GET /auth/oidc/start[?next=PATH]: a sign-in.
func (a *App) handleSSOStart(w http.ResponseWriter, r *http.Request) {
	a.startSSO(w, r, 0, safeNext(r.URL.Query().Get("next")))
}

// handleSSOLink is POST /settings/sso/link: the signed-in account is
// linked to whoever signs in at the provider now.
func (a *App) handleSSOLink(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	a.startSSO(w, r, u.ID, "/settings#sso")
}

// handleSSOUnlink is POST /settings/sso/unlink.
func (a *App) handleSSOUnlink(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	if err := a.cfg.Users.UnlinkSSO(r.Context(), u.ID); err != nil {
		if status, fe := a.refusal(w, r, err); fe != nil {
			a.renderSettings(w, r, u, status, settingsData{SSOMessage: fe.Message})
		}
		return
	}
	http.Redirect(w, r, "/settings?saved=sso-unlinked#sso", http.StatusSeeOther)
}

// handleSSOCallback is GET /auth/oidc/callback: the provider's answer.
func (a *App) handleSSOCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	http.SetCookie(w, &http.Cookie{Name: ssoCookie, Value: "", Path: "/auth/oidc/", MaxAge: -1, HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode})
	c, err := r.Cookie(ssoCookie)
	state := q.Get("state")
	f, ok := a.ssoFlows.take(state, a.cfg.Now())
	if err != nil || state == "" || c.Value != state || !ok {
		a.ssoRefused(w, r, http.StatusBadRequest, "This sign-in was not started in this browser, or it took too long. Start again.")
		return
	}
	if e := q.Get("error"); e != "" {
		// The provider's error code, as OAuth 2.0 spells them; anything
		// else it says is not shown.
		if len(e) > 40 || strings.Trim(e, "abcdefghijklmnopqrstuvwxyz_") != "" {
			e = "an error"
		}
		a.ssoRefused(w, r, http.StatusForbidden, "The identity provider did not sign you in ("+e+").")
		return
	}
	var id sso.Identity
	_, err = a.cfg.Guard.Login(w, r, "", func() (*ferry.User, error) {
		var err error
		if id, err = a.cfg.SSO.Finish(r.Context(), f.Flow, q.Get("code")); err != nil && !errors.Is(err, sso.ErrProvider) {
			a.cfg.Log.WarnContext(r.Context(), "sign-in through the identity provider refused", "err", err)
			return nil, ferry.Errorf(ferry.EAUTHFAILED, "refused")
		}
		return nil, err
	})
	switch {
	case errors.Is(err, sso.ErrProvider):
		a.cfg.Log.WarnContext(r.Context(), "identity provider", "err", err)
		a.ssoRefused(w, r, http.StatusBadGateway, "The identity provider cannot be reached right now. Try again in a moment.")
		return
	case ferry.ErrorCode(err) == ferry.ETOOMANYREQUESTS:
		a.ssoRefused(w, r, http.StatusTooManyRequests, "Too many failed sign-ins; try again later.")
		return
	case err != nil:
		a.ssoRefused(w, r, http.StatusForbidden, "The identity provider's answer could not be verified, so you are not signed in. Start again.")
		return
	}
	link := ferry.SSOLink{Issuer: id.Issuer, Subject: id.Subject}
	if f.link != 0 {
		a.finishSSOLink(w, r, f.link, link)
		return
	}
	a.finishSSO(w, r, id, f.next, true)
}

// ssoTicket is a sign-in through the provider that another node verified
// and handed to this one, which has the account (cluster mode).
type ssoTicket struct {
	id   sso.Identity
	next string
}

const (
	ssoTicketLife   = 2 * time.Minute
	ssoTicketCookie = "ferry-sso-ticket" // the browser's half of a ticket
)

// PutSSOTicket keeps a sign-in that another node verified, for its
// browser to bring here (/auth/oidc/resume) once, within two minutes.
func (a *App) PutSSOTicket(ticket string, id sso.Identity, next string) {
	a.tickets.put(ticket, ssoTicket{id: id, next: next}, a.cfg.Now())
}

// handleSSOResume is GET /auth/oidc/resume?ticket=T: a sign-in through
// the provider that another node verified, brought here by the browser it
// was verified for (the ticket is also in its cookie).
func (a *App) handleSSOResume(w http.ResponseWriter, r *http.Request) {
	t, ok := handedTicket(a, w, r, a.tickets, ssoTicketCookie, "/auth/oidc/")
	if !ok {
		a.ssoRefused(w, r, http.StatusBadRequest, "This sign-in was not started in this browser, or it took too long. Start again.")
		return
	}
	a.finishSSO(w, r, t.id, t.next, false)
}

// handTicket gives the browser its half of a ticket that sends it to
// another node (a cookie scoped to path, for two minutes).
func (a *App) handTicket(w http.ResponseWriter, name, path, ticket string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: ticket, Path: path, MaxAge: int(ssoTicketLife / time.Second),
		HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode})
}

// handedTicket takes what waits under the ticket of r's query, when the
// browser's cookie name (scoped to path) holds that ticket too: another
// browser's try does not use it up.
func handedTicket[T any](a *App, w http.ResponseWriter, r *http.Request, tickets *waiting[T], name, path string) (T, bool) {
	ticket := r.URL.Query().Get("ticket")
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: path, MaxAge: -1, HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode})
	if c, err := r.Cookie(name); err != nil || ticket == "" || c.Value != ticket {
		var zero T
		return zero, false
	}
	return tickets.take(ticket, a.cfg.Now())
}

// finishSSO signs in the account of the provider's verified identity id,
// making it at a first sign-in when allowed. elsewhere lets another node
// that has the account finish it (cluster mode: Config.SSOElsewhere).
func (a *App) finishSSO(w http.ResponseWriter, r *http.Request, id sso.Identity, next string, elsewhere bool) {
	link := ferry.SSOLink{Issuer: id.Issuer, Subject: id.Subject}
	u, err := a.cfg.Users.UserBySSO(r.Context(), link)
	if ferry.ErrorCode(err) == ferry.EUSERNOTFOUND && elsewhere && a.cfg.SSOElsewhere != nil {
		ticket, err := a.cfg.SSOElsewhere(r.Context(), id, next)
		if err != nil {
			a.cfg.Log.WarnContext(r.Context(), "handing a sign-in to the node with the account", "err", err)
			a.ssoRefused(w, r, http.StatusServiceUnavailable, "The server that keeps your account is not answering; try again in a minute.")
			return
		}
		if ticket != "" {
			a.handTicket(w, ssoTicketCookie, "/auth/oidc/", ticket)
			http.Redirect(w, r, "/auth/oidc/resume?ticket="+url.QueryEscape(ticket), http.StatusSeeOther)
			return
		}
	}
	if ferry.ErrorCode(err) == ferry.EUSERNOTFOUND {
		u, err = a.createSSOUser(w, r, id, link)
		if u == nil && err == nil {
			return // refused, and said so
		}
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if u.Disabled {
		a.ssoRefused(w, r, http.StatusForbidden, "This account is disabled.")
		return
	}
	if pkg := a.packageOf(id); pkg != "" && pkg != u.Package {
		if err := a.cfg.Users.SetPackage(r.Context(), u.ID, pkg); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	if u.TwoFactor {
		// The same second step as a password sign-in.
		a.askForCode(w, r, u, next)
		return
	}
	a.signIn(w, r, u, next)
}

// createSSOUser makes the account of a first sign-in, when the
// configuration and the provider's answer allow; otherwise it says why
// and returns no user and no error.
func (a *App) createSSOUser(w http.ResponseWriter, r *http.Request, id sso.Identity, link ferry.SSOLink) (*ferry.User, error) {
	switch {
	case !a.cfg.SSOAutoCreate:
		a.ssoRefused(w, r, http.StatusForbidden, "No ferry account is linked to your "+a.cfg.SSOName+" account. Sign in with your password and link it in Settings, or ask whoever runs ferry for an account.")
		return nil, nil
	case !id.EmailVerified || id.Email == "":
		a.ssoRefused(w, r, http.StatusForbidden, "Your identity provider has not verified your email address, so no account was made. Verify it there, then try again.")
		return nil, nil
	}
	name, err := ferry.ValidFullName(id.Name)
	if err != nil || name == "" {
		name, _, _ = strings.Cut(id.Email, "@")
	}
	u, err := a.cfg.Users.CreateSSOUser(r.Context(), ferry.NewUser{Email: id.Email, FullName: name, Package: a.packageOf(id)}, link)
	if ferry.ErrorCode(err) == ferry.EEMAILEXISTS {
		a.ssoRefused(w, r, http.StatusForbidden, "An account with the email "+id.Email+" exists already, and it is not linked to "+a.cfg.SSOName+". Sign in with its password, then link it in Settings.")
		return nil, nil
	}
	return u, err
}

// finishSSOLink links the account that started the flow, if it is still
// the one signed in here.
func (a *App) finishSSOLink(w http.ResponseWriter, r *http.Request, userID uint64, link ferry.SSOLink) {
	u, err := a.user(r)
	if err != nil || u.ID != userID {
		a.ssoRefused(w, r, http.StatusForbidden, "Sign in to the account to link first, then link it from Settings.")
		return
	}
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, u))
	if err := a.cfg.Users.LinkSSO(r.Context(), u.ID, link); err != nil {
		if status, fe := a.refusal(w, r, err); fe != nil {
			a.renderSettings(w, r, u, status, settingsData{SSOMessage: fe.Message})
		}
		return
	}
	front.SeenUser(r, u)
	http.Redirect(w, r, "/settings?saved=sso-linked#sso", http.StatusSeeOther)
}

// packageOf is the package the provider's claim names, "" for none.
func (a *App) packageOf(id sso.Identity) string {
	if a.cfg.PackageOf == nil {
		return ""
	}
	return a.cfg.PackageOf(id.Claim)
}

// ssoRefused says on the sign-in page why a sign-in through the provider
// did not happen.
func (a *App) ssoRefused(w http.ResponseWriter, r *http.Request, status int, msg string) {
	a.render(w, r, status, "login", "Sign in", loginData{Message: msg, Signup: a.cfg.Signup == "open", SSOName: a.ssoName()})
}

// ssoName is the provider's button text, "" when there is none.
func (a *App) ssoName() string {
	if a.cfg.SSO == nil {
		return ""
	}
	return a.cfg.SSOName
}
