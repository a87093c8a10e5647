package blobs

import (
	"os"

	"golang.org/x/sys/unix"
)

// osStartWriteback is sync_file_range(2) with SYNC_FILE_RANGE_WRITE: it
// queues the range's dirty pages for writing and returns. It makes nothing
// durable (no fsync ordering, no metadata), so its error is of no use and
// is dropped; the caller's fsync reports any failure to write.
func osStartWriteback(f *os.File, off, n int64) {
	if rc, err := f.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			_ = unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
		})
	}
}
