package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ferryhq/ferry"
)

type settingsData struct {
	DavURL, Login, AppPassword, Host string
	Quota                            ferry.Quota
	Used                             int64
	Reset                            bool
}

// handleSettings is the account's page: the quota, and how to reach the
// folder over WebDAV with the app password.
func (a *App) handleSettings(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	a.settings(w, r, u, a.cfg.Dav.AppPassword, false)
}

// handleResetAppPassword makes a new app password: the old one stops
// working at once.
func (a *App) handleResetAppPassword(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	a.settings(w, r, u, a.cfg.Dav.ResetAppPassword, true)
}

func (a *App) settings(w http.ResponseWriter, r *http.Request, u *ferry.User, password func(context.Context, uint64) (string, error), reset bool) {
	pw, err := password(r.Context(), u.ID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	quota, err := a.cfg.Users.Quota(r.Context(), u.ID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	host := a.cfg.PublicURL
	if pu, err := url.Parse(a.cfg.PublicURL); err == nil {
		host = pu.Host
	}
	a.render(w, r, http.StatusOK, "settings", "Settings", settingsData{
		DavURL: a.cfg.PublicURL + "/dav/", Login: u.Email, AppPassword: pw, Host: host,
		Quota: quota, Used: quota.Usage.Charged(), Reset: reset,
	})
}

// DavPage answers a browser that opens /dav/ with a page that says what
// the address is for and where the settings are.
func (a *App) DavPage(w http.ResponseWriter, r *http.Request) {
	pageHeaders(w.Header())
	a.render(w, r, http.StatusOK, "dav", "WebDAV", map[string]string{"DavURL": a.cfg.PublicURL + "/dav/"})
}

type linkData struct {
	Info    ferry.FileInfo
	Expires string
	URL     string
	Message string
}

// LinkPage answers a browser that opens a download link: the file's name,
// size and a download button; or, for a link that is gone, a page that
// says so.
func (a *App) LinkPage(w http.ResponseWriter, r *http.Request, info ferry.FileInfo, expires string, err error) {
	pageHeaders(w.Header())
	if err != nil {
		msg := "This link does not exist, or it has expired or been revoked. Ask whoever sent it for a new one."
		status, _ := a.cfg.Explain(err)
		if status >= 500 {
			msg = "The file cannot be reached right now; try again later."
		}
		a.render(w, r, status, "link", "Download link", linkData{Message: msg})
		return
	}
	a.render(w, r, http.StatusOK, "link", info.Name, linkData{Info: info, Expires: expires, URL: r.URL.Path + "?download=1"})
}

// WantsPage reports whether a request is a browser's, by its Accept
// header, and not asking for the file itself (?download=1).
func WantsPage(r *http.Request) bool {
	if r.URL.Query().Get("download") == "1" {
		return false
	}
	for _, v := range r.Header.Values("Accept") {
		if acceptsHTML(v) {
			return true
		}
	}
	return false
}

// acceptsHTML reports whether an Accept header lists text/html with a
// quality above 0.
func acceptsHTML(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		media, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(media), "text/html") {
			continue
		}
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "q") && strings.TrimSpace(v) != "" {
				if q, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && q == 0 {
					return false
				}
			}
		}
		return true
	}
	return false
}
