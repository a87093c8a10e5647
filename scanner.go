package ferry

import (
	"context"
	"errors"
	"io"
)

// Scanner looks for known malware in content before anyone can receive it
// (ClamAV's daemon, in package scan).
type Scanner interface {
	// Scan reads r whole and returns the signature it found, "" for
	// clean content; ErrScanUnavailable (wrapped) when it cannot tell now,
	// ErrScanTooLarge for content over what it takes.
	Scan(ctx context.Context, r io.Reader) (signature string, err error)
}

var (
	// ErrScanUnavailable is a scanner that does not answer: the content
	// is neither clean nor infected.
	ErrScanUnavailable = errors.New("the virus scanner is not available")
	// ErrScanTooLarge is content over what the scanner takes: it is never
	// taken as clean.
	ErrScanTooLarge = errors.New("the content is larger than the virus scanner takes")
)

// ScanPolicy says what is scanned, and what happens while the scanner is
// away ([scan] in the configuration).
type ScanPolicy struct {
	Scanner Scanner // nil: nothing is scanned
	// All scans every upload and send too, not only what outsiders put
	// into file requests.
	All bool
	// Hold keeps content the scanner could not check, out of everyone's
	// reach but its uploader's, until a rescan finds it clean; without it
	// such an upload is refused with SCAN_UNAVAILABLE.
	Hold bool
}
