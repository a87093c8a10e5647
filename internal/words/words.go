// Package words writes numbers, sizes and dates in the words that ferry's
// pages and mails show a person: "1 item", "2 items", "5 January 2027".
package words

import (
	"fmt"
	"time"
)

// Count writes n with noun, plural when n is not 1: "1 day", "7 days".
// The plural is noun + "s", which is right for every noun ferry counts.
func Count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Day writes t's date in UTC: "5 January 2027".
func Day(t time.Time) string {
	return t.UTC().Format("2 January 2006")
}

// Duration writes d as a person would: "1 hour", "3 days", "36 hours".
func Duration(d time.Duration) string {
	h := d.Hours()
	if h >= 48 && h == float64(int(h/24))*24 {
		return Count(int(h/24), "day")
	}
	if h == float64(int(h)) {
		return Count(int(h), "hour")
	}
	return fmt.Sprintf("%g hours", h)
}
