package front

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// failureLimiter counts failures per key (an address or an email) in token
// buckets: burst failures are allowed at once and one more every refill, so
// a key is never locked out for longer than it takes to refill one token.
type failureLimiter struct {
	burst  int
	refill time.Duration

	mu        sync.Mutex
	buckets   map[string]*rate.Limiter
	lastSweep time.Time
}

func newFailureLimiter(burst int, refill time.Duration) *failureLimiter {
	return &failureLimiter{burst: burst, refill: refill, buckets: make(map[string]*rate.Limiter)}
}

// wait returns how long key must wait before its next attempt; 0 when it
// may try now.
func (l *failureLimiter) wait(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		return 0
	}
	tokens := b.TokensAt(now)
	if tokens >= 1 {
		return 0
	}
	return time.Duration(math.Ceil((1 - tokens) * float64(l.refill)))
}

// fail records a failure of key at now.
func (l *failureLimiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		b = rate.NewLimiter(rate.Every(l.refill), l.burst)
		l.buckets[key] = b
	}
	b.AllowN(now, 1)
	l.sweep(now)
}

// sweep forgets, at most once per refill period, the keys whose buckets are
// full again: they are as good as new. l.mu is held.
func (l *failureLimiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < l.refill {
		return
	}
	l.lastSweep = now
	for key, b := range l.buckets {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, key)
		}
	}
}
