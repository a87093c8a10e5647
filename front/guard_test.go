package front_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/front"
)

// The failed-login limit: burst failures from one address, then 429 with
// Retry-After until a token refills; a success costs nothing; an email is
// limited apart from the address.
func TestGuard_Login(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	g := front.NewGuard(2, time.Minute, nil, func() time.Time { return now })
	fail := func() (*ferry.User, error) { return nil, ferry.Errorf(ferry.EAUTHFAILED, "no") }
	ok := func() (*ferry.User, error) { return &ferry.User{ID: 1}, nil }
	try := func(email string, check func() (*ferry.User, error)) (string, string) {
		r := httptest.NewRequest(http.MethodPost, "/login", nil)
		r.RemoteAddr = "192.0.2.1:1234"
		w := httptest.NewRecorder()
		_, err := g.Login(w, r, email, check)
		return ferry.ErrorCode(err), w.Header().Get("Retry-After")
	}
	for range 5 {
		code, _ := try("a@example.com", ok)
		assert.Equal(t, "", code, "a success is never counted")
	}
	for range 2 {
		code, _ := try("a@example.com", fail)
		assert.Equal(t, ferry.EAUTHFAILED, code)
	}
	code, wait := try("b@example.com", ok)
	assert.Equal(t, ferry.ETOOMANYREQUESTS, code, "the address is out of tries, whatever the email")
	assert.Equal(t, "60", wait)
	now = now.Add(time.Minute)
	code, _ = try("b@example.com", ok)
	assert.Equal(t, "", code, "a token refilled")
}

// Behind trusted proxies, the client is the nearest address of
// X-Forwarded-For that is not one of them; elsewhere the peer itself.
func TestGuard_ClientIP(t *testing.T) {
	g := front.NewGuard(10, time.Minute, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, time.Now)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.0.0.2:5555"
	r.Header.Add("X-Forwarded-For", "203.0.113.9, 198.51.100.7, 10.0.0.3")
	assert.Equal(t, "198.51.100.7", g.ClientIP(r))
	r.RemoteAddr = "192.0.2.8:5555"
	assert.Equal(t, "192.0.2.8", g.ClientIP(r), "an untrusted peer's header is not believed")
}

// Reset requests: 3 for one email, then 429.
func TestGuard_Forgot(t *testing.T) {
	g := front.NewGuard(10, time.Minute, nil, time.Now)
	sent := 0
	send := func(string) error { sent++; return nil }
	var codes []string
	for range 4 {
		r := httptest.NewRequest(http.MethodPost, "/forgot", nil)
		codes = append(codes, ferry.ErrorCode(g.Forgot(httptest.NewRecorder(), r, " A@Example.com ", send)))
	}
	assert.Equal(t, []string{"", "", "", ferry.ETOOMANYREQUESTS}, codes)
	assert.Equal(t, 3, sent)
	assert.Equal(t, ferry.EBADREQUEST, ferry.ErrorCode(g.Forgot(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/forgot", nil), " ", send)))
}
