package store

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/ferryhq/ferry"
)

// checkSpace returns STORAGE_FULL when writing need more bytes of file
// content would leave the data dir's file system with less free space than
// the reserve (Options.MinFreeSpace). The reserve keeps room for the
// database, so that a full disk still lets users delete files.
func (db *DB) checkSpace(need int64) error {
	if db.blobs.minFree <= 0 {
		return nil
	}
	var st unix.Statfs_t
	if err := unix.Statfs(db.dir, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", db.dir, err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	if free-need < db.blobs.minFree {
		return ferry.Errorf(ferry.ESTORAGEFULL, "The server's disk is full; nothing of this upload was kept.")
	}
	return nil
}
