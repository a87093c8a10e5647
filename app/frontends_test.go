package app

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Which front end each request goes to, by its path (and, for a download
// link, whether a browser asks for its page).
func TestFrontEnds_EachPathGoesToItsFrontEnd(t *testing.T) {
	named := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(name)) })
	}
	f := frontEnds{api: named("api"), dav: named("dav"), pages: named("web")}
	for _, c := range []struct {
		method, target, accept, want string
	}{
		{"GET", "/api/1/ops/list", "", "api"},
		{"GET", "/api/1/nothing", "text/html", "api"},
		{"GET", "/healthz", "", "api"},
		{"GET", "/metrics", "", "api"},
		{"GET", "/photos/abc", "text/html", "api"},
		{"GET", "/d/tok", "", "api"},
		{"GET", "/d/tok?download=1", "text/html", "api"},
		{"GET", "/d/tok", "text/html,*/*;q=0.8", "web"},
		{"POST", "/d/tok", "text/html", "web"},
		{"PROPFIND", "/dav/", "", "dav"},
		{"GET", "/dav/a/b.txt", "text/html", "dav"},
		{"GET", "/davish", "text/html", "web"},
		{"PUT", "/uploads/key", "", "web"},
		{"GET", "/files/", "text/html", "web"},
		{"GET", "/", "", "web"},
	} {
		r := httptest.NewRequest(c.method, c.target, nil)
		if c.accept != "" {
			r.Header.Set("Accept", c.accept)
		}
		w := httptest.NewRecorder()
		f.ServeHTTP(w, r)
		assert.Equal(t, c.want, w.Body.String(), "%s %s (Accept %q)", c.method, c.target, c.accept)
	}

	// Without a web app, every path is the API's (its JSON 404s).
	w := httptest.NewRecorder()
	frontEnds{api: named("api"), dav: named("dav")}.ServeHTTP(w, httptest.NewRequest("GET", "/files/", nil))
	assert.Equal(t, "api", w.Body.String())
}

func TestFrontEnds_UncleanPathsAreSentToTheirCleanForm(t *testing.T) {
	f := frontEnds{api: http.NotFoundHandler(), dav: http.NotFoundHandler(), pages: http.NotFoundHandler()}
	for target, want := range map[string]string{
		"/dav":               "/dav/",
		"/dav/a/../b":        "/dav/b",
		"//api/1/ops/list":   "/api/1/ops/list",
		"/files/./x/?page=2": "/files/x/?page=2",
	} {
		w := httptest.NewRecorder()
		f.ServeHTTP(w, httptest.NewRequest("GET", target, nil))
		assert.Equal(t, http.StatusMovedPermanently, w.Code, target)
		assert.Equal(t, want, w.Header().Get("Location"), target)
	}
}
