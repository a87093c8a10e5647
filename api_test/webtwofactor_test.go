package api_test

import (
	"bytes"
	"image/png"
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/app"
	"github.com/ferryhq/ferry/ferrytest"
	"github.com/ferryhq/ferry/front"
)

// A password reset does not get past the second factor: the API and the
// reset page ask for the code too, and the reset's link stays good until
// one is right.
func TestTwoFactor_ResetNeedsTheCode(t *testing.T) {
	peer := ferrytest.StartSMTP(t)
	ts := startServer(t, peer.Configure, longTokens)
	c := ts.newUser("dee@example.com")
	secret, recovery := ts.setUp2FA(c)
	anon := ts.client()
	forgot := func(n int) string {
		anon.postForm("/auth/password/forgot", url.Values{"email": {"dee@example.com"}}).requireStatus(http.StatusOK)
		return resetCode(t, ts.Root, peer.WaitMails(n)[n-1].Parse(t))
	}

	code := forgot(1)
	reset := url.Values{"code": {code}, "password": {"a new password"}}
	anon.postForm("/auth/password/reset", reset).requireError(401, ferry.EOTPREQUIRED)
	reset.Set("otp", "000000")
	anon.postForm("/auth/password/reset", reset).requireError(403, ferry.EAUTHFAILED)
	ts.signIn("dee@example.com", password, recovery[0]).requireStatus(http.StatusOK) // the old password still works
	reset.Set("otp", recovery[1])
	anon.postForm("/auth/password/reset", reset).requireStatus(http.StatusOK)
	ts.signIn("dee@example.com", "a new password", recovery[1]).requireError(403, ferry.EAUTHFAILED) // used by the reset

	// The page: the password, then the code as well.
	code = forgot(2)
	b := ts.browser()
	r := b.post("/reset", url.Values{"code": {code}, "password": {"a third password"}})
	assert.Equal(t, http.StatusUnauthorized, r.Status)
	assert.Contains(t, string(r.Body), "enter it with the new password")
	assert.Contains(t, string(r.Body), `name="otp"`)
	ts.Clock.Advance(time.Minute)
	r = b.post("/reset", url.Values{"code": {code}, "password": {"a third password"}, "otp": {codeAt(t, secret, ts.Clock.Now())}})
	require.Equal(t, http.StatusSeeOther, r.Status, "%s", r.Body)
	assert.Equal(t, "/files/", r.Header.Get("Location"))
}

var secretOnPage = regexp.MustCompile(`Type this key into the app: <span class="mono">([A-Z2-7 ]+)</span>`)

// The web app's pages over HTTP: set-up from Settings with a QR code ferry
// draws, a sign-in's second step with a ticket (never the password), and
// auth.require_2fa sending an account to Settings until it has set it up.
func TestTwoFactor_Pages(t *testing.T) {
	ts := startServer(t, longTokens, func(c *app.Config) { c.Auth.Require2FA = true })
	ts.addUser("eve@example.com", password)
	b := ts.browser()
	b.signIn("eve@example.com", password)
	r := b.get("/files/")
	assert.Equal(t, http.StatusSeeOther, r.Status)
	assert.Equal(t, "/settings?required=1#two-factor", r.Header.Get("Location"))
	r = b.get("/settings?required=1").requireStatus(http.StatusOK)
	assert.Contains(t, string(r.Body), "This service requires two-factor sign-in.")
	r = b.do(http.MethodGet, "/uploads/somekey", nil, "", "")
	assert.Equal(t, http.StatusForbidden, r.Status, "app.js's calls too")

	b.get("/settings/2fa/qr.png").requireStatus(http.StatusNotFound)
	r = b.post("/settings/2fa/setup", url.Values{"current_password": {"wrong"}})
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, string(r.Body), "The current password is wrong.")
	assert.Equal(t, http.StatusSeeOther, b.post("/settings/2fa/setup", url.Values{"current_password": {password}}).Status)
	page := string(b.get("/settings").requireStatus(http.StatusOK).Body)
	m := secretOnPage.FindStringSubmatch(page)
	require.NotNil(t, m, page)
	secret := regexp.MustCompile(" ").ReplaceAllString(m[1], "")
	r = b.get("/settings/2fa/qr.png").requireStatus(http.StatusOK)
	assert.Equal(t, "image/png", r.Header.Get("Content-Type"))
	assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))
	assert.Equal(t, front.InertPolicy, r.Header.Get("Content-Security-Policy"))
	img, err := png.Decode(bytes.NewReader(r.Body))
	require.NoError(t, err)
	assert.Equal(t, 240, img.Bounds().Dx())

	r = b.post("/settings/2fa/enable", url.Values{"code": {"123456"}})
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, string(r.Body), "The code is wrong")
	assert.Contains(t, string(r.Body), `src="/settings/2fa/qr.png"`, "the setup is still there")
	r = b.post("/settings/2fa/enable", url.Values{"code": {codeAt(t, secret, ts.Clock.Now())}}).requireStatus(http.StatusOK)
	assert.Contains(t, string(r.Body), "Two-factor sign-in is on.")
	assert.Len(t, regexp.MustCompile(`<li>[a-z2-7]{5}-[a-z2-7]{5}</li>`).FindAllString(string(r.Body), -1), 10)
	b.get("/files/").requireStatus(http.StatusOK)

	// Signing in again: the password page leads to the code page, whose
	// form holds a ticket and not the password.
	b2 := ts.browser()
	r = b2.post("/login", url.Values{"email": {"eve@example.com"}, "password": {password}, "next": {"/inbox"}}).requireStatus(http.StatusOK)
	assert.NotContains(t, string(r.Body), password)
	ticket := regexp.MustCompile(`name="ticket" value="([^"]+)"`).FindStringSubmatch(string(r.Body))
	require.NotNil(t, ticket)
	assert.Empty(t, r.Header.Get("Set-Cookie"), "no session before the code")
	r = b2.post("/login/code", url.Values{"ticket": {ticket[1]}, "code": {"000000"}})
	assert.Equal(t, http.StatusForbidden, r.Status)
	assert.Contains(t, string(r.Body), "That code is wrong")
	r = b2.post("/login/code", url.Values{"ticket": {"forged"}, "code": {"000000"}})
	assert.Equal(t, "/login?expired=1", r.Header.Get("Location"))
	ts.Clock.Advance(30 * time.Second)
	r = b2.post("/login/code", url.Values{"ticket": {ticket[1]}, "code": {codeAt(t, secret, ts.Clock.Now())}})
	require.Equal(t, http.StatusSeeOther, r.Status, "%s", r.Body)
	assert.Equal(t, "/inbox", r.Header.Get("Location"))
	b2.get("/inbox").requireStatus(http.StatusOK)
	r = b2.post("/login/code", url.Values{"ticket": {ticket[1]}, "code": {codeAt(t, secret, ts.Clock.Now())}})
	assert.Equal(t, "/login?expired=1", r.Header.Get("Location"), "a ticket signs in once")

	// A ticket waits five minutes for its code.
	b3 := ts.browser()
	r = b3.post("/login", url.Values{"email": {"eve@example.com"}, "password": {password}}).requireStatus(http.StatusOK)
	late := regexp.MustCompile(`name="ticket" value="([^"]+)"`).FindStringSubmatch(string(r.Body))
	ts.Clock.Advance(6 * time.Minute)
	r = b3.post("/login/code", url.Values{"ticket": {late[1]}, "code": {codeAt(t, secret, ts.Clock.Now())}})
	assert.Equal(t, "/login?expired=1", r.Header.Get("Location"))
	assert.Contains(t, string(b3.get("/login?expired=1").Body), "The code came too late")

	// Turned off from the page, with a code; require_2fa sends it back.
	ts.Clock.Advance(30 * time.Second)
	r = b.post("/settings/2fa/disable", url.Values{"current_password": {password}, "code": {codeAt(t, secret, ts.Clock.Now())}})
	assert.Equal(t, http.StatusSeeOther, r.Status)
	assert.Equal(t, http.StatusSeeOther, b.get("/files/").Status)
}
