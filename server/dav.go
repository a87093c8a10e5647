package server

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

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

// handleSlice is GET /slice (password: the current app password) or POST
// /slice/reset (password: a new one; the old one stops working at once):
// where and how to reach the user's folder over WebDAV (API.md, "/slice").
func (s *Server) handleSlice(password func(userID uint64) (string, error)) userHandler {
	return func(w http.ResponseWriter, r *http.Request, u *ferry.User) {
		pw, err := password(u.ID)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.answerSlice(w, u, pw)
	}
}

func (s *Server) answerSlice(w http.ResponseWriter, u *ferry.User, password string) {
	host := ""
	if pu, err := url.Parse(s.cfg.PublicURL); err == nil {
		host = pu.Hostname()
	}
	writeJSON(w, http.StatusOK, map[string]string{
		"ip": host, "tracker": s.cfg.Tracker, "login": u.Email, "rsync": password,
	})
}

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
		return s.dav.CheckAppPassword(email, password)
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
			if info, err := s.dav.Lookup(u.ID, names); err == nil && !info.Dir {
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
	h := &webdav.Handler{
		Prefix:     davPrefix,
		FileSystem: &davFS{s: s, u: u, st: st},
		LockSystem: countedLocks{userLocks: s.davLocks(u.ID), st: st},
		Logger: func(r *http.Request, err error) {
			if err != nil && st.refusal == nil && !os.IsNotExist(err) && !os.IsExist(err) {
				s.log.DebugContext(r.Context(), "webdav", "method", r.Method, "err", err)
			}
		},
	}
	h.ServeHTTP(&davWriter{ResponseWriter: w, st: st}, r)
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

// pathLocks serializes requests on the same path of the same user.
type pathLocks struct {
	mu   sync.Mutex
	held map[pathKey]*pathLock
}

type pathKey struct {
	user uint64
	path string
}

type pathLock struct {
	mu   sync.Mutex
	refs int
}

// lock locks the paths of userID (in a fixed order, so two requests
// naming the same two paths cannot deadlock) and returns the unlock.
func (l *pathLocks) lock(userID uint64, names ...string) func() {
	slices.Sort(names)
	names = slices.Compact(names)
	locks := make([]*pathLock, len(names))
	l.mu.Lock()
	if l.held == nil {
		l.held = map[pathKey]*pathLock{}
	}
	for i, n := range names {
		k := pathKey{userID, n}
		pl := l.held[k]
		if pl == nil {
			pl = &pathLock{}
			l.held[k] = pl
		}
		pl.refs++
		locks[i] = pl
	}
	l.mu.Unlock()
	for _, pl := range locks {
		pl.mu.Lock()
	}
	return func() {
		for _, pl := range locks {
			pl.mu.Unlock()
		}
		l.mu.Lock()
		for i, n := range names {
			if locks[i].refs--; locks[i].refs == 0 {
				delete(l.held, pathKey{userID, n})
			}
		}
		l.mu.Unlock()
	}
}

// davLocks returns the user's WebDAV lock system: locks name paths, and
// every user has their own.
func (s *Server) davLocks(userID uint64) *userLocks {
	s.davMu.Lock()
	defer s.davMu.Unlock()
	ls, ok := s.davLockSystems[userID]
	if !ok {
		ls = &userLocks{LockSystem: webdav.NewMemLS(), expires: map[string]time.Time{}}
		s.davLockSystems[userID] = ls
	}
	return ls
}

// maxUserLocks bounds the WebDAV locks one user holds at once: they live
// in memory.
const maxUserLocks = 100

// userLocks is one user's lock system, which counts the locks it holds.
// x/net/webdav's own forgets a lock when it expires without telling, so
// each lock's expiry is kept here too (the zero time for one that never
// expires) and those past it are not counted.
type userLocks struct {
	webdav.LockSystem
	mu      sync.Mutex
	expires map[string]time.Time // token -> expiry
}

// countedLocks is a user's lock system as one request uses it: past
// maxUserLocks, LOCK is refused with the request's davState told why.
type countedLocks struct {
	*userLocks
	st *davState
}

func (l countedLocks) Create(now time.Time, details webdav.LockDetails) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for token, at := range l.expires {
		if !at.IsZero() && !now.Before(at) {
			delete(l.expires, token)
		}
	}
	if len(l.expires) >= maxUserLocks {
		l.st.refusal = ferry.Errorf(ferry.EQUOTAEXCEEDED, "You hold %d WebDAV locks, the most one user may.", maxUserLocks)
		return "", l.st.refusal
	}
	token, err := l.LockSystem.Create(now, details)
	if err == nil {
		l.expires[token] = lockExpiry(now, details.Duration)
	}
	return token, err
}

func (l countedLocks) Refresh(now time.Time, token string, d time.Duration) (webdav.LockDetails, error) {
	details, err := l.LockSystem.Refresh(now, token, d)
	if err == nil {
		l.mu.Lock()
		l.expires[token] = lockExpiry(now, d)
		l.mu.Unlock()
	}
	return details, err
}

func (l countedLocks) Unlock(now time.Time, token string) error {
	err := l.LockSystem.Unlock(now, token)
	if err == nil || err == webdav.ErrNoSuchLock {
		l.mu.Lock()
		delete(l.expires, token)
		l.mu.Unlock()
	}
	return err
}

// lockExpiry is when a lock of duration d made at now expires; the zero
// time for one that does not (a negative d, as x/net/webdav has it).
func lockExpiry(now time.Time, d time.Duration) time.Time {
	if d < 0 {
		return time.Time{}
	}
	return now.Add(d)
}

// davState is what one WebDAV request's file system calls tell its
// handler: the PUT's declared length, and the refusal (quota, full disk,
// size limit) behind a failed call, which x/net/webdav would answer as
// 405 or 500.
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
	refusal  error

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

// davWriter answers a refused request with the refusal's status (507
// Insufficient Storage for the quota or a full disk) instead of the status
// x/net/webdav picked.
type davWriter struct {
	http.ResponseWriter
	st       *davState
	replaced bool
}

func (w *davWriter) WriteHeader(code int) {
	if code >= 400 && w.st.refusal != nil && !w.replaced {
		w.replaced = true
		c := ferry.ErrorCode(w.st.refusal)
		status := statusOf[c]
		if c == ferry.EQUOTAEXCEEDED {
			status = http.StatusInsufficientStorage // WebDAV's answer (RFC 4918)
		}
		writeJSON(w.ResponseWriter, status, errorBody{Error: c, Message: ferry.ErrorMessage(w.st.refusal)})
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *davWriter) Write(b []byte) (int, error) {
	if w.replaced {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// davFS is one user's folder as a webdav.FileSystem, on the same tree and
// blob store as the API: what either does, the other sees at once.
type davFS struct {
	s  *Server
	u  *ferry.User
	st *davState
}

// names parses a WebDAV path by the API's rules.
func (fs *davFS) names(name string) ([]string, error) {
	names, err := paths.Parse(name)
	if err != nil {
		return nil, os.ErrInvalid
	}
	return names, nil
}

// osErr turns the store's errors into the os errors x/net/webdav maps to
// statuses, and notes refusals for davWriter.
func (fs *davFS) osErr(err error) error {
	switch ferry.ErrorCode(err) {
	case ferry.EFILENOTFOUND:
		return os.ErrNotExist
	case ferry.EFILEEXISTS:
		return os.ErrExist
	case ferry.EBADREQUEST:
		return os.ErrInvalid
	case ferry.EQUOTAEXCEEDED, ferry.ESTORAGEFULL, ferry.ETOOLARGE:
		fs.st.refusal = err
		return err
	}
	if full := storageFull(err); full != err {
		fs.st.refusal = full
	}
	return err
}

func (fs *davFS) Mkdir(ctx context.Context, name string, perm os.FileMode) error {
	names, err := fs.names(name)
	if err != nil {
		return err
	}
	st := fs.st
	switch {
	case st.belowCopied(names):
		return nil
	case st.isTarget(names) && !st.shallow:
		// A COPY of a folder: the whole tree, in one store copy. As for
		// MKCOL, the parent must exist.
		if parent, err := fs.s.dav.Lookup(fs.u.ID, names[:len(names)-1]); err != nil || !parent.Dir {
			return os.ErrNotExist
		}
		if err := fs.s.files.Copy(fs.u.ID, st.source, names, st.replace); err != nil {
			return fs.osErr(err)
		}
		st.copied = true
		return nil
	}
	return fs.osErr(fs.s.dav.MakeFolder(fs.u.ID, names, st.replace && st.isTarget(names)))
}

func (fs *davFS) OpenFile(ctx context.Context, name string, flag int, perm os.FileMode) (webdav.File, error) {
	names, err := fs.names(name)
	if err != nil {
		return nil, err
	}
	if fs.st.belowCopied(names) && flag&os.O_CREATE != 0 {
		return &davWriteFile{fs: fs, names: names, done: true, copied: true}, nil
	}
	replace := fs.st.replace && fs.st.isTarget(names)
	info, err := fs.s.dav.Lookup(fs.u.ID, names)
	exists := err == nil && !replace
	if err != nil && ferry.ErrorCode(err) != ferry.EFILENOTFOUND {
		return nil, fs.osErr(err)
	}
	if flag&os.O_CREATE == 0 || flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		if !exists {
			return nil, os.ErrNotExist
		}
		return &davFile{fs: fs, names: names, info: info}, nil
	}
	// To be written (PUT, or the target of a COPY): the parent must be a
	// folder, and nothing shows until Close commits the content.
	if exists && (info.Dir || flag&os.O_EXCL != 0) {
		return nil, os.ErrExist
	}
	if len(names) == 0 {
		return nil, os.ErrInvalid
	}
	parent, err := fs.s.dav.Lookup(fs.u.ID, names[:len(names)-1])
	if err != nil || !parent.Dir {
		return nil, os.ErrNotExist
	}
	return &davWriteFile{fs: fs, names: names, started: fs.s.now(), replace: replace}, nil
}

func (fs *davFS) RemoveAll(ctx context.Context, name string) error {
	names, err := fs.names(name)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return os.ErrInvalid
	}
	if fs.st.overwrite && fs.st.isTarget(names) && !fs.st.replace {
		fs.st.replace = true // done by the move or copy, in its transaction
		return nil
	}
	if fs.st.belowCopied(names) {
		return nil
	}
	results, err := fs.s.files.Delete(fs.u.ID, [][]string{names})
	if err != nil {
		return fs.osErr(err)
	}
	return fs.osErr(results[0])
}

func (fs *davFS) Rename(ctx context.Context, oldName, newName string) error {
	src, err := fs.names(oldName)
	if err != nil {
		return err
	}
	dst, err := fs.names(newName)
	if err != nil {
		return err
	}
	if slices.Equal(src, dst) {
		return nil
	}
	if len(src) == 0 || len(dst) == 0 {
		return os.ErrInvalid
	}
	if parent, err := fs.s.dav.Lookup(fs.u.ID, dst[:len(dst)-1]); err != nil || !parent.Dir {
		return os.ErrNotExist // MOVE does not make the target's parents
	}
	return fs.osErr(fs.s.files.Move(fs.u.ID, src, dst, fs.st.replace && fs.st.isTarget(dst)))
}

func (fs *davFS) Stat(ctx context.Context, name string) (os.FileInfo, error) {
	names, err := fs.names(name)
	if err != nil {
		return nil, err
	}
	if fs.st.belowCopied(names) {
		return nil, os.ErrNotExist // so that x/net/webdav's copy goes on to "create" it, a no-op
	}
	info, err := fs.s.dav.Lookup(fs.u.ID, names)
	if err != nil {
		return nil, fs.osErr(err)
	}
	return davInfo{info}, nil
}

// deadProps and patchProps keep a client's properties of a file or folder,
// encoded as JSON, in the store.
func (fs *davFS) deadProps(names []string) (map[xml.Name]webdav.Property, error) {
	raw, err := fs.s.dav.DeadProps(fs.u.ID, names)
	if err != nil || len(raw) == 0 {
		return nil, fs.osErr(err)
	}
	var list []webdav.Property
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, err
	}
	m := make(map[xml.Name]webdav.Property, len(list))
	for _, p := range list {
		m[p.XMLName] = p
	}
	return m, nil
}

func (fs *davFS) patchProps(names []string, patches []webdav.Proppatch) ([]webdav.Propstat, error) {
	pstat := webdav.Propstat{Status: http.StatusOK}
	err := fs.s.dav.PatchDeadProps(fs.u.ID, names, func(old []byte) ([]byte, error) {
		pstat.Props = pstat.Props[:0]
		var list []webdav.Property
		if len(old) > 0 {
			if err := json.Unmarshal(old, &list); err != nil {
				return nil, err
			}
		}
		for _, patch := range patches {
			for _, p := range patch.Props {
				pstat.Props = append(pstat.Props, webdav.Property{XMLName: p.XMLName})
				list = slices.DeleteFunc(list, func(q webdav.Property) bool { return q.XMLName == p.XMLName })
				if !patch.Remove {
					list = append(list, p)
				}
			}
		}
		if len(list) == 0 {
			return nil, nil
		}
		return json.Marshal(list)
	})
	if err != nil {
		return nil, fs.osErr(err)
	}
	return []webdav.Propstat{pstat}, nil
}

// davInfo is a stored file or folder as an os.FileInfo, with the SHA-256
// as its ETag and a content type from its name (so that PROPFIND never
// opens a file to sniff it).
type davInfo struct{ ferry.FileInfo }

func (i davInfo) Name() string {
	if i.FileInfo.Name == "" {
		return "/"
	}
	return i.FileInfo.Name
}
func (i davInfo) Size() int64        { return i.FileInfo.Size }
func (i davInfo) ModTime() time.Time { return i.Modified }
func (i davInfo) IsDir() bool        { return i.Dir }
func (i davInfo) Sys() any           { return nil }
func (i davInfo) Mode() os.FileMode {
	if i.Dir {
		return os.ModeDir | 0o755
	}
	return 0o644
}

func (i davInfo) ETag(context.Context) (string, error) {
	if i.Dir {
		return "", webdav.ErrNotImplemented
	}
	return `"` + i.SHA256 + `"`, nil
}

func (i davInfo) ContentType(context.Context) (string, error) {
	if i.Dir {
		return "", webdav.ErrNotImplemented
	}
	if t := mime.TypeByExtension(path.Ext(i.FileInfo.Name)); t != "" {
		return t, nil
	}
	return "application/octet-stream", nil
}

// davFile is a stored file or folder opened to read (GET, PROPFIND, the
// source of a COPY) or to change its properties. A file's blob is opened
// on the first Read or Seek.
type davFile struct {
	fs    *davFS
	names []string
	info  ferry.FileInfo
	blob  *os.File
	dir   []ferry.FileInfo
	read  bool // dir was loaded
	pos   int
}

func (f *davFile) open() error {
	if f.info.Dir {
		return &os.PathError{Op: "read", Path: f.info.Path, Err: syscall.EISDIR}
	}
	if f.blob == nil {
		b, err := f.fs.s.files.OpenBlob(f.info.SHA256)
		if err != nil {
			return err
		}
		f.blob = b
	}
	return nil
}

func (f *davFile) Read(p []byte) (int, error) {
	if err := f.open(); err != nil {
		return 0, err
	}
	return f.blob.Read(p)
}

func (f *davFile) Seek(offset int64, whence int) (int64, error) {
	if f.info.Dir {
		return 0, nil
	}
	if err := f.open(); err != nil {
		return 0, err
	}
	return f.blob.Seek(offset, whence)
}

func (f *davFile) Readdir(count int) ([]os.FileInfo, error) {
	if !f.info.Dir {
		return nil, &os.PathError{Op: "readdir", Path: f.info.Path, Err: syscall.ENOTDIR}
	}
	if !f.read {
		list, err := f.fs.s.dav.ReadDir(f.fs.u.ID, f.names)
		if err != nil {
			return nil, f.fs.osErr(err)
		}
		f.dir, f.read = list, true
	}
	rest := f.dir[f.pos:]
	if count > 0 && len(rest) == 0 {
		return nil, io.EOF
	}
	if count > 0 && count < len(rest) {
		rest = rest[:count]
	}
	f.pos += len(rest)
	out := make([]os.FileInfo, len(rest))
	for i, info := range rest {
		out[i] = davInfo{info}
	}
	return out, nil
}

func (f *davFile) Stat() (os.FileInfo, error) { return davInfo{f.info}, nil }

func (f *davFile) Write([]byte) (int, error) {
	return 0, &os.PathError{Op: "write", Path: f.info.Path, Err: os.ErrPermission}
}

func (f *davFile) Close() error {
	if f.blob != nil {
		return f.blob.Close()
	}
	return nil
}

func (f *davFile) DeadProps() (map[xml.Name]webdav.Property, error) {
	return f.fs.deadProps(f.names)
}

func (f *davFile) Patch(patches []webdav.Proppatch) ([]webdav.Propstat, error) {
	return f.fs.patchProps(f.names, patches)
}

// davWriteFile is a file being written: a PUT's body (through ReadFrom,
// which io.Copy calls) streams into the blob store as PUT /files does, and
// a COPY from another stored file shares its blob, no bytes copied. Only a
// successful call leaves anything behind.
type davWriteFile struct {
	fs      *davFS
	names   []string
	started time.Time
	done    bool
	replace bool // a COPY replaces what is at names (davState.replace)
	copied  bool // below a folder copied whole: there is nothing to do
	result  ferry.FileInfo
}

func (f *davWriteFile) put(r io.Reader, size int64) error {
	info, err := f.fs.s.files.PutFile(ferry.PutRequest{UserID: f.fs.u.ID, Names: f.names, Body: r, Size: size})
	f.done = true
	if err != nil {
		return f.fs.osErr(bodyErr(err))
	}
	f.result = info
	return nil
}

func (f *davWriteFile) ReadFrom(r io.Reader) (int64, error) {
	if f.copied {
		return 0, nil
	}
	if f.done {
		return 0, os.ErrInvalid
	}
	if src, ok := r.(*davFile); ok && !src.info.Dir {
		f.done = true
		if err := f.fs.s.files.Copy(f.fs.u.ID, src.names, f.names, f.replace); err != nil {
			return 0, f.fs.osErr(err)
		}
		info, err := f.fs.s.dav.Lookup(f.fs.u.ID, f.names)
		if err != nil {
			return 0, f.fs.osErr(err)
		}
		f.result = info
		return info.Size, nil
	}
	counted := &countingWriterReader{r: r}
	err := f.put(counted, f.fs.st.declared)
	return counted.n, err
}

// Write is not how content arrives: x/net/webdav writes a PUT's body and
// a COPY's source with io.Copy, which calls ReadFrom, so that the whole
// content goes to the store as one stream.
func (f *davWriteFile) Write([]byte) (int, error) {
	return 0, &os.PathError{Op: "write", Path: paths.Join(f.names), Err: errors.ErrUnsupported}
}

// Close commits an empty file when nothing was written (a create alone).
func (f *davWriteFile) Close() error {
	if !f.done {
		return f.put(strings.NewReader(""), 0)
	}
	return nil
}

func (f *davWriteFile) Read([]byte) (int, error) {
	return 0, &os.PathError{Op: "read", Path: paths.Join(f.names), Err: os.ErrPermission}
}

func (f *davWriteFile) Seek(int64, int) (int64, error) {
	return 0, &os.PathError{Op: "seek", Path: paths.Join(f.names), Err: os.ErrPermission}
}

func (f *davWriteFile) Readdir(int) ([]os.FileInfo, error) {
	return nil, &os.PathError{Op: "readdir", Path: paths.Join(f.names), Err: syscall.ENOTDIR}
}

// Stat describes the file as committed (empty before); its ETag is the content's
// SHA-256 once Close has committed it (x/net/webdav asks after Close).
func (f *davWriteFile) Stat() (os.FileInfo, error) {
	return davWriteInfo{f}, nil
}

func (f *davWriteFile) DeadProps() (map[xml.Name]webdav.Property, error) {
	if !f.done || f.copied {
		return nil, nil
	}
	return f.fs.deadProps(f.names)
}

func (f *davWriteFile) Patch(patches []webdav.Proppatch) ([]webdav.Propstat, error) {
	if f.copied {
		return nil, nil // the properties came with the tree
	}
	if !f.done {
		if err := f.Close(); err != nil {
			return nil, err
		}
	}
	return f.fs.patchProps(f.names, patches)
}

type davWriteInfo struct{ f *davWriteFile }

func (i davWriteInfo) Name() string      { return i.f.names[len(i.f.names)-1] }
func (i davWriteInfo) Size() int64       { return i.f.result.Size }
func (i davWriteInfo) Mode() os.FileMode { return 0o644 }
func (i davWriteInfo) ModTime() time.Time {
	if !i.f.result.Modified.IsZero() {
		return i.f.result.Modified
	}
	return i.f.started
}
func (i davWriteInfo) IsDir() bool { return false }
func (i davWriteInfo) Sys() any    { return nil }
func (i davWriteInfo) ETag(context.Context) (string, error) {
	if i.f.result.SHA256 == "" {
		return "", webdav.ErrNotImplemented
	}
	return `"` + i.f.result.SHA256 + `"`, nil
}

// countingWriterReader counts what is read through it.
type countingWriterReader struct {
	r io.Reader
	n int64
}

func (c *countingWriterReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
