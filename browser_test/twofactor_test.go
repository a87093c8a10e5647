package browser_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Two-factor sign-in in the browser: set up from Settings with the QR
// code ferry draws (and the key to type, which the test reads as a person
// would), turned on with the app's code, recovery codes shown once; then
// signing in asks for the code, refuses a wrong one, and takes a recovery
// code.
func TestBrowser_TwoFactor(t *testing.T) {
	f, ctx := signedIn(t)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(f.Root+"/settings#two-factor"),
		chromedp.SendKeys(chromedp.CSS("#setup-password"), password),
		chromedp.Submit(chromedp.CSS("#setup-password")),
		chromedp.WaitVisible(chromedp.CSS("img.qr")),
	))
	poll(t, ctx, `document.querySelector("img.qr").complete && document.querySelector("img.qr").naturalWidth === 240`)
	screenshot(t, ctx, "settings-2fa-setup")

	key := strings.ReplaceAll(text(t, ctx, "#two-factor p.muted .mono"), " ", "")
	require.Len(t, key, 32)
	code, err := totp.GenerateCodeCustom(key, time.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#enable-code"), code),
		chromedp.Submit(chromedp.CSS("#enable-code")),
		chromedp.WaitVisible(chromedp.CSS("ul.codes")),
	))
	codes, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("ul.codes li")).map(li => li.textContent)`))
	require.NoError(t, err)
	require.Len(t, codes, 10)
	assert.Contains(t, text(t, ctx, "#two-factor"), "They will not be shown again")
	screenshot(t, ctx, "settings-2fa-codes")

	// Sign out and in again: the password, then the code.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)), chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("#code")),
	))
	screenshot(t, ctx, "login-code")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#code"), "000000"),
		chromedp.Submit(chromedp.CSS("#code")),
		chromedp.WaitVisible(chromedp.CSS(`p.error`)),
	))
	assert.Contains(t, text(t, ctx, "p.error"), "That code is wrong, or it was used already.")
	screenshot(t, ctx, "login-code-wrong")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#code"), codes[0]),
		chromedp.Submit(chromedp.CSS("#code")),
		chromedp.WaitVisible(chromedp.CSS("#upload-form")),
	))
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(f.Root+"/settings#two-factor"), chromedp.WaitVisible(chromedp.CSS("#renew-password"))))
	screenshot(t, ctx, "settings-2fa-on")
}
