//go:build !linux

package blobs

import (
	"errors"
	"os"
)

// openDirect has no direct I/O to offer here: every write goes through
// the page cache.
func openDirect(string) (*os.File, error) {
	return nil, errors.ErrUnsupported
}
