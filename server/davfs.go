package server

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"mime"
	"net/http"
	"os"
	"path"
	"slices"
	"time"

	"golang.org/x/net/webdav"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/paths"
)

// davFS is one user's folder as a webdav.FileSystem, on the same tree and
// blob store as the API: what either does, the other sees at once.
type davFS struct {
	ctx context.Context // the request's
	s   *Server
	u   *ferry.User
	st  *davState
}

// names parses a WebDAV path by the API's rules.
func (fs *davFS) names(name string) ([]string, error) {
	names, err := paths.Parse(name)
	if err != nil {
		return nil, os.ErrInvalid
	}
	return names, nil
}

// osErr turns the store's errors into the os errors x/net/webdav maps to
// statuses; refusals stay *ferry.Errors, which travel back through
// x/net/webdav to davWriter (a full disk becomes STORAGE_FULL).
func (fs *davFS) osErr(err error) error {
	switch ferry.ErrorCode(err) {
	case ferry.EFILENOTFOUND:
		return os.ErrNotExist
	case ferry.EFILEEXISTS:
		return os.ErrExist
	case ferry.EBADREQUEST:
		return os.ErrInvalid
	}
	return storageFull(err)
}

func (fs *davFS) Mkdir(ctx context.Context, name string, perm os.FileMode) error {
	names, err := fs.names(name)
	if err != nil {
		return err
	}
	st := fs.st
	switch {
	case st.belowCopied(names):
		return nil
	case st.isTarget(names) && !st.shallow:
		// A COPY of a folder: the whole tree, in one store copy. As for
		// MKCOL, the parent must exist.
		t := ferry.Transfer{Src: st.source, Dst: names, Replace: st.replace, NoParents: true}
		if err := fs.s.files.Copy(fs.ctx, fs.u.ID, t); err != nil {
			return fs.osErr(err)
		}
		st.copied = true
		return nil
	}
	return fs.osErr(fs.s.dav.MakeFolder(fs.ctx, fs.u.ID, names, st.replace && st.isTarget(names)))
}

func (fs *davFS) OpenFile(ctx context.Context, name string, flag int, perm os.FileMode) (webdav.File, error) {
	names, err := fs.names(name)
	if err != nil {
		return nil, err
	}
	if fs.st.belowCopied(names) && flag&os.O_CREATE != 0 {
		return &davWriteFile{fs: fs, names: names, done: true, copied: true}, nil
	}
	replace := fs.st.replace && fs.st.isTarget(names)
	info, err := fs.s.dav.Lookup(fs.ctx, fs.u.ID, names)
	exists := err == nil && !replace
	if err != nil && ferry.ErrorCode(err) != ferry.EFILENOTFOUND {
		return nil, fs.osErr(err)
	}
	if flag&os.O_CREATE == 0 || flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		if !exists {
			return nil, os.ErrNotExist
		}
		return &davFile{fs: fs, names: names, info: info}, nil
	}
	// To be written (PUT, or the target of a COPY): the parent must be a
	// folder, and nothing shows until Close commits the content.
	if exists && (info.Dir || flag&os.O_EXCL != 0) {
		return nil, os.ErrExist
	}
	if len(names) == 0 {
		return nil, os.ErrInvalid
	}
	// x/net/webdav answers 409 only when OpenFile fails: the parent is
	// looked up here for that, and the store checks it again in the write
	// itself (NoParents).
	parent, err := fs.s.dav.Lookup(fs.ctx, fs.u.ID, names[:len(names)-1])
	if err != nil || !parent.Dir {
		return nil, os.ErrNotExist
	}
	return &davWriteFile{fs: fs, names: names, started: fs.s.now(), replace: replace}, nil
}

func (fs *davFS) RemoveAll(ctx context.Context, name string) error {
	names, err := fs.names(name)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return os.ErrInvalid
	}
	if fs.st.overwrite && fs.st.isTarget(names) && !fs.st.replace {
		fs.st.replace = true // done by the move or copy, in its transaction
		return nil
	}
	if fs.st.belowCopied(names) {
		return nil
	}
	results, err := fs.s.files.Delete(fs.ctx, fs.u.ID, [][]string{names})
	if err != nil {
		return fs.osErr(err)
	}
	return fs.osErr(results[0])
}

func (fs *davFS) Rename(ctx context.Context, oldName, newName string) error {
	src, err := fs.names(oldName)
	if err != nil {
		return err
	}
	dst, err := fs.names(newName)
	if err != nil {
		return err
	}
	if slices.Equal(src, dst) {
		return nil
	}
	if len(src) == 0 || len(dst) == 0 {
		return os.ErrInvalid
	}
	// MOVE does not make the target's parents (NoParents: FILE_NOT_FOUND,
	// which x/net/webdav answers 409).
	t := ferry.Transfer{Src: src, Dst: dst, Replace: fs.st.replace && fs.st.isTarget(dst), NoParents: true}
	return fs.osErr(fs.s.files.Move(fs.ctx, fs.u.ID, t))
}

func (fs *davFS) Stat(ctx context.Context, name string) (os.FileInfo, error) {
	names, err := fs.names(name)
	if err != nil {
		return nil, err
	}
	if fs.st.belowCopied(names) {
		return nil, os.ErrNotExist // so that x/net/webdav's copy goes on to "create" it, a no-op
	}
	info, err := fs.s.dav.Lookup(fs.ctx, fs.u.ID, names)
	if err != nil {
		return nil, fs.osErr(err)
	}
	return davInfo{info}, nil
}

// deadProps and patchProps keep a client's properties of a file or folder,
// encoded as JSON, in the store.
func (fs *davFS) deadProps(names []string) (map[xml.Name]webdav.Property, error) {
	raw, err := fs.s.dav.DeadProps(fs.ctx, fs.u.ID, names)
	if err != nil || len(raw) == 0 {
		return nil, fs.osErr(err)
	}
	var list []webdav.Property
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, err
	}
	m := make(map[xml.Name]webdav.Property, len(list))
	for _, p := range list {
		m[p.XMLName] = p
	}
	return m, nil
}

func (fs *davFS) patchProps(names []string, patches []webdav.Proppatch) ([]webdav.Propstat, error) {
	pstat := webdav.Propstat{Status: http.StatusOK}
	err := fs.s.dav.PatchDeadProps(fs.ctx, fs.u.ID, names, func(old []byte) ([]byte, error) {
		pstat.Props = pstat.Props[:0]
		var list []webdav.Property
		if len(old) > 0 {
			if err := json.Unmarshal(old, &list); err != nil {
				return nil, err
			}
		}
		for _, patch := range patches {
			for _, p := range patch.Props {
				pstat.Props = append(pstat.Props, webdav.Property{XMLName: p.XMLName})
				list = slices.DeleteFunc(list, func(q webdav.Property) bool { return q.XMLName == p.XMLName })
				if !patch.Remove {
					list = append(list, p)
				}
			}
		}
		if len(list) == 0 {
			return nil, nil
		}
		return json.Marshal(list)
	})
	if err != nil {
		return nil, fs.osErr(err)
	}
	return []webdav.Propstat{pstat}, nil
}

// davInfo is a stored file or folder as an os.FileInfo, with the SHA-256
// as its ETag and a content type from its name (so that PROPFIND never
// opens a file to sniff it).
type davInfo struct{ ferry.FileInfo }

func (i davInfo) Name() string {
	if i.FileInfo.Name == "" {
		return "/"
	}
	return i.FileInfo.Name
}

func (i davInfo) Size() int64 { return i.FileInfo.Size }

func (i davInfo) ModTime() time.Time { return i.Modified }

func (i davInfo) IsDir() bool { return i.Dir }

func (i davInfo) Sys() any { return nil }

func (i davInfo) Mode() os.FileMode {
	if i.Dir {
		return os.ModeDir | 0o755
	}
	return 0o644
}

func (i davInfo) ETag(context.Context) (string, error) {
	if i.Dir {
		return "", webdav.ErrNotImplemented
	}
	return `"` + i.SHA256 + `"`, nil
}

func (i davInfo) ContentType(context.Context) (string, error) {
	if i.Dir {
		return "", webdav.ErrNotImplemented
	}
	if t := mime.TypeByExtension(path.Ext(i.FileInfo.Name)); t != "" {
		return t, nil
	}
	return "application/octet-stream", nil
}
