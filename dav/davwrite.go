package dav

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/front"
	"github.com/ferryhq/ferry/paths"
)

// WebDAV's writes (PUT, MKCOL, DELETE, COPY, MOVE and LOCK) are answered
// here, each one store call, so that a refusal of the store comes back as
// the error it is; x/net/webdav answers the reads, PROPPATCH and UNLOCK.

// davStatus is a WebDAV answer that the API's error table has no code
// for (409 for a missing parent, 412 when the destination exists or an
// If header fails, 423 Locked...).
type davStatus int

func (d davStatus) Error() string { return http.StatusText(int(d)) }

// writeDavError answers a failed WebDAV write: a davStatus with its
// status, the quota and a full disk as 507 Insufficient Storage (RFC
// 4918's), and any other error as the API answers it.
func (h *Handler) writeDavError(w http.ResponseWriter, r *http.Request, err error) {
	var status davStatus
	if errors.As(err, &status) {
		http.Error(w, status.Error(), int(status))
		return
	}
	err = front.Public(err)
	if code := ferry.ErrorCode(err); code == ferry.EQUOTAEXCEEDED || code == ferry.ESTORAGEFULL {
		front.WriteJSON(w, http.StatusInsufficientStorage, front.ErrorBody{Error: code, Message: ferry.ErrorMessage(err)})
		return
	}
	h.writeError(w, r, err)
}

// davNames parses the path below /dav of a WebDAV URL path.
func davNames(urlPath string) ([]string, error) {
	names, err := paths.Parse(davPath(urlPath))
	if err != nil {
		return nil, ferry.Errorf(ferry.EBADREQUEST, "%s", ferry.ErrorMessage(err))
	}
	return names, nil
}

// created answers a write: 201 Created for a new resource, 204 No Content
// for one replaced.
func created(w http.ResponseWriter, existed bool) {
	if existed {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

// davTarget returns the path a PUT, MKCOL or DELETE names (not the root:
// 405) once the locks allow the write (davConfirm), with the release for
// after it.
func (h *Handler) davTarget(r *http.Request, u *ferry.User, ls *userLocks) ([]string, func(), error) {
	names, err := davNames(r.URL.Path)
	if err != nil {
		return nil, nil, err
	}
	if len(names) == 0 {
		return nil, nil, davStatus(http.StatusMethodNotAllowed)
	}
	release, err := h.davConfirm(r, u, ls, davPath(r.URL.Path), "")
	if err != nil {
		return nil, nil, err
	}
	return names, release, nil
}

// davPut is PUT: the body streams into the store as PUT /files does, into
// a folder that exists. Nothing shows until the whole file is stored.
func (h *Handler) davPut(w http.ResponseWriter, r *http.Request, u *ferry.User, ls *userLocks) error {
	names, release, err := h.davTarget(r, u, ls)
	if err != nil {
		return err
	}
	defer release()
	old, err := h.dav.Lookup(r.Context(), u.ID, names)
	existed := err == nil
	if existed && old.Dir {
		return davStatus(http.StatusMethodNotAllowed)
	}
	info, err := h.files.PutFile(r.Context(), ferry.PutRequest{UserID: u.ID, Names: names, Body: r.Body, Size: r.ContentLength, NoParents: true})
	if err != nil {
		return h.davParentErr(r, u, names, err)
	}
	w.Header().Set("ETag", `"`+info.SHA256+`"`)
	created(w, existed)
	return nil
}

// davParentErr answers 409 Conflict for a write of names (PUT, MKCOL,
// a LOCK that makes a file) that failed because its parent is missing or
// is a file (RFC 4918), and returns any other err as it is. Missing
// (FILE_NOT_FOUND) is when the write looked: a client making the parent
// in another request meanwhile (rclone makes folders in parallel) must
// still hear 409, and make this again.
func (h *Handler) davParentErr(r *http.Request, u *ferry.User, names []string, err error) error {
	if ferry.ErrorCode(err) == ferry.EFILENOTFOUND {
		return davStatus(http.StatusConflict)
	}
	return h.davDestErr(r, u, names, err)
}

// davDestErr is davParentErr for a COPY's or a MOVE's destination, where
// FILE_NOT_FOUND may also be the source gone: the parent is looked at.
func (h *Handler) davDestErr(r *http.Request, u *ferry.User, names []string, err error) error {
	if code := ferry.ErrorCode(err); code != ferry.EFILENOTFOUND && code != ferry.EFILEEXISTS {
		return err
	}
	parent, lookupErr := h.dav.Lookup(r.Context(), u.ID, names[:len(names)-1])
	if lookupErr != nil || !parent.Dir {
		return davStatus(http.StatusConflict)
	}
	return err
}

// davMkcol is MKCOL: one folder, in a folder that exists.
func (h *Handler) davMkcol(w http.ResponseWriter, r *http.Request, u *ferry.User, ls *userLocks) error {
	if n, _ := io.ReadFull(r.Body, make([]byte, 1)); n > 0 {
		return davStatus(http.StatusUnsupportedMediaType) // RFC 4918 defines no MKCOL body
	}
	names, release, err := h.davTarget(r, u, ls)
	if err != nil {
		return err
	}
	defer release()
	if err := h.dav.MakeFolder(r.Context(), u.ID, names, false); err != nil {
		if _, lookupErr := h.dav.Lookup(r.Context(), u.ID, names); lookupErr == nil {
			return davStatus(http.StatusMethodNotAllowed) // it exists
		}
		return h.davParentErr(r, u, names, err)
	}
	created(w, false)
	return nil
}

// davDelete is DELETE: a file, or a folder with all it holds.
func (h *Handler) davDelete(w http.ResponseWriter, r *http.Request, u *ferry.User, ls *userLocks) error {
	names, release, err := h.davTarget(r, u, ls)
	if err != nil {
		return err
	}
	defer release()
	results, err := h.files.Delete(r.Context(), u.ID, [][]string{names})
	if err == nil {
		err = results[0]
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// davTransfer is COPY and MOVE: one store copy or move of the whole tree,
// which replaces what is at the destination in the same transaction
// (Overwrite: T, the default) or is refused with 412 when something is
// there (Overwrite: F). The destination's parent must be a folder.
func (h *Handler) davTransfer(w http.ResponseWriter, r *http.Request, u *ferry.User, ls *userLocks) error {
	dest, err := url.Parse(r.Header.Get("Destination"))
	if err != nil || r.Header.Get("Destination") == "" {
		return ferry.Errorf(ferry.EBADREQUEST, "The Destination header is missing or not a URL.")
	}
	// Dot segments are resolved first (RFC 3986 5.2.4), on the decoded
	// path, where an escaped slash separates too: "/dav/../x" and
	// "/dav/a%2f..%2f..%2fx" are outside /dav/, and foreign.
	destPath := path.Clean(dest.Path)
	if dest.Host != "" && dest.Host != r.Host || destPath != Prefix && !strings.HasPrefix(destPath, Prefix+"/") {
		return davStatus(http.StatusBadGateway) // not on this server's /dav/
	}
	src, err := davNames(r.URL.Path)
	if err != nil {
		return err
	}
	dst, err := davNames(destPath)
	if err != nil {
		return err
	}
	if len(src) == 0 || len(dst) == 0 || paths.Join(src) == paths.Join(dst) {
		return davStatus(http.StatusForbidden)
	}
	shallow, err := depthZero(r)
	if err != nil || shallow && r.Method == "MOVE" {
		return ferry.Errorf(ferry.EBADREQUEST, "Depth %q: a COPY takes 0 or infinity, a MOVE infinity.", r.Header.Get("Depth"))
	}
	overwrite := r.Header.Get("Overwrite") != "F"

	// A COPY locks only its destination (RFC 4918 7.5.1).
	lockSrc := davPath(r.URL.Path)
	if r.Method == "COPY" {
		lockSrc = ""
	}
	release, err := h.davConfirm(r, u, ls, lockSrc, davPath(destPath))
	if err != nil {
		return err
	}
	defer release()

	info, err := h.dav.Lookup(r.Context(), u.ID, src)
	if err != nil {
		return err
	}
	_, err = h.dav.Lookup(r.Context(), u.ID, dst)
	existed := err == nil
	if existed && !overwrite {
		return davStatus(http.StatusPreconditionFailed)
	}
	t := ferry.Transfer{Src: src, Dst: dst, Replace: existed, NoParents: true}
	switch {
	case r.Method == "MOVE":
		err = h.files.Move(r.Context(), u.ID, t)
	case shallow && info.Dir:
		err = h.copyFolderAlone(r, u, t)
	default:
		err = h.files.Copy(r.Context(), u.ID, t)
	}
	if err != nil {
		err = h.davDestErr(r, u, dst, err)
		if ferry.ErrorCode(err) == ferry.EFILEEXISTS {
			err = davStatus(http.StatusPreconditionFailed) // taken meanwhile
		}
		return err
	}
	created(w, existed)
	return nil
}

// depthZero reads the Depth header of a COPY, MOVE or LOCK: 0 or
// infinity (none means infinity); 1 and anything else are an error.
func depthZero(r *http.Request) (bool, error) {
	switch depth := r.Header.Get("Depth"); {
	case depth == "" || strings.EqualFold(depth, "infinity"):
		return false, nil
	case depth == "0":
		return true, nil
	}
	return false, errors.New("depth is neither 0 nor infinity")
}

// copyFolderAlone is a COPY with Depth: 0 of a folder: a folder at t.Dst
// with the source's properties and nothing in it.
func (h *Handler) copyFolderAlone(r *http.Request, u *ferry.User, t ferry.Transfer) error {
	props, err := h.dav.DeadProps(r.Context(), u.ID, t.Src)
	if err != nil {
		return err
	}
	if err := h.dav.MakeFolder(r.Context(), u.ID, t.Dst, t.Replace); err != nil {
		return err
	}
	if len(props) == 0 {
		return nil
	}
	// A second transaction: a crash between the two leaves the folder
	// without its properties, never anything lost.
	err = h.dav.PatchDeadProps(r.Context(), u.ID, t.Dst, func([]byte) ([]byte, error) { return props, nil })
	if err != nil && !t.Replace {
		_, _ = h.files.Delete(r.Context(), u.ID, [][]string{t.Dst}) // over the properties' cap: no copy at all
	}
	return err
}
