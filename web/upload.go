package web

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/paths"
)

// app.js uploads every file through the resumable upload service: start
// (the full path and size; a taken name gets a free one, so that nothing
// stored is replaced by a drop), chunks of a few MiB, each PUT with its
// Content-Range, and finish. The upload's key is kept in the browser's
// localStorage, so that after a reload or a dropped network the same file
// picked again goes on from the last chunk stored.

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

func (a *App) handleUploadStart(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	names, err := paths.Parse(r.PostFormValue("path"))
	if err != nil {
		a.cfg.WriteError(w, r, err)
		return
	}
	size, err := strconv.ParseInt(r.PostFormValue("size"), 10, 64)
	if err != nil || size < 0 {
		a.cfg.WriteError(w, r, ferry.Errorf(ferry.EBADREQUEST, "size must be the file's size in bytes."))
		return
	}
	key, file, err := a.cfg.Uploads.CreateUpload(r.Context(), u.ID, names, size, true)
	if err != nil {
		a.cfg.WriteError(w, r, err)
		return
	}
	writeJSON(w, map[string]string{"key": key, "file": file})
}

func (a *App) handleUploadStatus(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	received, size, err := a.cfg.Uploads.UploadStatus(r.Context(), u.ID, r.PathValue("key"))
	if err != nil {
		a.cfg.WriteError(w, r, err)
		return
	}
	writeJSON(w, map[string]int64{"received": received, "size": size})
}

var contentRange = regexp.MustCompile(`^bytes (\d{1,19})-(\d{1,19})/(\d{1,19})$`)

func (a *App) handleUploadChunk(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	m := contentRange.FindStringSubmatch(r.Header.Get("Content-Range"))
	if m == nil {
		a.cfg.WriteError(w, r, ferry.Errorf(ferry.EBADREQUEST, "A chunk needs the header Content-Range: bytes a-b/size."))
		return
	}
	start, err1 := strconv.ParseInt(m[1], 10, 64)
	end, err2 := strconv.ParseInt(m[2], 10, 64)
	total, err3 := strconv.ParseInt(m[3], 10, 64)
	if errors.Join(err1, err2, err3) != nil {
		a.cfg.WriteError(w, r, ferry.Errorf(ferry.EBADREQUEST, "Content-Range is out of range."))
		return
	}
	received, err := a.cfg.Uploads.WriteChunk(r.Context(), ferry.Chunk{UserID: u.ID, Key: r.PathValue("key"), Start: start, End: end, Total: total, Body: r.Body})
	var off *ferry.OffsetError
	if errors.As(err, &off) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusConflict)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": ferry.EUPLOADOFFSET, "message": ferry.ErrorMessage(err), "received": off.Received})
		return
	}
	if err != nil {
		a.cfg.WriteError(w, r, bodyErr(err))
		return
	}
	writeJSON(w, map[string]int64{"received": received})
}

func (a *App) handleUploadFinish(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	info, err := a.cfg.Uploads.FinalizeUpload(r.Context(), u.ID, r.PathValue("key"))
	if err != nil {
		a.cfg.WriteError(w, r, err)
		return
	}
	writeJSON(w, map[string]any{"file": info.Path, "size": info.Size, "sha256": info.SHA256})
}

func bodyErr(err error) error {
	if errors.Is(err, ferry.ErrBodyRead) {
		return ferry.Errorf(ferry.EBADREQUEST, "The upload was cut off; pick the file again to go on.")
	}
	return err
}

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
	for parts := 0; ; parts++ {
		if parts == maxFormFiles {
			a.renderError(w, r, http.StatusBadRequest, "At most "+strconv.Itoa(maxFormFiles)+" files go in one upload.")
			return
		}
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			a.renderError(w, r, http.StatusBadRequest, "The upload was cut off.")
			return
		}
		if part.FormName() != "file" {
			// The page's form has file parts only; anything else would be
			// read for nothing.
			a.renderError(w, r, http.StatusBadRequest, "The upload form has only files.")
			return
		}
		if part.FileName() == "" {
			// The picker left empty sends one empty part.
			if n, _ := io.ReadFull(part, make([]byte, 1)); n > 0 {
				a.renderError(w, r, http.StatusBadRequest, "A file in the upload has no name.")
				return
			}
			continue
		}
		name := part.FileName()
		if i := strings.LastIndexAny(name, `/\`); i >= 0 {
			name = name[i+1:]
		}
		target, err := paths.Parse(paths.Join(folder) + "/" + name)
		if err != nil || len(target) != len(folder)+1 {
			a.renderError(w, r, http.StatusBadRequest, "The file name "+strconv.Quote(name)+" cannot be stored: names may not be empty, . or .., or hold control characters.")
			return
		}
		_, err = a.cfg.Files.PutFile(r.Context(), ferry.PutRequest{UserID: u.ID, Names: target, Resolve: true, Body: part, Size: -1})
		if err != nil {
			a.fail(w, r, bodyErr(err))
			return
		}
	}
	back(w, r, folder)
}
