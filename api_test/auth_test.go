package api_test

import (
	"bytes"
	"context"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/app"
)

const password = "correct horse"

func TestAuth_LoginEveryWay(t *testing.T) {
	ts := startServer(t)
	email := ts.addUser("Alice@Example.com", password)
	c := ts.client()
	tokens := map[string]bool{}
	check := func(r *response) {
		t.Helper()
		r.requireStatus(http.StatusOK)
		var out struct{ Token string }
		r.decode(&out)
		assert.Len(t, out.Token, 43, "32 bytes in base64url")
		assert.False(t, tokens[out.Token], "every login gets a new token")
		tokens[out.Token] = true
	}
	// GET with the query string, as in the seed.
	check(c.get("/auth/token", url.Values{"email": {email}, "password": {password}}))
	// POST urlencoded, with the email in another case and spaces around it.
	check(c.postForm("/auth/token", url.Values{"email": {"  ALICE@example.COM "}, "password": {password}}))
	// POST JSON.
	check(c.postJSON("/auth/token", map[string]string{"email": email, "password": password}))
	// POST multipart.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	require.NoError(t, mw.WriteField("email", email))
	require.NoError(t, mw.WriteField("password", password))
	require.NoError(t, mw.Close())
	check(c.request(http.MethodPost, "/auth/token", &body, mw.FormDataContentType()))
	// Every token works.
	for tok := range tokens {
		c.token = tok
		c.get("/settings/list", nil).requireStatus(http.StatusOK)
	}
}

func TestAuth_Errors(t *testing.T) {
	ts := startServer(t)
	email := ts.addUser("bob@example.com", password)
	c := ts.client()
	c.get("/auth/token", url.Values{"email": {email}, "password": {"wrong password"}}).requireError(403, ferry.EAUTHFAILED)
	c.get("/auth/token", url.Values{"email": {"nobody@example.com"}, "password": {password}}).requireError(403, ferry.EAUTHFAILED)
	c.get("/auth/token", url.Values{"email": {email}}).requireError(403, ferry.EAUTHFAILED)
	c.get("/auth/token", nil).requireError(403, ferry.EAUTHFAILED)

	disabled := true
	_, err := ts.admin().SetUser(app.SetUserRequest{Email: email, Disabled: &disabled})
	require.NoError(t, err)
	c.get("/auth/token", url.Values{"email": {email}, "password": {password}}).requireError(403, ferry.EACCOUNTDISABLED)
	c.get("/auth/token", url.Values{"email": {email}, "password": {"wrong password"}}).requireError(403, ferry.EAUTHFAILED)
}

func TestAuth_TokenHeaders(t *testing.T) {
	ts := startServer(t)
	c := ts.login(ts.addUser("carol@example.com", password), password)
	token := c.token
	anon := ts.client()

	anon.get("/settings/list", nil).requireError(401, ferry.ENOPERMISSION)
	for _, h := range [][2]string{
		{"token", token},
		{"Authorization", "Bearer " + token},
		{"Authorization", "bearer " + token},
	} {
		req, err := http.NewRequest(http.MethodGet, ts.URL+"/settings/list", nil)
		require.NoError(t, err)
		req.Header.Set(h[0], h[1])
		anon.do(req).requireStatus(http.StatusOK)
	}
	for _, h := range [][2]string{
		{"token", token + "x"},
		{"token", "not-a-token"},
		{"Authorization", "Basic " + token},
		{"Authorization", "Bearer"},
	} {
		req, err := http.NewRequest(http.MethodGet, ts.URL+"/settings/list", nil)
		require.NoError(t, err)
		req.Header.Set(h[0], h[1])
		anon.do(req).requireError(401, ferry.ENOPERMISSION)
	}
}

func TestAuth_TokenExpiresWhenIdle(t *testing.T) {
	ts := startServer(t, func(c *app.Config) { c.Auth.TokenIdleTimeout = app.Duration(15 * time.Minute) })
	email := ts.addUser("dave@example.com", password)
	c := ts.login(email, password)

	// Used every 10 minutes, it lives far past 15 minutes.
	for range 6 {
		ts.Clock.Advance(10 * time.Minute)
		c.get("/settings/list", nil).requireStatus(http.StatusOK)
	}
	// Used a moment ago, so 15 minutes less a second from now it still works,
	// even though the last use was too recent to be written to disk.
	ts.Clock.Advance(5 * time.Second)
	c.get("/settings/list", nil).requireStatus(http.StatusOK)
	ts.Clock.Advance(15*time.Minute - time.Second)
	c.get("/settings/list", nil).requireStatus(http.StatusOK)
	// 15 minutes and a second without use: gone, also for logout.
	ts.Clock.Advance(15*time.Minute + time.Second)
	c.get("/settings/list", nil).requireError(401, ferry.ENOPERMISSION)
	c.request(http.MethodDelete, "/auth/token", nil, "").requireError(401, ferry.ENOPERMISSION)
	// Logging in again works.
	ts.login(email, password).get("/settings/list", nil).requireStatus(http.StatusOK)
}

func TestAuth_Logout(t *testing.T) {
	ts := startServer(t)
	email := ts.addUser("erin@example.com", password)
	a := ts.login(email, password)
	b := ts.login(email, password)
	r := a.request(http.MethodDelete, "/auth/token", nil, "")
	r.requireStatus(http.StatusOK)
	assert.JSONEq(t, `{}`, string(r.Body))
	a.get("/settings/list", nil).requireError(401, ferry.ENOPERMISSION)
	a.request(http.MethodDelete, "/auth/token", nil, "").requireError(401, ferry.ENOPERMISSION)
	b.get("/settings/list", nil).requireStatus(http.StatusOK) // the other session stays
}

func TestAuth_DisabledAccountLosesItsTokens(t *testing.T) {
	ts := startServer(t)
	email := ts.addUser("frank@example.com", password)
	c := ts.login(email, password)
	yes, no := true, false
	_, err := ts.admin().SetUser(app.SetUserRequest{Email: email, Disabled: &yes})
	require.NoError(t, err)
	c.get("/settings/list", nil).requireError(401, ferry.ENOPERMISSION)
	ts.client().postForm("/auth/token", url.Values{"email": {email}, "password": {password}}).requireError(403, ferry.EACCOUNTDISABLED)
	// Disabling ended the tokens for good: enabled again, the account
	// needs a new login.
	_, err = ts.admin().SetUser(app.SetUserRequest{Email: email, Disabled: &no})
	require.NoError(t, err)
	c.get("/settings/list", nil).requireError(401, ferry.ENOPERMISSION)
	ts.login(email, password).get("/settings/list", nil).requireStatus(http.StatusOK)
}

// fromAddr returns a client whose connections come from the loopback
// address ip (any of 127.0.0.0/8 is this machine).
func (ts *testServer) fromAddr(ip string) *client {
	c := ts.client()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c.http = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
	}}
	return c
}

func TestAuth_RepeatedFailuresGet429(t *testing.T) {
	ts := startServer(t, func(c *app.Config) {
		c.Auth.LoginFailureBurst = 3
		c.Auth.LoginFailureRefill = app.Duration(time.Minute)
	})
	email := ts.addUser("grace@example.com", password)
	attacker := ts.fromAddr("127.0.0.1")
	owner := ts.fromAddr("127.0.0.2")
	wrong := url.Values{"email": {email}, "password": {"guess guess"}}
	right := url.Values{"email": {email}, "password": {password}}

	for range 3 {
		attacker.postForm("/auth/token", wrong).requireError(403, ferry.EAUTHFAILED)
	}
	r := attacker.postForm("/auth/token", wrong)
	r.requireError(429, ferry.ETOOMANYREQUESTS)
	retry, err := strconv.Atoi(r.Header.Get("Retry-After"))
	require.NoError(t, err, "Retry-After is whole seconds")
	assert.True(t, retry > 0 && retry <= 60, "Retry-After %d", retry)
	// Once limited, even the right password is refused from that address...
	attacker.postForm("/auth/token", right).requireError(429, ferry.ETOOMANYREQUESTS)
	// ...but the owner, elsewhere, gets in: the email's own budget is larger.
	owner.postForm("/auth/token", right).requireStatus(http.StatusOK)
	// Other accounts from the limited address are limited too (per address).
	ts.addUser("heidi@example.com", password)
	attacker.postForm("/auth/token", url.Values{"email": {"heidi@example.com"}, "password": {password}}).
		requireError(429, ferry.ETOOMANYREQUESTS)

	// After Retry-After, one more attempt is allowed.
	ts.Clock.Advance(time.Duration(retry) * time.Second)
	attacker.postForm("/auth/token", right).requireStatus(http.StatusOK)
}

func TestAuth_ManyAddressesLockAnEmailOnlyForAWhile(t *testing.T) {
	ts := startServer(t, func(c *app.Config) {
		c.Auth.LoginFailureBurst = 2
		c.Auth.LoginFailureRefill = app.Duration(time.Minute)
	})
	email := ts.addUser("ivan@example.com", password)
	wrong := url.Values{"email": {email}, "password": {"guess guess"}}
	// The email allows 2*2 failures; spread over addresses, none of which
	// reaches its own limit.
	for i := range 4 {
		ts.fromAddr("127.0.1."+strconv.Itoa(i+1)).postForm("/auth/token", wrong).requireError(403, ferry.EAUTHFAILED)
	}
	owner := ts.fromAddr("127.0.2.1")
	r := owner.postForm("/auth/token", url.Values{"email": {email}, "password": {password}})
	r.requireError(429, ferry.ETOOMANYREQUESTS)
	// The email refills at one attempt per half minute.
	assert.Equal(t, "30", r.Header.Get("Retry-After"))
	ts.Clock.Advance(30 * time.Second)
	owner.postForm("/auth/token", url.Values{"email": {email}, "password": {password}}).requireStatus(http.StatusOK)
}

func TestAuth_Register(t *testing.T) {
	t.Parallel() // slow: beside the others
	t.Run("closed", func(t *testing.T) {
		ts := startServer(t)
		ts.client().postForm("/auth/register", url.Values{
			"email": {"new@example.com"}, "password": {password}, "fullname": {"New"},
		}).requireError(403, ferry.ENOPERMISSION) // docs/api.md's auth table: 403 for register
	})
	t.Run("invite without a valid code", func(t *testing.T) {
		ts := startServer(t, func(c *app.Config) { c.Auth.Signup = "invite" })
		ts.client().postForm("/auth/register", url.Values{
			"email": {"new@example.com"}, "password": {password}, "invite": {"forged-code"},
		}).requireError(403, ferry.ENOPERMISSION)
	})
	t.Run("open", func(t *testing.T) {
		ts := startServer(t, func(c *app.Config) { c.Auth.Signup = "open" })
		c := ts.client()
		r := c.postForm("/auth/register", url.Values{
			"email": {" New@Example.com"}, "password": {password}, "fullname": {"  Nova Newman "},
		})
		r.requireStatus(http.StatusOK)
		var out struct{ Token string }
		r.decode(&out)
		c.token = out.Token
		var s map[string]any
		c.get("/settings/list", nil).requireStatus(http.StatusOK).decode(&s)
		assert.Equal(t, "new@example.com", s["email"])
		assert.Equal(t, "Nova Newman", s["fullname"])
		assert.Equal(t, "free", s["package"])
		// The new account can log in.
		ts.login("new@example.com", password)

		anon := ts.client()
		for _, tc := range []struct {
			form url.Values
			code string
		}{
			{url.Values{"email": {"NEW@example.com"}, "password": {password}}, ferry.EEMAILEXISTS},
			{url.Values{"email": {"not an email"}, "password": {password}}, ferry.EINVALIDEMAIL},
			{url.Values{"email": {"Eve <eve@example.com>"}, "password": {password}}, ferry.EINVALIDEMAIL},
			{url.Values{"email": {""}, "password": {password}}, ferry.EINVALIDEMAIL},
			{url.Values{"email": {"x@example.com\r\nBcc: y@example.com"}, "password": {password}}, ferry.EINVALIDEMAIL},
			{url.Values{"email": {"short@example.com"}, "password": {"1234567"}}, ferry.EINVALIDPASSWORD},
			{url.Values{"email": {"long@example.com"}, "password": {strings.Repeat("x", 1025)}}, ferry.EINVALIDPASSWORD},
			{url.Values{"email": {"ctl@example.com"}, "password": {password}, "fullname": {"Mallory\r\nBcc: x@y"}}, ferry.EBADREQUEST},
		} {
			r := anon.postForm("/auth/register", tc.form)
			r.requireError(400, tc.code)
		}
		// Nothing of the refused ones was stored.
		anon.get("/auth/token", url.Values{"email": {"short@example.com"}, "password": {"1234567"}}).requireError(403, ferry.EAUTHFAILED)
		anon.get("/auth/token", url.Values{"email": {"ctl@example.com"}, "password": {password}}).requireError(403, ferry.EAUTHFAILED)
	})
}

func TestAuth_LogNeverShowsSecrets(t *testing.T) {
	ts := startServer(t)
	email := ts.addUser("judy@example.com", password)
	c := ts.client()
	r := c.get("/auth/token", url.Values{"email": {email}, "password": {"secret-in-query"}})
	r.requireStatus(403)
	logged := ts.login(email, password)
	logged.get("/settings/list", nil).requireStatus(http.StatusOK)
	logs := ts.logs.String()
	assert.NotContains(t, logs, "secret-in-query")
	assert.NotContains(t, logs, password)
	assert.NotContains(t, logs, logged.token)
	assert.Contains(t, logs, "route=/api/1/settings/list status=200")
	assert.Regexp(t, `msg=request method=GET route=/api/1/settings/list status=200 bytes=\d+ duration=\S+ user=1 remote=127.0.0.1`, logs)
}

// Behind a trusted proxy the failed-login limit counts the address in
// X-Forwarded-For, nearest first, so clients behind the proxy do not share
// one budget and a client cannot escape by writing its own header; from
// any other peer the header is ignored.
func TestAuth_TrustedProxyForwardedFor(t *testing.T) {
	ts := startServer(t, func(c *app.Config) {
		c.Auth.LoginFailureBurst = 2
		c.Auth.LoginFailureRefill = app.Duration(time.Minute)
		c.TrustedProxies = []string{"127.0.0.1"}
	})
	for _, e := range []string{"u1@example.com", "u2@example.com", "u3@example.com", "u4@example.com"} {
		ts.addUser(e, password)
	}
	login := func(c *client, forwardedFor, email string) *response {
		form := url.Values{"email": {email}, "password": {"guess guess"}}
		req, err := http.NewRequest(http.MethodPost, c.base+"/auth/token", strings.NewReader(form.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if forwardedFor != "" {
			req.Header.Set("X-Forwarded-For", forwardedFor)
		}
		return c.do(req)
	}
	proxy := ts.fromAddr("127.0.0.1")
	for range 2 {
		login(proxy, "203.0.113.7", "u1@example.com").requireError(403, ferry.EAUTHFAILED)
	}
	login(proxy, "203.0.113.7", "u2@example.com").requireError(429, ferry.ETOOMANYREQUESTS)
	// Another client behind the same proxy has its own budget...
	login(proxy, "203.0.113.8", "u2@example.com").requireError(403, ferry.EAUTHFAILED)
	// ...and what a client writes left of the proxy's entry counts for nothing.
	login(proxy, "198.51.100.1, 203.0.113.7", "u3@example.com").requireError(429, ferry.ETOOMANYREQUESTS)
	assert.Contains(t, ts.logs.String(), "remote=203.0.113.7")

	// From a peer that is not a trusted proxy the header is ignored.
	direct := ts.fromAddr("127.0.0.2")
	login(direct, "198.51.100.2", "u4@example.com").requireError(403, ferry.EAUTHFAILED)
	login(direct, "198.51.100.3", "u4@example.com").requireError(403, ferry.EAUTHFAILED)
	login(direct, "198.51.100.4", "u3@example.com").requireError(429, ferry.ETOOMANYREQUESTS)
}
