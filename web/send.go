package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/front"
	"github.com/ferryhq/ferry/paths"
)

type sendData struct {
	Folder   string
	Items    []ferry.FileInfo
	Total    int64
	To       string
	Contacts []ferry.Contact
	Message  string
	Invite   string // the receiver has no account: offer to invite them
	Invited  string // invited from this page
	Back     string // this page, with what is to go, for the invitation to return to
	Bare     bool   // a New send: each item goes by its name, not its path (ferry.SendSource.Bare)
	Inviting bool   // send with an invitation when the receiver has no account
}

// selected returns the folder {path} and the entries of it the query or
// form names (item=name, repeated); on a failure the page says why.
func (a *App) selected(w http.ResponseWriter, r *http.Request, u *ferry.User) (folder []string, items []ferry.FileInfo, ok bool) {
	if err := r.ParseForm(); err != nil {
		a.renderError(w, r, http.StatusBadRequest, "The request could not be read.")
		return nil, nil, false
	}
	folder, err := names(r)
	if err != nil {
		a.fail(w, r, err)
		return nil, nil, false
	}
	chosen := r.Form["item"]
	if len(chosen) == 0 {
		a.renderError(w, r, http.StatusBadRequest, "Choose the files and folders to send: tick them in the folder, then Send.")
		return nil, nil, false
	}
	if len(chosen) > pageSize {
		// One folder page's worth: each is looked up before the send.
		a.renderError(w, r, http.StatusBadRequest, "Send at most "+strconv.Itoa(pageSize)+" items at once, or send the folder that holds them.")
		return nil, nil, false
	}
	for _, name := range chosen {
		target, ok := child(folder, name)
		if !ok {
			a.renderError(w, r, http.StatusBadRequest, "A chosen name is not one of this folder's.")
			return nil, nil, false
		}
		info, err := a.cfg.Dav.Lookup(r.Context(), u.ID, target)
		if err != nil {
			a.fail(w, r, err)
			return nil, nil, false
		}
		items = append(items, info)
	}
	return folder, items, true
}

// handleSendPage shows what goes and asks to whom: GET /send/{folder}?item=...
func (a *App) handleSendPage(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	folder, items, ok := a.selected(w, r, u)
	if !ok {
		return
	}
	a.renderSend(w, r, u, http.StatusOK, sendData{Folder: paths.Join(folder), Items: items, To: r.Form.Get("to"), Invited: r.Form.Get("invited"), Bare: r.Form.Get("bare") == "1"})
}

func (a *App) renderSend(w http.ResponseWriter, r *http.Request, u *ferry.User, status int, d sendData) {
	for _, it := range d.Items {
		d.Total += it.Size
	}
	contacts, err := a.cfg.Social.Contacts(r.Context(), u.ID, "")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	d.Contacts = contacts
	q := url.Values{"to": {d.To}}
	if d.Bare {
		q.Set("bare", "1")
	}
	for _, it := range d.Items {
		q.Add("item", it.Name)
	}
	d.Back = pathURL("/send/", d.Folder) + "?" + q.Encode()
	a.render(w, r, status, "send", "Send", d)
}

// handleSend sends the chosen files and folders to the form's email.
func (a *App) handleSend(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	folder, items, ok := a.selected(w, r, u)
	if !ok {
		return
	}
	a.send(w, r, u, sendData{Folder: paths.Join(folder), Items: items, To: strings.TrimSpace(r.PostFormValue("to")), Bare: r.PostFormValue("bare") == "1",
		Inviting: r.PostFormValue("invite") == "1"})
}

// send sends d's items of d's folder to d.To: one message per file or
// folder, each landing in the receiver's inbox. On a refusal the send page
// says why.
func (a *App) send(w http.ResponseWriter, r *http.Request, u *ferry.User, d sendData) {
	if d.To == "" {
		d.Message = "Whom to? Enter the receiver's email."
		a.renderSend(w, r, u, http.StatusBadRequest, d)
		return
	}
	folder, err := paths.Parse(d.Folder)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var sources []ferry.SendSource
	for _, it := range d.Items {
		if it.Dir {
			sources = append(sources, ferry.SendSource{Path: append(slices.Clone(folder), it.Name), Folder: true, Bare: d.Bare})
		} else {
			sources = append(sources, ferry.SendSource{Path: folder, Files: [][]string{{it.Name}}, Bare: d.Bare})
		}
	}
	ids, err := front.Send(r.Context(), a.cfg.Messages, a.cfg.Mail, a.cfg.Signup, u, d.To, sources, d.Inviting)
	if err != nil {
		status, fe := a.refusal(w, r, err)
		if fe == nil {
			return
		}
		d.Message = fe.Message
		if errors.Is(err, ferry.ErrNoReceiver) && a.cfg.Signup != "closed" {
			d.Invite = d.To
		}
		a.renderSend(w, r, u, status, d)
		return
	}
	http.Redirect(w, r, "/outbox?sent="+strconv.Itoa(len(ids)), http.StatusSeeOther)
}
