package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/front"
	"github.com/ferryhq/ferry/scan"
)

// clamdScanner is [scan]'s clamd as the store's Scanner, each scan
// counted by its result.
type clamdScanner struct {
	clamd   scan.Clamd
	results *prometheus.CounterVec
}

func (s clamdScanner) Scan(ctx context.Context, r io.Reader) (string, error) {
	v, err := s.clamd.Scan(ctx, r)
	result := "clean"
	switch {
	case errors.Is(err, scan.ErrTooLarge):
		result, err = "too_large", fmt.Errorf("%w: %w", ferry.ErrScanTooLarge, err)
	case errors.Is(err, scan.ErrUnavailable):
		result, err = "unavailable", fmt.Errorf("%w: %w", ferry.ErrScanUnavailable, err)
	case err != nil:
		result = "error" // reading the content failed: not the scanner's
	case v.Infected:
		result = "infected"
	}
	s.results.WithLabelValues(result).Inc()
	return v.Signature, err
}

// scanPolicy is [scan] as the store applies it; no scanner when
// scan.clamd is empty.
func (c *Config) scanPolicy(results *prometheus.CounterVec) ferry.ScanPolicy {
	if c.Scan.Clamd == "" {
		return ferry.ScanPolicy{}
	}
	clamd, _ := scan.Parse(c.Scan.Clamd) // checked by Validate
	clamd.Timeout = time.Duration(c.Scan.Timeout)
	return ferry.ScanPolicy{Scanner: clamdScanner{clamd: clamd, results: results}, All: c.Scan.What == "all", Hold: c.Scan.OnError == "hold"}
}

// outsiderLimits is [requests].
func (c *Config) outsiderLimits() front.OutsiderLimits {
	r := c.Requests
	return front.OutsiderLimits{AddressDeliveriesPerHour: r.AddressDeliveriesPerHour, RequestDeliveriesPerHour: r.RequestDeliveriesPerHour,
		AddressBytesPerDay: int64(r.AddressBytesPerDay), RequestBytesPerDay: int64(r.RequestBytesPerDay)}
}
