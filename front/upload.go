package front

import (
	"errors"
	"net/http"
	"regexp"
	"strconv"

	"github.com/ferryhq/ferry"
)

// Uploads answers the calls of a resumable upload (docs/api.md, "Uploads"):
// the API's under its token, and app.js's under the web app's session,
// with the same answers and errors.
type Uploads struct {
	Service ferry.UploadService
	// Fail answers an error in the API's error model.
	Fail func(w http.ResponseWriter, r *http.Request, err error)
}

// Stored is the answer of a finished upload: where the file is, its size
// and hash.
type Stored struct {
	File   string `json:"file"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// StoredOf is info as an upload's answer.
func StoredOf(info ferry.FileInfo) Stored {
	return Stored{File: info.Path, Size: info.Size, SHA256: info.SHA256}
}

// Start begins an upload of size bytes (the parameter as it came) to
// names; resolve gives a taken name a free one.
func (u Uploads) Start(w http.ResponseWriter, r *http.Request, userID uint64, names []string, size string, resolve bool) {
	n, err := strconv.ParseInt(size, 10, 64)
	if err != nil || n < 0 {
		u.Fail(w, r, ferry.Errorf(ferry.EBADREQUEST, "size must be the file's size in bytes."))
		return
	}
	key, path, err := u.Service.CreateUpload(r.Context(), userID, names, n, resolve)
	if err != nil {
		u.Fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]string{"upload_key": key, "file": path})
}

var contentRange = regexp.MustCompile(`^bytes (\d{1,19})-(\d{1,19})/(\d{1,19})$`)

// offsetBody is the 409 answer to a chunk at the wrong offset: the error
// and where the upload stands.
type offsetBody struct {
	Error    string `json:"error"`
	Message  string `json:"message"`
	Received int64  `json:"received"`
}

// Chunk writes the request's body, the bytes its Content-Range names,
// which must start where the upload stands.
func (u Uploads) Chunk(w http.ResponseWriter, r *http.Request, userID uint64, key string) {
	m := contentRange.FindStringSubmatch(r.Header.Get("Content-Range"))
	var start, end, total int64
	var errs [3]error
	if m != nil {
		start, errs[0] = strconv.ParseInt(m[1], 10, 64)
		end, errs[1] = strconv.ParseInt(m[2], 10, 64)
		total, errs[2] = strconv.ParseInt(m[3], 10, 64)
	}
	if m == nil || errors.Join(errs[:]...) != nil {
		u.Fail(w, r, ferry.Errorf(ferry.EBADREQUEST, "A chunk needs the header Content-Range: bytes a-b/size."))
		return
	}
	if r.ContentLength >= 0 && r.ContentLength != end-start+1 {
		u.Fail(w, r, ferry.Errorf(ferry.EBADREQUEST, "Content-Length %d does not match Content-Range (%d bytes).", r.ContentLength, end-start+1))
		return
	}
	received, err := u.Service.WriteChunk(r.Context(), ferry.Chunk{UserID: userID, Key: key, Start: start, End: end, Total: total, Body: r.Body})
	var off *ferry.OffsetError
	if errors.As(err, &off) {
		WriteJSON(w, http.StatusConflict, offsetBody{
			Error:    ferry.EUPLOADOFFSET,
			Message:  "A chunk must start at byte " + strconv.FormatInt(off.Received, 10) + ".",
			Received: off.Received,
		})
		return
	}
	if err != nil {
		u.Fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]int64{"received": received})
}

// Status answers how much of the upload has arrived, and its size.
func (u Uploads) Status(w http.ResponseWriter, r *http.Request, userID uint64, key string) {
	received, size, err := u.Service.UploadStatus(r.Context(), userID, key)
	if err != nil {
		u.Fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]int64{"received": received, "size": size})
}

// Finish checks the upload and makes it the file.
func (u Uploads) Finish(w http.ResponseWriter, r *http.Request, userID uint64, key string) {
	info, err := u.Service.FinalizeUpload(r.Context(), userID, key)
	if err != nil {
		u.Fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, StoredOf(info))
}

// Flag parses a parameter that is 0 or 1 (also false or true; empty is 0).
func Flag(name, v string) (bool, error) {
	switch v {
	case "", "0", "false":
		return false, nil
	case "1", "true":
		return true, nil
	default:
		return false, ferry.Errorf(ferry.EBADREQUEST, "%s must be 0 or 1, not %q.", name, v)
	}
}
