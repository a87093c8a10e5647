package store

import (
	"context"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/store/blobs"
)

// blobState is what the store keeps of blobs in memory.
type blobState struct {
	store    blobs.Store     // where their content is
	grace    time.Duration   // how old an orphan must be to be swept
	locks    [256]sync.Mutex // by the first byte of a blob's hash
	holds    atomic.Int64    // backups and checks running: blobs are not removed meanwhile
	staging  sync.Map        // object key -> struct{}: uploads staged in S3, until committed or cleaned up
	deferMu  sync.Mutex
	deferred []sum // blobs whose removal waits for the holds to end
	minFree  int64 // free space that spooled content may not take (space.go)
}

// File contents are blobs named by their SHA-256, kept by a blobs.Store. The
// blobs bucket counts the records that refer to each (files, and pending
// sends), so the same content is stored once. Content is spooled to tmp/,
// hashed and fsynced, then put into the blob store under the blob's lock
// before the transaction that refers to it commits; a blob is removed
// under the same lock only when no record refers to it, so a concurrent
// writer of the same content never loses it.

const (
	blobsDir = blobs.Dir
	tmpDir   = blobs.TmpDir
)

type sum = blobs.Sum

// S3 says where blobs live when they are kept in an S3-compatible bucket
// instead of the data directory (Options.S3).
type S3 = blobs.S3

// lockBlob locks the blob h against placing and removal; it returns the
// unlock function.
func (db *DB) lockBlob(h sum) func() {
	mu := &db.blobs.locks[h[0]]
	mu.Lock()
	return mu.Unlock
}

// makeBlobDirs creates uploads/ and tmp/ (and, for local blobs, blobs/00
// .. blobs/ff), and empties tmp/: when the database is opened nothing in
// it belongs to a write in progress.
func (db *DB) makeBlobDirs() error {
	if err := db.blobs.store.Prepare(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(db.dir, uploadsDir), 0o700); err != nil {
		return err
	}
	tmp := filepath.Join(db.dir, tmpDir)
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	return os.MkdirAll(tmp, 0o700)
}

// stagedKeys maps each staged object's key to its blob (blob_keys read
// backwards).
func stagedKeys(tx *bolt.Tx) (map[string]sum, error) {
	staged := map[string]sum{}
	err := tx.Bucket(bucketBlobKeys).ForEach(func(k, v []byte) error {
		staged[string(v)] = sum(k)
		return nil
	})
	return staged, err
}

// blobExists reports whether blob h is in the blob store.
func (db *DB) blobExists(ctx context.Context, h sum) (bool, error) {
	ref, err := db.blobRefOf(h)
	if err != nil {
		return false, err
	}
	return db.blobs.store.Exists(ctx, ref)
}

// OpenBlob opens the content of a file, of the given size, for reading.
func (db *DB) OpenBlob(ctx context.Context, hexSum string, size int64) (ferry.Blob, error) {
	h, err := parseSum(hexSum)
	if err != nil {
		return nil, fmt.Errorf("bad blob name %q", hexSum)
	}
	ref, err := db.blobRefOf(h)
	if err != nil {
		return nil, err
	}
	return db.blobs.store.Open(ctx, ref, size)
}

// BlobURL returns a presigned URL of the blob in S3, "" for local blobs.
func (db *DB) BlobURL(ctx context.Context, hexSum, name string, expiry time.Duration) (string, error) {
	if db.blobs.store.Local() {
		return "", nil
	}
	h, err := parseSum(hexSum)
	if err != nil {
		return "", fmt.Errorf("bad blob name %q", hexSum)
	}
	ref, err := db.blobRefOf(h)
	if err != nil {
		return "", err
	}
	return db.blobs.store.URL(ctx, ref, name, expiry)
}

// syncDir fsyncs a directory so that a rename or creation in it is durable.
func syncDir(dir string) error {
	return blobs.SyncDir(dir)
}

// hashState is a SHA-256 whose state can be saved between chunks of a
// resumable upload.
type hashState interface {
	hash.Hash
	MarshalBinary() ([]byte, error)
	UnmarshalBinary([]byte) error
}
