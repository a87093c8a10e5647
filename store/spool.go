package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/store/blobs"
)

// Spooling: content that arrives is written to a temporary file under tmp/
// while it is hashed (blobs.Copy, into the blob store's Spool), then placed
// in the blob store under its hash before the record that refers to it
// commits.

// spooled is content written to a temporary file and hashed (and, for
// local blobs, fsynced); Keep and Key as blobs.Spooled says.
type spooled = blobs.Spooled

// spool copies r to a new temporary file while hashing it (blobs.Copy,
// into the blob store's Spool: direct I/O and an fsync for local blobs;
// for S3, large content staged while it arrives). It reads at most limit
// bytes (limit < 0: none) and returns over past that. On any error the
// temporary file is gone.
func (db *DB) spool(ctx context.Context, r io.Reader, size, limit int64, over error) (_ spooled, err error) {
	f, err := os.CreateTemp(filepath.Join(db.dir, tmpDir), "put-")
	if err != nil {
		return spooled{}, err
	}
	dst, err := db.blobs.store.NewSpool(ctx, f, size, db.checkSpace)
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return spooled{}, err
	}
	// Known as in flight before its first byte: the sweep leaves it be.
	key := dst.Key()
	if key != "" {
		db.blobs.staging.Store(key, struct{}{})
	}
	defer func() {
		if err != nil {
			dst.Abort()
			if key != "" {
				db.blobs.staging.Delete(key)
			}
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if limit >= 0 {
		r = io.LimitReader(r, limit+1)
	}
	hasher := sha256.New()
	n, readErr, writeErr := blobs.Copy(dst, 0, r, hasher, size)
	if err := cmp.Or(writeErr, readErr); err != nil { // Copy returns one at most
		return spooled{}, err
	}
	h := sum(hasher.Sum(nil))
	if limit >= 0 && n > limit {
		return spooled{}, over
	}
	if err := dst.Finish(n); err != nil {
		return spooled{}, err
	}
	if err := f.Close(); err != nil {
		return spooled{}, err
	}
	return spooled{Path: f.Name(), Size: n, Sum: h, Key: key}, nil
}

func tooLarge(limit int64) error {
	return ferry.Errorf(ferry.ETOOLARGE, "The file is over the limit of %d bytes.", limit)
}

// placeBlob puts spooled content into the blob store, unless a record
// refers to that blob already (it is stored: dedup costs no upload; an
// upload staged meanwhile is removed). It reports whether it placed the
// content: only then may the commit say where the blob is (blob_keys),
// for a blob it skipped stays where it was (the lock, held from here to
// the commit, keeps it there even if its last reference goes meanwhile).
// A spool not to keep is used up either way. Content staged in S3 as it
// arrived (sp.Key) is in place already.
func (db *DB) placeBlob(ctx context.Context, sp spooled) (placed bool, err error) {
	stored, err := db.referenced(sp.Sum)
	if err != nil {
		if sp.Key != "" {
			db.dropStaged(sp.Key)
		}
		return false, err
	}
	if stored || sp.Key != "" {
		if !sp.Keep {
			os.Remove(sp.Path)
		}
		if stored && sp.Key != "" {
			db.dropStaged(sp.Key)
		}
		return !stored, nil
	}
	return true, db.blobs.store.Put(ctx, sp)
}

// dropStaged removes a staged upload's object that no record will name
// (its content was stored already, or its commit failed). A failure to
// remove it leaves an orphan for the sweep.
func (db *DB) dropStaged(key string) {
	if err := db.blobs.store.RemoveStray(context.Background(), key); err != nil {
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
