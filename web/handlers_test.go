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
		Users: st, Files: st, Dav: st, Messages: st, Social: st,
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
