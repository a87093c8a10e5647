package store

import (
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

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
)

// blobState is what the store keeps of blob files in memory.
type blobState struct {
	locks    [256]sync.Mutex // by the first byte of a blob's hash
	backups  atomic.Int64    // backups running: blob files are not removed meanwhile
	deferMu  sync.Mutex
	deferred []sum // blob files whose removal waits for the backups to end
	minFree  int64 // free space that file content may not take (space.go)
}

// File contents are blobs named by their SHA-256 under blobs/xx/, where xx
// is the first byte in hex. The blobs bucket counts the records that refer
// to each (files, and later sends), so the same content is stored once. A
// blob file is written to tmp/, fsynced, and renamed into place under the
// blob's lock before the transaction that refers to it commits; a blob file
// is removed under the same lock only when no record refers to it, so a
// concurrent writer of the same content never loses its file.

const (
	blobsDir = "blobs"
	tmpDir   = "tmp"
)

type sum = [sha256.Size]byte

// blobPath is where the blob with that hash lives.
func (db *DB) blobPath(h sum) string {
	x := hex.EncodeToString(h[:])
	return filepath.Join(db.dir, blobsDir, x[:2], x)
}

// lockBlob locks the blob h against placing and removal; it returns the
// unlock function.
func (db *DB) lockBlob(h sum) func() {
	mu := &db.blobs.locks[h[0]]
	mu.Lock()
	return mu.Unlock
}

// makeBlobDirs creates blobs/00 .. blobs/ff, uploads/ and tmp/, and empties
// tmp/: when the database is opened nothing in it belongs to a write in
// progress.
func (db *DB) makeBlobDirs() error {
	for i := range 256 {
		if err := os.MkdirAll(filepath.Join(db.dir, blobsDir, fmt.Sprintf("%02x", i)), 0o700); err != nil {
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
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return err
	}
	return syncDir(filepath.Join(db.dir, blobsDir))
}

// spooled is content written to a temporary file, hashed and fsynced.
type spooled struct {
	path string
	size int64
	sum  sum
	// keep says that path is not a temporary file but a resumable
	// upload's own: it is linked into the blob store, not moved, so that
	// until the commit that ends the upload its bytes are still where its
	// record says (placeBlob).
	keep bool
}

// spool copies r to a new temporary file while hashing it and fsyncs it. It
// reads at most limit bytes (limit < 0: none) and returns over past that.
// On any error the temporary file is gone.
func (db *DB) spool(r io.Reader, limit int64, over error) (_ spooled, err error) {
	f, err := os.CreateTemp(filepath.Join(db.dir, tmpDir), "put-")
	if err != nil {
		return spooled{}, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if limit >= 0 {
		r = io.LimitReader(r, limit+1)
	}
	n, h, err := copyHashing(&writebackWriter{f: f, check: db.checkSpace}, r)
	if err != nil {
		return spooled{}, err
	}
	if limit >= 0 && n > limit {
		return spooled{}, over
	}
	if err := f.Sync(); err != nil {
		return spooled{}, err
	}
	if err := f.Close(); err != nil {
		return spooled{}, err
	}
	return spooled{path: f.Name(), size: n, sum: h}, nil
}

// writebackEvery is how much a writebackWriter lets pile up before it
// starts the kernel writing it out.
const writebackEvery = 1 << 20

// startWriteback starts writing out f's dirty pages in [off, off+n) without
// waiting for them (writeback_linux.go); a variable for tests.
var startWriteback = osStartWriteback

// writebackWriter writes to f and, every writebackEvery bytes, starts the
// kernel writing out what it wrote, without waiting. The disk then writes
// while the network reads, and the fsync that makes the file durable (the
// caller's) finds little left to write instead of a whole chunk or file
// while the network waits. check, when set, must allow each write first
// (checkSpace: a statfs, about a microsecond for each 256 KiB written).
type writebackWriter struct {
	f       *os.File
	check   func(need int64) error
	off     int64 // where the next write lands in f
	started int64 // where the last writeback started ends
}

func (w *writebackWriter) Write(p []byte) (int, error) {
	if w.check != nil {
		if err := w.check(int64(len(p))); err != nil {
			return 0, err
		}
	}
	n, err := w.f.Write(p)
	if w.off += int64(n); w.off-w.started >= writebackEvery {
		startWriteback(w.f, w.started, w.off-w.started)
		w.started = w.off
	}
	return n, err
}

func tooLarge(limit int64) error {
	return ferry.Errorf(ferry.ETOOLARGE, "The file is over the limit of %d bytes.", limit)
}

// copyHashing copies r to w and returns the SHA-256 of what it copied.
func copyHashing(w io.Writer, r io.Reader) (int64, sum, error) {
	h := sha256.New()
	n, err := copyHashingInto(w, r, h)
	return n, sum(h.Sum(nil)), err
}

// copyHashingInto copies r to w and writes what it copied to h as well,
// which has it all when the copy returns. The hash runs in a goroutine of
// its own over the same buffers, so that on a machine with two cores or
// more hashing does not slow the copy down. A failure to read r is wrapped
// in ferry.ErrBodyRead; w's errors (a full disk) are returned as they are, and
// what w refused is not hashed.
func copyHashingInto(w io.Writer, r io.Reader, h hash.Hash) (int64, error) {
	const bufSize, buffers = 256 << 10, 4
	free := make(chan []byte, buffers)
	for range buffers {
		free <- make([]byte, bufSize)
	}
	full := make(chan []byte, buffers)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for b := range full {
			h.Write(b)
			free <- b[:cap(b)]
		}
	}()
	var n int64
	var err error
	for {
		buf := <-free
		m, rerr := r.Read(buf)
		if m > 0 {
			if _, werr := w.Write(buf[:m]); werr != nil {
				err = werr
				free <- buf
				break
			}
			n += int64(m)
			full <- buf[:m]
		} else {
			free <- buf
		}
		if rerr == io.EOF {
			break
		} else if rerr != nil {
			err = bodyReadError(rerr)
			break
		}
	}
	close(full)
	<-done
	return n, err
}

// errWriter remembers its writer's error, so that a copy's failure to write
// (a full disk) can be told from its failure to read.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil {
		e.err = err
	}
	return n, err
}

func bodyReadError(err error) error {
	var fe *ferry.Error
	if errors.As(err, &fe) {
		return err
	}
	return fmt.Errorf("%w: %w", ferry.ErrBodyRead, err)
}

// placeBlob moves a spooled file to its blob path (replacing an identical
// file if one is there) and fsyncs the directory. The blob's lock is held.
// A file to keep gets a second name in tmp/ that is moved instead: a crash
// before the commit then leaves an orphan blob, which start-up removes,
// beside an upload whose file and record are both still there.
func (db *DB) placeBlob(sp spooled) error {
	dst, src := db.blobPath(sp.sum), sp.path
	if sp.keep {
		src = filepath.Join(db.dir, tmpDir, "link-"+hex.EncodeToString(sp.sum[:8])+"-"+filepath.Base(sp.path))
		if err := os.Link(sp.path, src); err != nil {
			return err
		}
	}
	if err := os.Rename(src, dst); err != nil {
		os.Remove(src)
		return err
	}
	return syncDir(filepath.Dir(dst))
}

// removeBlobIfUnreferenced deletes the blob file of h when no record refers
// to it, and reports whether it removed one. The blob's lock is held.
func (db *DB) removeBlobIfUnreferenced(h sum) (bool, error) {
	if db.blobs.backups.Load() > 0 {
		db.blobs.deferMu.Lock() // a backup may still copy it: removed when the backup ends
		db.blobs.deferred = append(db.blobs.deferred, h)
		db.blobs.deferMu.Unlock()
		return false, nil
	}
	var referenced bool
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		referenced = tx.Bucket(bucketBlobs).Get(h[:]) != nil
		return nil
	}); err != nil || referenced {
		return false, err
	}
	err := os.Remove(db.blobPath(h))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// releaseBlobs removes the files of blobs whose last reference a committed
// transaction dropped. A file it fails to remove is removed at the next
// start-up by RemoveOrphanBlobs.
func (db *DB) releaseBlobs(hs []sum) error {
	var errs []error
	for _, h := range hs {
		unlock := db.lockBlob(h)
		_, err := db.removeBlobIfUnreferenced(h)
		unlock()
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// blobFileExists reports whether the file of blob h is on disk.
func (db *DB) blobFileExists(h sum) bool {
	_, err := os.Stat(db.blobPath(h))
	return err == nil
}

// OpenBlob opens the content of a file for reading.
func (db *DB) OpenBlob(hexSum string) (*os.File, error) {
	b, err := hex.DecodeString(hexSum)
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("bad blob name %q", hexSum)
	}
	return os.Open(db.blobPath(sum(b)))
}

// RemoveOrphanBlobs deletes the blob files no record refers to (left by a
// crash between placing a blob and committing its record) and returns how
// many it removed. It is safe while the service runs.
func (db *DB) RemoveOrphanBlobs() (int, error) {
	removed := 0
	err := db.eachBlobFile(func(rel string, h sum, named bool) error {
		if !named {
			if os.Remove(filepath.Join(db.dir, filepath.FromSlash(rel))) == nil {
				removed++
			}
			return nil
		}
		unlock := db.lockBlob(h)
		gone, err := db.removeBlobIfUnreferenced(h)
		unlock()
		if gone {
			removed++
		}
		return err
	})
	return removed, err
}

// eachBlobFile calls f for every file under blobs/ with its path from the
// data directory ("blobs/xx/name") and, when named is true, the hash its
// name stands for (a file named otherwise, or in the wrong fan-out folder,
// has named false).
func (db *DB) eachBlobFile(f func(rel string, h sum, named bool) error) error {
	root := filepath.Join(db.dir, blobsDir)
	dirs, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	for _, d := range dirs {
		entries, err := os.ReadDir(filepath.Join(root, d.Name()))
		if err != nil {
			return err
		}
		for _, e := range entries {
			b, err := hex.DecodeString(e.Name())
			named := err == nil && len(b) == sha256.Size && e.Name()[:2] == d.Name()
			var h sum
			if named {
				h = sum(b)
			}
			if err := f(blobsDir+"/"+d.Name()+"/"+e.Name(), h, named); err != nil {
				return err
			}
		}
	}
	return nil
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
