package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/front"
	"github.com/ferryhq/ferry/mailtext"
	"github.com/ferryhq/ferry/mock"
)

// The web app's handlers on a fake of the root services, in milliseconds.

func fakeApp(st *mock.Store, signup string) *App {
	return New(Config{
		PublicURL: "http://ferry.test", Signup: signup, MaxRequestBody: 1 << 20,
		LinkMaxExpiry: 30 * 24 * time.Hour, SendExpireAfter: 30 * 24 * time.Hour,
		Users: st, Files: st, Uploads: st, Dav: st, Messages: st, Social: st,
		Mail:  mailtext.Texts{PublicURL: "http://ferry.test", Signup: signup},
		Guard: front.NewGuard(10, time.Minute, nil, time.Now),
		Log:   slog.New(slog.DiscardHandler), Now: time.Now,
	})
}

func visit(a *App, method, target string, form url.Values, cookie string) *httptest.ResponseRecorder {
	var r *http.Request
	if form != nil {
		r = httptest.NewRequest(method, target, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Sec-Fetch-Site", "same-origin")
	} else {
		r = httptest.NewRequest(method, target, nil)
	}
	r.Header.Set("Accept", "text/html")
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: "ferry", Value: cookie})
	}
	w := httptest.NewRecorder()
	a.ServeHTTP(w, r)
	return w
}

func TestHandlers_SignupPageShowsTheInvitation(t *testing.T) {
	st := &mock.Store{}
	until := time.Date(2027, 1, 5, 12, 0, 0, 0, time.UTC)
	st.InvitationFn = func(_ context.Context, code string) (ferry.Invitation, error) {
		if code != "good" {
			return ferry.Invitation{}, ferry.Errorf(ferry.ENOPERMISSION, "The invitation code is wrong, used or expired.")
		}
		return ferry.Invitation{Email: "dan@example.com", InviterName: "Alice Liddell", InviterEmail: "alice@example.com", Items: 2, Size: 5200, Until: until}, nil
	}
	a := fakeApp(st, "open")

	w := visit(a, http.MethodGet, "/signup?invite=good", nil, "")
	require.Equal(t, http.StatusOK, w.Code)
	body := w.Body.String()
	assert.Contains(t, body, "Alice Liddell sent you 2 items, 5.2 KB")
	assert.Contains(t, body, "until 5 January 2027")
	assert.Contains(t, body, `value="dan@example.com"`)
	assert.Contains(t, body, `<input type="hidden" name="invite" value="good">`)

	body = visit(a, http.MethodGet, "/signup?invite=used", nil, "").Body.String()
	assert.Contains(t, body, "This invitation link has been used or has expired")
	assert.NotContains(t, body, `name="invite"`, "open signup goes on without the dead code")
}

func TestHandlers_NewFolderNamesAreChecked(t *testing.T) {
	st := &mock.Store{}
	st.AuthenticateFn = func(_ context.Context, token string) (*ferry.User, error) {
		return &ferry.User{ID: 7, Email: "pat@example.com"}, nil
	}
	st.WaitingFn = func(context.Context, uint64) (int, error) { return 0, nil }
	st.NotificationsFn = func(context.Context, uint64) ([]ferry.Notification, error) { return nil, nil }
	var made [][]string
	st.MkdirFn = func(_ context.Context, _ uint64, names []string) error {
		made = append(made, names)
		return nil
	}
	a := fakeApp(st, "closed")

	w := visit(a, http.MethodPost, "/mkdir/docs", url.Values{"name": {"   "}}, "session")
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.Contains(t, w.Body.String(), "A name cannot be empty or only spaces.")
	assert.Contains(t, w.Body.String(), `<a href="/files/" aria-current="page">Files</a>`, "the page that refuses stays in Files")
	w = visit(a, http.MethodPost, "/mkdir/docs", url.Values{"name": {"  Holiday photos "}}, "session")
	assert.Equal(t, http.StatusSeeOther, w.Code)
	assert.Equal(t, [][]string{{"docs", "Holiday photos"}}, made, "typed spaces dropped; nothing made for the blank name")
}

// signedIn makes "c" the cookie of pat, user 7.
func signedIn(st *mock.Store) {
	st.AuthenticateFn = func(_ context.Context, token string) (*ferry.User, error) {
		if token != "c" {
			return nil, ferry.Errorf(ferry.ENOPERMISSION, "Not signed in.")
		}
		return &ferry.User{ID: 7, Email: "pat@example.com"}, nil
	}
}

// app.js's upload calls are the API's answers under the session cookie:
// JSON, inert, the 409 with received, and 401 without a session.
func TestHandlers_UploadCallsUnderTheSession(t *testing.T) {
	st := &mock.Store{}
	signedIn(st)
	st.CreateUploadFn = func(_ context.Context, userID uint64, names []string, size int64, resolve bool) (string, string, error) {
		assert.Equal(t, uint64(7), userID)
		assert.Equal(t, []string{"docs", "a.txt"}, names)
		assert.Equal(t, int64(10), size)
		assert.True(t, resolve)
		return "k1", "docs/a (1).txt", nil
	}
	st.WriteChunkFn = func(_ context.Context, c ferry.Chunk) (int64, error) {
		if c.Start != 4 {
			return 0, &ferry.OffsetError{Received: 4}
		}
		return 10, nil
	}
	a := fakeApp(st, "open")
	call := func(method, target, body string, cookie bool, header ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		if cookie {
			r.AddCookie(&http.Cookie{Name: "ferry", Value: "c"})
		}
		w := httptest.NewRecorder()
		a.ServeHTTP(w, r)
		return w
	}

	w := call("POST", "/uploads/start", "path=/docs/a.txt&size=10&resolve=1", true)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.JSONEq(t, `{"upload_key":"k1","file":"docs/a (1).txt"}`, w.Body.String())
	assert.Equal(t, front.InertPolicy, w.Header().Get("Content-Security-Policy"), "JSON is not a page")

	w = call("POST", "/uploads/start", "path=/docs/a.txt&size=ten", true)
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.Contains(t, w.Body.String(), "size must be the file's size in bytes.")

	w = call("PUT", "/uploads/k1", "xyz", true, "Content-Range", "bytes 0-2/10")
	assert.Equal(t, http.StatusConflict, w.Code)
	assert.JSONEq(t, `{"error":"UPLOAD_OFFSET_MISMATCH","message":"A chunk must start at byte 4.","received":4}`, w.Body.String())

	w = call("POST", "/uploads/start", "path=/docs/a.txt&size=10", false)
	assert.Equal(t, http.StatusUnauthorized, w.Code, "no session: the API's answer, not a redirect")
}

// A browser that opens a download link gets its page; a right password
// posted from it gets the file, inert and counted.
func TestHandlers_DownloadLinkPageAndPassword(t *testing.T) {
	st := &mock.Store{}
	info := ferry.FileInfo{Name: "report.pdf", Path: "report.pdf", Size: 5, SHA256: strings.Repeat("ab", 32)}
	st.OpenLinkFn = func(_ context.Context, token, password string) (ferry.OpenedLink, error) {
		if token != "tok" {
			return ferry.OpenedLink{}, ferry.Errorf(ferry.ELINKNOTFOUND, "No such link.")
		}
		if password != "pw" {
			return ferry.OpenedLink{}, ferry.Errorf(ferry.EAUTHFAILED, "This link needs its password.")
		}
		return ferry.OpenedLink{File: info, Expires: time.Now().Add(time.Hour)}, nil
	}
	counted := 0
	st.CountDownloadFn = func(context.Context, string) error { counted++; return nil }
	st.OpenBlobFn = func(context.Context, string, int64) (ferry.Blob, error) {
		return nopBlob{strings.NewReader("hello")}, nil
	}
	a := fakeApp(st, "open")

	w := visit(a, http.MethodGet, "/d/tok", nil, "")
	assert.Equal(t, http.StatusForbidden, w.Code)
	assert.Contains(t, w.Body.String(), `name="password"`)

	w = visit(a, http.MethodPost, "/d/tok", url.Values{"password": {"wrong"}}, "")
	assert.Equal(t, http.StatusForbidden, w.Code)
	assert.Equal(t, 0, counted)

	w = visit(a, http.MethodPost, "/d/tok", url.Values{"password": {"pw"}}, "")
	require.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "hello", w.Body.String())
	assert.Equal(t, 1, counted)
	assert.Equal(t, front.InertPolicy, w.Header().Get("Content-Security-Policy"), "the file is never a page")
	assert.Contains(t, w.Header().Get("Content-Disposition"), "attachment")

	w = visit(a, http.MethodGet, "/d/gone", nil, "")
	assert.Equal(t, http.StatusNotFound, w.Code)
	assert.Contains(t, w.Body.String(), "This link does not exist")
}

type nopBlob struct{ *strings.Reader }

func (nopBlob) Close() error { return nil }

// The settings page makes a personal token and shows it once, lists the
// tokens and revokes one.
func TestHandlers_PersonalTokensOnSettings(t *testing.T) {
	st := &mock.Store{}
	signedIn(st)
	st.AppPasswordFn = func(context.Context, uint64) (string, error) { return "app-pw", nil }
	st.QuotaFn = func(context.Context, uint64) (ferry.Quota, error) { return ferry.Quota{}, nil }
	st.WaitingFn = func(context.Context, uint64) (int, error) { return 0, nil }
	st.NotificationsFn = func(context.Context, uint64) ([]ferry.Notification, error) { return nil, nil }
	st.TwoFactorSetupFn = func(context.Context, uint64) (string, error) { return "", nil }
	st.PasskeysFn = func(context.Context, uint64) ([]ferry.Passkey, error) { return nil, nil }
	made := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	tokens := []ferry.PersonalToken{{ID: 3, Name: "backup script", Created: made}}
	st.PersonalTokensFn = func(context.Context, uint64) ([]ferry.PersonalToken, error) { return tokens, nil }
	st.CreatePersonalTokenFn = func(_ context.Context, userID uint64, name string, life time.Duration) (uint64, string, error) {
		assert.Equal(t, uint64(7), userID)
		if name == "" {
			return 0, "", ferry.Errorf(ferry.EBADREQUEST, "A token needs a name of 1 to 100 characters.")
		}
		assert.Equal(t, 90*24*time.Hour, life)
		return 4, "fpat_secret", nil
	}
	var revoked []uint64
	st.RevokePersonalTokenFn = func(_ context.Context, _ uint64, id uint64) error {
		if id != 3 {
			return ferry.Errorf(ferry.ENOTFOUND, "You have no token %d.", id)
		}
		revoked = append(revoked, id)
		return nil
	}
	a := fakeApp(st, "open")

	w := visit(a, http.MethodGet, "/settings", nil, "c")
	require.Equal(t, http.StatusOK, w.Code)
	assert.Contains(t, w.Body.String(), "backup script")
	assert.Contains(t, w.Body.String(), "Made 2026-12-01 09:30 · never ends · not used yet")
	assert.NotContains(t, w.Body.String(), "fpat_")

	w = visit(a, http.MethodPost, "/settings/tokens", url.Values{"name": {"deploy"}, "days": {"90"}}, "c")
	require.Equal(t, http.StatusOK, w.Code)
	assert.Contains(t, w.Body.String(), `value="fpat_secret"`)
	assert.Contains(t, w.Body.String(), "it will not be shown again")

	w = visit(a, http.MethodPost, "/settings/tokens", url.Values{"name": {""}, "days": {"90"}}, "c")
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.Contains(t, w.Body.String(), "A token needs a name of 1 to 100 characters.")

	w = visit(a, http.MethodPost, "/settings/tokens/3/revoke", url.Values{}, "c")
	assert.Equal(t, http.StatusSeeOther, w.Code)
	assert.Equal(t, "/settings?saved=token#tokens", w.Header().Get("Location"))
	assert.Equal(t, []uint64{3}, revoked)
	w = visit(a, http.MethodPost, "/settings/tokens/9/revoke", url.Values{}, "c")
	assert.Equal(t, http.StatusNotFound, w.Code)
	assert.Contains(t, w.Body.String(), "That token does not exist any more.")
}
