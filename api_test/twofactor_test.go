package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/app"
)

// codeAt is the TOTP code of secret at t, as an authenticator app makes it.
func codeAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	require.NoError(t, err)
	return code
}

// setUp2FA turns two-factor sign-in on for c and returns its secret and
// recovery codes.
func (ts *testServer) setUp2FA(c *client) (string, []string) {
	ts.t.Helper()
	var setup struct {
		Secret     string
		OtpauthURL string `json:"otpauth_url"`
	}
	c.postForm("/account/2fa/setup", url.Values{"current_password": {password}}).requireStatus(http.StatusOK).decode(&setup)
	var enabled struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	c.postForm("/account/2fa/enable", url.Values{"code": {codeAt(ts.t.(*testing.T), setup.Secret, ts.Clock.Now())}}).
		requireStatus(http.StatusOK).decode(&enabled)
	return setup.Secret, enabled.RecoveryCodes
}

func (ts *testServer) signIn(email, pw, code string) *response {
	v := url.Values{"email": {email}, "password": {pw}}
	if code != "" {
		v.Set("otp", code)
	}
	return ts.client().postForm("/auth/token", v)
}

func twoFactorOn(c *client) bool {
	var s struct {
		TwoFactor bool `json:"two_factor"`
	}
	c.get("/settings/list", nil).requireStatus(http.StatusOK).decode(&s)
	return s.TwoFactor
}

// Two-factor sign-in through the API: set-up, enable with a code, sign-in
// with the code of this step or the last (each step's once), recovery
// codes once each, renew, disable; the other sessions end at each change,
// personal tokens and the WebDAV app password stay.
func TestTwoFactor_Journey(t *testing.T) {
	ts := startServer(t, longTokens)
	c := ts.newUser("ana@example.com")
	other := ts.login("ana@example.com", password)
	_, script := ts.newToken(c, "script", 0)
	d := ts.dav(c)
	assert.False(t, twoFactorOn(c))

	c.postForm("/account/2fa/enable", url.Values{"code": {"123456"}}).requireError(400, ferry.EBADREQUEST)
	c.postForm("/account/2fa/setup", url.Values{"current_password": {"wrong password"}}).requireError(400, ferry.EWRONGPASSWORD)
	var setup struct {
		Secret     string
		OtpauthURL string `json:"otpauth_url"`
	}
	c.postForm("/account/2fa/setup", url.Values{"current_password": {password}}).requireStatus(http.StatusOK).decode(&setup)
	assert.Regexp(t, `^[A-Z2-7]{16,}$`, setup.Secret)
	key, err := otp.NewKeyFromURL(setup.OtpauthURL)
	require.NoError(t, err)
	assert.Equal(t, setup.Secret, key.Secret())
	assert.Equal(t, "ana@example.com", key.AccountName())
	assert.False(t, twoFactorOn(c), "nothing changes until enable")
	ts.signIn("ana@example.com", password, "").requireStatus(http.StatusOK)

	now := ts.Clock.Now()
	c.postForm("/account/2fa/enable", url.Values{"code": {codeAt(t, setup.Secret, now.Add(-time.Minute))}}).requireError(400, ferry.EINVALIDOTP)
	c.postForm("/account/2fa/enable", url.Values{"code": {"abcdef"}}).requireError(400, ferry.EINVALIDOTP)
	var enabled struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	c.postForm("/account/2fa/enable", url.Values{"code": {codeAt(t, setup.Secret, now)}}).requireStatus(http.StatusOK).decode(&enabled)
	require.Len(t, enabled.RecoveryCodes, 10)
	seen := map[string]bool{}
	for _, rc := range enabled.RecoveryCodes {
		assert.Regexp(t, `^[a-z2-7]{5}-[a-z2-7]{5}$`, rc)
		seen[rc] = true
	}
	assert.Len(t, seen, 10, "ten different codes")
	assert.True(t, twoFactorOn(c))
	other.get("/settings/list", nil).requireError(401, ferry.ENOPERMISSION) // the other session ended
	script.get("/settings/list", nil).requireStatus(http.StatusOK)          // a personal token stays
	d.do("PROPFIND", "/", nil, "Depth", "0").requireStatus(207)             // and so does WebDAV's app password

	// Sign-in: the password alone is not enough; the step enable used is
	// used up; the code of the step before now works, then the current one,
	// each once.
	ts.signIn("ana@example.com", password, "").requireError(401, ferry.EOTPREQUIRED)
	ts.signIn("ana@example.com", "wrong password", "").requireError(403, ferry.EAUTHFAILED)
	ts.signIn("ana@example.com", password, codeAt(t, setup.Secret, now)).requireError(403, ferry.EAUTHFAILED)
	ts.Clock.Advance(time.Minute)
	now = ts.Clock.Now()
	ts.signIn("ana@example.com", password, codeAt(t, setup.Secret, now.Add(-30*time.Second))).requireStatus(http.StatusOK)
	ts.signIn("ana@example.com", password, codeAt(t, setup.Secret, now.Add(-30*time.Second))).requireError(403, ferry.EAUTHFAILED)
	ts.signIn("ana@example.com", password, codeAt(t, setup.Secret, now)).requireStatus(http.StatusOK)
	ts.signIn("ana@example.com", password, codeAt(t, setup.Secret, now)).requireError(403, ferry.EAUTHFAILED)
	ts.signIn("ana@example.com", password, codeAt(t, setup.Secret, now.Add(-2*time.Minute))).requireError(403, ferry.EAUTHFAILED)

	// A recovery code works once, with dashes or without, in capitals too.
	rc := enabled.RecoveryCodes[0]
	ts.signIn("ana@example.com", password, strings.ToUpper(strings.ReplaceAll(rc, "-", ""))).requireStatus(http.StatusOK)
	ts.signIn("ana@example.com", password, rc).requireError(403, ferry.EAUTHFAILED)

	// Renewing takes a TOTP code only, and ends the old codes.
	ts.Clock.Advance(30 * time.Second)
	now = ts.Clock.Now()
	c.postForm("/account/2fa/recovery", url.Values{"current_password": {password}, "code": {enabled.RecoveryCodes[1]}}).requireError(400, ferry.EINVALIDOTP)
	c.postForm("/account/2fa/recovery", url.Values{"current_password": {"wrong password"}, "code": {codeAt(t, setup.Secret, now)}}).requireError(400, ferry.EWRONGPASSWORD)
	var renewed struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	c.postForm("/account/2fa/recovery", url.Values{"current_password": {password}, "code": {codeAt(t, setup.Secret, now)}}).requireStatus(http.StatusOK).decode(&renewed)
	require.Len(t, renewed.RecoveryCodes, 10)
	ts.signIn("ana@example.com", password, enabled.RecoveryCodes[2]).requireError(403, ferry.EAUTHFAILED)
	c.postForm("/account/2fa/setup", url.Values{"current_password": {password}}).requireError(400, ferry.EBADREQUEST)

	// Disabling takes a recovery code too; then the password alone signs in.
	c.postForm("/account/2fa/disable", url.Values{"current_password": {password}, "code": {"000000"}}).requireError(400, ferry.EINVALIDOTP)
	c.postForm("/account/2fa/disable", url.Values{"current_password": {password}, "code": {renewed.RecoveryCodes[0]}}).requireStatus(http.StatusOK)
	assert.False(t, twoFactorOn(c))
	ts.signIn("ana@example.com", password, "").requireStatus(http.StatusOK)
	c.postForm("/account/2fa/disable", url.Values{"current_password": {password}, "code": {renewed.RecoveryCodes[1]}}).requireError(400, ferry.EBADREQUEST)
	script.get("/settings/list", nil).requireStatus(http.StatusOK)
}

// A wrong code counts as a failed login: past the limit even the right
// code waits; a right password with no code does not count.
func TestTwoFactor_WrongCodesAreFailedLogins(t *testing.T) {
	ts := startServer(t, longTokens, func(c *app.Config) { c.Auth.LoginFailureBurst = 3 })
	c := ts.newUser("ben@example.com")
	secret, _ := ts.setUp2FA(c)
	for range 5 {
		ts.signIn("ben@example.com", password, "").requireError(401, ferry.EOTPREQUIRED)
	}
	for range 3 {
		ts.signIn("ben@example.com", password, "000000").requireError(403, ferry.EAUTHFAILED)
	}
	ts.Clock.Advance(30 * time.Second)
	r := ts.signIn("ben@example.com", password, codeAt(t, secret, ts.Clock.Now()))
	r.requireError(429, ferry.ETOOMANYREQUESTS)
	assert.NotEmpty(t, r.Header.Get("Retry-After"))
}

// auth.require_2fa: an account without two-factor sign-in gets a token but
// may only set it up; its personal tokens and WebDAV are refused too. The
// admin's reset turns it off for a person who lost their device.
func TestTwoFactor_Required(t *testing.T) {
	ts := startServer(t, longTokens, func(c *app.Config) { c.Auth.Require2FA = true })
	c := ts.newUser("cal@example.com")
	c.get("/ops/list", url.Values{"path": {"/"}}).requireError(403, ferry.ETWOFACTORREQUIRED)
	c.postForm("/account/tokens", url.Values{"name": {"x"}}).requireError(403, ferry.ETWOFACTORREQUIRED)
	c.get("/slice", nil).requireError(403, ferry.ETWOFACTORREQUIRED)
	assert.False(t, twoFactorOn(c), "settings/list answers")

	secret, _ := ts.setUp2FA(c)
	c.get("/ops/list", url.Values{"path": {"/"}}).requireStatus(http.StatusOK)
	d := ts.dav(c)
	d.do("PROPFIND", "/", nil, "Depth", "0").requireStatus(207)

	line, err := ts.admin().SetUser(app.SetUserRequest{Email: "cal@example.com", ResetTwoFactor: true})
	require.NoError(t, err)
	assert.False(t, line.TwoFactor)
	c.get("/ops/list", url.Values{"path": {"/"}}).requireError(403, ferry.ETWOFACTORREQUIRED)
	d.do("PROPFIND", "/", nil, "Depth", "0").requireError(403, ferry.ETWOFACTORREQUIRED)
	ts.signIn("cal@example.com", password, "").requireStatus(http.StatusOK)
	ts.signIn("cal@example.com", password, codeAt(t, secret, ts.Clock.Now())).requireStatus(http.StatusOK) // an otp without 2FA is ignored
}
