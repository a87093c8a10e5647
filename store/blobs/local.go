package blobs

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ferryhq/ferry"
)

// local keeps blobs as files under blobs/xx/ in the data directory:
// written to tmp/, fsynced, then renamed into place.
type local struct {
	dir string // the data directory
}

// NewLocal returns the store of blobs in the data directory dir.
func NewLocal(dir string) Store {
	return local{dir: dir}
}

func (l local) Where() string { return "local" }

// CopyIn is for cluster mode, whose blobs are in S3.
func (local) CopyIn(context.Context, string, Ref) error {
	return errors.New("blobs in the data directory cannot be copied from another node's")
}

func (l local) Local() bool { return true }

func (l local) Name(b Ref) string { return Dir + "/" + NameOf(b.Sum) }

func (l local) path(h Sum) string {
	return filepath.Join(l.dir, Dir, filepath.FromSlash(NameOf(h)))
}

// Prepare creates blobs/00 .. blobs/ff.
func (l local) Prepare() error {
	for i := range 256 {
		if err := os.MkdirAll(filepath.Join(l.dir, Dir, fmt.Sprintf("%02x", i)), 0o700); err != nil {
			return err
		}
	}
	return SyncDir(filepath.Join(l.dir, Dir))
}

// NewSpool writes around the page cache where it can: a spool becomes a
// blob, and must be on disk before the commit that refers to it.
func (l local) NewSpool(_ context.Context, f *os.File, _ int64, check func(int64) error) (Spool, error) {
	return localSpool{FileWriter: NewFileWriter(f, check)}, nil
}

// localSpool is a spool to become a local blob: fsynced when whole.
type localSpool struct{ *FileWriter }

func (s localSpool) Key() string { return "" }

func (s localSpool) Finish(int64) error {
	s.Close()
	return s.f.Sync()
}

func (s localSpool) Abort() { s.Close() }

// Put moves the spooled file to its blob path (replacing an identical
// file if one is there) and fsyncs the directory. A file to keep (a
// resumable upload's) gets a second name in tmp/ that is moved instead: a
// crash before the commit then leaves an orphan blob, which start-up
// removes, beside an upload whose file and record are both still there.
func (l local) Put(_ context.Context, sp Spooled) error {
	dst, src := l.path(sp.Sum), sp.Path
	if sp.Keep {
		src = filepath.Join(l.dir, TmpDir, "link-"+hex.EncodeToString(sp.Sum[:8])+"-"+filepath.Base(sp.Path))
		if err := os.Link(sp.Path, src); err != nil {
			return err
		}
	}
	if err := os.Rename(src, dst); err != nil {
		os.Remove(src)
		return err
	}
	return SyncDir(filepath.Dir(dst))
}

func (l local) Open(_ context.Context, b Ref, _ int64) (ferry.Blob, error) {
	return os.Open(l.path(b.Sum))
}

func (l local) Exists(_ context.Context, b Ref) (bool, error) {
	_, err := os.Stat(l.path(b.Sum))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (l local) Remove(_ context.Context, b Ref) error {
	err := os.Remove(l.path(b.Sum))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

func (l local) RemoveStray(_ context.Context, name string) error {
	return os.Remove(filepath.Join(l.dir, filepath.FromSlash(name)))
}

func (l local) URL(context.Context, Ref, string, time.Duration) (string, error) {
	return "", nil
}

// Each walks blobs/ (its 256 folders, and anything else in it).
func (l local) Each(_ context.Context, f func(Stored) error) error {
	root := filepath.Join(l.dir, Dir)
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
			b := Stored{Name: Dir + "/" + rel}
			b.Sum, b.Named = ParseName(rel)
			if info, err := e.Info(); err == nil {
				b.Modified = info.ModTime()
			}
			if err := f(b); err != nil {
				return err
			}
		}
	}
	return nil
}
