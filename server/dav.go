package server

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"slices"
	"strings"

	"golang.org/x/net/webdav"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/paths"
)

// davPrefix is where WebDAV is served.
const davPrefix = "/dav"

// davMethods are the methods WebDAV (RFC 4918) defines with those of
// HTTP it uses; /dav/ answers no other.
var davMethods = map[string]bool{
	http.MethodOptions: true, http.MethodGet: true, http.MethodHead: true, http.MethodPut: true,
	http.MethodDelete: true, "MKCOL": true, "COPY": true, "MOVE": true, "LOCK": true, "UNLOCK": true,
	"PROPFIND": true, "PROPPATCH": true,
}

const davAllow = "OPTIONS, GET, HEAD, PUT, DELETE, MKCOL, COPY, MOVE, LOCK, UNLOCK, PROPFIND, PROPPATCH"

// basicRealm is the challenge of a WebDAV request without valid
// credentials.
const basicRealm = `Basic realm="ferry", charset="UTF-8"`

// handleDav serves /dav/ with Basic auth (login and app password), under
// the same failed-login limit as /auth/token.
func (s *Server) handleDav(w http.ResponseWriter, r *http.Request) {
	login, password, ok := r.BasicAuth()
	if !ok {
		w.Header().Set("WWW-Authenticate", basicRealm)
		s.writeError(w, r, ferry.Errorf(ferry.ENOPERMISSION, "WebDAV needs the login and app password of GET /api/1/slice."))
		return
	}
	email := strings.ToLower(strings.TrimSpace(login))
	u, err := s.underLoginLimit(w, r, email, func() (*ferry.User, error) {
		return s.dav.CheckAppPassword(r.Context(), email, password)
	})
	if ferry.ErrorCode(err) == ferry.EAUTHFAILED {
		w.Header().Set("WWW-Authenticate", basicRealm)
		err = ferry.Errorf(ferry.ENOPERMISSION, "Wrong login or app password.")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	infoOf(r).userID = u.ID
	if !davMethods[r.Method] {
		// x/net/webdav answers POST (and would answer any method it
		// adds) as it answers GET; only WebDAV's own methods get through.
		w.Header().Set("Allow", davAllow)
		s.writeError(w, r, ferry.Errorf(ferry.EMETHODNOTALLOWED, "%s is not a WebDAV method.", r.Method))
		return
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		// A file is served as GET /files serves it: with sendfile, and as
		// an attachment in a sandbox, so that no uploaded page ever runs
		// as part of ferry's site (x/net/webdav would serve it inline).
		if names, err := paths.Parse(davPath(r.URL.Path)); err == nil {
			if info, err := s.dav.Lookup(r.Context(), u.ID, names); err == nil && !info.Dir {
				s.serveFile(w, r, info)
				return
			}
		}
	}
	if r.Method != http.MethodPut {
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxRequestBody) // XML
	}
	if r.Method == "PROPFIND" {
		if d := strings.TrimSpace(r.Header.Get("Depth")); d != "0" && d != "1" {
			// Depth: infinity (or none, which means it) would walk the whole
			// folder in one answer; RFC 4918 lets a server refuse it.
			w.Header().Set("Content-Type", "application/xml; charset=utf-8")
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `<?xml version="1.0" encoding="utf-8"?>`+"\n"+`<D:error xmlns:D="DAV:"><D:propfind-finite-depth/></D:error>`+"\n")
			return
		}
	}
	if r.Method == "PROPFIND" || r.Method == "PROPPATCH" {
		if err := checkXMLBody(r); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	st := &davState{declared: -1}
	switch r.Method {
	case http.MethodPut:
		st.declared = r.ContentLength
	case "COPY", "MOVE":
		st.transfer(r)
	}
	// x/net/webdav takes a brief lock on the paths a write names, and
	// answers 423 Locked to a second request on the same path meanwhile
	// (rclone's parallel transfers make the same parent folder at once).
	// Such requests of one user wait for each other here instead.
	defer s.davPaths.lock(u.ID, davWritePaths(r)...)()
	// x/net/webdav tells the error behind its answer only after writing
	// the answer: an error answer is held (davWriter) until the error is
	// known, so that a refusal (a *ferry.Error for the quota, a full disk,
	// a size or lock limit) is answered with its own status.
	var failure error
	h := &webdav.Handler{
		Prefix:     davPrefix,
		FileSystem: &davFS{ctx: r.Context(), s: s, u: u, st: st},
		LockSystem: s.davLocks(u.ID),
		Logger: func(r *http.Request, err error) {
			failure = err
			if err != nil && davRefusal(err) == nil && !os.IsNotExist(err) && !os.IsExist(err) {
				s.log.DebugContext(r.Context(), "webdav", "method", r.Method, "err", err)
			}
		},
	}
	dw := &davWriter{ResponseWriter: w}
	h.ServeHTTP(dw, r)
	dw.finish(failure)
}

// davRefusal returns the refusal behind a failed WebDAV request, nil when
// it was no refusal: the quota (the storage quota, or a limit on
// properties or locks), a full disk, or a file over max_file_size.
func davRefusal(err error) *ferry.Error {
	var fe *ferry.Error
	if !errors.As(err, &fe) {
		return nil
	}
	switch fe.Code {
	case ferry.EQUOTAEXCEEDED, ferry.ESTORAGEFULL, ferry.ETOOLARGE:
		return fe
	}
	return nil
}

// checkXMLBody refuses a PROPFIND or PROPPATCH body that declares a
// namespace prefix as "" (not allowed by XML Namespaces 1.0, and accepted
// by encoding/xml), and leaves the body readable again for x/net/webdav.
func checkXMLBody(r *http.Request) error {
	body, err := io.ReadAll(r.Body)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return ferry.Errorf(ferry.ETOOLARGE, "The request body is over the limit of %d bytes.", tooLarge.Limit)
	} else if err != nil {
		return ferry.Errorf(ferry.EBADREQUEST, "The request body could not be read in full.")
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	dec := xml.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.RawToken()
		if err != nil {
			return nil // the end, or malformed XML, which x/net/webdav answers
		}
		if start, ok := tok.(xml.StartElement); ok {
			for _, a := range start.Attr {
				if a.Name.Space == "xmlns" && a.Value == "" {
					return ferry.Errorf(ferry.EBADREQUEST, "The XML declares the namespace prefix %q as empty.", a.Name.Local)
				}
			}
		}
	}
}

// davWritePaths returns the paths (below /dav) that a WebDAV write names:
// its own, and a COPY's or MOVE's destination; none for reads and LOCK.
func davWritePaths(r *http.Request) []string {
	switch r.Method {
	case http.MethodPut, "MKCOL", http.MethodDelete, "PROPPATCH":
	case "COPY", "MOVE":
		if u, err := url.Parse(r.Header.Get("Destination")); err == nil {
			return []string{davPath(r.URL.Path), davPath(u.Path)}
		}
	default:
		return nil
	}
	return []string{davPath(r.URL.Path)}
}

func davPath(p string) string {
	return path.Clean("/" + strings.TrimPrefix(p, davPrefix))
}

// davState is what one WebDAV request's file system calls share: the
// PUT's declared length.
//
// For a COPY or MOVE it also carries what makes replacing the destination
// one transaction. x/net/webdav deletes the destination (RemoveAll) and then
// moves or copies onto it, two commits with nothing of either in between
// after a crash. The delete is put off instead (replace), and the move or
// copy does it in its own transaction. A COPY of a folder is one store
// copy of the whole tree (copied), linked in one transaction; what
// x/net/webdav then does below it, file by file, finds nothing left to do.
type davState struct {
	declared int64

	source, target []string // a COPY's or MOVE's, parsed
	overwrite      bool     // the destination may be replaced
	shallow        bool     // Depth: 0
	replace        bool     // the delete of target was put off
	copied         bool     // target was copied whole
}

// transfer notes a COPY's or MOVE's paths and headers, as x/net/webdav
// reads them.
func (st *davState) transfer(r *http.Request) {
	u, err := url.Parse(r.Header.Get("Destination"))
	if err != nil {
		return
	}
	src, err1 := paths.Parse(davPath(r.URL.Path))
	dst, err2 := paths.Parse(davPath(u.Path))
	if err1 != nil || err2 != nil {
		return
	}
	st.source, st.target = src, dst
	if r.Method == "COPY" {
		st.overwrite = r.Header.Get("Overwrite") != "F"
	} else {
		st.overwrite = r.Header.Get("Overwrite") == "T"
	}
	st.shallow = r.Header.Get("Depth") == "0"
}

// isTarget reports whether names is the destination of the request.
func (st *davState) isTarget(names []string) bool {
	return st.target != nil && slices.Equal(names, st.target)
}

// belowCopied reports whether names is below a folder copied whole.
func (st *davState) belowCopied(names []string) bool {
	return st.copied && len(names) > len(st.target) && slices.Equal(names[:len(st.target)], st.target)
}

// davWriter holds an error answer of x/net/webdav (a status of 400 or
// more and its short text) until finish learns the error behind it.
type davWriter struct {
	http.ResponseWriter
	held int // the status held, 0 for none
	body bytes.Buffer
}

func (w *davWriter) WriteHeader(code int) {
	if code >= 400 {
		w.held = code
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *davWriter) Write(b []byte) (int, error) {
	if w.held != 0 {
		return w.body.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

// finish sends a held answer: a refusal's own (507 Insufficient Storage
// for the quota or a full disk, as RFC 4918 has it), or else what
// x/net/webdav wrote.
func (w *davWriter) finish(err error) {
	if w.held == 0 {
		return
	}
	if fe := davRefusal(err); fe != nil {
		status := statusOf[fe.Code]
		if fe.Code == ferry.EQUOTAEXCEEDED {
			status = http.StatusInsufficientStorage
		}
		writeJSON(w.ResponseWriter, status, errorBody{Error: fe.Code, Message: fe.Message})
		return
	}
	w.ResponseWriter.WriteHeader(w.held)
	_, _ = w.ResponseWriter.Write(w.body.Bytes())
}
