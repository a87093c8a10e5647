package dav

import (
	"encoding/xml"
	"io"
	"os"
	"syscall"

	"golang.org/x/net/webdav"

	"github.com/ferryhq/ferry"
)

// davFile is a stored file or folder opened to read (GET, PROPFIND, the
// source of a COPY) or to change its properties. A file's blob is opened
// on the first Read or Seek.
type davFile struct {
	fs    *davFS
	names []string
	info  ferry.FileInfo
	blob  ferry.Blob
	dir   []ferry.FileInfo
	read  bool // dir was loaded
	pos   int
}

func (f *davFile) open() error {
	if f.info.Dir {
		return &os.PathError{Op: "read", Path: f.info.Path, Err: syscall.EISDIR}
	}
	if f.blob == nil {
		b, err := f.fs.h.files.OpenBlob(f.fs.ctx, f.info.SHA256, f.info.Size)
		if err != nil {
			return err
		}
		f.blob = b
	}
	return nil
}

func (f *davFile) Read(p []byte) (int, error) {
	if err := f.open(); err != nil {
		return 0, err
	}
	return f.blob.Read(p)
}

func (f *davFile) Seek(offset int64, whence int) (int64, error) {
	if f.info.Dir {
		return 0, nil
	}
	if err := f.open(); err != nil {
		return 0, err
	}
	return f.blob.Seek(offset, whence)
}

func (f *davFile) Readdir(count int) ([]os.FileInfo, error) {
	if !f.info.Dir {
		return nil, &os.PathError{Op: "readdir", Path: f.info.Path, Err: syscall.ENOTDIR}
	}
	if !f.read {
		list, err := f.fs.h.dav.ReadDir(f.fs.ctx, f.fs.u.ID, f.names)
		if err != nil {
			return nil, f.fs.osErr(err)
		}
		f.dir, f.read = list, true
	}
	rest := f.dir[f.pos:]
	if count > 0 && len(rest) == 0 {
		return nil, io.EOF
	}
	if count > 0 && count < len(rest) {
		rest = rest[:count]
	}
	f.pos += len(rest)
	out := make([]os.FileInfo, len(rest))
	for i, info := range rest {
		out[i] = davInfo{info}
	}
	return out, nil
}

func (f *davFile) Stat() (os.FileInfo, error) { return davInfo{f.info}, nil }

func (f *davFile) Write([]byte) (int, error) {
	return 0, &os.PathError{Op: "write", Path: f.info.Path, Err: os.ErrPermission}
}

func (f *davFile) Close() error {
	if f.blob != nil {
		return f.blob.Close()
	}
	return nil
}

func (f *davFile) DeadProps() (map[xml.Name]webdav.Property, error) {
	return f.fs.deadProps(f.names)
}

func (f *davFile) Patch(patches []webdav.Proppatch) ([]webdav.Propstat, error) {
	return f.fs.patchProps(f.names, patches)
}
