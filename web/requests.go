package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/paths"
	"github.com/ferryhq/ferry/quota"
)

// File requests on the web app's pages: the requester's list, a form to
// make one (from the folder view: "Request files into this folder"), and
// revoking. The outsider's page is deliver.go's.

type requestsData struct {
	Requests []ferry.FileRequest
	Folder   string // the folder the form fills in
	URL      string // a request just made: its address, shown once
	Made     string // and its title
	Title    string // the form's title, after a refusal
	Message  string
	Saved    string
}

// handleRequestsPage is /requests[?folder=PATH].
func (a *App) handleRequestsPage(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	a.renderRequests(w, r, u, http.StatusOK, requestsData{Folder: r.URL.Query().Get("folder"), Saved: r.URL.Query().Get("saved")})
}

func (a *App) renderRequests(w http.ResponseWriter, r *http.Request, u *ferry.User, status int, d requestsData) {
	var err error
	if d.Requests, err = a.cfg.Requests.Requests(r.Context(), u.ID); err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, r, status, "requests", "File requests", d)
}

// handleCreateRequest makes a request from the form and shows its
// address, once.
func (a *App) handleCreateRequest(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	title := strings.TrimSpace(r.PostFormValue("title"))
	d := requestsData{Folder: r.PostFormValue("folder"), Title: title}
	refuse := func(msg string) {
		d.Message = msg
		a.renderRequests(w, r, u, http.StatusBadRequest, d)
	}
	days, err := strconv.Atoi(r.PostFormValue("days"))
	if err != nil || days < 1 || days > 365 {
		refuse("Choose how long the request stays open.")
		return
	}
	nr := ferry.NewFileRequest{Title: title, Message: r.PostFormValue("message"), Password: r.PostFormValue("password"),
		Expires: a.cfg.Now().Add(time.Duration(days) * 24 * time.Hour)}
	if v := strings.TrimSpace(r.PostFormValue("max_files")); v != "" {
		if nr.MaxFiles, err = strconv.Atoi(v); err != nil || nr.MaxFiles < 0 {
			refuse("Files at most: a number, or empty for no limit.")
			return
		}
	}
	if v := strings.TrimSpace(r.PostFormValue("max_size")); v != "" {
		if nr.MaxSize, err = quota.ParseSize(v); err != nil {
			refuse("Size at most: write it as 500MB or 2GB, or leave it empty for no limit.")
			return
		}
	}
	folder := strings.TrimSpace(d.Folder)
	if folder == "" {
		folder = "Requests/" + title
	}
	if nr.Folder, err = paths.Parse(folder); err != nil || len(nr.Folder) == 0 {
		refuse("The files need a folder to land in: choose one, or a title that can be a folder's name.")
		return
	}
	_, token, err := a.cfg.Requests.CreateRequest(r.Context(), u.ID, nr)
	if err != nil {
		if status, fe := a.refusal(w, r, err); fe != nil {
			d.Message = fe.Message
			a.renderRequests(w, r, u, status, d)
		}
		return
	}
	a.renderRequests(w, r, u, http.StatusOK, requestsData{URL: a.cfg.PublicURL + "/r/" + token, Made: title})
}

// handleRevokeRequest ends a request at once.
func (a *App) handleRevokeRequest(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err == nil {
		err = a.cfg.Requests.RevokeRequest(r.Context(), u.ID, id)
	}
	if err != nil {
		if status, fe := a.refusal(w, r, err); fe != nil {
			a.renderRequests(w, r, u, status, requestsData{Message: "That request does not exist any more."})
		}
		return
	}
	http.Redirect(w, r, "/requests?saved=revoked", http.StatusSeeOther)
}
