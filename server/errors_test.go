package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/front"
)

// brokenUsers fails every call with an internal error, as a store whose disk
// has gone away would. Only the account calls are used here.
type brokenUsers struct{ Store }

var errDisk = errors.New("read /var/lib/ferry/ferry.db: input/output error")

func (brokenUsers) CreateUser(context.Context, ferry.NewUser) (*ferry.User, error) {
	return nil, errDisk
}
func (brokenUsers) CheckPassword(context.Context, string, string) (*ferry.User, error) {
	return nil, errDisk
}
func (brokenUsers) CreateToken(context.Context, uint64) (string, error)       { return "", errDisk }
func (brokenUsers) Authenticate(context.Context, string) (*ferry.User, error) { return nil, errDisk }
func (brokenUsers) RevokeToken(context.Context, string) error                 { return errDisk }
func (brokenUsers) Ping(context.Context) error                                { return errDisk }

func TestInternalErrorsAreLoggedNotShown(t *testing.T) {
	var logs bytes.Buffer
	guard := front.NewGuard(5, time.Minute, nil, time.Now)
	log := slog.New(slog.NewTextHandler(&logs, nil))
	// Under the request middleware, which names each request's route.
	s := front.Requests{Log: log, Guard: guard}.Handler(New(Config{
		Signup:         "open",
		MaxRequestBody: 1 << 20,
		Guard:          guard,
	}, brokenUsers{}, log, time.Now))

	for _, r := range []*http.Request{
		httptest.NewRequest(http.MethodGet, "/api/1/auth/token?email=a@b.c&password=12345678", nil),
		httptest.NewRequest(http.MethodGet, "/api/1/settings/list", nil),
		func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/api/1/auth/register",
				strings.NewReader(url.Values{"email": {"a@b.c"}, "password": {"12345678"}}.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}(),
	} {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		assert.Equal(t, http.StatusInternalServerError, w.Code, r.URL.Path)
		assert.JSONEq(t, `{"error":"ERR_UNKNOWN","message":"Internal error."}`, w.Body.String(), r.URL.Path)
		assert.NotContains(t, w.Body.String(), "input/output")
	}
	assert.Contains(t, logs.String(), "input/output error", "the cause is logged")
	assert.Contains(t, logs.String(), "route=/api/1/settings/list")

	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
}
