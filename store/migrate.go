package store

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry/store/blobs"
)

// migratedName is the record of a migration in progress, in the data
// directory: one line per blob copied and verified.
const migratedName = "blobs-migrated"

// MigrateBlobs copies every blob the store refers to from the data
// directory to the bucket of to, reads each back and checks its hash, and
// then records that the store's blobs are in that bucket (from then on it
// opens only with them there). The store must be opened with local blobs
// and by nothing else. It can be stopped at any point and run again: what
// was verified is listed in blobs-migrated and not copied again. It writes
// a line of progress to out now and then, and leaves the local files in
// place.
func (db *DB) MigrateBlobs(ctx context.Context, to S3, out io.Writer) error {
	local := db.blobs.store
	if !local.Local() {
		return errors.New("the store's blobs are not in the data directory")
	}
	s3, err := blobs.NewS3(ctx, to)
	if err != nil {
		return err
	}
	sizes := map[sum]int64{}
	err = db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketBlobs).ForEach(func(k, v []byte) error {
			sizes[sum(k)] = blobSize(v)
			return nil
		})
	})
	if err != nil {
		return err
	}
	logPath := filepath.Join(db.dir, migratedName)
	done, err := readMigrated(logPath)
	if err != nil {
		return err
	}
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	copied := 0
	for h, size := range sizes {
		if done[h] {
			continue
		}
		if err := s3.Put(ctx, spooled{Path: filepath.Join(db.dir, local.Name(blobs.Ref{Sum: h})), Size: size, Sum: h, Keep: true}); err != nil {
			return fmt.Errorf("blob %x: %w", h, err)
		}
		got, err := blobs.HashOf(ctx, s3, blobs.Ref{Sum: h}, size)
		if err != nil {
			return fmt.Errorf("blob %x: reading it back: %w", h, err)
		} else if got != h {
			return fmt.Errorf("blob %x: the copy in the bucket hashes to %x", h, got)
		}
		if _, err := fmt.Fprintf(log, "%x\n", h); err != nil {
			return err
		}
		if copied++; copied%100 == 0 {
			if err := log.Sync(); err != nil {
				return err
			}
			fmt.Fprintf(out, "%d of %d blobs copied and verified\n", len(done)+copied, len(sizes))
		}
	}
	verified := len(done) + copied
	if err := log.Sync(); err != nil {
		return err
	}
	err = db.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyBlobsWhere, []byte(s3.Where()))
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%d blobs are %s (%d copied now); the store now opens only with them there\n", verified, describeWhere(s3.Where()), copied)
	return os.Remove(logPath)
}

// readMigrated reads the blobs a migration verified.
func readMigrated(path string) (map[sum]bool, error) {
	done := map[sum]bool{}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return done, nil
	} else if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// A line cut short by a crash is not a whole hash: copied again.
		if b, err := hex.DecodeString(sc.Text()); err == nil && len(b) == len(sum{}) {
			done[sum(b)] = true
		}
	}
	return done, sc.Err()
}
