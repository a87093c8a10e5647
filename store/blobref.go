package store

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sync/errgroup"

	"github.com/ferryhq/ferry/store/blobs"
)

// Reference counts: the blobs bucket counts the records that refer to each
// blob (files, and pending sends' pins), so that the same content is
// stored once, and removed only when the last record that refers to it
// goes. Removal waits for backups and checks (holdBlobs).

// holdBlobs keeps every blob in the store until the returned release is
// called: a backup or a check in progress may still read or count it.
// Removals wanted meanwhile are done at the release, if still due.
func (db *DB) holdBlobs() (release func()) {
	db.blobs.holds.Add(1)
	return func() {
		if db.blobs.holds.Add(-1) == 0 {
			db.blobs.deferMu.Lock()
			deferred := db.blobs.deferred
			db.blobs.deferred = nil
			db.blobs.deferMu.Unlock()
			db.release(deferred)
		}
	}
}

// removeBlobIfUnreferenced deletes blob h when no record refers to it,
// and reports whether it removed it. The blob's lock is held. A staged
// blob's key is kept in blob_keys until its object is gone, so that a
// failed removal leaves an orphan the sweep can still find by it.
func (db *DB) removeBlobIfUnreferenced(h sum) (bool, error) {
	if db.blobs.holds.Load() > 0 {
		db.blobs.deferMu.Lock() // a backup may still copy it: removed when the backup ends
		db.blobs.deferred = append(db.blobs.deferred, h)
		db.blobs.deferMu.Unlock()
		return false, nil
	}
	var referenced bool
	var ref blobs.Ref
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		referenced = hasRefs(tx, h)
		ref = refOf(tx, h)
		return nil
	}); err != nil || referenced {
		return false, err
	}
	if err := db.blobs.store.Remove(context.Background(), ref); err != nil {
		return false, err
	}
	if ref.Key != "" {
		if err := db.forgetBlobKey(h, ref.Key); err != nil {
			return false, err
		}
	}
	return true, nil
}

// referenced reports whether a record refers to blob h.
func (db *DB) referenced(h sum) (bool, error) {
	var ok bool
	err := db.bolt.View(func(tx *bolt.Tx) error {
		ok = hasRefs(tx, h)
		return nil
	})
	return ok, err
}

// hasRefs reports whether, in tx, a record refers to blob h.
func hasRefs(tx *bolt.Tx, h sum) bool {
	return tx.Bucket(bucketBlobs).Get(h[:]) != nil
}

// parseSum reads a content's SHA-256 in hex: a blob's name, an item of
// an envelope or of a move.
func parseSum(s string) (sum, error) {
	var h sum
	if len(s) != 2*len(h) {
		return h, fmt.Errorf("%q is not a SHA-256", s)
	}
	_, err := hex.Decode(h[:], []byte(s))
	return h, err
}

// refOf is blob h as its store has it: under the key blob_keys names, or
// under its own name.
func refOf(tx *bolt.Tx, h sum) blobs.Ref {
	return blobs.Ref{Sum: h, Key: string(tx.Bucket(bucketBlobKeys).Get(h[:]))}
}

// blobRefOf is refOf in a read transaction of its own; local blobs are
// never staged, and need none (a download's hot path).
func (db *DB) blobRefOf(h sum) (blobs.Ref, error) {
	if db.blobs.store.Local() {
		return blobs.Ref{Sum: h}, nil
	}
	var ref blobs.Ref
	err := db.bolt.View(func(tx *bolt.Tx) error {
		ref = refOf(tx, h)
		return nil
	})
	return ref, err
}

// forgetBlobKey drops blob_keys' entry of h if it still names key.
func (db *DB) forgetBlobKey(h sum, key string) error {
	return db.update(context.Background(), func(tx *bolt.Tx) error {
		keys := tx.Bucket(bucketBlobKeys)
		if string(keys.Get(h[:])) != key {
			return nil
		}
		return keys.Delete(h[:])
	})
}

// releaseBlobs removes blobs whose last reference a committed transaction
// dropped, a few at a time (each removal from an object store is a round
// trip). One it fails to remove is an orphan, for RemoveOrphanBlobs.
func (db *DB) releaseBlobs(hs []sum) error {
	var g errgroup.Group
	g.SetLimit(8)
	for _, h := range hs {
		g.Go(func() error {
			unlock := db.lockBlob(h)
			defer unlock()
			_, err := db.removeBlobIfUnreferenced(h)
			return err
		})
	}
	return g.Wait()
}

// refBlob counts one more reference to blob h of the given size.
func refBlob(tx *bolt.Tx, h sum, size int64) error {
	_, err := addBlobRef(tx, h, size, false)
	return err
}

// refStoredBlob is refBlob for content read in an earlier transaction (a
// send's or a large copy's snapshot): errSnapshotStale when its last
// reference went since.
func refStoredBlob(tx *bolt.Tx, h sum, size int64) error {
	if ok, err := addBlobRef(tx, h, size, true); err != nil || ok {
		return err
	}
	return errSnapshotStale
}

// addBlobRef counts one more reference to blob h; with stored set, only if
// it has a record already (it reports whether it counted).
func addBlobRef(tx *bolt.Tx, h sum, size int64, stored bool) (bool, error) {
	b := tx.Bucket(bucketBlobs)
	var n uint64
	if v := b.Get(h[:]); len(v) == 16 {
		n = binary.BigEndian.Uint64(v)
	} else if stored {
		return false, nil
	}
	v := make([]byte, 16)
	binary.BigEndian.PutUint64(v, n+1)
	binary.BigEndian.PutUint64(v[8:], uint64(size))
	return true, b.Put(h[:], v)
}

// unrefBlob drops one reference to blob h and reports whether that was the
// last, so that the caller releases the file after committing.
func unrefBlob(tx *bolt.Tx, h sum) (last bool, err error) {
	b := tx.Bucket(bucketBlobs)
	v := b.Get(h[:])
	if len(v) != 16 {
		return false, fmt.Errorf("blob %x has no reference count", h)
	}
	n := binary.BigEndian.Uint64(v)
	if n <= 1 {
		if err := forgetScan(tx, h); err != nil {
			return false, err
		}
		return true, b.Delete(h[:])
	}
	nv := make([]byte, 16)
	copy(nv, v)
	binary.BigEndian.PutUint64(nv, n-1)
	return false, b.Put(h[:], nv)
}
