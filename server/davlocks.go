package server

import (
	"slices"
	"sync"
	"time"

	"golang.org/x/net/webdav"

	"github.com/ferryhq/ferry"
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
