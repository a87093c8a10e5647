// Package web is ferry's web app: server-rendered pages over the same
// domain services as the HTTP API, with a session cookie that holds a
// token of the API's kind. Every page works without JavaScript; app.js
// adds resumable uploads with progress and drag and drop.
package web

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/front"
	"github.com/ferryhq/ferry/mailtext"
	"github.com/ferryhq/ferry/sso"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Config is what the web app needs of the server around it.
type Config struct {
	PublicURL string
	Signup    string // closed, invite or open
	// LinkMaxExpiry is the longest life a download link may have.
	LinkMaxExpiry time.Duration
	// SendExpireAfter is how long a send waits in the inbox.
	SendExpireAfter time.Duration
	// MaxRequestBody bounds every body but an upload's content.
	MaxRequestBody int64
	// Require2FA leaves an account without two-factor sign-in only
	// Settings, to set it up (auth.require_2fa).
	Require2FA bool
	// AuditKeep is how long the audit log keeps an event.
	AuditKeep time.Duration
	// Admin is what the admin console does (nil: no console).
	Admin ferry.AdminService
	// SSO signs people in through an OpenID Connect provider (nil: none);
	// SSOName is its button's text; SSOAutoCreate makes an account at a
	// first sign-in; PackageOf picks the package the provider's claim
	// names ("" for none).
	SSO           *sso.Client
	SSOName       string
	SSOAutoCreate bool
	// SSOElsewhere hands a verified sign-in whose account another node
	// has to that node, and returns the ticket to bring there
	// (/auth/oidc/resume); "" when no other node has it (cluster mode;
	// nil on one node).
	SSOElsewhere func(ctx context.Context, id sso.Identity, next string) (string, error)
	// IDPrefix starts the ids of what waits in this node's memory for the
	// browser's next request (a passkey's ceremony), so that any node can
	// send it here: the node's id and a dot in cluster mode, "" on one.
	IDPrefix string
	// PasskeyElsewhere finds, on the other nodes, the account of a passkey
	// this node does not know, and its passkeys (nil when none has it);
	// PasskeySignIn has that node sign it in, once this node verified the
	// passkey, and returns the ticket its browser brings there
	// (/login/passkey/resume). Both nil on one node.
	PasskeyElsewhere func(ctx context.Context, id []byte) (*RemotePasskeyUser, error)
	PasskeySignIn    func(ctx context.Context, u *RemotePasskeyUser, id []byte, signCount uint32, next string) (string, error)
	PackageOf        func(claim []string) string
	// UploadRequestMax is the most that app.js puts in one request of a
	// resumable upload (a proxy's limit in front); 0: a file in one.
	UploadRequestMax int64

	// BlobRedirect sends a download link's file from the object store,
	// when blobs are there, by a redirect.
	BlobRedirect bool

	Users    ferry.UserService
	Files    ferry.FileService
	Uploads  ferry.UploadService
	Dav      ferry.DavService
	Messages ferry.MessageService
	Social   ferry.SocialService
	Requests ferry.RequestService

	// Mail writes the mails the pages' actions queue.
	Mail mailtext.Texts

	// Guard bounds failed sign-ins and reset requests, with the API's.
	Guard *front.Guard
	// Outsiders bounds what people without an account do to file
	// requests, with the API's.
	Outsiders *front.Outsiders
	Log       *slog.Logger
	Now       func() time.Time
}

// App is the web app's handler.
type App struct {
	cfg      Config
	pages    map[string]*template.Template
	handler  http.Handler
	cop      *http.CrossOriginProtection
	secure   bool // public_url is https: the cookie is Secure
	static   http.Handler
	uploads  front.Uploads
	links    front.Links
	half     *waiting[halfSignIn]   // sign-ins waiting for their second factor
	ssoFlows *waiting[ssoFlow]      // sign-ins through the provider under way
	tickets  *waiting[ssoTicket]    // sign-ins through the provider handed here by another node
	signIns  *waiting[signInTicket] // passkey sign-ins another node verified, for this node's account

	webauthn   *webauthn.WebAuthn // nil: public_url's host cannot have passkeys
	ceremonies *waiting[passkeyCeremony]
}

// New returns the web app.
func New(cfg Config) *App {
	if cfg.Outsiders == nil && cfg.Guard != nil {
		cfg.Outsiders = front.NewOutsiders(cfg.Guard, front.DefaultOutsiderLimits)
	}
	a := &App{cfg: cfg, secure: strings.HasPrefix(cfg.PublicURL, "https://")}
	a.pages = parsePages()
	a.half, a.ssoFlows = newWaiting[halfSignIn](halfSignInLife), newWaiting[ssoFlow](ssoFlowLife)
	a.tickets = newWaiting[ssoTicket](ssoTicketLife)
	a.signIns = newWaiting[signInTicket](ssoTicketLife)
	a.webauthn, a.ceremonies = newWebAuthn(cfg.PublicURL), newWaiting[passkeyCeremony](passkeyCeremonyLife)
	a.uploads = front.Uploads{Service: cfg.Uploads, Fail: a.writeError}
	a.links = front.Links{Files: cfg.Files, Guard: cfg.Guard, BlobRedirect: cfg.BlobRedirect, Fail: a.writeError}
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err)
	}
	a.static = http.StripPrefix("/static/", http.FileServerFS(sub))

	mux := routeMux{http.NewServeMux()}
	mux.HandleFunc("GET /{$}", a.handleHome)
	mux.HandleFunc("GET /static/", a.handleStatic)
	mux.HandleFunc("GET /favicon.ico", a.handleFavicon)
	mux.HandleFunc("GET /login", a.handleLoginPage)
	mux.HandleFunc("POST /login", a.handleLogin)
	mux.HandleFunc("POST /login/code", a.handleCode)
	mux.HandleFunc("POST /login/passkey/begin", a.handlePasskeyLoginBegin)
	mux.HandleFunc("POST /login/passkey/finish", a.handlePasskeyLogin)
	mux.HandleFunc("GET /login/passkey/resume", a.handlePasskeyResume)
	if cfg.SSO != nil {
		mux.HandleFunc("GET /auth/oidc/start", a.handleSSOStart)
		mux.HandleFunc("GET /auth/oidc/callback", a.handleSSOCallback)
		mux.HandleFunc("GET /auth/oidc/resume", a.handleSSOResume)
		mux.HandleFunc("POST /settings/sso/link", a.authed(a.handleSSOLink))
		mux.HandleFunc("POST /settings/sso/unlink", a.authed(a.handleSSOUnlink))
	}
	mux.HandleFunc("POST /logout", a.handleLogout)
	mux.HandleFunc("GET /signup", a.handleSignupPage)
	mux.HandleFunc("POST /signup", a.handleSignup)
	mux.HandleFunc("GET /forgot", a.handleForgotPage)
	mux.HandleFunc("POST /forgot", a.handleForgot)
	mux.HandleFunc("GET /reset", a.handleResetPage)
	mux.HandleFunc("POST /reset", a.handleReset)

	mux.HandleFunc("GET /files/{path...}", a.authed(a.handleFolder))
	mux.HandleFunc("GET /item/{path...}", a.authed(a.handleItem))
	mux.HandleFunc("GET /download/{path...}", a.authed(a.handleDownload))
	mux.HandleFunc("POST /mkdir/{path...}", a.authed(a.handleMkdir))
	mux.HandleFunc("POST /rename/{path...}", a.authed(a.handleRename))
	mux.HandleFunc("POST /move/{path...}", a.authed(a.handleMove))
	mux.HandleFunc("POST /copy/{path...}", a.authed(a.handleCopy))
	mux.HandleFunc("GET /choose/{path...}", a.authed(a.handleChoose))
	mux.HandleFunc("GET /delete/{path...}", a.authed(a.handleDeletePage))
	mux.HandleFunc("POST /delete/{path...}", a.authed(a.handleDelete))
	mux.HandleFunc("POST /link/{path...}", a.authed(a.handleLink))
	mux.HandleFunc("POST /links/{id}/revoke", a.authed(a.handleRevokeLink))
	mux.HandleFunc("POST /upload/{path...}", a.authed(a.handleFormUpload))
	mux.HandleFunc("POST /uploads/start", a.session(a.handleUploadStart))
	mux.HandleFunc("PUT /uploads/{key}", a.session(a.handleUploadChunk))
	mux.HandleFunc("GET /uploads/{key}", a.session(a.handleUploadStatus))
	mux.HandleFunc("POST /uploads/{key}/finish", a.session(a.handleUploadFinish))
	mux.HandleFunc("GET /d/{token}", a.handleDownloadLink)
	mux.HandleFunc("POST /d/{token}", a.handleDownloadLink)

	mux.HandleFunc("GET /send/{path...}", a.authed(a.handleSendPage))
	mux.HandleFunc("POST /send/{path...}", a.authed(a.handleSend))
	mux.HandleFunc("GET /inbox", a.authed(a.handleInbox))
	mux.HandleFunc("POST /inbox", a.authed(a.handleDecide))
	mux.HandleFunc("GET /outbox", a.authed(a.handleOutbox))
	mux.HandleFunc("GET /sends/{id}", a.authed(a.handleSendDetails))
	mux.HandleFunc("GET /sends/new", a.authed(a.handleNewSendPage))
	mux.HandleFunc("POST /sends/new", a.authed(a.handleNewSend))

	mux.HandleFunc("GET /contacts", a.authed(a.handleContacts))
	mux.HandleFunc("POST /contacts", a.authed(a.handleAddContact))
	mux.HandleFunc("POST /contacts/remove", a.authed(a.handleRemoveContact))
	mux.HandleFunc("POST /contacts/invite", a.authed(a.handleInvite))
	mux.HandleFunc("POST /contacts/requests/{id}", a.authed(a.handleRequest))

	mux.HandleFunc("GET /settings", a.authed(a.handleSettings))
	mux.HandleFunc("POST /settings/app-password", a.authed(a.handleResetAppPassword))
	mux.HandleFunc("POST /settings/profile", a.authed(a.handleProfile))
	mux.HandleFunc("POST /settings/password", a.authed(a.handlePassword))
	mux.HandleFunc("POST /settings/sessions", a.authed(a.handleSignOutElsewhere))
	mux.HandleFunc("POST /settings/mail", a.authed(a.handleMailSettings))
	mux.HandleFunc("POST /settings/delete", a.authed(a.handleDeleteAccount))
	mux.HandleFunc("POST /settings/photo", a.authed(a.handlePhoto))
	mux.HandleFunc("POST /settings/photo/remove", a.authed(a.handleRemovePhoto))
	mux.HandleFunc("POST /settings/2fa/setup", a.authed(a.handleTwoFactorSetup))
	mux.HandleFunc("POST /settings/2fa/enable", a.authed(a.handleTwoFactorEnable))
	mux.HandleFunc("POST /settings/2fa/recovery", a.authed(a.handleTwoFactorRecovery))
	mux.HandleFunc("POST /settings/2fa/disable", a.authed(a.handleTwoFactorDisable))
	mux.HandleFunc("GET /settings/2fa/qr.png", a.authed(a.handleTwoFactorQR))
	mux.HandleFunc("POST /settings/passkeys/begin", a.session(a.handlePasskeyBegin))
	mux.HandleFunc("POST /settings/passkeys/finish", a.session(a.handlePasskeyFinish))
	mux.HandleFunc("POST /settings/passkeys/remove", a.authed(a.handleRemovePasskey))
	mux.HandleFunc("GET /settings/activity", a.authed(a.handleActivity))
	mux.HandleFunc("POST /settings/tokens", a.authed(a.handleCreateToken))
	mux.HandleFunc("POST /settings/tokens/{id}/revoke", a.authed(a.handleRevokeToken))
	mux.HandleFunc("POST /inbox/accept-all", a.authed(a.handleAcceptAll))
	mux.HandleFunc("GET /requests", a.authed(a.handleRequestsPage))
	mux.HandleFunc("POST /requests", a.authed(a.handleCreateRequest))
	mux.HandleFunc("POST /requests/{id}/revoke", a.authed(a.handleRevokeRequest))
	mux.HandleFunc("GET /r/{token}", a.handleRequestPage)
	mux.HandleFunc("POST /r/{token}", a.handleRequestPage)
	mux.HandleFunc("POST /r/{token}/upload", a.handleRequestUpload)
	mux.HandleFunc("GET /admin", a.adminOnly(a.handleAdminHome))
	mux.HandleFunc("GET /admin/people/{email}", a.adminOnly(a.handleAdminPerson))
	mux.HandleFunc("POST /admin/people/{email}", a.adminOnly(a.handleAdminChange))
	mux.HandleFunc("GET /admin/people/{email}/delete", a.adminOnly(a.handleAdminDeletePage))
	mux.HandleFunc("POST /admin/people/{email}/delete", a.adminOnly(a.handleAdminDelete))
	mux.HandleFunc("GET /admin/packages", a.adminOnly(a.handleAdminPackages))
	mux.HandleFunc("GET /admin/mail", a.adminOnly(a.handleAdminMail))
	mux.HandleFunc("POST /admin/mail/{id}", a.adminOnly(a.handleAdminMailAction))
	mux.HandleFunc("GET /admin/audit", a.adminOnly(a.handleAdminAudit))
	mux.HandleFunc("/", a.handleNotFound)

	// Every state change made with the cookie must come from ferry's own
	// pages: a cross-site POST (a form on another site, say) is refused
	// before any handler runs.
	a.cop = http.NewCrossOriginProtection()
	a.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !front.WantsPage(r) {
			a.writeError(w, r, ferry.Errorf(ferry.EAUTHFAILED, "This request came from another site, so it was refused."))
			return
		}
		pageHeaders(w.Header())
		a.renderError(w, r, http.StatusForbidden, "This request came from another site, so it was refused. Open ferry and try again from its own page.")
	}))
	a.handler = a.cop.Handler(mux.ServeMux)
	return a
}

// ServeHTTP serves the web app's pages under the page policy.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	pageHeaders(w.Header())
	if !isUpload(r) {
		r.Body = http.MaxBytesReader(w, r.Body, a.cfg.MaxRequestBody)
	}
	a.handler.ServeHTTP(w, r)
}

// isUpload reports whether r is the form upload or a part of app.js's,
// whose files the store bounds itself (max_file_size, the quota).
func isUpload(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/upload/") ||
		r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/uploads/")
}

// routeMux names each request's route for the request log and metrics:
// the pattern it matched, without its method.
type routeMux struct{ *http.ServeMux }

func (m routeMux) HandleFunc(pattern string, h http.HandlerFunc) {
	route := pattern
	if _, path, ok := strings.Cut(pattern, " "); ok {
		route = path
	}
	m.ServeMux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		front.SetRoute(r, route)
		h(w, r)
	})
}

// pageHeaders replaces the inert policy (front.Requests) with the page
// policy, and its no-referrer with same-origin.
func pageHeaders(h http.Header) {
	h["Content-Security-Policy"] = []string{front.PagePolicy}
	h.Set("Referrer-Policy", "same-origin") // nosniff is the server's, as on every answer
}

// handleStatic serves the embedded scripts and styles; a URL with the
// version query is cached for a year.
func (a *App) handleStatic(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("v") == assetVersion {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	a.static.ServeHTTP(w, r)
}

func (a *App) handleHome(w http.ResponseWriter, r *http.Request) {
	if _, err := a.user(r); err != nil {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/files/", http.StatusSeeOther)
}

// writeError answers err as the API does (JSON with its code), for the
// calls of app.js and clients that want no page.
func (a *App) writeError(w http.ResponseWriter, r *http.Request, err error) {
	front.WriteError(w, r, a.cfg.Log, "web "+r.URL.Path, err)
}

// handleNotFound is a page for a browser, and the API's JSON 404 for
// any other client.
func (a *App) handleNotFound(w http.ResponseWriter, r *http.Request) {
	if !front.WantsPage(r) {
		w.Header()["Content-Security-Policy"] = []string{front.InertPolicy}
		a.writeError(w, r, ferry.Errorf(ferry.ENOTFOUND, "No such route: %s.", r.URL.Path))
		return
	}
	// A signed-in person keeps the header, to find their way back.
	if u, err := a.user(r); err == nil {
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, u))
	}
	a.renderError(w, r, http.StatusNotFound, "There is no page here.")
}

// handleFavicon serves the icon that browsers ask for at /favicon.ico on
// a first visit (the pages name it too).
func (a *App) handleFavicon(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	http.ServeFileFS(w, r, staticFiles, "static/icon.svg")
}

// sessionCookie is the cookie's name: with the __Host- prefix over https,
// which browsers keep to this host and path /.
func (a *App) sessionCookie() string {
	if a.secure {
		return "__Host-ferry"
	}
	return "ferry"
}

type ctxKey struct{}

// user returns the signed-in user of the request's cookie.
func (a *App) user(r *http.Request) (*ferry.User, error) {
	if u, ok := r.Context().Value(ctxKey{}).(*ferry.User); ok {
		return u, nil
	}
	c, err := r.Cookie(a.sessionCookie())
	if err != nil || c.Value == "" {
		return nil, ferry.Errorf(ferry.ENOPERMISSION, "Not signed in.")
	}
	return a.cfg.Users.Authenticate(r.Context(), c.Value)
}

// authed is a page that needs a signed-in user; a request without one is
// sent to /login (a GET, to come back after).
func (a *App) authed(h func(w http.ResponseWriter, r *http.Request, u *ferry.User)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, err := a.user(r)
		if err != nil {
			if ferry.ErrorCode(err) != ferry.ENOPERMISSION && ferry.ErrorCode(err) != ferry.EACCOUNTDISABLED {
				a.fail(w, r, err)
				return
			}
			a.clearCookie(w)
			target := "/login"
			if r.Method == http.MethodGet {
				target += "?next=" + url.QueryEscape(r.URL.RequestURI())
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		front.SeenUser(r, u)
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, u))
		if front.NeedsTwoFactor(a.cfg.Require2FA, u) && !setUpFirst(r) {
			// Everything waits until two-factor sign-in is set up.
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/settings?required=1#two-factor", http.StatusSeeOther)
				return
			}
			a.renderError(w, r, http.StatusForbidden, "This service requires two-factor sign-in: set it up in Settings first.")
			return
		}
		h(w, r, u)
	}
}

// session serves h, a call of app.js: JSON, under the inert policy, with
// the user of the session cookie (the API's 401 without one).
func (a *App) session(h func(w http.ResponseWriter, r *http.Request, u *ferry.User)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		front.Inert(w.Header())
		u, err := a.user(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		front.SeenUser(r, u)
		if front.NeedsTwoFactor(a.cfg.Require2FA, u) {
			a.writeError(w, r, front.ErrTwoFactorRequired())
			return
		}
		h(w, r, u)
	}
}

func (a *App) setCookie(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{
		Name: a.sessionCookie(), Value: token, Path: "/",
		HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode,
	})
}

func (a *App) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: a.sessionCookie(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode,
	})
}

// refusal returns the status and the error to say on a page for err, a
// refusal (a quota, a wrong password...); an internal error is answered
// with the error page, and fe is nil.
func (a *App) refusal(w http.ResponseWriter, r *http.Request, err error) (status int, fe *ferry.Error) {
	status, err = front.Explain(err)
	if status == http.StatusInternalServerError || !errors.As(err, &fe) {
		a.fail(w, r, err)
		return 0, nil
	}
	return status, fe
}

// fail answers a page's error: its message in a page, with the status the
// API would give it.
func (a *App) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, err := front.Explain(err)
	msg := ferry.ErrorMessage(err)
	if status == http.StatusInternalServerError {
		if !errors.Is(err, context.Canceled) {
			a.cfg.Log.ErrorContext(r.Context(), "web", "err", err, "path", r.URL.Path)
		}
		msg = "Something went wrong on the server; nothing was changed. Try again later."
	}
	a.renderError(w, r, status, msg)
}
