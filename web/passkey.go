package web

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/front"
)

// Passkeys (WebAuthn) on the web app's pages: registered, named, listed
// and removed in Settings; "Sign in with a passkey" on the sign-in page,
// with a discoverable credential, which counts as both factors (no
// password, no TOTP code). The relying party is public_url's host; the
// browser's calls are app.js's, JSON under the inert policy. A ceremony's
// challenge waits here, in memory, for its answer, and is used once.

// passkeyCeremony is a registration or a sign-in under way.
type passkeyCeremony struct {
	session webauthn.SessionData
	userID  uint64 // the account registering; 0 for a sign-in
	name    string
}

const passkeyCeremonyLife = 5 * time.Minute

// newWebAuthn is the relying party of public_url, nil where WebAuthn
// cannot be (its host is an IP address, which WebAuthn forbids).
func newWebAuthn(publicURL string) *webauthn.WebAuthn {
	u, err := url.Parse(publicURL)
	if err != nil || u.Hostname() == "" || net.ParseIP(u.Hostname()) != nil {
		return nil
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID: u.Hostname(), RPDisplayName: "ferry", RPOrigins: []string{u.Scheme + "://" + u.Host},
	})
	if err != nil {
		return nil
	}
	return wa
}

// passkeyUser is an account as go-webauthn sees it: its user handle is
// its id, 8 bytes (ferry.User.PasskeyID).
type passkeyUser struct {
	u     *ferry.User
	creds []webauthn.Credential
}

func (p passkeyUser) WebAuthnID() []byte {
	return p.u.PasskeyID()
}
func (p passkeyUser) WebAuthnName() string                       { return p.u.Email }
func (p passkeyUser) WebAuthnDisplayName() string                { return p.u.FullName }
func (p passkeyUser) WebAuthnCredentials() []webauthn.Credential { return p.creds }

// passkeyUserOf loads u's passkeys as go-webauthn's credentials.
func (a *App) passkeyUserOf(r *http.Request, u *ferry.User) (passkeyUser, error) {
	keys, err := a.cfg.Users.Passkeys(r.Context(), u.ID)
	if err != nil {
		return passkeyUser{}, err
	}
	return passkeyUserFrom(u, keys)
}

// ceremonyAnswer is what app.js gets to begin: the options for the
// browser, and the ceremony's id to send back with its answer.
type ceremonyAnswer struct {
	Ceremony string `json:"ceremony"`
	Options  any    `json:"options"`
}

func (a *App) noPasskeys(w http.ResponseWriter, r *http.Request) bool {
	if a.webauthn == nil {
		a.writeError(w, r, ferry.Errorf(ferry.EBADREQUEST, "Passkeys need ferry to be reached by a domain name (public_url), not an IP address."))
		return true
	}
	return false
}

// handlePasskeyBegin is POST /settings/passkeys/begin (app.js): name.
func (a *App) handlePasskeyBegin(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	if a.noPasskeys(w, r) {
		return
	}
	name := r.PostFormValue("name")
	pu, err := a.passkeyUserOf(r, u)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	creation, session, err := a.webauthn.BeginRegistration(pu,
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
		webauthn.WithExclusions(webauthn.Credentials(pu.creds).CredentialDescriptors()))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	id := a.cfg.IDPrefix + rand.Text()
	a.ceremonies.put(id, passkeyCeremony{session: *session, userID: u.ID, name: name}, a.cfg.Now())
	front.WriteJSON(w, http.StatusOK, ceremonyAnswer{Ceremony: id, Options: creation})
}

// handlePasskeyFinish is POST /settings/passkeys/finish?ceremony=ID
// (app.js): the browser's new credential, as JSON.
func (a *App) handlePasskeyFinish(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	if a.noPasskeys(w, r) {
		return
	}
	c, ok := a.ceremonies.take(r.URL.Query().Get("ceremony"), a.cfg.Now())
	if !ok || c.userID != u.ID {
		a.writeError(w, r, ferry.Errorf(ferry.EBADREQUEST, "This passkey's registration took too long, or was not started here. Try again."))
		return
	}
	pu, err := a.passkeyUserOf(r, u)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	cred, err := a.webauthn.FinishRegistration(pu, c.session, r)
	if err != nil {
		a.cfg.Log.InfoContext(r.Context(), "passkey registration refused", "err", err)
		a.writeError(w, r, ferry.Errorf(ferry.EBADREQUEST, "The browser's passkey could not be verified, so it was not added."))
		return
	}
	raw, err := json.Marshal(cred)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	err = a.cfg.Users.AddPasskey(r.Context(), u.ID, ferry.Passkey{ID: cred.ID, Name: c.name, SignCount: cred.Authenticator.SignCount, Credential: raw})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	front.WriteJSON(w, http.StatusOK, map[string]string{"next": "/settings?saved=passkey#passkeys"})
}

// handleRemovePasskey is POST /settings/passkeys/remove: id (base64url).
func (a *App) handleRemovePasskey(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	id, err := base64.RawURLEncoding.DecodeString(r.PostFormValue("id"))
	if err == nil {
		err = a.cfg.Users.RemovePasskey(r.Context(), u.ID, id)
	}
	if err != nil {
		if status, fe := a.refusal(w, r, err); fe != nil {
			a.renderSettings(w, r, u, status, settingsData{PasskeyMessage: "That passkey does not exist any more."})
		}
		return
	}
	http.Redirect(w, r, "/settings?saved=passkey-removed#passkeys", http.StatusSeeOther)
}

// handlePasskeyLoginBegin is POST /login/passkey/begin (app.js).
func (a *App) handlePasskeyLoginBegin(w http.ResponseWriter, r *http.Request) {
	front.Inert(w.Header())
	if a.noPasskeys(w, r) {
		return
	}
	assertion, session, err := a.webauthn.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	id := a.cfg.IDPrefix + rand.Text()
	a.ceremonies.put(id, passkeyCeremony{session: *session}, a.cfg.Now())
	front.WriteJSON(w, http.StatusOK, ceremonyAnswer{Ceremony: id, Options: assertion})
}

// handlePasskeyLogin is POST /login/passkey/finish?ceremony=ID&next=PATH
// (app.js): the browser's assertion. It signs in, as a password and a
// code would, under the same failed-login limit.
func (a *App) handlePasskeyLogin(w http.ResponseWriter, r *http.Request) {
	front.Inert(w.Header())
	if a.noPasskeys(w, r) {
		return
	}
	c, ok := a.ceremonies.take(r.URL.Query().Get("ceremony"), a.cfg.Now())
	if !ok || c.userID != 0 {
		a.writeError(w, r, ferry.Errorf(ferry.EBADREQUEST, "This sign-in took too long. Try again."))
		return
	}
	var remote *RemotePasskeyUser // the account is another node's (cluster mode)
	u, err := a.cfg.Guard.Login(w, r, "", func() (*ferry.User, error) {
		var (
			owner    *ferry.User
			ownerErr error
		)
		cred, err := a.webauthn.FinishDiscoverableLogin(func(rawID, userHandle []byte) (webauthn.User, error) {
			u, _, err := a.cfg.Users.PasskeyOwner(r.Context(), rawID)
			if ferry.ErrorCode(err) == ferry.EAUTHFAILED && a.cfg.PasskeyElsewhere != nil {
				if remote, err = a.cfg.PasskeyElsewhere(r.Context(), rawID); err != nil {
					ownerErr = err
					return nil, err
				} else if remote != nil {
					if !bytes.Equal(userHandle, remote.User.PasskeyID()) {
						return nil, errors.New("the passkey's user handle is another account's")
					}
					owner = &remote.User
					return passkeyUserFrom(&remote.User, remote.Passkeys)
				}
				err = errNoPasskeyHere()
			}
			if err != nil {
				ownerErr = err
				return nil, err
			}
			if !bytes.Equal(userHandle, u.PasskeyID()) {
				return nil, errors.New("the passkey's user handle is another account's")
			}
			owner = u
			return a.passkeyUserOf(r, u)
		}, c.session, r)
		if ferry.ErrorCode(ownerErr) == ferry.EAUTHFAILED {
			return nil, ferry.Errorf(ferry.EAUTHFAILED, "This passkey is not known here: it was removed, or made for another ferry.")
		}
		if err != nil || owner == nil {
			a.cfg.Log.InfoContext(r.Context(), "passkey sign-in refused", "err", err)
			return nil, ferry.Errorf(ferry.EAUTHFAILED, "This passkey could not be verified.")
		}
		if cred.Authenticator.CloneWarning {
			return nil, ferry.Errorf(ferry.EAUTHFAILED, "This passkey's counter went back: it may have been copied, so it was refused.")
		}
		if remote != nil {
			remote.signCount, remote.id = cred.Authenticator.SignCount, cred.ID
			return owner, nil // (its own node records the use, and signs it in)
		}
		if err := a.cfg.Users.UsePasskey(r.Context(), owner.ID, cred.ID, cred.Authenticator.SignCount); err != nil {
			return nil, err
		}
		if owner.Disabled {
			return nil, ferry.Errorf(ferry.EACCOUNTDISABLED, "This account is disabled.")
		}
		return owner, nil
	})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if remote != nil {
		if u.Disabled {
			a.writeError(w, r, ferry.Errorf(ferry.EACCOUNTDISABLED, "This account is disabled."))
			return
		}
		ticket, err := a.cfg.PasskeySignIn(r.Context(), remote, remote.id, remote.signCount, safeNext(r.URL.Query().Get("next")))
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		a.handTicket(w, signInCookie, "/login/", ticket)
		front.WriteJSON(w, http.StatusOK, map[string]string{"next": "/login/passkey/resume?ticket=" + url.QueryEscape(ticket)})
		return
	}
	front.SeenUser(r, u)
	token, err := a.cfg.Users.CreateToken(r.Context(), u.ID)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.setCookie(w, token)
	front.WriteJSON(w, http.StatusOK, map[string]string{"next": safeNext(r.URL.Query().Get("next"))})
}

// RemotePasskeyUser is an account of another node that has a passkey,
// as that node shows it for a sign-in here (cluster mode): its record
// (without its password's hash) and its passkeys.
type RemotePasskeyUser struct {
	Node     string          `json:"node"`
	User     ferry.User      `json:"user"`
	Passkeys []ferry.Passkey `json:"passkeys"`

	id        []byte // the passkey verified here
	signCount uint32
}

// passkeyUserFrom is passkeyUserOf for an account and passkeys at hand.
func passkeyUserFrom(u *ferry.User, keys []ferry.Passkey) (passkeyUser, error) {
	pu := passkeyUser{u: u}
	for _, k := range keys {
		var c webauthn.Credential
		if err := json.Unmarshal(k.Credential, &c); err != nil {
			return passkeyUser{}, err
		}
		c.Authenticator.SignCount = k.SignCount
		pu.creds = append(pu.creds, c)
	}
	return pu, nil
}

func errNoPasskeyHere() error {
	return ferry.Errorf(ferry.EAUTHFAILED, "This passkey is not known here: it was removed, or made for another ferry.")
}

// signInTicket is a passkey sign-in another node verified, for an account
// of this node.
type signInTicket struct {
	user *ferry.User
	next string
}

// signInCookie is the browser's half of a signInTicket.
const signInCookie = "ferry-signin-ticket"

// PutSignInTicket keeps a passkey sign-in that another node verified for
// account u of this node, for its browser to bring here
// (/login/passkey/resume) once, within two minutes.
func (a *App) PutSignInTicket(ticket string, u *ferry.User, next string) {
	a.signIns.put(ticket, signInTicket{user: u, next: next}, a.cfg.Now())
}

// handlePasskeyResume is GET /login/passkey/resume?ticket=T: a passkey
// sign-in that another node verified, brought here by the browser it was
// verified for (the ticket is also in its cookie).
func (a *App) handlePasskeyResume(w http.ResponseWriter, r *http.Request) {
	t, ok := handedTicket(a, w, r, a.signIns, signInCookie, "/login/")
	if !ok {
		a.renderError(w, r, http.StatusBadRequest, "This sign-in was not started in this browser, or it took too long. Sign in again.")
		return
	}
	a.signIn(w, r, t.user, t.next)
}
