package web

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/front"
	"github.com/ferryhq/ferry/internal/words"
	"github.com/ferryhq/ferry/photo"
)

// passkeyLine is a passkey as the settings page lists it.
type passkeyLine struct {
	ferry.Passkey
	ID string // base64url, for the remove form
}

type settingsData struct {
	DavURL, Login, AppPassword, Host string
	FullName, PhotoToken             string
	Quota                            ferry.Quota
	Used                             int64
	Reset                            bool
	Message, Saved                   string // what the last change came to
	DeleteMessage                    string // why the account was not deleted

	Tokens       []ferry.PersonalToken
	TokenLives   []int
	NewToken     string // a personal token just made: shown this once
	NewTokenName string
	TokenMessage string // why a token was not made

	TwoFactor twoFactorData

	SSOName    string         // the identity provider, when there is one
	SSO        *ferry.SSOLink // the identity this account is linked to
	SSOMessage string         // why a link or unlink did not happen

	Passkeys       []passkeyLine
	PasskeysOff    bool   // public_url's host cannot have passkeys
	PasskeyMessage string // why a passkey was not removed
	Required       bool   // auth.require_2fa sent the person here to set it up
}

// handleSettings is the account's page: name, photo, password, the quota,
// and how to reach the folder over WebDAV with the app password.
func (a *App) handleSettings(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	a.renderSettings(w, r, u, http.StatusOK, settingsData{Saved: r.URL.Query().Get("saved")})
}

// handleResetAppPassword makes a new app password: the old one stops
// working at once.
func (a *App) handleResetAppPassword(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	pw, err := a.cfg.Dav.ResetAppPassword(r.Context(), u.ID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.renderSettings(w, r, u, http.StatusOK, settingsData{AppPassword: pw, Reset: true})
}

// renderSettings fills in what the page shows of the account (the app
// password unless d has a new one) around d's message.
func (a *App) renderSettings(w http.ResponseWriter, r *http.Request, u *ferry.User, status int, d settingsData) {
	var err error
	if d.AppPassword == "" {
		if d.AppPassword, err = a.cfg.Dav.AppPassword(r.Context(), u.ID); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	if d.Quota, err = a.cfg.Users.Quota(r.Context(), u.ID); err != nil {
		a.fail(w, r, err)
		return
	}
	if d.Tokens, err = a.cfg.Users.PersonalTokens(r.Context(), u.ID); err != nil {
		a.fail(w, r, err)
		return
	}
	d.TokenLives = tokenLives
	d.SSOName, d.SSO = a.ssoName(), u.SSO
	keys, err := a.cfg.Users.Passkeys(r.Context(), u.ID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	for _, k := range keys {
		d.Passkeys = append(d.Passkeys, passkeyLine{Passkey: k, ID: base64.RawURLEncoding.EncodeToString(k.ID)})
	}
	d.PasskeysOff = a.webauthn == nil
	if err := a.fillTwoFactor(r, u, &d.TwoFactor); err != nil {
		a.fail(w, r, err)
		return
	}
	d.Required = front.NeedsTwoFactor(a.cfg.Require2FA, u)
	d.Used = d.Quota.Usage.Charged()
	d.DavURL, d.Login, d.FullName, d.PhotoToken = a.cfg.PublicURL+"/dav/", u.Email, u.FullName, u.PhotoToken
	d.Host = a.cfg.PublicURL
	if pu, err := url.Parse(a.cfg.PublicURL); err == nil {
		d.Host = pu.Host
	}
	a.render(w, r, status, "settings", "Settings", d)
}

// change applies a settings change, keeping the session's own token
// when the password changes; a refusal is said on the settings page.
func (a *App) change(w http.ResponseWriter, r *http.Request, u *ferry.User, ch ferry.SettingsChange, saved string) {
	keep := ""
	if c, err := r.Cookie(a.sessionCookie()); err == nil {
		keep = c.Value
	}
	if err := a.cfg.Users.ChangeSettings(r.Context(), u.ID, keep, ch); err != nil {
		if status, fe := a.refusal(w, r, err); fe != nil {
			a.renderSettings(w, r, u, status, settingsData{Message: fe.Message})
		}
		return
	}
	http.Redirect(w, r, "/settings?saved="+saved, http.StatusSeeOther)
}

// handleProfile changes the full name.
func (a *App) handleProfile(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	name := strings.TrimSpace(r.PostFormValue("fullname"))
	a.change(w, r, u, ferry.SettingsChange{FullName: &name}, "name")
}

// handlePassword changes the password: every other session, token and
// the app password end; this session goes on.
func (a *App) handlePassword(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	next := r.PostFormValue("new_password")
	a.change(w, r, u, ferry.SettingsChange{CurrentPassword: r.PostFormValue("current_password"), NewPassword: &next}, "password")
}

// handleSignOutElsewhere ends every session and API token of the user
// but this one (the app password stays).
func (a *App) handleSignOutElsewhere(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	keep := ""
	if c, err := r.Cookie(a.sessionCookie()); err == nil {
		keep = c.Value
	}
	if err := a.cfg.Users.RevokeUserTokens(r.Context(), u.ID, keep); err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/settings?saved=sessions", http.StatusSeeOther)
}

// handleAcceptAll turns accept_all on or off, from the inbox.
func (a *App) handleAcceptAll(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	on := r.PostFormValue("accept_all") == "1"
	if err := a.cfg.Users.ChangeSettings(r.Context(), u.ID, "", ferry.SettingsChange{AcceptAll: &on}); err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/inbox", http.StatusSeeOther)
}

// handleDeleteAccount deletes the account, given its password, and signs
// out.
func (a *App) handleDeleteAccount(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	if err := a.cfg.Users.DeleteAccount(r.Context(), u.ID, r.PostFormValue("current_password")); err != nil {
		status, fe := a.refusal(w, r, err)
		if fe != nil {
			a.renderSettings(w, r, u, status, settingsData{DeleteMessage: fe.Message})
		}
		return
	}
	a.cfg.Log.InfoContext(r.Context(), "account deleted by its user", "user", u.ID)
	a.clearCookie(w)
	http.Redirect(w, r, "/login?deleted=1", http.StatusSeeOther)
}

// handleMailSettings turns mail_on_decision or mail_on_download on (1)
// or off.
func (a *App) handleMailSettings(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	var ch ferry.SettingsChange
	if v := r.PostFormValue("mail_on_download"); v != "" {
		on := v == "1"
		ch.MailOnDownload = &on
	} else {
		on := r.PostFormValue("mail_on_decision") == "1"
		ch.MailOnDecision = &on
	}
	if err := a.cfg.Users.ChangeSettings(r.Context(), u.ID, "", ch); err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/settings", http.StatusSeeOther)
}

// handlePhoto replaces the profile photo with the form's (a multipart
// file "photo", read up to the limit and checked by package photo).
func (a *App) handlePhoto(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	data, err := formFile(r, "photo", photo.MaxBytes+1)
	if err != nil {
		a.renderSettings(w, r, u, http.StatusBadRequest, settingsData{Message: ferry.ErrorMessage(photo.Invalid("choose one to upload"))})
		return
	}
	ph, err := photo.Check(data)
	if err == nil {
		_, err = a.cfg.Users.SetPhoto(r.Context(), u.ID, ph)
	}
	if err != nil {
		if status, fe := a.refusal(w, r, err); fe != nil {
			a.renderSettings(w, r, u, status, settingsData{Message: fe.Message})
		}
		return
	}
	http.Redirect(w, r, "/settings?saved=photo", http.StatusSeeOther)
}

// formFile reads the first file part named name of a multipart body, up to
// limit bytes, in memory (r.FormFile would keep large parts in temporary
// files).
func formFile(r *http.Request, name string, limit int64) ([]byte, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, err
	}
	for {
		part, err := mr.NextPart()
		if err != nil {
			return nil, err
		}
		if part.FormName() == name && part.FileName() != "" {
			return io.ReadAll(io.LimitReader(part, limit))
		}
	}
}

// handleRemovePhoto removes the profile photo.
func (a *App) handleRemovePhoto(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	if err := a.cfg.Users.RemovePhoto(r.Context(), u.ID); err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/settings?saved=photo", http.StatusSeeOther)
}

// DavPage answers a browser that opens /dav/ with a page that says what
// the address is for and where the settings are.
func (a *App) DavPage(w http.ResponseWriter, r *http.Request) {
	pageHeaders(w.Header())
	a.render(w, r, http.StatusOK, "dav", "WebDAV", map[string]string{"DavURL": a.cfg.PublicURL + "/dav/"})
}

type linkData struct {
	Info     ferry.FileInfo
	Expires  string
	URL      string
	Message  string
	Password bool // the link needs its password: the page asks for it
	Wrong    bool // a password was given, and it was not the link's
}

// handleDownloadLink answers a browser that opens a download link, /d/{token}
// (app sends it here; the API answers everyone else): the file's name,
// size and a download button (?download=1, the API's); for a link with a
// password, a field for it, and the file once the password posted is
// right; for a link that is gone, a page that says so.
func (a *App) handleDownloadLink(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	link, tried, err := a.links.Open(w, r, token)
	if err == nil && r.Method == http.MethodPost {
		front.Inert(w.Header())
		a.links.Serve(w, r, token, link)
		return
	}
	switch {
	case ferry.ErrorCode(err) == ferry.EAUTHFAILED:
		a.render(w, r, http.StatusForbidden, "link", "Download link", linkData{Password: true, Wrong: tried, URL: r.URL.Path})
		return
	case err != nil:
		msg := "This link does not exist, or it has expired, been revoked or used up. Ask whoever sent it for a new one."
		status, _ := front.Explain(err)
		if status >= 500 {
			msg = "The file cannot be reached right now; try again later."
		}
		a.render(w, r, status, "link", "Download link", linkData{Message: msg})
		return
	}
	a.render(w, r, http.StatusOK, "link", link.File.Name, linkData{Info: link.File, Expires: link.Expires.UTC().Format("2006-01-02 15:04 UTC"), URL: r.URL.Path + "?download=1"})
}

type activityData struct {
	Events []ferry.Event
	Next   string
	Keep   string
}

// activityPage is how many events a page of /settings/activity lists.
const activityPage = 100

// handleActivity is /settings/activity[?before=ID]: the account's own
// events, newest first.
func (a *App) handleActivity(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	before, _ := strconv.ParseUint(r.URL.Query().Get("before"), 10, 64)
	events, err := a.cfg.Users.Activity(r.Context(), ferry.AuditFilter{User: u.ID, Before: before, Limit: activityPage})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	d := activityData{Events: events, Keep: words.Duration(a.cfg.AuditKeep)}
	if len(events) == activityPage {
		d.Next = "/settings/activity?before=" + strconv.FormatUint(events[len(events)-1].ID, 10)
	}
	a.render(w, r, http.StatusOK, "activity", "Your activity", d)
}
