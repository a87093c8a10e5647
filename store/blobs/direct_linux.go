package blobs

import (
	"os"
	"syscall"
)

// openDirect opens the file name for writing with O_DIRECT: writes go
// from memory to the device, around the page cache. File systems that
// cannot (tmpfs before Linux 6.6, some FUSE ones) refuse the open.
func openDirect(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_WRONLY|syscall.O_DIRECT, 0)
}
