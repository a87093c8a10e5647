package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ferryhq/ferry"
)

// A blobStore keeps the content of blobs, each named by its SHA-256:
// files under the data directory (localBlobs) or objects in an
// S3-compatible bucket (s3Blobs). The database says which blobs exist and
// who refers to them; the blob store only holds bytes. The store calls put
// and remove under the blob's lock (lockBlob), put before the transaction
// that refers to the blob commits and remove after the one that drops its
// last reference, so that a crash can leave an orphan but never a record
// without its content.
type blobStore interface {
	// put makes the spooled content blob sp.sum and returns once it is
	// durable. A spool that is not sp.keep is used up, kept or not.
	put(ctx context.Context, sp spooled) error
	// open opens blob b, of the given size, for reading.
	open(ctx context.Context, b blobRef, size int64) (ferry.Blob, error)
	// exists reports whether blob b is stored.
	exists(ctx context.Context, b blobRef) (bool, error)
	// remove deletes blob b; one that is not there is no error.
	remove(ctx context.Context, b blobRef) error
	// each calls f for everything in the blob store, blob or not.
	each(ctx context.Context, f func(storedBlob) error) error
	// removeStray deletes something each found that is not a blob.
	removeStray(ctx context.Context, name string) error
	// where names the place, for the record of where a store's blobs are
	// ("local", or "s3:bucket/prefix").
	where() string
}

// blobRef names a blob in its store: its hash, and the key it is stored
// under when that is not the hash's own name (an upload staged in S3 while
// it arrived; see the blob_keys bucket).
type blobRef struct {
	sum sum
	key string
}

// storedBlob is one thing a blob store holds.
type storedBlob struct {
	name     string // its name in the store: "blobs/xx/<sha256>", or an object's key
	sum      sum    // the hash its name stands for, when named
	named    bool   // its name is a blob's, in the right place
	modified time.Time
}

// parseBlobName reads "xx/<sha256 in hex>", as both stores lay blobs out
// under their root.
func parseBlobName(rel string) (sum, bool) {
	dir, name, ok := strings.Cut(rel, "/")
	b, err := hex.DecodeString(name)
	if !ok || err != nil || len(b) != sha256.Size || name[:2] != dir {
		return sum{}, false
	}
	return sum(b), true
}

// blobName is where blob h lives under a store's root: "xx/<sha256>".
func blobName(h sum) string {
	x := hex.EncodeToString(h[:])
	return x[:2] + "/" + x
}

// localBlobs keeps blobs as files under blobs/xx/ in the data directory:
// written to tmp/, fsynced, then renamed into place.
type localBlobs struct {
	dir string // the data directory
}

func (l localBlobs) where() string { return "local" }

func (l localBlobs) path(h sum) string {
	return filepath.Join(l.dir, blobsDir, filepath.FromSlash(blobName(h)))
}

// put moves the spooled file to its blob path (replacing an identical
// file if one is there) and fsyncs the directory. A file to keep (a
// resumable upload's) gets a second name in tmp/ that is moved instead: a
// crash before the commit then leaves an orphan blob, which start-up
// removes, beside an upload whose file and record are both still there.
func (l localBlobs) put(_ context.Context, sp spooled) error {
	dst, src := l.path(sp.sum), sp.path
	if sp.keep {
		src = filepath.Join(l.dir, tmpDir, "link-"+hex.EncodeToString(sp.sum[:8])+"-"+filepath.Base(sp.path))
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

func (l localBlobs) open(_ context.Context, b blobRef, _ int64) (ferry.Blob, error) {
	return os.Open(l.path(b.sum))
}

func (l localBlobs) exists(_ context.Context, b blobRef) (bool, error) {
	_, err := os.Stat(l.path(b.sum))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (l localBlobs) remove(_ context.Context, b blobRef) error {
	err := os.Remove(l.path(b.sum))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

func (l localBlobs) removeStray(_ context.Context, name string) error {
	return os.Remove(filepath.Join(l.dir, filepath.FromSlash(name)))
}

// each walks blobs/ (its 256 folders, and anything else in it).
func (l localBlobs) each(_ context.Context, f func(storedBlob) error) error {
	root := filepath.Join(l.dir, blobsDir)
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
			rel := d.Name() + "/" + e.Name()
			b := storedBlob{name: blobsDir + "/" + rel}
			b.sum, b.named = parseBlobName(rel)
			if info, err := e.Info(); err == nil {
				b.modified = info.ModTime()
			}
			if err := f(b); err != nil {
				return err
			}
		}
	}
	return nil
}

// makeDirs creates blobs/00 .. blobs/ff.
func (l localBlobs) makeDirs() error {
	for i := range 256 {
		if err := os.MkdirAll(filepath.Join(l.dir, blobsDir, fmt.Sprintf("%02x", i)), 0o700); err != nil {
			return err
		}
	}
	return syncDir(filepath.Join(l.dir, blobsDir))
}
