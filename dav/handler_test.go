package dav

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/front"
	"github.com/ferryhq/ferry/mock"
)

// WebDAV's handler on a fake of the root services, in milliseconds.

func fakeDav(st *mock.Store) (*Handler, *int) {
	pages := 0
	st.CheckAppPasswordFn = func(_ context.Context, email, password string) (*ferry.User, error) {
		if email != "pat@example.com" || password != "app" {
			return nil, ferry.Errorf(ferry.EAUTHFAILED, "No.")
		}
		return &ferry.User{ID: 7, Email: email}, nil
	}
	return New(Config{
		Dav: st, Files: st, Guard: front.NewGuard(10, time.Minute, nil, time.Now), MaxRequestBody: 1 << 20,
		Page: func(w http.ResponseWriter, r *http.Request) { pages++ },
		Log:  slog.New(slog.DiscardHandler),
	}), &pages
}

func TestHandler_SignInAndMethods(t *testing.T) {
	st := &mock.Store{}
	h, pages := fakeDav(st)
	do := func(method, path string, auth bool, header ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, nil)
		if auth {
			r.SetBasicAuth("Pat@Example.com ", "app")
		}
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}

	w := do("PROPFIND", "/dav/", false)
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.Contains(t, w.Header().Get("WWW-Authenticate"), "Basic")
	do(http.MethodGet, "/dav/", false, "Accept", "text/html")
	assert.Equal(t, 1, *pages, "a browser without credentials gets the page that says what /dav/ is")

	r := httptest.NewRequest("PROPFIND", "/dav/", nil)
	r.SetBasicAuth("pat@example.com", "wrong")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	assert.Equal(t, http.StatusUnauthorized, w.Code)

	w = do(http.MethodPost, "/dav/x", true)
	assert.Equal(t, http.StatusMethodNotAllowed, w.Code, "only WebDAV's methods")
	assert.Contains(t, w.Header().Get("Allow"), "PROPFIND")
	w = do("PROPFIND", "/dav/", true, "Depth", "infinity")
	assert.Equal(t, http.StatusForbidden, w.Code, "no walk of the whole folder in one answer")
	assert.Contains(t, w.Body.String(), "propfind-finite-depth")

	var made []string
	st.LookupFn = func(_ context.Context, userID uint64, names []string) (ferry.FileInfo, error) {
		require.Equal(t, uint64(7), userID)
		if len(names) == 0 {
			return ferry.FileInfo{Dir: true}, nil
		}
		return ferry.FileInfo{}, ferry.Errorf(ferry.EFILENOTFOUND, "No.")
	}
	st.MakeFolderFn = func(_ context.Context, userID uint64, names []string, replace bool) error {
		made = append(made, names...)
		return nil
	}
	w = do("MKCOL", "/dav/new", true)
	assert.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	assert.Equal(t, []string{"new"}, made, "the email was trimmed and lower-cased to sign in")
}
