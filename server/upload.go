package server

import (
	"errors"
	"net/http"
	"regexp"
	"strconv"

	"github.com/ferryhq/ferry"
)

// handleUploadLink is POST /upload/link: path, size, resolve start a
// resumable upload.
func (s *Server) handleUploadLink(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	p, names, err := s.paramsAndPath(r, "path")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resolve, err := p.Bool("resolve")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	size, err := strconv.ParseInt(p.String("size"), 10, 64)
	if err != nil || size < 0 {
		s.writeError(w, r, ferry.Errorf(ferry.EBADREQUEST, "size must be the file's size in bytes."))
		return
	}
	key, path, err := s.uploads.CreateUpload(r.Context(), u.ID, names, size, resolve)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"upload_key": key, "file": path})
}

var contentRange = regexp.MustCompile(`^bytes (\d{1,19})-(\d{1,19})/(\d{1,19})$`)

// offsetBody is the 409 answer to a chunk at the wrong offset: the error
// and where the upload stands.
type offsetBody struct {
	Error    string `json:"error"`
	Message  string `json:"message"`
	Received int64  `json:"received"`
}

// handleChunk is PUT /upload/chunked/{key}: the raw body is the bytes
// Content-Range names, which must start where the upload stands.
func (s *Server) handleChunk(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	m := contentRange.FindStringSubmatch(r.Header.Get("Content-Range"))
	var start, end, total int64
	var errs [3]error
	if m != nil {
		start, errs[0] = strconv.ParseInt(m[1], 10, 64)
		end, errs[1] = strconv.ParseInt(m[2], 10, 64)
		total, errs[2] = strconv.ParseInt(m[3], 10, 64)
	}
	if m == nil || errors.Join(errs[:]...) != nil {
		s.writeError(w, r, ferry.Errorf(ferry.EBADREQUEST, "A chunk needs the header Content-Range: bytes a-b/size."))
		return
	}
	if r.ContentLength >= 0 && r.ContentLength != end-start+1 {
		s.writeError(w, r, ferry.Errorf(ferry.EBADREQUEST, "Content-Length %d does not match Content-Range (%d bytes).", r.ContentLength, end-start+1))
		return
	}
	received, err := s.uploads.WriteChunk(r.Context(), ferry.Chunk{UserID: u.ID, Key: pathVar(r, "key"), Start: start, End: end, Total: total, Body: r.Body})
	var off *ferry.OffsetError
	if errors.As(err, &off) {
		writeJSON(w, http.StatusConflict, offsetBody{
			Error:    ferry.EUPLOADOFFSET,
			Message:  "A chunk must start at byte " + strconv.FormatInt(off.Received, 10) + ".",
			Received: off.Received,
		})
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int64{"received": received})
}

// handleUploadStatus is GET /upload/status/{key}.
func (s *Server) handleUploadStatus(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	received, size, err := s.uploads.UploadStatus(r.Context(), u.ID, pathVar(r, "key"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int64{"received": received, "size": size})
}

// handleFinalize is GET /upload/finalize/{key}: the file appears now.
func (s *Server) handleFinalize(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	info, err := s.uploads.FinalizeUpload(r.Context(), u.ID, pathVar(r, "key"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, storedOf(info))
}
