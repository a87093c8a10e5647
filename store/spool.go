package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
)

// Spooling: content that arrives is written to a temporary file under tmp/
// while it is hashed (spoolcopy.go does the copy), then placed in the blob
// store under its hash before the record that refers to it commits.

// spooled is content written to a temporary file and hashed (and, for
// local blobs, fsynced).
type spooled struct {
	path string
	size int64
	sum  sum
	// keep says that path is not a temporary file but a resumable
	// upload's own: it is linked into the blob store, not moved, so that
	// until the commit that ends the upload its bytes are still where its
	// record says (placeBlob).
	keep bool
	// key is the object of an upload staged in S3 while it arrived, ""
	// for content still to be put (placeBlob).
	key string
}

// spool copies r to a new temporary file while hashing it and, for local
// blobs, fsyncs it. It reads at most limit bytes (limit < 0: none) and
// returns over past that. On any error the temporary file is gone.
func (db *DB) spool(ctx context.Context, r io.Reader, size, limit int64, over error) (_ spooled, err error) {
	f, err := os.CreateTemp(filepath.Join(db.dir, tmpDir), "put-")
	if err != nil {
		return spooled{}, err
	}
	var stage *s3Stage
	defer func() {
		if err != nil {
			if stage != nil {
				stage.abort()
				db.blobs.staging.Delete(stage.key)
			}
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if limit >= 0 {
		r = io.LimitReader(r, limit+1)
	}
	// A spool becomes a local blob, and must be on disk before the commit
	// that refers to it. An object store's PUT makes the content durable
	// there instead: its spool is only read back, from the page cache, and
	// is neither written around the cache nor fsynced. Content of more than
	// one part (by its declared size) goes up while it arrives (s3Stage).
	s3, remote := db.blobs.store.(*s3Blobs)
	var dst sink
	if remote {
		fs := &fileSink{f: f, check: db.checkSpace}
		dst = fs
		if size > int64(s3.part) {
			// Known as in flight before it begins: the sweep leaves it be.
			key, err := s3.stagingKey()
			if err != nil {
				return spooled{}, err
			}
			db.blobs.staging.Store(key, struct{}{})
			if stage, err = s3.stage(ctx, key, f.Name(), size); err != nil {
				db.blobs.staging.Delete(key)
				return spooled{}, err
			}
			dst = &stagingSink{fileSink: fs, st: stage}
		}
	} else {
		fs := newFileSink(f, db.checkSpace)
		defer fs.close()
		dst = fs
	}
	hasher := sha256.New()
	n, readErr, writeErr := copyToFile(dst, 0, r, hasher, size)
	if err := cmp.Or(writeErr, readErr); err != nil { // copyToFile returns one at most
		return spooled{}, err
	}
	h := sum(hasher.Sum(nil))
	if limit >= 0 && n > limit {
		return spooled{}, over
	}
	if !remote {
		if err := f.Sync(); err != nil {
			return spooled{}, err
		}
	}
	if err := f.Close(); err != nil {
		return spooled{}, err
	}
	sp := spooled{path: f.Name(), size: n, sum: h}
	if stage != nil {
		if sp.key, err = stage.finish(n); err != nil {
			return spooled{}, err
		}
	}
	return sp, nil
}

// startWriteback starts writing out f's dirty pages in [off, off+n) without
// waiting for them (writeback_linux.go); a variable for tests.
var startWriteback = osStartWriteback

func tooLarge(limit int64) error {
	return ferry.Errorf(ferry.ETOOLARGE, "The file is over the limit of %d bytes.", limit)
}

func bodyReadError(err error) error {
	var fe *ferry.Error
	if errors.As(err, &fe) {
		return err
	}
	return fmt.Errorf("%w: %w", ferry.ErrBodyRead, err)
}

// placeBlob puts spooled content into the blob store, unless a record
// refers to that blob already (it is stored: dedup costs no upload; an
// upload staged meanwhile is removed). It reports whether it placed the
// content: only then may the commit say where the blob is (blob_keys),
// for a blob it skipped stays where it was (the lock, held from here to
// the commit, keeps it there even if its last reference goes meanwhile).
// A spool not to keep is used up either way. Content staged in S3 as it
// arrived (sp.key) is in place already.
func (db *DB) placeBlob(ctx context.Context, sp spooled) (placed bool, err error) {
	stored, err := db.referenced(sp.sum)
	if err != nil {
		if sp.key != "" {
			db.dropStaged(sp.key)
		}
		return false, err
	}
	if stored || sp.key != "" {
		if !sp.keep {
			os.Remove(sp.path)
		}
		if stored && sp.key != "" {
			db.dropStaged(sp.key)
		}
		return !stored, nil
	}
	return true, db.blobs.store.put(ctx, sp)
}

// dropStaged removes a staged upload's object that no record will name
// (its content was stored already, or its commit failed). A failure to
// remove it leaves an orphan for the sweep.
func (db *DB) dropStaged(key string) {
	if err := db.blobs.store.removeStray(context.Background(), key); err != nil {
		db.log("removing a staged upload", err)
	}
	db.blobs.staging.Delete(key)
}

// recordBlobKey is for the transaction that gives blob h its first
// reference: blob_keys names the object of a staged upload, and names
// nothing for a blob under its own name (an entry that a failed removal
// left would otherwise point elsewhere).
func recordBlobKey(tx *bolt.Tx, h sum, key string) error {
	keys := tx.Bucket(bucketBlobKeys)
	if key == "" {
		return keys.Delete(h[:])
	}
	return keys.Put(h[:], []byte(key))
}
