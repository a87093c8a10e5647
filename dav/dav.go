package dav

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"

	"golang.org/x/net/webdav"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/front"
	"github.com/ferryhq/ferry/paths"
)

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
func (h *Handler) handleDav(w http.ResponseWriter, r *http.Request) {
	login, password, ok := r.BasicAuth()
	browsing := (r.Method == http.MethodGet || r.Method == http.MethodHead) && front.WantsPage(r)
	if !ok && browsing && h.cfg.Page != nil {
		// A browser that opens the address: a page that says what it is
		// for, instead of a password prompt.
		h.cfg.Page(w, r)
		return
	}
	if !ok {
		w.Header().Set("WWW-Authenticate", basicRealm)
		h.writeError(w, r, ferry.Errorf(ferry.ENOPERMISSION, "WebDAV needs the login and app password of GET /api/1/slice."))
		return
	}
	email := strings.ToLower(strings.TrimSpace(login))
	u, err := h.cfg.Guard.Login(w, r, email, func() (*ferry.User, error) {
		return h.dav.CheckAppPassword(r.Context(), email, password)
	})
	if ferry.ErrorCode(err) == ferry.EAUTHFAILED {
		w.Header().Set("WWW-Authenticate", basicRealm)
		err = ferry.Errorf(ferry.ENOPERMISSION, "Wrong login or app password.")
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	front.SeenUser(r, u)
	if front.NeedsTwoFactor(h.cfg.Require2FA, u) {
		h.writeError(w, r, front.ErrTwoFactorRequired())
		return
	}
	if !davMethods[r.Method] {
		// x/net/webdav answers POST (and would answer any method it
		// adds) as it answers GET; only WebDAV's own methods get through.
		w.Header().Set("Allow", davAllow)
		h.writeError(w, r, ferry.Errorf(ferry.EMETHODNOTALLOWED, "%s is not a WebDAV method.", r.Method))
		return
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		// A file is served as GET /files serves it: with sendfile, and as
		// an attachment in a sandbox, so that no uploaded page ever runs
		// as part of ferry's site (x/net/webdav would serve it inline).
		if names, err := paths.Parse(davPath(r.URL.Path)); err == nil {
			if info, err := h.dav.Lookup(r.Context(), u.ID, names); err == nil && !info.Dir {
				h.serveFile(w, r, info)
				return
			} else if err == nil && browsing && h.cfg.Page != nil {
				h.cfg.Page(w, r)
				return
			}
		}
	}
	if r.Method != http.MethodPut {
		r.Body = http.MaxBytesReader(w, r.Body, h.cfg.MaxRequestBody) // XML
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
			h.writeError(w, r, err)
			return
		}
	}
	// A write without an If header takes a brief lock on the paths it
	// names (userLocks.confirm), and a second request on the same path
	// meanwhile would get 423 Locked
	// (rclone's parallel transfers make the same parent folder at once).
	// Such requests of one user wait for each other here instead.
	defer h.davPaths.lock(u.ID, davWritePaths(r)...)()
	ls := h.davLocks(u.ID)
	if write := davWrites[r.Method]; write != nil {
		if err := write(h, w, r, u, ls); err != nil {
			h.writeDavError(w, r, err)
		}
		return
	}
	wh := &webdav.Handler{
		Prefix:     Prefix,
		FileSystem: &davFS{ctx: r.Context(), h: h, u: u},
		LockSystem: briefLocks{ls},
		Logger: func(r *http.Request, err error) {
			if err != nil && !os.IsNotExist(err) {
				h.log.DebugContext(r.Context(), "webdav", "method", r.Method, "err", err)
			}
		},
	}
	wh.ServeHTTP(w, r)
}

// davWrites are the methods ferry answers itself (davwrite.go,
// davlocks.go); x/net/webdav answers the rest.
var davWrites = map[string]func(*Handler, http.ResponseWriter, *http.Request, *ferry.User, *userLocks) error{
	http.MethodPut:    (*Handler).davPut,
	"MKCOL":           (*Handler).davMkcol,
	http.MethodDelete: (*Handler).davDelete,
	"COPY":            (*Handler).davTransfer,
	"MOVE":            (*Handler).davTransfer,
	"LOCK":            (*Handler).davLock,
}

// checkXMLBody refuses a PROPFIND or PROPPATCH body that declares a
// namespace prefix as "" (not allowed by XML Namespaces 1.0, and accepted
// by encoding/xml), and leaves the body readable again for x/net/webdav.
func checkXMLBody(r *http.Request) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return front.BodyError(err)
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
	return path.Clean("/" + strings.TrimPrefix(p, Prefix))
}
