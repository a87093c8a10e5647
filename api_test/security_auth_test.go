package api_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/app"
)

// In invite mode a forged code says nothing of which emails have accounts,
// and refused signups are limited like failed logins.
func TestSecurity_SignupTellsNothingWithoutACode(t *testing.T) {
	ts := startServer(t, func(c *app.Config) {
		c.Auth.Signup = "invite"
		c.Auth.LoginFailureBurst = 3
	})
	ts.addUser("known@example.com", "known password")
	c := ts.client()
	register := func(email string) *response {
		return c.postForm("/auth/register", url.Values{"email": {email}, "password": {"a good password"}, "invite": {"forged"}})
	}
	register("known@example.com").requireError(http.StatusForbidden, ferry.ENOPERMISSION)
	register("unknown@example.com").requireError(http.StatusForbidden, ferry.ENOPERMISSION)
	register("other@example.com").requireError(http.StatusForbidden, ferry.ENOPERMISSION)
	r := register("known@example.com")
	r.requireError(http.StatusTooManyRequests, ferry.ETOOMANYREQUESTS)
	assert.NotEmpty(t, r.Header.Get("Retry-After"))
}

// A password change and a disable end every credential: the tokens and
// the WebDAV app password.
func TestSecurity_PasswordChangeEndsTheAppPassword(t *testing.T) {
	ts := startServer(t)
	alice := ts.login(ts.addUser("alice@example.com", "alice password"), "alice password")
	d := ts.dav(alice)
	d.do("PROPFIND", "/", nil, "Depth", "0").requireStatus(http.StatusMultiStatus)
	alice.postForm("/settings/update", url.Values{"current_password": {"alice password"}, "new_password": {"a new password"}}).requireStatus(http.StatusOK)
	d.do("PROPFIND", "/", nil, "Depth", "0").requireError(http.StatusUnauthorized, ferry.ENOPERMISSION)

	d = ts.dav(alice) // the new app password, from the token that made the change
	d.do("PROPFIND", "/", nil, "Depth", "0").requireStatus(http.StatusMultiStatus)
	yes, no := true, false
	_, err := ts.admin().SetUser(app.SetUserRequest{Email: "alice@example.com", Disabled: &yes})
	require.NoError(t, err)
	_, err = ts.admin().SetUser(app.SetUserRequest{Email: "alice@example.com", Disabled: &no})
	require.NoError(t, err)
	d.do("PROPFIND", "/", nil, "Depth", "0").requireError(http.StatusUnauthorized, ferry.ENOPERMISSION)
	alice.get("/settings/list", nil).requireError(http.StatusUnauthorized, ferry.ENOPERMISSION)
}

// A login takes as long for an unknown email as for a known one, whatever
// the password (an empty or over-long one skipped the hash for a known
// email: 0.6 ms against 30).
func TestSecurity_LoginTimingTellsNothing(t *testing.T) {
	ts := startServer(t, func(c *app.Config) { c.Auth.LoginFailureBurst = 1000 })
	ts.addUser("known@example.com", "known password")
	c := ts.client()
	login := func(email, password string) time.Duration {
		start := time.Now()
		c.postForm("/auth/token", url.Values{"email": {email}, "password": {password}}).requireError(http.StatusForbidden, ferry.EAUTHFAILED)
		return time.Since(start)
	}
	median := func(ds []time.Duration) time.Duration {
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	long := strings.Repeat("x", 2000)
	for _, password := range []string{"", long, "wrong password"} {
		// Alternating, so that a busy moment of the machine (the other
		// suites run beside this one) falls on both sides alike.
		var knowns, unknowns []time.Duration
		for range 7 {
			knowns = append(knowns, login("known@example.com", password))
			unknowns = append(unknowns, login("unknown@example.com", password))
		}
		known, unknown := median(knowns), median(unknowns)
		ratio := float64(known) / float64(unknown)
		assert.True(t, ratio > 0.25 && ratio < 4, "password of %d bytes: known %v, unknown %v", len(password), known, unknown)
	}
}

// A disabled owner's download links stop working.
func TestSecurity_DisabledOwnersLinksStop(t *testing.T) {
	ts := startServer(t)
	alice := ts.login(ts.addUser("alice@example.com", "alice password"), "alice password")
	alice.mustPut("a.txt", []byte("hello"))
	var link struct{ URL string }
	alice.postForm("/files/link", url.Values{"path": {"a.txt"}}).requireStatus(http.StatusOK).decode(&link)
	require.Equal(t, http.StatusOK, getURL(t, link.URL).Status)
	yes := true
	_, err := ts.admin().SetUser(app.SetUserRequest{Email: "alice@example.com", Disabled: &yes})
	require.NoError(t, err)
	require.Equal(t, http.StatusGone, getURL(t, link.URL).Status)
}
