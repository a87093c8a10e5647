package browser_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/app"
	"github.com/ferryhq/ferry/ferrytest"
)

// A file request from both sides, in Chromium, with a real clamd: Alice
// makes one with a password from her folder; Olga, in a browser of her
// own and without an account, gives the password, her name and email,
// chooses files and a folder (and the EICAR test file, which the scanner
// refuses), watches them upload, and gets a receipt with each SHA-256.
// Alice's mail leads to her inbox, where the delivery waits; she accepts
// it into the request's folder. Withdrawn, the request's page says so.
func TestBrowser_FileRequestVisit(t *testing.T) {
	t.Parallel()
	clamd := ferrytest.StartClamd(t, 10<<20)
	peer := ferrytest.StartSMTP(t)
	f := startFerry(t, peer.Configure, func(c *app.Config) { c.Scan.Clamd = "unix:" + clamd.Socket })
	f.addUser("alice@example.com", "alice password", 0)
	alice, _ := tab(t)
	signInAs(t, alice, f, "alice@example.com", "alice password", false)
	require.NoError(t, chromedp.Do(alice,
		chromedp.Click(chromedp.Search(`//a[normalize-space()="Request files into this folder"]`)),
		chromedp.WaitVisible(chromedp.CSS("#new-request")),
		chromedp.SendKeys(chromedp.CSS("#title"), "Tax papers"),
		chromedp.SendKeys(chromedp.CSS("#message"), "Your receipts for 2026, please.\nScans are fine."),
		chromedp.SendKeys(chromedp.CSS("#max-files"), "10"),
		chromedp.SendKeys(chromedp.CSS("#request-password"), "open sesame"),
		chromedp.Submit(chromedp.CSS("#title")),
		chromedp.WaitVisible(chromedp.CSS("#request-url")),
	))
	link, err := chromedp.Run(alice, chromedp.Value(chromedp.CSS("#request-url")))
	require.NoError(t, err)

	// Olga: the password page, then the request.
	olga, _ := tab(t)
	require.NoError(t, chromedp.Do(olga, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("#password"))))
	screenshot(t, olga, "request-password")
	require.NoError(t, chromedp.Do(olga, chromedp.SendKeys(chromedp.CSS("#password"), "wrong"), chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(., "not the request's password")]`)),
		chromedp.SendKeys(chromedp.CSS("#password"), "open sesame"), chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("#deliver"))))
	page := text(t, olga, "main")
	assert.Contains(t, page, "User alice@example.com asks you for files.")
	assert.Contains(t, page, "Your receipts for 2026, please.")
	assert.Contains(t, page, "You may send up to 10 files.")
	assert.Empty(t, unlabelled(t, olga), "the request's page")

	src := t.TempDir()
	a, b := writeFile(t, src, "receipt.pdf", 300_000), writeFile(t, src, "notes.txt", 1200)
	c := writeFile(t, src, "scans/page 1.png", 5000)
	eicar := filepath.Join(src, "eicar.com")
	require.NoError(t, os.WriteFile(eicar, []byte(ferrytest.EICAR), 0o644))
	require.NoError(t, chromedp.Do(olga,
		chromedp.SendKeys(chromedp.CSS("#sender-name"), "Olga Outsider"),
		chromedp.SendKeys(chromedp.CSS("#sender-email"), "olga@example.org"),
		chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{a, b, eicar}),
		chromedp.SetUploadFiles(chromedp.CSS("#folder-input"), []string{filepath.Join(src, "scans")}),
	))
	poll(t, olga, `document.querySelectorAll("#uploads li").length === 4`)
	screenshot(t, olga, "request")
	require.NoError(t, chromedp.Do(olga, chromedp.Click(chromedp.CSS("#deliver-button")), chromedp.WaitVisible(chromedp.CSS("#receipt"))))
	refused, err := chromedp.Run(olga, chromedp.Evaluate[string](`document.querySelector("#uploads li.failed").textContent`))
	require.NoError(t, err)
	assert.Contains(t, refused, "The virus scanner found Eicar-Test-Signature")
	receipt := text(t, olga, "#receipt")
	assert.Contains(t, receipt, "3 files, 306.2 KB went to User alice@example.com")
	assert.Contains(t, receipt, "1 file was not sent:\n\neicar.com: The virus scanner found Eicar-Test-Signature")
	for _, p := range []string{a, b, c} {
		assert.Contains(t, receipt, sha(t, p), "the receipt has each file's SHA-256")
	}
	assert.Contains(t, receipt, "scans/page 1.png")
	screenshot(t, olga, "request-receipt")
	cookies, err := chromedp.Run(olga, chromedp.Evaluate[string](`document.cookie`))
	require.NoError(t, err)
	assert.Empty(t, cookies, "the request's page sets no cookie")

	// Alice's mail leads to her inbox; she accepts.
	mail := mailTo(t, peer, "alice@example.com", "Olga Outsider (olga@example.org) uploaded 3 files")
	require.Equal(t, []string{f.Root + "/inbox"}, mail.Links())
	require.NoError(t, chromedp.Do(alice, chromedp.Navigate(mail.Links()[0]), chromedp.WaitVisible(chromedp.CSS("table.inbox"))))
	inbox := text(t, alice, "table.inbox")
	assert.Contains(t, inbox, "Olga Outsider")
	assert.Contains(t, inbox, "from your file request")
	require.NoError(t, chromedp.Do(alice, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2))))
	assert.Contains(t, text(t, alice, "table.inbox"), "olga@example.org", "an outsider's email shows on a phone too")
	require.NoError(t, chromedp.Do(alice, chromedp.EmulateViewport(1280, 800)))
	assert.Contains(t, inbox, "Requests/Tax papers/Olga Outsider")
	screenshot(t, alice, "inbox-request")
	require.NoError(t, chromedp.Do(alice, chromedp.Click(chromedp.CSS(`form[action="/inbox"] button[value="1"]`)), chromedp.WaitVisible(chromedp.CSS("table.decided")),
		chromedp.Navigate(f.Root+"/files/Requests/Tax%20papers/Olga%20Outsider"), chromedp.WaitVisible(chromedp.CSS("#listing"))))
	listing := text(t, alice, "#listing")
	for _, name := range []string{"receipt.pdf", "notes.txt", "scans"} {
		assert.Contains(t, listing, name)
	}
	assert.NotContains(t, listing, "eicar")

	// Withdrawn, the page says so.
	require.NoError(t, chromedp.Do(alice, chromedp.Navigate(f.Root+"/requests"), chromedp.WaitVisible(chromedp.CSS("table.requests"))))
	assert.Contains(t, text(t, alice, "table.requests"), "1") // one upload
	require.NoError(t, chromedp.Do(alice, chromedp.Click(chromedp.Search(`//button[normalize-space()="Withdraw"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(., "The request is withdrawn")]`))))
	require.NoError(t, chromedp.Do(olga, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.Search(`//h1[contains(., "closed")]`))))
	assert.True(t, strings.Contains(text(t, olga, "main"), "expired or was withdrawn"))
	screenshot(t, olga, "request-closed")
}
