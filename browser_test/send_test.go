package browser_test

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Alice sends a folder and a file to Bob from her folder; Bob, in a
// browser of his own, sees the badge, accepts the folder (the same
// SHA-256 in his folder), declines the file, is refused an accept past
// his receive quota with nothing changed, and accepts all; Alice's
// outbox shows what became of each.
func TestBrowser_SendAndInbox(t *testing.T) {
	t.Parallel()
	f := startFerry(t)
	f.addUser("alice@example.com", "alice password", 0)
	f.addUser("bob@example.com", "bob password", 0)
	alice, _ := tab(t)
	signInAs(t, alice, f, "alice@example.com", "alice password", false)
	src := t.TempDir()
	photo := writeFile(t, src, "trip/photo.jpg", 5000)
	notes := writeFile(t, src, "trip/notes.txt", 300)
	memo := writeFile(t, src, "memo.txt", 100)
	require.NoError(t, chromedp.Do(alice, chromedp.SetUploadFiles(chromedp.CSS("#folder-input"), []string{filepath.Join(src, "trip")})))
	waitDone(t, alice, 2)
	require.NoError(t, chromedp.Do(alice, chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{memo})))
	waitDone(t, alice, 3)
	poll(t, alice, `document.querySelector("#listing").textContent.includes("memo.txt")`)

	// A photo, previewed before it is uploaded; Bob will see it.
	portrait := filepath.Join(src, "me.png")
	writePNG(t, portrait)
	require.NoError(t, chromedp.Do(alice, chromedp.Navigate(f.Root+"/settings"), chromedp.WaitVisible(chromedp.CSS("#photo")),
		chromedp.SetUploadFiles(chromedp.CSS("#photo"), []string{portrait})))
	poll(t, alice, `document.getElementById("photo-preview").src.startsWith("blob:") && document.getElementById("photo-preview").complete && document.getElementById("photo-preview").naturalWidth === 64`)
	require.NoError(t, chromedp.Do(alice, chromedp.Submit(chromedp.CSS("#photo")), chromedp.WaitVisible(chromedp.CSS(`#profile img[src^="/photos/"]`))))
	screenshot(t, alice, "settings-profile")

	// Alice adds Bob as a contact; he will get a request.
	require.NoError(t, chromedp.Do(alice, chromedp.Navigate(f.Root+"/contacts"), chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), "bob@example.com"), chromedp.Submit(chromedp.CSS("#email")),
		chromedp.WaitVisible(chromedp.CSS("table.contacts"))))
	assert.Contains(t, text(t, alice, "table.contacts"), "bob@example.com")

	// Tick the folder and the file, Send.
	require.NoError(t, chromedp.Do(alice,
		chromedp.Navigate(f.Root+"/files/"), chromedp.WaitVisible(chromedp.CSS("#send-form")),
		chromedp.Click(chromedp.CSS(`input[name=item][value="trip"]`)),
		chromedp.Click(chromedp.CSS(`input[name=item][value="memo.txt"]`)),
		chromedp.Submit(chromedp.CSS("#send-form")),
		chromedp.WaitVisible(chromedp.CSS("#to")),
	))
	assert.Contains(t, text(t, alice, "main"), "2 items, 5.4 KB")
	suggested, err := chromedp.Run(alice, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#contacts option")).map(o => o.value)`))
	require.NoError(t, err)
	assert.Equal(t, []string{"bob@example.com"}, suggested, "contacts are suggested")
	require.NoError(t, chromedp.Do(alice, chromedp.SendKeys(chromedp.CSS("#to"), "nobody@example.com"), chromedp.Submit(chromedp.CSS("#to")), chromedp.WaitVisible(chromedp.CSS(".error"))))
	assert.NotEmpty(t, text(t, alice, ".error"), "an unknown receiver is said in the page")
	screenshot(t, alice, "send")
	// Typing part of a contact's name or email shows them, with their
	// photo; choosing one fills the field in.
	_, err = chromedp.Run(alice, chromedp.Evaluate[bool](`document.getElementById("to").value = "", true`))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(alice, chromedp.SendKeys(chromedp.CSS("#to"), "bo"),
		chromedp.WaitVisible(chromedp.CSS(`#suggest button[data-email="bob@example.com"]`))))
	assert.Contains(t, text(t, alice, "#suggest"), "User bob@example.com")
	screenshot(t, alice, "send-suggest")
	require.NoError(t, chromedp.Do(alice, chromedp.Click(chromedp.CSS(`#suggest button[data-email="bob@example.com"]`))))
	to, err := chromedp.Run(alice, chromedp.Evaluate[string](`document.getElementById("to").value`))
	require.NoError(t, err)
	assert.Equal(t, "bob@example.com", to)
	require.NoError(t, chromedp.Do(alice, chromedp.Submit(chromedp.CSS("#to")), chromedp.WaitVisible(chromedp.CSS("table.outbox"))))
	assert.Contains(t, text(t, alice, "main"), "Sent to bob@example.com: 2 items are in their inbox, to accept or decline.")

	// Bob: the badge, the inbox.
	bob, _ := tab(t)
	signInAs(t, bob, f, "bob@example.com", "bob password", false)
	assert.Equal(t, "2", text(t, bob, `header a[href="/inbox"] .badge`))
	assert.Equal(t, "1", text(t, bob, `header a[href="/contacts"] .badge`))
	require.NoError(t, chromedp.Do(bob, chromedp.Click(chromedp.CSS(`a[href="/contacts"]`)), chromedp.WaitVisible(chromedp.CSS("#requests"))))
	screenshot(t, bob, "contacts")
	require.NoError(t, chromedp.Do(bob, chromedp.Click(chromedp.CSS(`button[aria-label="Add alice@example.com back"]`)), chromedp.WaitVisible(chromedp.CSS("table.contacts"))))
	assert.Contains(t, text(t, bob, "table.contacts"), "alice@example.com")
	gone, err := chromedp.Run(bob, chromedp.Evaluate[bool](`document.querySelector("#requests") === null && document.querySelector('header a[href="/contacts"] .badge') === null`))
	require.NoError(t, err)
	assert.True(t, gone, "the request is answered")
	require.NoError(t, chromedp.Do(bob, chromedp.Click(chromedp.CSS(`a[href="/inbox"]`)), chromedp.WaitVisible(chromedp.CSS("table.inbox"))))
	inbox := text(t, bob, "table.inbox")
	assert.Contains(t, inbox, "User alice@example.com")
	assert.Contains(t, inbox, "trip")
	assert.Contains(t, inbox, "memo.txt")
	poll(t, bob, `Array.from(document.querySelectorAll("table.inbox img.sender")).every(img => img.complete && img.naturalWidth === 64)`)
	// The folder's row opens to show what it holds.
	require.NoError(t, chromedp.Do(bob, chromedp.Click(chromedp.CSS("details.contents summary"))))
	poll(t, bob, `document.querySelector("details.contents").open`)
	assert.Contains(t, text(t, bob, "details.contents ul"), "photo.jpg")
	screenshot(t, bob, "inbox")

	// Past the receive quota an accept is refused, in the page; nothing changes.
	f.setReceive("bob@example.com", 1000)
	require.NoError(t, chromedp.Do(bob, chromedp.Click(chromedp.CSS(`button[aria-label="Accept trip"]`)), chromedp.WaitVisible(chromedp.CSS(".error"))))
	assert.Contains(t, text(t, bob, ".error"), "receive")
	assert.Contains(t, text(t, bob, "table.inbox"), "trip", "still pending")
	f.setReceive("bob@example.com", 0) // no limit

	// Each click is a form post: wait for its page, not for an element the
	// page before it had too.
	require.NoError(t, chromedp.Do(bob, chromedp.Navigate(f.Root+"/inbox"), chromedp.WaitVisible(chromedp.CSS("table.inbox"))))
	_, err = chromedp.RunResponse(bob, chromedp.Click(chromedp.CSS(`button[aria-label="Accept trip"]`)))
	require.NoError(t, err)
	_, err = chromedp.RunResponse(bob, chromedp.Click(chromedp.CSS(`button[aria-label="Decline memo.txt"]`)))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(bob, chromedp.WaitVisible(chromedp.CSS("main p.card"))))
	assert.Contains(t, text(t, bob, "main"), "Nothing is waiting")
	// Under Decided, the accepted folder links to where it landed.
	assert.Contains(t, text(t, bob, "table.decided"), "declined")
	screenshot(t, bob, "inbox-decided")
	require.NoError(t, chromedp.Do(bob, chromedp.Click(chromedp.CSS(`table.decided a[href="/files/trip"]`)), chromedp.WaitVisible(chromedp.CSS("#listing table"))))
	assert.Contains(t, text(t, bob, "#listing"), "photo.jpg")

	// Another send, taken with Accept all.
	require.NoError(t, chromedp.Do(alice,
		chromedp.Navigate(f.Root+"/send/?item=memo.txt"), chromedp.WaitVisible(chromedp.CSS("#to")),
		chromedp.SendKeys(chromedp.CSS("#to"), "bob@example.com"), chromedp.Submit(chromedp.CSS("#to")),
		chromedp.WaitVisible(chromedp.CSS("table.outbox"))))
	require.NoError(t, chromedp.Do(bob, chromedp.Navigate(f.Root+"/inbox"), chromedp.WaitVisible(chromedp.CSS("table.inbox")),
		chromedp.Click(chromedp.CSS(`form[action="/inbox"] button[value="1"]`)), chromedp.WaitVisible(chromedp.CSS("main p.card"))))

	// Bob's folder has what he accepted, byte for byte.
	for _, file := range []struct{ path, src string }{{"trip/photo.jpg", photo}, {"trip/notes.txt", notes}, {"memo.txt", memo}} {
		require.NoError(t, chromedp.Do(bob, chromedp.Navigate(f.Root+"/item/"+file.path), chromedp.WaitVisible(chromedp.CSS(".details"))))
		assert.Contains(t, text(t, bob, ".details"), sha(t, file.src), file.path)
	}

	// Alice's outbox, newest first.
	require.NoError(t, chromedp.Do(alice, chromedp.Navigate(f.Root+"/outbox"), chromedp.WaitVisible(chromedp.CSS("table.outbox"))))
	statuses, err := chromedp.Run(alice, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("table.outbox tbody tr")).map(tr => tr.cells[1].textContent.trim() + " " + tr.cells[4].textContent.trim())`))
	require.NoError(t, err)
	assert.Equal(t, []string{"memo.txt accepted", "memo.txt declined", "▸trip · 2 items accepted"}, statuses)
	screenshot(t, alice, "outbox")
	// A send's own page lists what it carries.
	require.NoError(t, chromedp.Do(alice, chromedp.Click(chromedp.CSS(`table.outbox tr:last-child a`)), chromedp.WaitVisible(chromedp.CSS("dl.details"))))
	assert.Contains(t, text(t, alice, "main table"), "photo.jpg")
	screenshot(t, alice, "send-details")
}

// writePNG writes a 64x64 PNG, a disc, to p.
func writePNG(t *testing.T, p string) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for y := range 64 {
		for x := range 64 {
			c := color.RGBA{40, 100, 200, 255}
			if (x-32)*(x-32)+(y-32)*(y-32) < 400 {
				c = color.RGBA{250, 200, 60, 255}
			}
			img.Set(x, y, c)
		}
	}
	f, err := os.Create(p)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, png.Encode(f, img))
}
