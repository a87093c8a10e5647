package server

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/webdav"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/paths"
)

// davFile is a stored file or folder opened to read (GET, PROPFIND, the
// source of a COPY) or to change its properties. A file's blob is opened
// on the first Read or Seek.
type davFile struct {
	fs    *davFS
	names []string
	info  ferry.FileInfo
	blob  *os.File
	dir   []ferry.FileInfo
	read  bool // dir was loaded
	pos   int
}

func (f *davFile) open() error {
	if f.info.Dir {
		return &os.PathError{Op: "read", Path: f.info.Path, Err: syscall.EISDIR}
	}
	if f.blob == nil {
		b, err := f.fs.s.files.OpenBlob(f.info.SHA256)
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
		list, err := f.fs.s.dav.ReadDir(f.fs.ctx, f.fs.u.ID, f.names)
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

// davWriteFile is a file being written: a PUT's body (through ReadFrom,
// which io.Copy calls) streams into the blob store as PUT /files does, and
// a COPY from another stored file shares its blob, no bytes copied. Only a
// successful call leaves anything behind.
type davWriteFile struct {
	fs      *davFS
	names   []string
	started time.Time
	done    bool
	replace bool // a COPY replaces what is at names (davState.replace)
	copied  bool // below a folder copied whole: there is nothing to do
	result  ferry.FileInfo
}

func (f *davWriteFile) put(r io.Reader, size int64) error {
	info, err := f.fs.s.files.PutFile(f.fs.ctx, ferry.PutRequest{UserID: f.fs.u.ID, Names: f.names, Body: r, Size: size, NoParents: true})
	f.done = true
	if err != nil {
		return f.fs.osErr(bodyErr(err))
	}
	f.result = info
	return nil
}

func (f *davWriteFile) ReadFrom(r io.Reader) (int64, error) {
	if f.copied {
		return 0, nil
	}
	if f.done {
		return 0, os.ErrInvalid
	}
	if src, ok := r.(*davFile); ok && !src.info.Dir {
		f.done = true
		t := ferry.Transfer{Src: src.names, Dst: f.names, Replace: f.replace, NoParents: true}
		if err := f.fs.s.files.Copy(f.fs.ctx, f.fs.u.ID, t); err != nil {
			return 0, f.fs.osErr(err)
		}
		info, err := f.fs.s.dav.Lookup(f.fs.ctx, f.fs.u.ID, f.names)
		if err != nil {
			return 0, f.fs.osErr(err)
		}
		f.result = info
		return info.Size, nil
	}
	counted := &countingWriterReader{r: r}
	err := f.put(counted, f.fs.st.declared)
	return counted.n, err
}

// Write is not how content arrives: x/net/webdav writes a PUT's body and
// a COPY's source with io.Copy, which calls ReadFrom, so that the whole
// content goes to the store as one stream.
func (f *davWriteFile) Write([]byte) (int, error) {
	return 0, &os.PathError{Op: "write", Path: paths.Join(f.names), Err: errors.ErrUnsupported}
}

// Close commits an empty file when nothing was written (a create alone).
func (f *davWriteFile) Close() error {
	if !f.done {
		return f.put(strings.NewReader(""), 0)
	}
	return nil
}

func (f *davWriteFile) Read([]byte) (int, error) {
	return 0, &os.PathError{Op: "read", Path: paths.Join(f.names), Err: os.ErrPermission}
}

func (f *davWriteFile) Seek(int64, int) (int64, error) {
	return 0, &os.PathError{Op: "seek", Path: paths.Join(f.names), Err: os.ErrPermission}
}

func (f *davWriteFile) Readdir(int) ([]os.FileInfo, error) {
	return nil, &os.PathError{Op: "readdir", Path: paths.Join(f.names), Err: syscall.ENOTDIR}
}

// Stat describes the file as committed (empty before); its ETag is the content's
// SHA-256 once Close has committed it (x/net/webdav asks after Close).
func (f *davWriteFile) Stat() (os.FileInfo, error) {
	return davWriteInfo{f}, nil
}

func (f *davWriteFile) DeadProps() (map[xml.Name]webdav.Property, error) {
	if !f.done || f.copied {
		return nil, nil
	}
	return f.fs.deadProps(f.names)
}

func (f *davWriteFile) Patch(patches []webdav.Proppatch) ([]webdav.Propstat, error) {
	if f.copied {
		return nil, nil // the properties came with the tree
	}
	if !f.done {
		if err := f.Close(); err != nil {
			return nil, err
		}
	}
	return f.fs.patchProps(f.names, patches)
}

type davWriteInfo struct{ f *davWriteFile }

func (i davWriteInfo) Name() string { return i.f.names[len(i.f.names)-1] }

func (i davWriteInfo) Size() int64 { return i.f.result.Size }

func (i davWriteInfo) Mode() os.FileMode { return 0o644 }

func (i davWriteInfo) ModTime() time.Time {
	if !i.f.result.Modified.IsZero() {
		return i.f.result.Modified
	}
	return i.f.started
}

func (i davWriteInfo) IsDir() bool { return false }

func (i davWriteInfo) Sys() any { return nil }

func (i davWriteInfo) ETag(context.Context) (string, error) {
	if i.f.result.SHA256 == "" {
		return "", webdav.ErrNotImplemented
	}
	return `"` + i.f.result.SHA256 + `"`, nil
}

// countingWriterReader counts what is read through it.
type countingWriterReader struct {
	r io.Reader
	n int64
}

func (c *countingWriterReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
