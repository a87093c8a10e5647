package app

import (
	"net/http"
	"path"
	"strings"

	"github.com/ferryhq/ferry/dav"
	"github.com/ferryhq/ferry/front"
)

// frontEnds is ferry's one handler: the API, WebDAV and the web app side
// by side, each on the root services and none calling another. Which one
// a request is for is told by its path alone, but for a download link,
// which a browser gets as the web app's page (docs/architecture.md).
type frontEnds struct {
	api   http.Handler
	dav   http.Handler
	pages http.Handler // nil: no web app
}

// apiPaths are the paths of the API's routes, besides /api/1/.
var apiPaths = []string{"/api/1/", "/d/", "/photos/", "/healthz", "/metrics"}

func (f frontEnds) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	// A path of dot-segments or doubled slashes is sent to its clean form
	// first, for every front end.
	if clean := cleanPath(p); clean != p {
		u := *r.URL
		u.Path = clean
		w.Header().Set("Location", u.String())
		w.WriteHeader(http.StatusMovedPermanently)
		return
	}
	switch {
	case p == dav.Prefix:
		front.SetRoute(r, dav.Prefix)
		http.Redirect(w, r, dav.Prefix+"/", http.StatusMovedPermanently)
	case strings.HasPrefix(p, dav.Prefix+"/"):
		f.dav.ServeHTTP(w, r)
	case f.pages != nil && strings.HasPrefix(p, "/d/") && front.WantsPage(r):
		f.pages.ServeHTTP(w, r)
	case f.pages == nil || isAPIPath(p):
		f.api.ServeHTTP(w, r)
	default:
		f.pages.ServeHTTP(w, r)
	}
}

func isAPIPath(p string) bool {
	for _, prefix := range apiPaths {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

// cleanPath is p without dot-segments and doubled slashes, keeping a
// trailing slash.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	clean := path.Clean(p)
	if p[len(p)-1] == '/' && clean != "/" {
		clean += "/"
	}
	return clean
}
