package browser_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/app"
	"github.com/ferryhq/ferry/ferrytest"
)

// authenticator gives the tab a virtual passkey authenticator (a phone's
// or laptop's own: resident keys, user verification that succeeds).
func authenticator(t *testing.T, ctx context.Context) {
	t.Helper()
	_, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{})
	require.NoError(t, err)
	_, err = chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
		},
	})
	require.NoError(t, err)
}

// Passkeys in Chromium with its virtual authenticator: added and named in
// Settings, signing in with one (no password, no code, though the account
// has two-factor sign-in), removed, and then refused.
func TestBrowser_Passkeys(t *testing.T) {
	// A passkey's relying party is a domain name: ferry at localhost.
	f := startFerry(t, func(c *app.Config) { c.Listen = "localhost:0" })
	f.addUser(email, password, 0)
	recovery := enableTwoFactor(t, f)
	ctx, _ := tab(t)
	authenticator(t, ctx)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(f.Root+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("#code")),
		chromedp.SendKeys(chromedp.CSS("#code"), recovery[0]),
		chromedp.Submit(chromedp.CSS("#code")),
		chromedp.WaitVisible(chromedp.CSS("#upload-form")),
	))

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(f.Root+"/settings#passkeys"),
		chromedp.WaitVisible(chromedp.CSS("#passkey-name")),
		chromedp.SendKeys(chromedp.CSS("#passkey-name"), "This laptop"),
		chromedp.Click(chromedp.CSS(`#passkey-add button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#passkeys form[action="/settings/passkeys/remove"]`)),
	))
	assert.Contains(t, text(t, ctx, "#passkeys"), "This laptop")
	assert.Contains(t, text(t, ctx, "main"), "The passkey is added")
	screenshot(t, ctx, "settings-passkeys")

	// Signed out, the sign-in page signs in with it: no password typed,
	// and no code asked, though the account has two-factor sign-in.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)), chromedp.WaitVisible(chromedp.CSS("#passkey-signin")),
	))
	screenshot(t, ctx, "login-passkey")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#passkey-signin")),
		chromedp.WaitVisible(chromedp.CSS("#upload-form")),
		chromedp.Navigate(f.Root+"/settings#passkeys"),
		chromedp.WaitVisible(chromedp.CSS("#passkeys")),
	))
	assert.Contains(t, text(t, ctx, "#passkeys"), "last used")

	// Removed, it signs in no more (the authenticator still has it).
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#passkeys form[action="/settings/passkeys/remove"] button`)),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(., "You have no passkeys.")]`)),
	))
	assert.Contains(t, text(t, ctx, "main"), "The passkey is removed")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)), chromedp.WaitVisible(chromedp.CSS("#passkey-signin")),
		chromedp.Click(chromedp.CSS("#passkey-signin")),
	))
	poll(t, ctx, `document.getElementById("passkey-status").textContent.includes("You are not signed in")`)
	assert.Contains(t, text(t, ctx, "#passkey-status"), "This passkey is not known here: it was removed")
	screenshot(t, ctx, "login-passkey-refused")
}

// enableTwoFactor turns pat's two-factor sign-in on through the API and
// returns the recovery codes.
func enableTwoFactor(t *testing.T, f *ferry) []string {
	t.Helper()
	post := func(path, token string, form url.Values, out any) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, f.Root+"/api/1"+path, strings.NewReader(form.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("token", token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
	}
	var login struct{ Token string }
	post("/auth/token", "", url.Values{"email": {email}, "password": {password}}, &login)
	var setup struct{ Secret string }
	post("/account/2fa/setup", login.Token, url.Values{"current_password": {password}}, &setup)
	code, err := totp.GenerateCodeCustom(setup.Secret, time.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	require.NoError(t, err)
	var enabled struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	post("/account/2fa/enable", login.Token, url.Values{"code": {code}}, &enabled)
	require.Len(t, enabled.RecoveryCodes, 10)
	return enabled.RecoveryCodes
}

// A passkey signs in through any node (cluster mode): three nodes behind
// c's address, Pat's account on a. Her passkey is added through c (a
// keeps it), and the sign-in page that c serves signs her in with it: c
// verifies the passkey with a's record of it, and a records its use and
// signs her in, from a ticket her browser brings there. As an
// administrator, she sees b's account in her console.
func TestBrowser_PasskeyAcrossNodes(t *testing.T) {
	etcd := ferrytest.StartEtcd(t, 1)
	if !ferrytest.HaveSwift() {
		ferrytest.StartS3(t) // (skips, or fails when S3 is required)
	}
	s3 := ferrytest.SharedS3(t)
	_, port, err := net.SplitHostPort(ferrytest.FreeAddr(t))
	require.NoError(t, err)
	front := "localhost:" + port // (a passkey's relying party is a domain name)
	nodes := map[string]*ferry{}
	for _, id := range []string{"a", "b", "c"} {
		nodes[id] = startFerry(t, func(c *app.Config) {
			s3.UseS3(c)
			c.PublicURL = "http://" + front
			if id == "c" {
				c.Listen = front
			}
			c.Cluster.Node, c.Cluster.Addr, c.Cluster.Etcd, c.Cluster.Secret = id, "127.0.0.1:0", etcd.Endpoints(), "cluster secret"
		})
	}
	nodes["a"].addUser(email, password, 0)
	nodes["b"].addUser("bob@example.com", password, 0)
	admin, closer, err := app.OpenAdmin(nodes["a"].Cfg)
	require.NoError(t, err)
	yes := true
	_, err = admin.SetUser(app.SetUserRequest{Email: email, Admin: &yes})
	require.NoError(t, err)
	require.NoError(t, closer.Close())
	root := "http://" + front
	ctx, _ := tab(t)
	authenticator(t, ctx)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(root+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("#upload-form")),
		chromedp.Navigate(root+"/settings#passkeys"),
		chromedp.WaitVisible(chromedp.CSS("#passkey-name")),
		chromedp.SendKeys(chromedp.CSS("#passkey-name"), "This laptop"),
		chromedp.Click(chromedp.CSS(`#passkey-add button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#passkeys form[action="/settings/passkeys/remove"]`)),
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)), chromedp.WaitVisible(chromedp.CSS("#passkey-signin")),
		chromedp.Click(chromedp.CSS("#passkey-signin")),
		chromedp.WaitVisible(chromedp.CSS("#upload-form")),
		chromedp.Navigate(root+"/settings#passkeys"),
		chromedp.WaitVisible(chromedp.CSS("#passkeys")),
	))
	assert.Contains(t, text(t, ctx, "#passkeys"), "last used", "a recorded its use")
	screenshot(t, ctx, "cluster-passkey-signed-in")

	// Pat is an administrator: b's account is in her console, and its
	// page says where its events are.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(root+"/admin/people/bob@example.com"),
		chromedp.WaitVisible(chromedp.CSS("main")),
	))
	assert.Contains(t, text(t, ctx, "main"), "This account is kept by node b: its events are in that node's audit log.")
	screenshot(t, ctx, "cluster-admin-person")
}
