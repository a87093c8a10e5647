// Package quota is ferry's quota policy: size notation, packages of limits,
// and the monthly receive period. It does no I/O; the store applies it inside
// the transactions that change usage.
package quota

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ferryhq/ferry"
)

// Limits are the quotas of a package or a user, in bytes; 0 means unlimited.
type Limits struct {
	Storage         int64
	ReceivePerMonth int64
}

// Packages are the named packages of limits from the config, and the name of
// the one new users get.
type Packages struct {
	Default string
	ByName  map[string]Limits
}

// Has reports whether a package of that name exists.
func (p Packages) Has(name string) bool {
	_, ok := p.ByName[name]
	return ok
}

// For returns the limits in force for u: those of u's package (or of the
// default package, when u's package is no longer configured), replaced by
// u's own overrides where it has them.
func (p Packages) For(u *ferry.User) Limits {
	l, ok := p.ByName[u.Package]
	if !ok {
		l = p.ByName[p.Default]
	}
	if u.StorageOverride != nil {
		l.Storage = *u.StorageOverride
	}
	if u.ReceiveOverride != nil {
		l.ReceivePerMonth = *u.ReceiveOverride
	}
	return l
}

// MonthStart returns 00:00 UTC on the 1st of the month that t falls in: the
// start of the receive period.
func MonthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// ReceivedThisMonth returns the bytes u has received in the period that now
// falls in: 0 once a new month has begun since the usage was recorded.
func ReceivedThisMonth(u ferry.Usage, now time.Time) int64 {
	if u.ReceivedSince.Before(MonthStart(now)) {
		return 0
	}
	return u.Received
}

var units = map[string]int64{
	"":    1,
	"B":   1,
	"KB":  1e3,
	"MB":  1e6,
	"GB":  1e9,
	"TB":  1e12,
	"KIB": 1 << 10,
	"MIB": 1 << 20,
	"GIB": 1 << 30,
	"TIB": 1 << 40,
}

// ParseSize parses a size: a whole number of bytes ("1048576") or a number
// with a unit, decimal (KB, MB, GB, TB) or binary (KiB, MiB, GiB, TiB), any
// case, with an optional space ("10MB", "1.5 GiB"). The result is bytes,
// rounded down; it is never negative.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i < 0 {
		i = len(t)
	}
	num, unit := t[:i], strings.ToUpper(strings.TrimSpace(t[i:]))
	mult, ok := units[unit]
	if num == "" || !ok {
		return 0, fmt.Errorf("invalid size %q: want bytes or a number with a unit such as 10MB or 5GiB", s)
	}
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n > math.MaxInt64/mult {
			return 0, fmt.Errorf("invalid size %q: out of range", s)
		}
		return n * mult, nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f*float64(mult) >= math.MaxInt64 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return int64(f * float64(mult)), nil
}

// FormatSize writes n bytes for people: "0 B", "512 B", "1.5 MB", "5 GB",
// with decimal units as ParseSize reads them.
func FormatSize(n int64) string {
	if n < 1000 {
		return strconv.FormatInt(n, 10) + " B"
	}
	f := float64(n)
	for _, u := range []string{"KB", "MB", "GB", "TB"} {
		f /= 1000
		if f < 1000 || u == "TB" {
			return strconv.FormatFloat(math.Floor(f*10)/10, 'f', -1, 64) + " " + u
		}
	}
	panic("unreachable")
}

// CheckStorage returns a QUOTA_EXCEEDED *ferry.Error when adding delta
// bytes to what u is charged (Usage.Charged) would pass the storage limit. A delta of 0 or less (a
// change that frees space) always passes.
func (l Limits) CheckStorage(u ferry.Usage, delta int64) error {
	used := u.Charged()
	if delta <= 0 || l.Storage == 0 || used+delta <= l.Storage {
		return nil
	}
	return ferry.Errorf(ferry.EQUOTAEXCEEDED, "Not enough storage: %s of %s used%s, %s more needed.",
		FormatSize(used), FormatSize(l.Storage), usedDetail(u), FormatSize(delta))
}

// Room is how many more bytes the storage quota allows, -1 for no limit.
func (l Limits) Room(u ferry.Usage) int64 {
	if l.Storage == 0 {
		return -1
	}
	return max(0, l.Storage-u.Charged())
}

// usedDetail names what besides files takes the user's storage.
func usedDetail(u ferry.Usage) string {
	if u.Reserved == 0 && u.Held == 0 {
		return ""
	}
	return fmt.Sprintf(" (files %s, uploads in progress %s, deleted files that pending sends still carry %s)",
		FormatSize(u.Normal), FormatSize(u.Reserved), FormatSize(u.Held))
}

// CheckReceive returns a QUOTA_EXCEEDED *ferry.Error when accepting delta
// more bytes at now would pass the monthly receive limit.
func (l Limits) CheckReceive(u ferry.Usage, now time.Time, delta int64) error {
	got := ReceivedThisMonth(u, now)
	if delta <= 0 || l.ReceivePerMonth == 0 || got+delta <= l.ReceivePerMonth {
		return nil
	}
	return ferry.Errorf(ferry.EQUOTAEXCEEDED, "Not enough monthly receive quota: %s of %s received this month, %s more needed.",
		FormatSize(got), FormatSize(l.ReceivePerMonth), FormatSize(delta))
}

// AddReceived returns u with delta bytes received at now, starting a new
// period first when a month has begun since the last.
func AddReceived(u ferry.Usage, now time.Time, delta int64) ferry.Usage {
	start := MonthStart(now)
	if u.ReceivedSince.Before(start) {
		u.Received, u.ReceivedSince = 0, start
	}
	u.Received += delta
	return u
}
