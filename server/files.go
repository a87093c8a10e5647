package server

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/front"
	"github.com/ferryhq/ferry/paths"
)

// handleList is GET /ops/list: the entries of a folder, written as JSON
// straight from the store's scan into one buffer (encoding/json's
// reflection, and a slice of 100,000 entries, made large listings take
// superlinear time).
func (s *Server) handleList(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	_, names, err := s.paramsAndPath(r, "path")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	prefix := paths.Join(names)
	if prefix != "" {
		prefix += "/"
	}
	bp := listBufs.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= maxPooledList {
			listBufs.Put(bp)
		}
	}()
	buf := append((*bp)[:0], '[')
	err = s.files.List(r.Context(), u.ID, names, func(name []byte, dir bool, size int64) {
		if len(buf) > 1 {
			buf = append(buf, ',')
		}
		buf = appendEntry(buf, prefix, name, dir, size)
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	buf = append(buf, ']', '\n')
	*bp = buf
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf)
}

// listBufs holds listing buffers between requests, up to maxPooledList
// each: a large folder's listing then reuses memory already mapped instead
// of growing a new buffer page fault by page fault. sync.Pool lets them go
// within two collections once listings stop.
const maxPooledList = 16 << 20

var listBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// appendEntry appends one ops/list entry as JSON: {"file":prefix+name,
// "size":size,"type":"f"|"d"}.
func appendEntry(buf []byte, prefix string, name []byte, dir bool, size int64) []byte {
	buf = append(buf, `{"file":"`...)
	buf = appendJSONStringBody(buf, prefix)
	buf = appendJSONStringBody(buf, name)
	buf = append(buf, `","size":`...)
	buf = strconv.AppendInt(buf, size, 10)
	if dir {
		return append(buf, `,"type":"d"}`...)
	}
	return append(buf, `,"type":"f"}`...)
}

// paramsAndPath parses a request's parameters and its path parameter.
func (s *Server) paramsAndPath(r *http.Request, name string) (*params, []string, error) {
	p, err := parseParams(r)
	if err != nil {
		return nil, nil, err
	}
	names, err := paths.Parse(p.String(name))
	return p, names, err
}

// handleMkdir is POST /ops/mkdir.
func (s *Server) handleMkdir(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	_, names, err := s.paramsAndPath(r, "path")
	if err == nil {
		err = s.files.Mkdir(r.Context(), u.ID, names)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeOK(w)
}

// handleMove is POST /ops/move; handleCopy POST /ops/copy.
func (s *Server) handleMove(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	s.transfer(w, r, func(src, dst []string) error {
		return s.files.Move(r.Context(), u.ID, ferry.Transfer{Src: src, Dst: dst})
	})
}

func (s *Server) handleCopy(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	s.transfer(w, r, func(src, dst []string) error {
		return s.files.Copy(r.Context(), u.ID, ferry.Transfer{Src: src, Dst: dst})
	})
}

func (s *Server) transfer(w http.ResponseWriter, r *http.Request, do func(src, dst []string) error) {
	p, src, err := s.paramsAndPath(r, "source")
	if err == nil {
		var dst []string
		if dst, err = paths.Parse(p.String("destination")); err == nil {
			err = do(src, dst)
		}
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeOK(w)
}

// fileFailure is one failed item of ops/delete.
type fileFailure struct {
	File  string `json:"file"`
	Error string `json:"error"`
}

// handleDelete is POST /ops/delete: a batch of paths (file[]).
func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	p, err := parseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	given, err := p.List("file")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	b := newBatch(len(given))
	var list [][]string
	for i, g := range given {
		names, err := paths.Parse(g)
		if err != nil {
			b.refuse(i, err)
			continue
		}
		list = append(list, names)
		b.pass(i)
	}
	results, err := s.files.Delete(r.Context(), u.ID, list)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	b.results(results)
	answerBatch(w, b, func(i int, code string) fileFailure { return fileFailure{File: given[i], Error: code} })
}

// writeBatch answers a batch call: 200 [] when every item succeeded, 202
// with the failed items otherwise.
func writeBatch[T any](w http.ResponseWriter, failures []T) {
	if len(failures) == 0 {
		writeJSON(w, http.StatusOK, []T{})
		return
	}
	writeJSON(w, http.StatusAccepted, failures)
}

// fileSize is one row of ops/filesize.
type fileSize struct {
	File string `json:"file"`
	Size int64  `json:"size"`
}

// handleFilesize is POST /ops/filesize: the size of each of files[], -1
// where nothing exists.
func (s *Server) handleFilesize(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	p, err := parseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	given := p.Strings("files")
	if len(given) > MaxItems {
		s.writeError(w, r, checkItems("files", len(given)))
		return
	}
	list := make([][]string, len(given))
	for i, g := range given {
		if list[i], err = paths.Parse(g); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	sizes, err := s.files.Sizes(r.Context(), u.ID, list)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]fileSize, len(given))
	for i, g := range given {
		out[i] = fileSize{File: g, Size: sizes[i]}
	}
	writeJSON(w, http.StatusOK, out)
}

// stored is the answer of an upload: where the file is, its size and hash.
type stored struct {
	File   string `json:"file"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

func storedOf(info ferry.FileInfo) stored {
	return stored{File: info.Path, Size: info.Size, SHA256: info.SHA256}
}

// handlePutFile is PUT /files?path=P[&resolve=1]: the raw body becomes the
// file, streamed to disk; nothing of it is kept on any error.
func (s *Server) handlePutFile(w http.ResponseWriter, r *http.Request, u *ferry.User) {
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
	info, err := s.files.PutFile(r.Context(), ferry.PutRequest{UserID: u.ID, Names: names, Resolve: resolve, Body: r.Body, Size: r.ContentLength})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, storedOf(info))
}

// handleGetFile is GET /files?path=P: the file's bytes, with Range, ETag
// (the SHA-256), Last-Modified and If-None-Match as net/http's ServeContent
// does them.
func (s *Server) handleGetFile(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	_, names, err := s.paramsAndPath(r, "path")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	info, err := s.files.Stat(r.Context(), u.ID, names)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.serveFile(w, r, info)
}

// serveFile answers a stored file's content (front.ServeFile).
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, info ferry.FileInfo) {
	front.ServeFile(w, r, s.files.OpenBlob, info, func(err error) { s.writeError(w, r, err) })
}

// appendJSONStringBody appends s, valid UTF-8, escaped for the inside of a
// JSON string.
func appendJSONStringBody[T string | []byte](buf []byte, s T) []byte {
	const hexDigits = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			buf = append(buf, '\\', c)
		case c < 0x20:
			buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			buf = append(buf, c)
		}
	}
	return buf
}
