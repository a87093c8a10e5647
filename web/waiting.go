package web

import (
	"sync"
	"time"
)

// waiting keeps what a browser's next request must find (a sign-in's
// ticket, a provider's state, a passkey ceremony) for a while, in memory,
// at most maxWaiting of them: past that the oldest go first. A restart
// forgets them, and the person starts again.
type waiting[T any] struct {
	mu   sync.Mutex
	life time.Duration
	m    map[string]waitingEntry[T]
}

type waitingEntry[T any] struct {
	v       T
	expires time.Time
}

const maxWaiting = 10000

func newWaiting[T any](life time.Duration) *waiting[T] {
	return &waiting[T]{life: life, m: map[string]waitingEntry[T]{}}
}

// put keeps v under key until now+life.
func (w *waiting[T]) put(key string, v T, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, e := range w.m {
		if now.After(e.expires) {
			delete(w.m, k)
		}
	}
	for len(w.m) >= maxWaiting {
		oldest := ""
		for k, e := range w.m {
			if oldest == "" || e.expires.Before(w.m[oldest].expires) {
				oldest = k
			}
		}
		delete(w.m, oldest)
	}
	w.m[key] = waitingEntry[T]{v: v, expires: now.Add(w.life)}
}

// get returns what waits under key, and keeps it.
func (w *waiting[T]) get(key string, now time.Time) (T, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	e, ok := w.m[key]
	if !ok || now.After(e.expires) {
		var zero T
		return zero, false
	}
	return e.v, true
}

// take returns what waits under key, and forgets it: it is used once.
func (w *waiting[T]) take(key string, now time.Time) (T, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	e, ok := w.m[key]
	delete(w.m, key)
	if !ok || now.After(e.expires) {
		var zero T
		return zero, false
	}
	return e.v, true
}
