// Package blobs keeps the content of files, each blob named by its
// SHA-256: as files under the data directory (NewLocal) or as objects in
// an S3-compatible bucket (NewS3), behind one interface, Store. It knows
// nothing of records: the store's database says which blobs exist and who
// refers to them, and calls Put and Remove under its lock of the blob, Put
// before the transaction that refers to the blob commits and Remove after
// the one that drops its last reference, so that a crash can leave an
// orphan but never a record without its content.
package blobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ferryhq/ferry"
)

// Where blobs and spools live under the data directory.
const (
	Dir    = "blobs" // local blobs: blobs/xx/<sha256>
	TmpDir = "tmp"   // spools, emptied when the store opens
)

// Sum is a blob's SHA-256.
type Sum = [sha256.Size]byte

// Ref names a blob in its store: its hash, and the key it is stored under
// when that is not the hash's own name (an upload staged in S3 while it
// arrived; the store's blob_keys bucket).
type Ref struct {
	Sum Sum
	Key string
}

// Stored is one thing a blob store holds, blob or not.
type Stored struct {
	Name     string // its name in the store: "blobs/xx/<sha256>", or an object's key
	Sum      Sum    // the hash its name stands for, when Named
	Named    bool   // its name is a blob's, in the right place
	Modified time.Time
}

// Spooled is content written to a temporary file and hashed, on its way
// into the store.
type Spooled struct {
	Path string
	Size int64
	Sum  Sum
	// Keep says that Path is not a temporary file but a resumable
	// upload's own: Put links it into the store, or copies it, and leaves
	// it where it is; a spool that is not Keep is used up by Put.
	Keep bool
	// Key is the object the content was staged to as it arrived (Spool),
	// "" for content still to be put.
	Key string
}

// Store keeps blobs.
type Store interface {
	// Where names the place, for the record of where a store's blobs are
	// ("local", or "s3:bucket/prefix").
	Where() string
	// Local reports whether blobs are files of the data directory: a
	// backup carries them, and a blob is never staged under a key.
	Local() bool
	// Prepare makes what the store needs in the data directory.
	Prepare() error
	// NewSpool starts spooling content of size bytes (-1: unknown) to f, a
	// new temporary file: written by Copy, checked piece by piece with
	// check; an object store may stage it as it arrives.
	NewSpool(ctx context.Context, f *os.File, size int64, check func(int64) error) (Spool, error)
	// Put makes spooled content blob sp.Sum and returns once it is
	// durable.
	Put(ctx context.Context, sp Spooled) error
	// Open opens blob b, of the given size, for reading.
	Open(ctx context.Context, b Ref, size int64) (ferry.Blob, error)
	// Exists reports whether blob b is stored.
	Exists(ctx context.Context, b Ref) (bool, error)
	// Remove deletes blob b; one that is not there is no error.
	Remove(ctx context.Context, b Ref) error
	// Each calls f for everything in the store, blob or not.
	Each(ctx context.Context, f func(Stored) error) error
	// RemoveStray deletes something Each found that is not a blob.
	RemoveStray(ctx context.Context, name string) error
	// CopyIn makes blob to a copy of the object named from, in the same
	// bucket (another node's, in cluster mode), without the bytes passing
	// through ferry: ErrNoObject when from is not there.
	CopyIn(ctx context.Context, from string, to Ref) error
	// Name is blob b's name in the store: a path under the data
	// directory, or an object's key.
	Name(b Ref) string
	// URL returns a URL that downloads blob b as an attachment named name
	// for the next expiry, without credentials; "" when the store has
	// none to give (local blobs).
	URL(ctx context.Context, b Ref, name string, expiry time.Duration) (string, error)
}

// ErrNoObject is an object that is not there.
var ErrNoObject = errors.New("no such object")

// Spool is where Copy writes content that arrives, on its way to Put.
type Spool interface {
	Writer
	// Key is the object the content is staged to as it arrives, "" when
	// none; it is known before the first byte is written.
	Key() string
	// Finish says the content is whole, n bytes: the spool is durable
	// where it has to be (a local one fsynced; a staged one complete).
	Finish(n int64) error
	// Abort gives the spool up after a failure (a staged upload is
	// dropped); the file stays the caller's to remove.
	Abort()
}

// ParseName reads "xx/<sha256 in hex>", as both stores lay blobs out
// under their root.
func ParseName(rel string) (Sum, bool) {
	dir, name, ok := strings.Cut(rel, "/")
	b, err := hex.DecodeString(name)
	if !ok || err != nil || len(b) != sha256.Size || name[:2] != dir {
		return Sum{}, false
	}
	return Sum(b), true
}

// NameOf is where blob h lives under a store's root: "xx/<sha256>".
func NameOf(h Sum) string {
	x := hex.EncodeToString(h[:])
	return x[:2] + "/" + x
}

// HashOf reads blob b back from s and hashes it.
func HashOf(ctx context.Context, s Store, b Ref, size int64) (Sum, error) {
	f, err := s.Open(ctx, b, size)
	if err != nil {
		return Sum{}, err
	}
	defer f.Close()
	hash := sha256.New()
	if _, err := io.Copy(hash, f); err != nil {
		return Sum{}, err
	}
	return Sum(hash.Sum(nil)), nil
}

// SyncDir fsyncs a directory so that a rename or creation in it is durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
