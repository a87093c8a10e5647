package web

import (
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/paths"
)

// sentFolder is the folder of the sender's own folder that the New send
// page uploads into: a copy of what was sent stays there.
const sentFolder = "Sent"

type newSendData struct {
	Folder   string // where this send's files go
	To       string
	Contacts []ferry.Contact
}

// freshSendFolder returns a folder of Sent named for now that does not
// exist yet ("Sent/2026-11-30 15.04.05", then " (1)" and so on).
func (a *App) freshSendFolder(r *http.Request, u *ferry.User) ([]string, error) {
	base := time.Now().UTC().Format("2006-01-02 15.04.05")
	for n := 0; ; n++ {
		name := base
		if n > 0 {
			name = paths.ConflictName(base, n)
		}
		folder := []string{sentFolder, name}
		_, err := a.cfg.Dav.Lookup(r.Context(), u.ID, folder)
		if ferry.ErrorCode(err) == ferry.EFILENOTFOUND {
			return folder, nil
		} else if err != nil {
			return nil, err
		}
	}
}

// handleNewSendPage is the New send page: choose files and a receiver,
// and the files are uploaded and sent in one step.
func (a *App) handleNewSendPage(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	folder, err := a.freshSendFolder(r, u)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	contacts, err := a.cfg.Social.Contacts(r.Context(), u.ID, "")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, "newsend", "New send", newSendData{Folder: paths.Join(folder), Contacts: contacts})
}

// handleNewSend is the New send page's form without JavaScript: the
// receiver's email, then the files, in one multipart request. The files
// are stored into a new folder of Sent, then sent; a refused send (say,
// an unknown receiver) shows the send page of those files, to try again.
func (a *App) handleNewSend(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	mr, err := r.MultipartReader()
	if err != nil {
		a.renderError(w, r, http.StatusBadRequest, "Choose the files to send.")
		return
	}
	part, err := mr.NextPart()
	if err != nil || part.FormName() != "to" {
		a.renderError(w, r, http.StatusBadRequest, "The form names the receiver first, then the files.")
		return
	}
	to, err := io.ReadAll(io.LimitReader(part, ferry.MaxEmailLen+1))
	if err != nil {
		a.renderError(w, r, http.StatusBadRequest, "The upload was cut off.")
		return
	}
	folder, err := a.freshSendFolder(r, u)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	stored, ok := a.receiveFiles(w, r, u, mr, folder)
	if !ok {
		return
	}
	if len(stored) == 0 {
		a.renderError(w, r, http.StatusBadRequest, "Choose the files to send.")
		return
	}
	a.send(w, r, u, sendData{Folder: paths.Join(folder), Items: stored, To: strings.TrimSpace(string(to)), Bare: true})
}
