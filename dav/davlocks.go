package dav

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/webdav"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/front"
	"github.com/ferryhq/ferry/paths"
)

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
func (h *Handler) davLocks(userID uint64) *userLocks {
	h.davMu.Lock()
	defer h.davMu.Unlock()
	ls, ok := h.davLockSystems[userID]
	if !ok {
		ls = &userLocks{LockSystem: webdav.NewMemLS(), expires: map[string]time.Time{}}
		h.davLockSystems[userID] = ls
	}
	return ls
}

// maxUserLocks bounds the WebDAV locks one user holds at once: they live
// in memory.
const maxUserLocks = 100

// userLocks is one user's lock system, which counts the locks it holds:
// past maxUserLocks, LOCK is refused.
// x/net/webdav's own forgets a lock when it expires without telling, so
// each lock's expiry is kept here too (the zero time for one that never
// expires) and those past it are not counted.
type userLocks struct {
	webdav.LockSystem
	mu      sync.Mutex
	expires map[string]time.Time // token -> expiry
}

// Create is LockSystem.Create, refused with QUOTA_EXCEEDED past
// maxUserLocks.
func (l *userLocks) Create(now time.Time, details webdav.LockDetails) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for token, at := range l.expires {
		if !at.IsZero() && !now.Before(at) {
			delete(l.expires, token)
		}
	}
	if len(l.expires) >= maxUserLocks {
		return "", ferry.Errorf(ferry.EQUOTAEXCEEDED, "You hold %d WebDAV locks, the most one user may.", maxUserLocks)
	}
	token, err := l.LockSystem.Create(now, details)
	if err == nil {
		l.expires[token] = lockExpiry(now, details.Duration)
	}
	return token, err
}

func (l *userLocks) Refresh(now time.Time, token string, d time.Duration) (webdav.LockDetails, error) {
	details, err := l.LockSystem.Refresh(now, token, d)
	if err == nil {
		l.mu.Lock()
		l.expires[token] = lockExpiry(now, d)
		l.mu.Unlock()
	}
	return details, err
}

func (l *userLocks) Unlock(now time.Time, token string) error {
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

// briefLocks is a user's lock system as x/net/webdav sees it. ferry
// answers LOCK itself, so x/net/webdav only takes the brief locks of a
// request without an If header (UNLOCK aside), which do not count
// towards maxUserLocks.
type briefLocks struct{ *userLocks }

func (b briefLocks) Create(now time.Time, details webdav.LockDetails) (string, error) {
	return b.LockSystem.Create(now, details)
}

// davConfirm checks a write on src and dst (paths below /dav; "" for
// none) against the user's locks, as RFC 4918 10.4 has it, and returns
// the release of what it holds meanwhile. Without an If header the paths
// must not be locked, and are locked briefly so that no LOCK comes in
// between. With one, one of its lists must hold (412 when none does, 400
// when it cannot be read): its entity tags must match the resource's,
// and its lock tokens must cover src and dst; a list without a lock token
// holds where nothing is locked.
func (h *Handler) davConfirm(r *http.Request, u *ferry.User, ls *userLocks, src, dst string) (func(), error) {
	now := time.Now()
	hdr := r.Header.Get("If")
	if hdr == "" {
		return ls.brief(now, src, dst)
	}
	lists, ok := parseIf(hdr)
	if !ok {
		return nil, ferry.Errorf(ferry.EBADREQUEST, "The If header is malformed.")
	}
	for _, list := range lists {
		name, resource := src, davPath(r.URL.Path)
		if list.resource != "" {
			u, err := url.Parse(list.resource)
			if err != nil || u.Host != "" && u.Host != r.Host || !strings.HasPrefix(u.Path+"/", Prefix+"/") {
				continue // not a resource of this server's /dav/
			}
			name, resource = davPath(u.Path), davPath(u.Path)
		}
		var tokens []webdav.Condition
		holds := true
		for _, c := range list.conditions {
			switch {
			case c.ETag != "":
				holds = holds && (h.davETag(r, u, resource) == c.ETag) != c.Not
			case !c.Not:
				tokens = append(tokens, c)
			}
			// "Not <token>" is left to the locks: where that token is the
			// lock, no other list element can claim it and the list fails.
		}
		if !holds {
			continue
		}
		var release func()
		var err error
		if len(tokens) == 0 {
			release, err = ls.brief(now, name, dst)
		} else {
			release, err = ls.LockSystem.Confirm(now, name, dst, tokens...)
		}
		if err == webdav.ErrConfirmationFailed || errors.Is(err, davStatus(http.StatusLocked)) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return release, nil
	}
	return nil, davStatus(http.StatusPreconditionFailed)
}

// davETag is the ETag of the file at p (below /dav), "" for a folder or
// nothing.
func (h *Handler) davETag(r *http.Request, u *ferry.User, p string) string {
	names, err := paths.Parse(p)
	if err != nil {
		return ""
	}
	info, err := h.dav.Lookup(r.Context(), u.ID, names)
	if err != nil || info.Dir {
		return ""
	}
	return `"` + info.SHA256 + `"`
}

// brief locks the paths ("" for none) until the release it returns, or is
// 423 Locked where a lock is held. These locks do not count towards
// maxUserLocks.
func (l *userLocks) brief(now time.Time, paths ...string) (func(), error) {
	var tokens []string
	release := func() {
		for _, t := range tokens {
			_ = l.LockSystem.Unlock(now, t)
		}
	}
	for _, p := range paths {
		if p == "" {
			continue
		}
		token, err := l.LockSystem.Create(now, webdav.LockDetails{Root: p, Duration: -1, ZeroDepth: true})
		if err != nil {
			release()
			if err == webdav.ErrLocked {
				return nil, davStatus(http.StatusLocked)
			}
			return nil, err
		}
		tokens = append(tokens, token)
	}
	return release, nil
}

// ifList is one list of an If header: the resource it names ("" for the
// request's own) and the conditions, all of which must hold.
type ifList struct {
	resource   string
	conditions []webdav.Condition
}

// parseIf reads an If header (RFC 4918 10.4): either lists alone, or
// lists each after the resource tag they test.
func parseIf(s string) ([]ifList, bool) {
	var lists []ifList
	tagged, resource, pending := false, "", false // pending: a tag without its list yet
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return lists, len(lists) > 0 && !pending
		}
		switch s[0] {
		case '<':
			if pending || len(lists) > 0 && !tagged {
				return nil, false
			}
			tag, rest, ok := strings.Cut(s[1:], ">")
			if !ok {
				return nil, false
			}
			tagged, resource, pending, s = true, tag, true, rest
		case '(':
			list, rest, ok := parseIfList(s[1:])
			if !ok {
				return nil, false
			}
			list.resource = resource
			lists, pending, s = append(lists, list), false, rest
		default:
			return nil, false
		}
	}
}

// parseIfList reads the conditions of a list, after its "(", and returns
// what follows its ")".
func parseIfList(s string) (ifList, string, bool) {
	var list ifList
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return list, "", false
		}
		if s[0] == ')' {
			return list, s[1:], len(list.conditions) > 0
		}
		var c webdav.Condition
		if len(s) > 3 && strings.EqualFold(s[:3], "not") {
			c.Not = true
			s = strings.TrimLeft(s[3:], " \t")
			if s == "" {
				return list, "", false
			}
		}
		var value string
		var ok bool
		switch s[0] {
		case '<': // a state token
			value, s, ok = strings.Cut(s[1:], ">")
			c.Token = value
		case '[': // an entity tag
			value, s, ok = strings.Cut(s[1:], "]")
			c.ETag = value
		}
		if !ok || value == "" {
			return list, "", false
		}
		list.conditions = append(list.conditions, c)
	}
}

// davLock is LOCK: an exclusive write lock on a path (which becomes an
// empty file when nothing is there), or, without a body, the refresh of a
// lock named in the If header.
func (h *Handler) davLock(w http.ResponseWriter, r *http.Request, u *ferry.User, ls *userLocks) error {
	duration, err := parseTimeout(r.Header.Get("Timeout"))
	if err != nil {
		return err
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return front.BodyError(err)
	}
	now := time.Now() // x/net/webdav's UNLOCK and PROPPATCH read the locks at time.Now()
	if len(bytes.TrimSpace(body)) == 0 {
		lists, ok := parseIf(r.Header.Get("If"))
		if !ok || len(lists) != 1 || len(lists[0].conditions) != 1 || lists[0].conditions[0].Token == "" {
			return ferry.Errorf(ferry.EBADREQUEST, "A LOCK without a body refreshes the one lock its If header names.")
		}
		token := lists[0].conditions[0].Token
		details, err := ls.Refresh(now, token, duration)
		if err == webdav.ErrNoSuchLock {
			return davStatus(http.StatusPreconditionFailed)
		} else if err != nil {
			return err
		}
		writeLockDiscovery(w, http.StatusOK, token, details)
		return nil
	}

	var info lockInfo
	if err := xml.Unmarshal(body, &info); err != nil {
		return ferry.Errorf(ferry.EBADREQUEST, "The lockinfo XML is malformed.")
	}
	if info.Scope.Exclusive == nil || info.Type.Write == nil {
		return davStatus(http.StatusNotImplemented) // only exclusive write locks
	}
	zeroDepth, err := depthZero(r)
	if err != nil {
		return ferry.Errorf(ferry.EBADREQUEST, "Depth %q: a LOCK takes 0 or infinity.", r.Header.Get("Depth"))
	}
	names, err := davNames(r.URL.Path)
	if err != nil {
		return err
	}
	details := webdav.LockDetails{Root: davPath(r.URL.Path), Duration: duration, OwnerXML: info.Owner.InnerXML, ZeroDepth: zeroDepth}
	token, err := ls.Create(now, details)
	if err == webdav.ErrLocked {
		return davStatus(http.StatusLocked)
	} else if err != nil {
		return err
	}
	status := http.StatusOK
	if _, err := h.dav.Lookup(r.Context(), u.ID, names); ferry.ErrorCode(err) == ferry.EFILENOTFOUND {
		// RFC 4918 7.3: a LOCK of an unmapped URL makes an empty file.
		_, err = h.files.PutFile(r.Context(), ferry.PutRequest{UserID: u.ID, Names: names, Body: strings.NewReader(""), NoParents: true})
		if err != nil {
			_ = ls.Unlock(now, token)
			return h.davParentErr(r, u, names, err)
		}
		status = http.StatusCreated
	}
	w.Header().Set("Lock-Token", "<"+token+">")
	writeLockDiscovery(w, status, token, details)
	return nil
}

// lockInfo is a LOCK request's body (RFC 4918 14.11).
type lockInfo struct {
	XMLName xml.Name `xml:"DAV: lockinfo"`
	Scope   struct {
		Exclusive *struct{} `xml:"DAV: exclusive"`
	} `xml:"DAV: lockscope"`
	Type struct {
		Write *struct{} `xml:"DAV: write"`
	} `xml:"DAV: locktype"`
	Owner struct {
		InnerXML string `xml:",innerxml"`
	} `xml:"DAV: owner"`
}

// maxLockSeconds is the longest Timeout a lock may ask for: 2^32-1
// seconds, as RFC 4918 10.7 has it.
const maxLockSeconds = 1<<32 - 1

// parseTimeout reads a Timeout header: its first value, "Infinite" (-1)
// or "Second-n"; none is Infinite.
func parseTimeout(h string) (time.Duration, error) {
	first, _, _ := strings.Cut(h, ",")
	first = strings.TrimSpace(first)
	if first == "" || first == "Infinite" {
		return -1, nil
	}
	digits, ok := strings.CutPrefix(first, "Second-")
	n, err := strconv.ParseUint(digits, 10, 64)
	if !ok || err != nil || n > maxLockSeconds {
		return 0, ferry.Errorf(ferry.EBADREQUEST, "Timeout %q is neither Infinite nor Second-n.", first)
	}
	return time.Duration(n) * time.Second, nil
}

// writeLockDiscovery answers a lock's details (RFC 4918 9.10.1).
func writeLockDiscovery(w http.ResponseWriter, status int, token string, d webdav.LockDetails) {
	depth, timeout := "infinity", "Infinite"
	if d.ZeroDepth {
		depth = "0"
	}
	if d.Duration >= 0 {
		timeout = "Second-" + strconv.FormatInt(int64(d.Duration/time.Second), 10)
	}
	root := (&url.URL{Path: Prefix + d.Root}).EscapedPath()
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n" + `<D:prop xmlns:D="DAV:"><D:lockdiscovery><D:activelock>`)
	b.WriteString(`<D:locktype><D:write/></D:locktype><D:lockscope><D:exclusive/></D:lockscope>`)
	b.WriteString(`<D:depth>` + depth + `</D:depth>`)
	if d.OwnerXML != "" {
		b.WriteString(`<D:owner>` + d.OwnerXML + `</D:owner>`) // as the client sent it: well-formed XML
	}
	b.WriteString(`<D:timeout>` + timeout + `</D:timeout>`)
	b.WriteString(`<D:locktoken><D:href>` + xmlText(token) + `</D:href></D:locktoken>`)
	b.WriteString(`<D:lockroot><D:href>` + xmlText(root) + `</D:href></D:lockroot>`)
	b.WriteString(`</D:activelock></D:lockdiscovery></D:prop>` + "\n")
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, b.String())
}

// xmlText escapes s as XML character data.
func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
