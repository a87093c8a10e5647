package server

import (
	"net/http"

	"github.com/ferryhq/ferry"
)

// The resumable upload calls (front.Uploads, which app.js's calls in the
// web app share).

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
	s.upload.Start(w, r, u.ID, names, p.String("size"), resolve)
}

// handleChunk is PUT /upload/chunked/{key}: the raw body is the bytes
// Content-Range names, which must start where the upload stands.
func (s *Server) handleChunk(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	s.upload.Chunk(w, r, u.ID, pathVar(r, "key"))
}

// handleUploadStatus is GET /upload/status/{key}.
func (s *Server) handleUploadStatus(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	s.upload.Status(w, r, u.ID, pathVar(r, "key"))
}

// handleFinalize is GET /upload/finalize/{key}: the file appears now.
func (s *Server) handleFinalize(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	s.upload.Finish(w, r, u.ID, pathVar(r, "key"))
}
