package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/internal/words"
	"github.com/ferryhq/ferry/quota"
)

// assetVersion changes with the embedded scripts and styles, so that
// pages may let browsers cache them for good.
var assetVersion = func() string {
	h := sha256.New()
	_ = fs.WalkDir(staticFiles, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFiles.ReadFile(p)
		h.Write([]byte(p))
		h.Write(b)
		return err
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}()

var funcs = template.FuncMap{
	"size":    quota.FormatSize, // as the quota's messages write sizes
	"action":  actionWords,      // an audit event's action in words
	"when":    func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") },
	"pathURL": pathURL,
	"version": func() string { return assetVersion },
	"inc":     func(i int) int { return i + 1 },
	"kind":    kindOf, // the icon of a file's name
	"base":    func(p string) string { return p[strings.LastIndexByte(p, '/')+1:] },
	"count":   words.Count, // "1 day", "7 days"
	"day":     words.Day,   // "5 January 2027"
	"ago": func(t time.Time) string { // a time, or "never" for none
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04")
	},
	"sizeField": func(n int64) string { // a size as a form field shows it: 20GB, 500MB, or bytes
		for _, u := range []struct {
			unit string
			n    int64
		}{{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}} {
			if n != 0 && n%u.n == 0 {
				return strconv.FormatInt(n/u.n, 10) + u.unit
			}
		}
		return strconv.FormatInt(n, 10)
	},
	"limit": func(n int64) string { // a quota: a size, or unlimited
		if n == 0 {
			return "unlimited"
		}
		return quota.FormatSize(n)
	},
	"percent": func(used, total int64) int64 {
		if total <= 0 {
			return 0
		}
		return min(100, used*100/total)
	},
}

// parsePages parses every page with the layout around it.
func parsePages() map[string]*template.Template {
	entries, err := fs.ReadDir(templateFiles, "templates")
	if err != nil {
		panic(err)
	}
	pages := map[string]*template.Template{}
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".html")
		if name == "layout" || name == "recipient" || name == "admin_nav" {
			continue
		}
		pages[name] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFiles,
			"templates/layout.html", "templates/recipient.html", "templates/admin_nav.html", "templates/"+e.Name()))
	}
	return pages
}

// page is what every page shows around its own part.
type page struct {
	Title    string
	User     *ferry.User
	Pending  int // sends waiting in the user's inbox: the Inbox badge
	Requests int // unread contact requests: the Contacts badge
	// UploadRequestMax is the most one upload request may carry, for
	// app.js (web.upload_request_max; 0: no limit).
	UploadRequestMax int64
	// Section is the header's link of the page's part of the app
	// ("files", "inbox", ...), marked as the current one.
	Section string
	Data    any
}

// sectionOf returns the header section a page's path belongs to.
func sectionOf(path string) string {
	for _, s := range []struct{ prefix, section string }{
		{"/files/", "files"}, {"/item/", "files"}, {"/delete/", "files"}, {"/choose/", "files"},
		{"/mkdir/", "files"}, {"/rename/", "files"}, {"/move/", "files"}, {"/copy/", "files"},
		{"/link/", "files"}, {"/upload/", "files"}, {"/sends/new", "new"},
		{"/inbox", "inbox"}, {"/outbox", "outbox"}, {"/sends/", "outbox"}, {"/send/", "files"},
		{"/contacts", "contacts"}, {"/settings", "settings"}, {"/admin", "admin"}, {"/requests", "files"},
	} {
		if strings.HasPrefix(path, s.prefix) {
			return s.section
		}
	}
	return ""
}

// render answers a page; it is rendered whole before anything is sent, so
// that a template error is a clean 500.
func (a *App) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	p := page{Title: title, Data: data, UploadRequestMax: a.cfg.UploadRequestMax, Section: sectionOf(r.URL.Path)}
	if u, ok := r.Context().Value(ctxKey{}).(*ferry.User); ok {
		p.User = u
		// The badges: counted on each page load; a failure shows none.
		if n, err := a.cfg.Messages.Waiting(r.Context(), u.ID); err == nil {
			p.Pending = n
		}
		if requests, err := a.contactRequests(r, u); err == nil {
			p.Requests = len(requests)
		}
	}
	var buf bytes.Buffer
	if err := a.pages[name].Execute(&buf, p); err != nil {
		a.cfg.Log.ErrorContext(r.Context(), "web: rendering", "page", name, "err", err)
		http.Error(w, "The page could not be rendered.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// renderError answers a page that says what went wrong.
func (a *App) renderError(w http.ResponseWriter, r *http.Request, status int, message string) {
	back := r.Referer()
	if u, err := url.Parse(back); err != nil || u.Host != r.Host {
		back = "/"
	}
	a.render(w, r, status, "error", http.StatusText(status), map[string]string{"Message": message, "Back": back})
}

// pathURL is the URL of a stored path under a route ending in "/", each
// name escaped.
func pathURL(route, p string) string {
	var names []string
	for _, name := range strings.Split(p, "/") {
		if name != "" {
			names = append(names, url.PathEscape(name))
		}
	}
	return route + strings.Join(names, "/")
}

// pager is a paged listing's place: the page shown (from 0), the last
// one, and links to the pages beside it ("" at either end).
type pager struct {
	Page, Last int
	Prev, Next string
}

// paginate returns the pager of total items, size a page, at the page the
// request's query asks for (held within the pages there are), with
// link(page) the address of a page.
func paginate(r *http.Request, total, size int, link func(page int) string) pager {
	p := pager{Last: max(0, (total-1)/size)}
	p.Page, _ = strconv.Atoi(r.URL.Query().Get("page"))
	p.Page = min(max(p.Page, 0), p.Last)
	if p.Page > 0 {
		p.Prev = link(p.Page - 1)
	}
	if p.Page < p.Last {
		p.Next = link(p.Page + 1)
	}
	return p
}

// pageLink returns link for paginate: base with ?page=N.
func pageLink(base string) func(int) string {
	return func(page int) string { return base + "?page=" + strconv.Itoa(page) }
}

// kinds are the file icons of web/static/icons.svg by name extension;
// any other file is "file".
var kinds = map[string]string{
	"txt": "text", "md": "text", "csv": "text", "log": "text", "json": "text", "xml": "text", "html": "text",
	"doc": "text", "docx": "text", "odt": "text", "rtf": "text", "xls": "text", "xlsx": "text", "ods": "text",
	"jpg": "image", "jpeg": "image", "png": "image", "gif": "image", "webp": "image", "heic": "image", "svg": "image", "tif": "image", "tiff": "image", "bmp": "image",
	"mp4": "video", "mov": "video", "mkv": "video", "webm": "video", "avi": "video", "m4v": "video",
	"mp3": "audio", "wav": "audio", "flac": "audio", "ogg": "audio", "m4a": "audio", "aac": "audio", "opus": "audio",
	"zip": "archive", "tar": "archive", "gz": "archive", "tgz": "archive", "bz2": "archive", "xz": "archive", "7z": "archive", "rar": "archive", "zst": "archive",
	"pdf": "pdf",
}

// kindOf returns the icon of a file called name.
func kindOf(name string) string {
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		if k, ok := kinds[strings.ToLower(name[i+1:])]; ok {
			return k
		}
	}
	return "file"
}
