package web

import (
	"archive/zip"
	"cmp"
	"context"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/front"
	"github.com/ferryhq/ferry/paths"
)

// pageSize is how many entries a folder page shows: a folder of 10,000
// is 50 pages of a few dozen KB each, never one page of megabytes.
const pageSize = 200

// crumb is one step of the path above a folder.
type crumb struct {
	Name, Path string
	Here       bool // the page's own
}

func crumbsOf(names []string) []crumb {
	out := []crumb{{Name: "Home", Path: ""}}
	for i, n := range names {
		out = append(out, crumb{Name: n, Path: paths.Join(names[:i+1])})
	}
	out[len(out)-1].Here = true
	return out
}

// names parses the {path...} of a route.
func names(r *http.Request) ([]string, error) {
	return paths.Parse(r.PathValue("path"))
}

type folderData struct {
	Path    string
	Crumbs  []crumb
	Entries []ferry.FileInfo
	Total   int
	Sort    string
	Desc    bool
	Quota   ferry.Quota
	Used    int64
	Sorts   []sortLink
	pager
}

// sortLink is a column heading that sorts by it.
type sortLink struct {
	Label, Key, URL string
	Active, Desc    bool
}

// handleFolder is a folder's page: its entries sorted by name, size or
// date, a page at a time, with the quota bar.
func (a *App) handleFolder(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	names, info, ok := a.lookup(w, r, u)
	if !ok {
		return
	}
	if !info.Dir {
		http.Redirect(w, r, pathURL("/item/", paths.Join(names)), http.StatusSeeOther)
		return
	}
	list, err := a.cfg.Dav.ReadDir(r.Context(), u.ID, names)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	key, desc := q.Get("sort"), q.Get("order") == "desc"
	switch key {
	case "size", "date":
	default:
		key = "name"
	}
	slices.SortStableFunc(list, func(x, y ferry.FileInfo) int {
		if x.Dir != y.Dir { // folders first, whatever the order
			if x.Dir {
				return -1
			}
			return 1
		}
		c := 0
		switch key {
		case "size":
			c = cmp.Compare(x.Size, y.Size)
		case "date":
			c = x.Modified.Compare(y.Modified)
		}
		if c == 0 {
			c = strings.Compare(strings.ToLower(x.Name), strings.ToLower(y.Name))
		}
		if desc {
			return -c
		}
		return c
	})
	quota, err := a.cfg.Users.Quota(r.Context(), u.ID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	p := paths.Join(names)
	base := pathURL("/files/", p)
	link := func(sort string, desc bool, page int) string {
		v := "?sort=" + sort
		if desc {
			v += "&order=desc"
		}
		if page > 0 {
			v += "&page=" + strconv.Itoa(page)
		}
		return base + v
	}
	pg := paginate(r, len(list), pageSize, func(page int) string { return link(key, desc, page) })
	d := folderData{
		Path: p, Crumbs: crumbsOf(names), Total: len(list), Sort: key, Desc: desc,
		Quota: quota, Used: quota.Usage.Charged(), pager: pg,
		Entries: list[pg.Page*pageSize : min(len(list), (pg.Page+1)*pageSize)],
	}
	for _, s := range []struct{ label, key string }{{"Name", "name"}, {"Size", "size"}, {"Modified", "date"}} {
		active := s.key == key
		d.Sorts = append(d.Sorts, sortLink{Label: s.label, Key: s.key, URL: link(s.key, active && !desc, 0), Active: active, Desc: desc})
	}
	title := "Your files"
	if len(names) > 0 {
		title = names[len(names)-1]
	}
	a.render(w, r, http.StatusOK, "folder", title, d)
}

// lookup returns the path {path} names and what is there; on a failure
// the page says why and ok is false.
func (a *App) lookup(w http.ResponseWriter, r *http.Request, u *ferry.User) ([]string, ferry.FileInfo, bool) {
	names, err := names(r)
	if err == nil {
		var info ferry.FileInfo
		if info, err = a.cfg.Dav.Lookup(r.Context(), u.ID, names); err == nil {
			return names, info, true
		}
	}
	a.fail(w, r, err)
	return nil, ferry.FileInfo{}, false
}

// target returns the path {path} names, which must not be the root;
// otherwise the page says so and ok is false.
func (a *App) target(w http.ResponseWriter, r *http.Request) (names []string, ok bool) {
	names, err := paths.Parse(r.PathValue("path"))
	if err != nil || len(names) == 0 {
		a.renderError(w, r, http.StatusBadRequest, "Choose a file or folder.")
		return nil, false
	}
	return names, true
}

// child returns the path of name in folder: one name, not empty, . or ..,
// without a slash or a control character.
func child(folder []string, name string) ([]string, bool) {
	if strings.Contains(name, "/") {
		return nil, false
	}
	names, err := paths.Parse(paths.Join(folder) + "/" + name)
	return names, err == nil && len(names) == len(folder)+1
}

// newChild returns the path of a new file or folder called name in
// folder, or why that name cannot be made (paths.CheckNew).
func newChild(folder []string, name string) ([]string, error) {
	if err := paths.CheckNew(name); err != nil {
		return nil, err
	}
	return paths.Parse(paths.Join(folder) + "/" + name)
}

// item returns the page data of the file or folder {path} names; on a
// failure the page says why and ok is false.
func (a *App) item(w http.ResponseWriter, r *http.Request, u *ferry.User) (d itemData, names []string, ok bool) {
	names, ok = a.target(w, r)
	if !ok {
		return d, nil, false
	}
	info, err := a.cfg.Dav.Lookup(r.Context(), u.ID, names)
	if err != nil {
		a.fail(w, r, err)
		return d, nil, false
	}
	d = itemData{Info: info, Path: paths.Join(names), Parent: paths.Join(names[:len(names)-1]), Crumbs: crumbsOf(names)}
	if !info.Dir {
		if d.Links, err = a.fileLinks(r, u, d.Path); err != nil {
			a.fail(w, r, err)
			return d, nil, false
		}
		if d.Downloads, err = a.fileDownloads(r, u, d.Path, d.Links); err != nil {
			a.fail(w, r, err)
			return d, nil, false
		}
	}
	return d, names, true
}

// fileLinks returns the user's links to the file at path.
func (a *App) fileLinks(r *http.Request, u *ferry.User, path string) ([]ferry.Link, error) {
	all, err := a.cfg.Files.Links(r.Context(), u.ID)
	return slices.DeleteFunc(all, func(l ferry.Link) bool { return l.File != path }), err
}

// maxReceipts bounds the download receipts a file's page lists.
const maxReceipts = 50

// fileDownloads returns the download receipts of the file at path: the
// owner's link_downloaded events of its links, or of any link while the
// file was at path, newest first.
func (a *App) fileDownloads(r *http.Request, u *ferry.User, path string, links []ferry.Link) ([]ferry.Event, error) {
	events, err := a.cfg.Users.Activity(r.Context(), ferry.AuditFilter{User: u.ID, Action: ferry.ActionLinkDownloaded, Limit: 1000})
	if err != nil {
		return nil, err
	}
	ids := map[float64]bool{}
	for _, l := range links {
		ids[float64(l.ID)] = true
	}
	var out []ferry.Event
	for _, e := range events {
		id, _ := e.Detail["link"].(float64)
		if (e.Target == path || ids[id]) && len(out) < maxReceipts {
			out = append(out, e)
		}
	}
	return out, nil
}

type itemData struct {
	Links     []ferry.Link  // a file's download links
	Downloads []ferry.Event // and its downloads through them
	Info      ferry.FileInfo
	Path      string
	Parent    string
	Crumbs    []crumb
	LinkURL   string
	LinkDays  int
	LinkOpts  ferry.LinkOptions // the new link's limit and password
}

// handleItem is the page of one file or folder: its details and what can
// be done with it (rename, move, copy, delete, download, a link).
func (a *App) handleItem(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	if d, _, ok := a.item(w, r, u); ok {
		a.render(w, r, http.StatusOK, "item", d.Info.Name, d)
	}
}

// back sends the browser to the folder that holds p, after a change.
func back(w http.ResponseWriter, r *http.Request, folder []string) {
	http.Redirect(w, r, pathURL("/files/", paths.Join(folder)), http.StatusSeeOther)
}

// handleMkdir makes the folder named by the form's name in {path}.
func (a *App) handleMkdir(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	parent, err := names(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	// What a person types loses its leading and trailing spaces.
	target, err := newChild(parent, strings.TrimSpace(r.PostFormValue("name")))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.cfg.Files.Mkdir(r.Context(), u.ID, target); err != nil {
		a.fail(w, r, err)
		return
	}
	back(w, r, parent)
}

// handleRename gives {path} the form's name, in the same folder.
func (a *App) handleRename(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	src, ok := a.target(w, r)
	if !ok {
		return
	}
	dst, err := newChild(src[:len(src)-1], strings.TrimSpace(r.PostFormValue("name")))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.cfg.Files.Move(r.Context(), u.ID, ferry.Transfer{Src: src, Dst: dst}); err != nil {
		a.fail(w, r, err)
		return
	}
	back(w, r, src[:len(src)-1])
}

// handleMove and handleCopy move or copy {path} into the folder the form
// names, under the same name.
func (a *App) handleMove(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	a.transfer(w, r, u, a.cfg.Files.Move)
}

func (a *App) handleCopy(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	a.transfer(w, r, u, a.cfg.Files.Copy)
}

func (a *App) transfer(w http.ResponseWriter, r *http.Request, u *ferry.User, do func(context.Context, uint64, ferry.Transfer) error) {
	src, ok := a.target(w, r)
	if !ok {
		return
	}
	folder, err := paths.Parse(r.PostFormValue("to"))
	if err != nil {
		a.renderError(w, r, http.StatusBadRequest, "The folder to go to is not a valid path: "+ferry.ErrorMessage(err))
		return
	}
	dst := append(slices.Clone(folder), src[len(src)-1])
	if err := do(r.Context(), u.ID, ferry.Transfer{Src: src, Dst: dst}); err != nil {
		a.fail(w, r, err)
		return
	}
	back(w, r, folder)
}

// handleDeletePage asks before a delete: the page's button is the form
// that deletes.
func (a *App) handleDeletePage(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	if d, _, ok := a.item(w, r, u); ok {
		a.render(w, r, http.StatusOK, "delete", "Delete "+d.Info.Name, d)
	}
}

func (a *App) handleDelete(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	names, ok := a.target(w, r)
	if !ok {
		return
	}
	results, err := a.cfg.Files.Delete(r.Context(), u.ID, [][]string{names})
	if err == nil {
		err = results[0]
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	back(w, r, names[:len(names)-1])
}

// handleLink makes a download link of {path} for the form's days and
// shows it on the item's page.
func (a *App) handleLink(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	d, names, ok := a.item(w, r, u)
	if !ok {
		return
	}
	days, err := strconv.Atoi(r.PostFormValue("days"))
	life := time.Duration(days) * 24 * time.Hour
	if err != nil || days < 1 || life > a.cfg.LinkMaxExpiry {
		a.renderError(w, r, http.StatusBadRequest, "A link lasts from one day to "+strconv.Itoa(int(a.cfg.LinkMaxExpiry/(24*time.Hour)))+" days.")
		return
	}
	opts := ferry.LinkOptions{Password: r.PostFormValue("password")}
	if v := strings.TrimSpace(r.PostFormValue("max_downloads")); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			a.renderError(w, r, http.StatusBadRequest, "The download limit is a whole number; leave it empty for no limit.")
			return
		}
		opts.MaxDownloads = n
	}
	if len(opts.Password) > ferry.MaxPasswordLen {
		a.renderError(w, r, http.StatusBadRequest, "A link's password has at most "+strconv.Itoa(ferry.MaxPasswordLen)+" bytes.")
		return
	}
	token, _, err := a.cfg.Files.CreateLink(r.Context(), u.ID, names, a.cfg.Now().Add(life), opts)
	if err == nil {
		d.Links, err = a.fileLinks(r, u, d.Path)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	d.LinkURL, d.LinkDays, d.LinkOpts = a.cfg.PublicURL+"/d/"+token, days, opts
	a.render(w, r, http.StatusOK, "item", d.Info.Name, d)
}

// handleRevokeLink ends the link {id} and goes back to the page of the
// file the form names.
func (a *App) handleRevokeLink(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		a.renderError(w, r, http.StatusBadRequest, "Choose a link to revoke.")
		return
	}
	if err := a.cfg.Files.RevokeLink(r.Context(), u.ID, id); err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, pathURL("/item/", r.PostFormValue("path")), http.StatusSeeOther)
}

// handleDownload answers a file as GET /files does, and a folder as a
// zip built while it is sent: no temporary file, one file's blob open at
// a time.
func (a *App) handleDownload(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	names, info, ok := a.lookup(w, r, u)
	if !ok {
		return
	}
	w.Header()["Content-Security-Policy"] = []string{front.InertPolicy}
	if !info.Dir {
		front.ServeFile(w, r, a.cfg.Files.OpenBlob, info, func(err error) { a.writeError(w, r, err) })
		return
	}
	name := "ferry"
	if len(names) > 0 {
		name = names[len(names)-1]
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name + ".zip"}))
	zw := zip.NewWriter(w)
	if err := a.zipFolder(r, u, zw, names, ""); err != nil {
		// The status is sent: a cut-off zip (no central directory) is what
		// the browser reports as a failed download.
		a.cfg.Log.WarnContext(r.Context(), "web: zip cut off", "err", err)
		return
	}
	_ = zw.Close()
}

// zipFolder adds the folder names, as prefix, to zw: folders as entries
// of their own (so that empty ones are kept), files stored as they are
// (most are compressed already; storing keeps the download at disk speed).
func (a *App) zipFolder(r *http.Request, u *ferry.User, zw *zip.Writer, names []string, prefix string) error {
	list, err := a.cfg.Dav.ReadDir(r.Context(), u.ID, names)
	if err != nil {
		return err
	}
	for _, e := range list {
		if err := r.Context().Err(); err != nil {
			return err
		}
		name := path.Join(prefix, e.Name)
		child := append(slices.Clone(names), e.Name)
		if e.Dir {
			if _, err := zw.CreateHeader(&zip.FileHeader{Name: name + "/", Modified: e.Modified}); err != nil {
				return err
			}
			if err := a.zipFolder(r, u, zw, child, name); err != nil {
				return err
			}
			continue
		}
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store, Modified: e.Modified})
		if err != nil {
			return err
		}
		f, err := a.cfg.Files.OpenBlob(r.Context(), e.SHA256, e.Size)
		if err != nil {
			return err
		}
		_, err = io.Copy(fw, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// chooseData is the folder picker of a move or copy: the item, the folder
// the picker shows (In), its crumbs and its folders, a page at a time.
type chooseData struct {
	Info    ferry.FileInfo
	Path    string
	In      string
	Crumbs  []crumb
	Folders []string // paths of In's folders on this page
	pager
}

// handleChoose is /choose/{path}?in=FOLDER: the folders of FOLDER (Home
// when absent) to open, and buttons to move or copy {path} there. The
// item itself is not offered as a place to go into.
func (a *App) handleChoose(w http.ResponseWriter, r *http.Request, u *ferry.User) {
	d, src, ok := a.item(w, r, u)
	if !ok {
		return
	}
	in, err := paths.Parse(r.URL.Query().Get("in"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	list, err := a.cfg.Dav.ReadDir(r.Context(), u.ID, in)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	var folders []string
	for _, e := range list {
		p := append(slices.Clone(in), e.Name)
		if e.Dir && !(d.Info.Dir && paths.IsWithin(p, src)) {
			folders = append(folders, paths.Join(p))
		}
	}
	base := pathURL("/choose/", d.Path) + "?in=" + url.QueryEscape(paths.Join(in))
	pg := paginate(r, len(folders), pageSize, func(page int) string { return base + "&page=" + strconv.Itoa(page) })
	c := chooseData{Info: d.Info, Path: d.Path, In: paths.Join(in), Crumbs: crumbsOf(in), pager: pg,
		Folders: folders[pg.Page*pageSize : min(len(folders), (pg.Page+1)*pageSize)]}
	a.render(w, r, http.StatusOK, "choose", "Move or copy "+d.Info.Name, c)
}
