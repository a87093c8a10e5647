package web

import (
	"net/http"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/front"
	"github.com/ferryhq/ferry/paths"
)

// app.js's uploads are the API's resumable upload calls (front.Uploads,
// the same answers and errors) under the session cookie instead of the
// token header, and refused when they come from another site.

// handleUploadStart is POST /uploads/start: path, size, resolve.
func (a *App) handleUploadStart(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	names, err := paths.Parse(r.PostFormValue("path"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	resolve, err := front.Flag("resolve", r.PostFormValue("resolve"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.uploads.Start(w, r, u.ID, names, r.PostFormValue("size"), resolve)
}

// handleUploadChunk is PUT /uploads/{key}: the bytes Content-Range names.
func (a *App) handleUploadChunk(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	a.uploads.Chunk(w, r, u.ID, r.PathValue("key"))
}

// handleUploadStatus is GET /uploads/{key}: where the upload stands.
func (a *App) handleUploadStatus(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	a.uploads.Status(w, r, u.ID, r.PathValue("key"))
}

// handleUploadFinish is POST /uploads/{key}/finish: the file appears now.
func (a *App) handleUploadFinish(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	a.uploads.Finish(w, r, u.ID, r.PathValue("key"))
}
