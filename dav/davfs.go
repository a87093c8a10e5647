package dav

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"mime"
	"net/http"
	"os"
	"path"
	"slices"
	"time"

	"golang.org/x/net/webdav"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/front"
	"github.com/ferryhq/ferry/paths"
)

// davFS is one user's folder as a webdav.FileSystem, on the same tree and
// blob store as the API: what either does, the other sees at once.
type davFS struct {
	ctx context.Context // the request's
	h   *Handler
	u   *ferry.User
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
// statuses.
func (fs *davFS) osErr(err error) error {
	switch ferry.ErrorCode(err) {
	case ferry.EFILENOTFOUND:
		return os.ErrNotExist
	case ferry.EFILEEXISTS:
		return os.ErrExist
	case ferry.EBADREQUEST:
		return os.ErrInvalid
	}
	return front.StorageFull(err)
}

// Mkdir, RemoveAll and Rename are not called: ferry answers MKCOL,
// DELETE, COPY and MOVE itself (davwrite.go).
func (fs *davFS) Mkdir(context.Context, string, os.FileMode) error { return errors.ErrUnsupported }

func (fs *davFS) RemoveAll(context.Context, string) error { return errors.ErrUnsupported }

func (fs *davFS) Rename(context.Context, string, string) error { return errors.ErrUnsupported }

// OpenFile opens a file or folder to read it or its properties; writes
// (PUT, LOCK) are ferry's own.
func (fs *davFS) OpenFile(ctx context.Context, name string, flag int, perm os.FileMode) (webdav.File, error) {
	names, err := fs.names(name)
	if err != nil {
		return nil, err
	}
	if flag&(os.O_CREATE|os.O_TRUNC) != 0 {
		return nil, os.ErrPermission
	}
	info, err := fs.h.dav.Lookup(fs.ctx, fs.u.ID, names)
	if err != nil {
		return nil, fs.osErr(err)
	}
	return &davFile{fs: fs, names: names, info: info}, nil
}

func (fs *davFS) Stat(ctx context.Context, name string) (os.FileInfo, error) {
	names, err := fs.names(name)
	if err != nil {
		return nil, err
	}
	info, err := fs.h.dav.Lookup(fs.ctx, fs.u.ID, names)
	if err != nil {
		return nil, fs.osErr(err)
	}
	return davInfo{info}, nil
}

// deadProps and patchProps keep a client's properties of a file or folder,
// encoded as JSON, in the store.
func (fs *davFS) deadProps(names []string) (map[xml.Name]webdav.Property, error) {
	raw, err := fs.h.dav.DeadProps(fs.ctx, fs.u.ID, names)
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
	err := fs.h.dav.PatchDeadProps(fs.ctx, fs.u.ID, names, func(old []byte) ([]byte, error) {
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
	switch code := ferry.ErrorCode(front.StorageFull(err)); {
	case code == ferry.EQUOTAEXCEEDED || code == ferry.ESTORAGEFULL:
		// No room for the properties (the cap of properties per user, or a
		// full disk): RFC 4918 9.2.1's answer, none of them set.
		pstat.Props = pstat.Props[:0]
		for _, patch := range patches {
			for _, p := range patch.Props {
				pstat.Props = append(pstat.Props, webdav.Property{XMLName: p.XMLName})
			}
		}
		pstat.Status, pstat.ResponseDescription = http.StatusInsufficientStorage, ferry.ErrorMessage(front.StorageFull(err))
	case err != nil:
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
