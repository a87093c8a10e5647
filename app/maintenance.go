package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ferryhq/ferry/store"
)

// The admin commands that work on a data directory while no server runs
// on it: whether there is a store, restoring a backup, and moving the
// blobs to S3. cmd/ferry reaches the store through these alone.

// HasStore reports whether cfg's data directory holds a store.
func HasStore(cfg Config) bool {
	_, err := os.Stat(filepath.Join(cfg.DataDir, store.FileName))
	return err == nil
}

// Restore unpacks the backup read from r into dir (empty or missing) and
// checks the result with a full fsck (with blobs in S3, as cfg says: every
// object the backup's manifest lists must still be in the bucket). It
// returns the problems found.
func Restore(cfg Config, r io.Reader, dir string) ([]string, error) {
	if err := store.Restore(r, dir); err != nil {
		return nil, err
	}
	db, err := store.Open(dir, store.Options{S3: cfg.StoreS3()})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return db.CheckRestored()
}

// MigrateBlobs copies the blobs of cfg's data directory to the bucket of
// cfg's [blobs] settings (cfg says backend s3 already), reporting its
// progress to out; it can be stopped and run again.
func MigrateBlobs(ctx context.Context, cfg Config, out io.Writer) error {
	db, err := store.Open(cfg.DataDir, store.Options{LockTimeout: 2 * time.Second})
	if errors.Is(err, store.ErrLocked) {
		return fmt.Errorf("%w: stop ferry serve first, then migrate", err)
	} else if err != nil {
		return err
	}
	err = db.MigrateBlobs(ctx, *cfg.StoreS3(), out)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}
