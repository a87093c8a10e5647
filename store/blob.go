package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sync/errgroup"

	"github.com/ferryhq/ferry"
)

// blobState is what the store keeps of blobs in memory.
type blobState struct {
	store    blobStore       // where their content is (blobstore.go)
	grace    time.Duration   // how old an orphan must be to be swept
	locks    [256]sync.Mutex // by the first byte of a blob's hash
	holds    atomic.Int64    // backups and checks running: blobs are not removed meanwhile
	staging  sync.Map        // object key -> struct{}: uploads staged in S3, until committed or cleaned up
	deferMu  sync.Mutex
	deferred []sum // blobs whose removal waits for the holds to end
	minFree  int64 // free space that spooled content may not take (space.go)
}

// File contents are blobs named by their SHA-256, kept by a blobStore. The
// blobs bucket counts the records that refer to each (files, and pending
// sends), so the same content is stored once. Content is spooled to tmp/,
// hashed and fsynced, then put into the blob store under the blob's lock
// before the transaction that refers to it commits; a blob is removed
// under the same lock only when no record refers to it, so a concurrent
// writer of the same content never loses it.

const (
	blobsDir = "blobs"
	tmpDir   = "tmp"
)

type sum = [sha256.Size]byte

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
	if l, ok := db.blobs.store.(localBlobs); ok {
		if err := l.makeDirs(); err != nil {
			return err
		}
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
	var ref blobRef
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		referenced = hasRefs(tx, h)
		ref = refOf(tx, h)
		return nil
	}); err != nil || referenced {
		return false, err
	}
	if err := db.blobs.store.remove(context.Background(), ref); err != nil {
		return false, err
	}
	if ref.key != "" {
		if err := db.forgetBlobKey(h, ref.key); err != nil {
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

// refOf is blob h as its store has it: under the key blob_keys names, or
// under its own name.
func refOf(tx *bolt.Tx, h sum) blobRef {
	return blobRef{sum: h, key: string(tx.Bucket(bucketBlobKeys).Get(h[:]))}
}

// blobRefOf is refOf in a read transaction of its own; local blobs are
// never staged, and need none (a download's hot path).
func (db *DB) blobRefOf(h sum) (blobRef, error) {
	if _, local := db.blobs.store.(localBlobs); local {
		return blobRef{sum: h}, nil
	}
	var ref blobRef
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

// blobExists reports whether blob h is in the blob store.
func (db *DB) blobExists(ctx context.Context, h sum) (bool, error) {
	ref, err := db.blobRefOf(h)
	if err != nil {
		return false, err
	}
	return db.blobs.store.exists(ctx, ref)
}

// OpenBlob opens the content of a file, of the given size, for reading.
func (db *DB) OpenBlob(ctx context.Context, hexSum string, size int64) (ferry.Blob, error) {
	b, err := hex.DecodeString(hexSum)
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("bad blob name %q", hexSum)
	}
	ref, err := db.blobRefOf(sum(b))
	if err != nil {
		return nil, err
	}
	return db.blobs.store.open(ctx, ref, size)
}

// BlobURL returns a presigned URL of the blob in S3, "" for local blobs.
func (db *DB) BlobURL(ctx context.Context, hexSum, name string, expiry time.Duration) (string, error) {
	s3, ok := db.blobs.store.(*s3Blobs)
	if !ok {
		return "", nil
	}
	b, err := hex.DecodeString(hexSum)
	if err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("bad blob name %q", hexSum)
	}
	ref, err := db.blobRefOf(sum(b))
	if err != nil {
		return "", err
	}
	return s3.presign(ctx, ref, name, expiry)
}

// RemoveOrphanBlobs deletes what the blob store holds that no record
// refers to (left by a crash between placing a blob and committing its
// record, or by a failed removal) once it is older than the grace period,
// and returns how many it removed. It is safe while the service runs.
func (db *DB) RemoveOrphanBlobs() (int, error) {
	removed := 0
	ctx := context.Background()
	var others []storedBlob
	err := db.blobs.store.each(ctx, func(b storedBlob) error {
		if !db.pastGrace(b.modified) {
			return nil // maybe an upload between its put and its commit
		}
		if !b.named {
			// An upload staged here and not yet committed is skipped;
			// what else is left is looked up once the listing is done.
			if _, staging := db.blobs.staging.Load(b.name); !staging {
				others = append(others, b)
			}
			return nil
		}
		unlock := db.lockBlob(b.sum)
		defer unlock()
		if ref, err := db.blobRefOf(b.sum); err != nil {
			return err
		} else if ref.key != "" {
			// The blob is at its staged key: this copy under its own name
			// is left over (from before a failed removal).
			if err := db.blobs.store.removeStray(ctx, b.name); err != nil {
				return err
			}
			removed++
			return nil
		}
		gone, err := db.removeBlobIfUnreferenced(b.sum)
		if gone {
			removed++
		}
		return err
	})
	if err != nil || len(others) == 0 {
		return removed, err
	}
	// This read begins after every staging check above: an upload that
	// had ended by then has its key in blob_keys, or has none.
	var staged map[string]sum
	err = db.bolt.View(func(tx *bolt.Tx) error {
		staged, err = stagedKeys(tx)
		return err
	})
	if err != nil {
		return removed, err
	}
	var errs []error
	for _, b := range others {
		h, ok := staged[b.name]
		if !ok {
			if err := db.blobs.store.removeStray(ctx, b.name); err == nil {
				removed++
			} else {
				errs = append(errs, err)
			}
			continue
		}
		unlock := db.lockBlob(h) // a staged blob whose removal failed
		gone, err := db.removeBlobIfUnreferenced(h)
		unlock()
		if gone {
			removed++
		}
		errs = append(errs, err)
	}
	return removed, errors.Join(errs...)
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
		return true, b.Delete(h[:])
	}
	nv := make([]byte, 16)
	copy(nv, v)
	binary.BigEndian.PutUint64(nv, n-1)
	return false, b.Put(h[:], nv)
}

// syncDir fsyncs a directory so that a rename or creation in it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// hashState is a SHA-256 whose state can be saved between chunks of a
// resumable upload.
type hashState interface {
	hash.Hash
	MarshalBinary() ([]byte, error)
	UnmarshalBinary([]byte) error
}
