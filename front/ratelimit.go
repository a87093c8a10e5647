package front

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// budget is an amount per key (an address, an email, a request) that
// refills over a period, in token buckets: failed logins and reset
// requests (Guard), deliveries and bytes (Outsiders). The whole amount may
// go at once, and it comes back evenly over the period, so a key is never
// held back longer than one unit's share of it. 0 is no limit. Keys whose
// bucket is full again are forgotten, a minute apart at most.
type budget struct {
	amount int
	period time.Duration

	mu        sync.Mutex
	buckets   map[string]*rate.Limiter
	lastSweep time.Time
}

func newBudget[N int | int64](amount N, period time.Duration) *budget {
	return &budget{amount: int(min(int64(amount), math.MaxInt)), period: period, buckets: map[string]*rate.Limiter{}}
}

// wait is how long key must wait before n more fit; 0 when they do now
// (or there is no limit). n over the whole amount never fits.
func (b *budget) wait(key string, n int, now time.Time) time.Duration {
	if b.amount <= 0 {
		return 0
	}
	if n > b.amount {
		return b.period
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	l, ok := b.buckets[key]
	if !ok {
		return 0
	}
	missing := float64(n) - l.TokensAt(now)
	if missing <= 0 {
		return 0
	}
	return time.Duration(math.Ceil(missing / float64(l.Limit()) * float64(time.Second)))
}

// take counts n for key at now.
func (b *budget) take(key string, n int, now time.Time) {
	if b.amount <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	l, ok := b.buckets[key]
	if !ok {
		l = rate.NewLimiter(rate.Limit(float64(b.amount)/b.period.Seconds()), b.amount)
		b.buckets[key] = l
	}
	l.AllowN(now, n)
	if now.Sub(b.lastSweep) >= time.Minute {
		b.lastSweep = now
		for k, l := range b.buckets {
			if l.TokensAt(now) >= float64(b.amount) {
				delete(b.buckets, k)
			}
		}
	}
}
