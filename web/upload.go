package web

import (
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"

	"github.com/ferryhq/ferry"
)

// maxFormFiles bounds the files of one form upload.
const maxFormFiles = 1000

// handleFormUpload is the upload of a page without JavaScript: a
// multipart form, each file streamed into the store as it arrives (a
// taken name gets a free one), into the folder {path}.
func (a *App) handleFormUpload(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	folder, err := names(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		a.renderError(w, r, http.StatusBadRequest, "Choose one or more files to upload.")
		return
	}
	if _, ok := a.receiveFiles(w, r, u, mr, folder); ok {
		back(w, r, folder)
	}
}

// receiveFiles stores the rest of a multipart form's parts, each a file,
// into folder, and returns them as stored (under a free name when theirs
// was taken); on a failure the page says why and ok is false (the files
// before it stay stored).
func (a *App) receiveFiles(w http.ResponseWriter, r *http.Request, u *ferry.User, mr *multipart.Reader, folder []string) (stored []ferry.FileInfo, ok bool) {
	for parts := 0; ; parts++ {
		if parts == maxFormFiles {
			a.renderError(w, r, http.StatusBadRequest, "At most "+strconv.Itoa(maxFormFiles)+" files go in one upload.")
			return nil, false
		}
		part, err := mr.NextPart()
		if err == io.EOF {
			return stored, true
		}
		if err != nil {
			a.renderError(w, r, http.StatusBadRequest, "The upload was cut off.")
			return nil, false
		}
		if part.FormName() != "file" {
			// The page's form has file parts only; anything else would be
			// read for nothing.
			a.renderError(w, r, http.StatusBadRequest, "The upload form has only files.")
			return nil, false
		}
		if part.FileName() == "" {
			// The picker left empty sends one empty part.
			if n, _ := io.ReadFull(part, make([]byte, 1)); n > 0 {
				a.renderError(w, r, http.StatusBadRequest, "A file in the upload has no name.")
				return nil, false
			}
			continue
		}
		name := part.FileName()
		if i := strings.LastIndexAny(name, `/\`); i >= 0 {
			name = name[i+1:]
		}
		target, err := newChild(folder, name)
		if err != nil {
			a.renderError(w, r, http.StatusBadRequest, "The file "+strconv.Quote(name)+" cannot be stored: "+ferry.ErrorMessage(err))
			return nil, false
		}
		info, err := a.cfg.Files.PutFile(r.Context(), ferry.PutRequest{UserID: u.ID, Names: target, Resolve: true, Body: part, Size: -1})
		if err != nil {
			a.fail(w, r, err)
			return nil, false
		}
		stored = append(stored, info)
	}
}
