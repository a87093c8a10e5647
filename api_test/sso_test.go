package api_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/app"
	"github.com/ferryhq/ferry/ferrytest"
)

// ssoServer is ferry with a real OpenID provider: ferry's client
// "ferry", another application "other", and four people.
func ssoServer(t *testing.T, mutate ...func(*app.Config)) (*testServer, *ferrytest.OIDC) {
	t.Helper()
	idp := ferrytest.NewOIDC(t)
	idp.AddUser(ferrytest.OIDCUser{ID: "sam-1", Username: "sam", Password: "sam's idp password", Email: "sam@example.com", EmailVerified: true, FirstName: "Sam", LastName: "Vimes", Groups: []string{"staff", "pro"}})
	idp.AddUser(ferrytest.OIDCUser{ID: "una-2", Username: "una", Password: "una's idp password", Email: "una@example.com", EmailVerified: false, FirstName: "Una", LastName: "Verified"})
	idp.AddUser(ferrytest.OIDCUser{ID: "pat-3", Username: "pat", Password: "pat's idp password", Email: "pat@example.com", EmailVerified: true, FirstName: "Pat", LastName: "Existing"})
	idp.AddUser(ferrytest.OIDCUser{ID: "oz-4", Username: "oz", Password: "oz's idp password", Email: "oz@example.com", EmailVerified: true, FirstName: "Oz", LastName: "Other"})
	ts := startServer(t, append([]func(*app.Config){longTokens, idp.Configure("ferry", "ferry's secret"), func(c *app.Config) {
		c.Packages["pro"] = app.Package{Storage: 50_000_000_000}
	}}, mutate...)...)
	idp.Serve(
		ferrytest.OIDCClient{ID: "ferry", Secret: "ferry's secret", RedirectURI: ts.Root + "/auth/oidc/callback"},
		ferrytest.OIDCClient{ID: "other", Secret: "other's secret", RedirectURI: "http://other.example/callback"},
	)
	return ts, idp
}

// follow does one request of a browser at an absolute URL (the
// provider's), and returns where it is sent next ("" for nowhere).
func (b *browser) follow(method, target string, form url.Values) (*response, string) {
	b.t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequest(method, target, body)
	require.NoError(b.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	r := (&client{t: b.t, http: b.http}).do(req)
	loc := r.Header.Get("Location")
	if loc == "" {
		return r, ""
	}
	u, err := url.Parse(target)
	require.NoError(b.t, err)
	next, err := u.Parse(loc)
	require.NoError(b.t, err)
	return r, next.String()
}

// atProvider signs in at the provider's page from its authorization URL
// and returns where the provider sends the browser back.
func (b *browser) atProvider(authURL, username, password string) string {
	b.t.Helper()
	_, login := b.follow(http.MethodGet, authURL, nil)
	require.Contains(b.t, login, "/login/username?authRequestID=")
	u, err := url.Parse(login)
	require.NoError(b.t, err)
	_, back := b.follow(http.MethodPost, u.Scheme+"://"+u.Host+"/login/username",
		url.Values{"username": {username}, "password": {password}, "id": {u.Query().Get("authRequestID")}})
	require.NotEmpty(b.t, back, "the provider's login page refused %s", username)
	for !strings.Contains(back, "code=") && !strings.Contains(back, "error=") {
		_, back = b.follow(http.MethodGet, back, nil)
		require.NotEmpty(b.t, back)
	}
	return back
}

// startSSO asks ferry for a sign-in and returns the provider's URL.
func (b *browser) startSSO() string {
	b.t.Helper()
	r := b.get("/auth/oidc/start")
	require.Equal(b.t, http.StatusSeeOther, r.Status, "%s", r.Body)
	return r.Header.Get("Location")
}

// callback brings the provider's answer to ferry.
func (b *browser) callback(back string) *response {
	b.t.Helper()
	u, err := url.Parse(back)
	require.NoError(b.t, err)
	return b.get(u.RequestURI())
}

// ssoSignIn is a whole sign-in through the provider; it returns ferry's
// answer to the callback.
func (b *browser) ssoSignIn(username, password string) *response {
	b.t.Helper()
	return b.callback(b.atProvider(b.startSSO(), username, password))
}

func (ts *testServer) userLine(email string) (app.UserLine, bool) {
	ts.t.Helper()
	users, err := ts.admin().ListUsers()
	require.NoError(ts.t, err)
	for _, u := range users {
		if u.Email == email {
			return u, true
		}
	}
	return app.UserLine{}, false
}

// The whole flow against a real provider: a first sign-in makes an
// account bound to (iss, sub), with the package its groups claim names
// and no password; the next signs in to it; an unverified email makes
// nothing; an email that has an account is never linked at sign-in, only
// from inside that account's session, and unlinked again.
func TestSSO_SignInAndLink(t *testing.T) {
	ts, _ := ssoServer(t)
	ts.addUser("pat@example.com", password)

	page := ts.browser().get("/login").requireStatus(http.StatusOK)
	assert.Contains(t, string(page.Body), `href="/auth/oidc/start">Sign in with Example ID</a>`)

	b := ts.browser()
	r := b.ssoSignIn("sam", "sam's idp password")
	require.Equal(t, http.StatusSeeOther, r.Status, "%s", r.Body)
	assert.Equal(t, "/files/", r.Header.Get("Location"))
	b.get("/files/").requireStatus(http.StatusOK)
	sam, ok := ts.userLine("sam@example.com")
	require.True(t, ok)
	assert.Equal(t, "pro", sam.Package, "the first group that names a package")
	ts.signIn("sam@example.com", "", "").requireError(403, ferry.EAUTHFAILED) // no password
	ts.signIn("sam@example.com", "sam's idp password", "").requireError(403, ferry.EAUTHFAILED)
	settings := string(b.get("/settings").Body)
	assert.Contains(t, settings, "Linked: signing in with Example ID signs you in here.")
	r = b.post("/settings/sso/unlink", url.Values{})
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, string(r.Body), "Set a password first")

	again := ts.browser()
	require.Equal(t, http.StatusSeeOther, again.ssoSignIn("sam", "sam's idp password").Status)
	users, err := ts.admin().ListUsers()
	require.NoError(t, err)
	assert.Len(t, users, 2, "the same account again")

	// An email the provider has not verified makes no account.
	r = ts.browser().ssoSignIn("una", "una's idp password")
	assert.Equal(t, http.StatusForbidden, r.Status)
	assert.Contains(t, string(r.Body), "has not verified your email address")
	_, made := ts.userLine("una@example.com")
	assert.False(t, made)

	// pat has an account: the provider's sign-in with the same email
	// neither signs in nor links.
	r = ts.browser().ssoSignIn("pat", "pat's idp password")
	assert.Equal(t, http.StatusForbidden, r.Status)
	assert.Contains(t, string(r.Body), "exists already, and it is not linked to Example ID. Sign in with its password, then link it in Settings.")
	assert.Empty(t, r.Header.Get("Set-Cookie")[:0])

	// Linked from inside pat's session.
	pb := ts.browser()
	pb.signIn("pat@example.com", password)
	r = pb.post("/settings/sso/link", url.Values{})
	require.Equal(t, http.StatusSeeOther, r.Status, "%s", r.Body)
	r = pb.callback(pb.atProvider(r.Header.Get("Location"), "pat", "pat's idp password"))
	require.Equal(t, http.StatusSeeOther, r.Status, "%s", r.Body)
	assert.Equal(t, "/settings?saved=sso-linked#sso", r.Header.Get("Location"))
	fresh := ts.browser()
	require.Equal(t, http.StatusSeeOther, fresh.ssoSignIn("pat", "pat's idp password").Status)
	assert.Contains(t, string(fresh.get("/settings").Body), "Signed in as pat@example.com.")

	// Another account cannot take pat's identity.
	sb := ts.browser()
	require.Equal(t, http.StatusSeeOther, sb.ssoSignIn("sam", "sam's idp password").Status)
	r = sb.post("/settings/sso/link", url.Values{})
	r = sb.callback(sb.atProvider(r.Header.Get("Location"), "pat", "pat's idp password"))
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, string(r.Body), "This account is linked to another identity already")

	// Unlinked, pat's provider account makes no sign-in again.
	assert.Equal(t, http.StatusSeeOther, pb.post("/settings/sso/unlink", url.Values{}).Status)
	assert.Equal(t, http.StatusForbidden, ts.browser().ssoSignIn("pat", "pat's idp password").Status)
}

// Without auto_create, a provider account that is not linked signs in to
// nothing.
func TestSSO_NoAutoCreate(t *testing.T) {
	ts, _ := ssoServer(t, func(c *app.Config) { c.OIDC.AutoCreate = false })
	r := ts.browser().ssoSignIn("sam", "sam's idp password")
	assert.Equal(t, http.StatusForbidden, r.Status)
	assert.Contains(t, string(r.Body), "No ferry account is linked to your Example ID account.")
	_, made := ts.userLine("sam@example.com")
	assert.False(t, made)
}

// tokenFor runs the code flow as the application "other" (the test is that
// application) and returns the ID token the provider made for it.
func tokenFor(t *testing.T, idp *ferrytest.OIDC, b *browser) string {
	t.Helper()
	auth := idp.Issuer + "/auth?" + url.Values{"client_id": {"other"}, "redirect_uri": {"http://other.example/callback"},
		"response_type": {"code"}, "scope": {"openid email"}, "state": {"s"}, "nonce": {"n"}}.Encode()
	back, err := url.Parse(b.atProvider(auth, "oz", "oz's idp password"))
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, idp.Issuer+"/oauth/token", strings.NewReader(url.Values{
		"grant_type": {"authorization_code"}, "code": {back.Query().Get("code")}, "redirect_uri": {"http://other.example/callback"}}.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("other", url.QueryEscape("other's secret"))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var answer struct {
		IDToken string `json:"id_token"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&answer))
	require.NotEmpty(t, answer.IDToken)
	return answer.IDToken
}

// Every answer ferry must not believe: a state this browser did not
// start, a replayed code, another sign-in's nonce, an ID token past its
// expiry, one whose signature is broken, one made for another
// application, and the provider's refusal. None signs in.
func TestSSO_Refusals(t *testing.T) {
	ts, idp := ssoServer(t)
	refused := func(r *response, status int) {
		t.Helper()
		assert.Equal(t, status, r.Status, "%s", r.Body)
		assert.NotContains(t, r.Header.Get("Set-Cookie"), "ferry=", "no session")
	}
	// because says why ferry refused, as its log has it.
	because := func(why string) {
		t.Helper()
		assert.Eventually(t, func() bool { return strings.Contains(ts.logs.String(), why) }, 5*time.Second, 10*time.Millisecond, "the log says %q", why)
	}

	// A state that is not this browser's.
	b := ts.browser()
	back := b.atProvider(b.startSSO(), "sam", "sam's idp password")
	refused(ts.browser().callback(back), http.StatusBadRequest) // another browser brings it
	u, _ := url.Parse(back)
	q := u.Query()
	q.Set("state", "forged")
	refused(b.get("/auth/oidc/callback?"+q.Encode()), http.StatusBadRequest)

	// A code used once is not good again, even under a new state.
	b = ts.browser()
	back = b.atProvider(b.startSSO(), "sam", "sam's idp password")
	require.Equal(t, http.StatusSeeOther, b.callback(back).Status)
	refused(b.callback(back), http.StatusBadRequest) // the state is used up
	u, _ = url.Parse(b.startSSO())
	q, _ = url.ParseQuery(strings.SplitN(back, "?", 2)[1])
	q.Set("state", u.Query().Get("state"))
	refused(b.get("/auth/oidc/callback?"+q.Encode()), http.StatusForbidden)
	because("redeeming the code")

	// The provider signs a token with another nonce than this sign-in's.
	b = ts.browser()
	auth, _ := url.Parse(b.startSSO())
	aq := auth.Query()
	aq.Set("nonce", "someone else's nonce")
	auth.RawQuery = aq.Encode()
	refused(b.callback(b.atProvider(auth.String(), "sam", "sam's idp password")), http.StatusForbidden)
	because("the ID token's nonce is not this sign-in's")

	// A token with a broken signature.
	idp.Tamper(func(answer map[string]any) {
		// A character in the middle of the signature (the last one's low
		// bits are padding, which decoding ignores).
		tok := answer["id_token"].(string)
		i := strings.LastIndexByte(tok, '.') + 20
		flipped := byte('A')
		if tok[i] == 'A' {
			flipped = 'B'
		}
		answer["id_token"] = tok[:i] + string(flipped) + tok[i+1:]
	})
	refused(ts.browser().ssoSignIn("sam", "sam's idp password"), http.StatusForbidden)
	because("failed to verify signature")

	// A real token of the provider, made for another application.
	idp.Tamper(nil)
	other := tokenFor(t, idp, ts.browser())
	idp.Tamper(func(answer map[string]any) { answer["id_token"] = other })
	refused(ts.browser().ssoSignIn("sam", "sam's idp password"), http.StatusForbidden)
	because("expected audience")
	idp.Tamper(nil)

	// The provider's refusal, under this browser's own state.
	b = ts.browser()
	auth, _ = url.Parse(b.startSSO())
	refused(b.get("/auth/oidc/callback?"+url.Values{"state": {auth.Query().Get("state")}, "error": {"access_denied"}}.Encode()), http.StatusForbidden)

	// Past the token's expiry (an hour) by ferry's clock.
	ts.Clock.Advance(time.Since(ts.Clock.Now()) + 2*time.Hour)
	refused(ts.browser().ssoSignIn("sam", "sam's idp password"), http.StatusForbidden)
	because("token is expired")
	_, made := ts.userLine("sam@example.com")
	assert.True(t, made, "the good sign-in above made the account")
}
