package browser_test

import (
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/app"
	"github.com/ferryhq/ferry/ferrytest"
)

// Single sign-on in Chromium against a real OpenID provider: the sign-in
// page's button, the provider's own login page, and back into ferry with
// a new account; then Settings says it is linked.
func TestBrowser_SingleSignOn(t *testing.T) {
	idp := ferrytest.NewOIDC(t)
	idp.AddUser(ferrytest.OIDCUser{ID: "sam-1", Username: "sam", Password: "sam's idp password", Email: "sam@example.com", EmailVerified: true, FirstName: "Sam", LastName: "Vimes"})
	f := startFerry(t, idp.Configure("ferry", "ferry's secret"), func(c *app.Config) { c.OIDC.Name = "Example ID" })
	idp.Serve(ferrytest.OIDCClient{ID: "ferry", Secret: "ferry's secret", RedirectURI: f.Root + "/auth/oidc/callback"})

	ctx, _ := tab(t)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(f.Root+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/auth/oidc/start"]`)),
	))
	screenshot(t, ctx, "login-sso")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a[href="/auth/oidc/start"]`)),
		chromedp.WaitVisible(chromedp.CSS("#username")), // the provider's page
		chromedp.SendKeys(chromedp.CSS("#username"), "sam"),
		chromedp.SendKeys(chromedp.CSS("#password"), "sam's idp password"),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("#upload-form")), // ferry's folder
		chromedp.Navigate(f.Root+"/settings#sso"),
		chromedp.WaitVisible(chromedp.CSS("#sso")),
	))
	assert.Contains(t, text(t, ctx, "#sso"), "Linked: signing in with Example ID signs you in here.")
	assert.Contains(t, text(t, ctx, "#profile"), "Signed in as sam@example.com.")
	assert.Contains(t, text(t, ctx, "#password"), "has no password", "an account made through the provider")
	screenshot(t, ctx, "settings-sso")
}
