package browser_test

import (
	"archive/zip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	email    = "pat@example.com"
	password = "pat's password"
)

// signIn signs in on the page, with a screenshot of it when shots.
func signIn(t *testing.T, ctx context.Context, f *ferry, shots bool) {
	t.Helper()
	signInAs(t, ctx, f, email, password, shots)
}

func signInAs(t *testing.T, ctx context.Context, f *ferry, email, password string, shots bool) {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(f.Root+"/"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
	))
	if shots {
		screenshot(t, ctx, "login")
	}
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("#upload-form")),
	))
}

// writeFile writes size random letters (text, so that the browser's
// protocol can show a request's body) to dir/name.
func writeFile(t *testing.T, dir, name string, size int) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	b := make([]byte, size)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = 'a' + b[i]%26
	}
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return p
}

func sha(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// waitDone waits until n uploads of the page are done, and fails on any
// that failed.
func waitDone(t *testing.T, ctx context.Context, n int) {
	t.Helper()
	poll(t, ctx, `document.querySelectorAll("#uploads li.done").length >= `+strconv.Itoa(n)+` || document.querySelector("#uploads li.failed") !== null`)
	failed, err := chromedp.Run(ctx, chromedp.Evaluate[string](`Array.from(document.querySelectorAll("#uploads li.failed")).map(li => li.textContent).join("; ")`))
	require.NoError(t, err)
	require.Empty(t, failed)
}

// download runs start, which makes the page download a file, and
// returns the path of the file the browser saved in dir.
func download(t *testing.T, ctx context.Context, dir string, start chromedp.Action[chromedp.Void]) string {
	t.Helper()
	progress := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	require.NoError(t, chromedp.Do(ctx, start))
	for ev, err := range progress {
		require.NoError(t, err)
		require.NotEqual(t, browser.DownloadProgressStateCanceled, ev.State)
		if ev.State == browser.DownloadProgressStateCompleted {
			return filepath.Join(dir, ev.GUID)
		}
	}
	t.Fatal("the download did not finish")
	return ""
}

// unlabelled lists the form controls of the page that have no label: a
// screen reader could not name them.
func unlabelled(t *testing.T, ctx context.Context) []string {
	t.Helper()
	list, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("input:not([type=hidden]), select, textarea"))
		.filter(e => e.labels.length === 0 && !e.getAttribute("aria-label")).map(e => e.id || e.name || e.type)`))
	require.NoError(t, err)
	return list
}

// poll waits until the JavaScript expression is true, as long as the
// tab's context allows (chromedp's own 30 s is short for a loaded CI).
func poll(t *testing.T, ctx context.Context, expression string) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](expression, chromedp.WithPollingTimeout(0)))
	require.NoError(t, err, "waiting for %s", expression)
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	require.NoError(t, err)
	return s
}

// A person's whole folder in the browser: sign in, upload files and a
// folder with progress, resume a large upload after a reload, rename,
// move, delete, download a folder as zip, share a link that opens in
// another browser, see an over-quota upload refused, and sign out.
func TestBrowser_FolderJourney(t *testing.T) {
	t.Parallel()
	f := startFerry(t)
	f.addUser(email, password, 100<<20)
	ctx, downloads := tab(t)
	signIn(t, ctx, f, true)
	screenshot(t, ctx, "folder-empty")

	// Three files by the file input, then a folder by the folder input.
	src := t.TempDir()
	files := []string{writeFile(t, src, "one.txt", 1000), writeFile(t, src, "two.bin", 300_000), writeFile(t, src, "three <&>.txt", 10)}
	require.NoError(t, chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.CSS("#files"), files)))
	waitDone(t, ctx, 3)
	writeFile(t, src, "album/a.jpg", 2000)
	writeFile(t, src, "album/sub/b.jpg", 3000)
	require.NoError(t, chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.CSS("#folder-input"), []string{filepath.Join(src, "album")})))
	waitDone(t, ctx, 5)
	poll(t, ctx, `document.querySelector("#listing") && document.querySelector("#listing").textContent.includes("album")`)
	listing := text(t, ctx, "#listing")
	for _, name := range []string{"one.txt", "two.bin", "three <&>.txt", "album", "300 KB"} {
		assert.Contains(t, listing, name)
	}
	stats := text(t, ctx, "#uploads")
	assert.Contains(t, stats, "Uploaded 300 KB")
	screenshot(t, ctx, "folder")
	assert.Empty(t, unlabelled(t, ctx), "the folder page")
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(f.Root+"/files/album/sub"), chromedp.WaitVisible(chromedp.CSS("#listing"))))
	assert.Contains(t, text(t, ctx, "#listing"), "b.jpg")

	// Rename, move, delete through the item pages.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(f.Root+"/item/one.txt"),
		chromedp.WaitVisible(chromedp.CSS("#name")),
	))
	screenshot(t, ctx, "item")
	assert.Empty(t, unlabelled(t, ctx), "the item page")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS("#name"), "uno.txt"),
		chromedp.Submit(chromedp.CSS("#name")),
		chromedp.WaitVisible(chromedp.CSS("#listing")),
	))
	assert.Contains(t, text(t, ctx, "#listing"), "uno.txt")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(f.Root+"/item/uno.txt"),
		chromedp.WaitVisible(chromedp.CSS("#move-to")),
		chromedp.SetValue(chromedp.CSS("#move-to"), "album"),
		chromedp.Submit(chromedp.CSS("#move-to")),
		chromedp.WaitVisible(chromedp.CSS("#listing")),
	))
	assert.Contains(t, text(t, ctx, "#listing"), "uno.txt")
	loc, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	assert.Equal(t, f.Root+"/files/album", loc)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(f.Root+"/delete/two.bin"),
		chromedp.WaitVisible(chromedp.CSS("button.danger")),
	))
	screenshot(t, ctx, "delete")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("button.danger")),
		chromedp.WaitVisible(chromedp.CSS("#listing")),
	))
	assert.NotContains(t, text(t, ctx, "#listing"), "two.bin")

	// The folder as a zip, through the browser's own download.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(f.Root+"/files/album"), chromedp.WaitVisible(chromedp.CSS("#listing"))))
	zipped := download(t, ctx, downloads, chromedp.Click(chromedp.CSS(`a[href="/download/album"]`)))
	zr, err := zip.OpenReader(zipped)
	require.NoError(t, err)
	var names []string
	for _, zf := range zr.File {
		names = append(names, zf.Name)
	}
	zr.Close()
	assert.ElementsMatch(t, []string{"a.jpg", "sub/", "sub/b.jpg", "uno.txt"}, names)

	// A link, opened in another browser with no session.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(f.Root+"/item/three%20%3C&%3E.txt"),
		chromedp.WaitVisible(chromedp.CSS("#days")),
		chromedp.Submit(chromedp.CSS("#days")),
		chromedp.WaitVisible(chromedp.CSS("#link-url")),
	))
	screenshot(t, ctx, "item-link")
	link, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#link-url")))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(link, f.Root+"/d/"), link)
	other, otherDownloads := tab(t)
	require.NoError(t, chromedp.Do(other, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("a.button"))))
	assert.Contains(t, text(t, other, "main"), "three <&>.txt")
	assert.Contains(t, text(t, other, "main"), "10 B")
	screenshot(t, other, "link")
	got := download(t, other, otherDownloads, chromedp.Click(chromedp.CSS("a.button")))
	assert.Equal(t, sha(t, files[2]), sha(t, got))

	// The file's page lists the link with its download; revoking it ends it.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(f.Root+"/item/three%20%3C&%3E.txt"), chromedp.WaitVisible(chromedp.CSS("table.links"))))
	assert.Regexp(t, `\s1\s`, text(t, ctx, "table.links tbody"), "one download")
	// The page after the revoke has #days as the one before did: wait for
	// the navigation itself, not for an element both pages have.
	_, err = chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`form[action^="/links/"] button`)))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#days"))))
	present, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("table.links") !== null`))
	require.NoError(t, err)
	assert.False(t, present, "no link left")
	require.NoError(t, chromedp.Do(other, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("main"))))
	assert.Contains(t, text(t, other, "main"), "This link does not work")

	// A link with a password and one download: the page asks for the
	// password, and the right one downloads the file.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(f.Root+"/item/three%20%3C&%3E.txt"), chromedp.WaitVisible(chromedp.CSS("#days")),
		chromedp.SendKeys(chromedp.CSS("#max-downloads"), "1"), chromedp.SendKeys(chromedp.CSS("#link-password"), "s3cret pass"),
		chromedp.Submit(chromedp.CSS("#days")), chromedp.WaitVisible(chromedp.CSS("#link-url"))))
	assert.Contains(t, text(t, ctx, "p.ok"), "and its password")
	link, err = chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#link-url")))
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(other, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("#password"))))
	assert.NotContains(t, text(t, other, "main"), "three", "nothing of the file before the password")
	require.NoError(t, chromedp.Do(other, chromedp.SendKeys(chromedp.CSS("#password"), "s3cret pass")))
	screenshot(t, other, "link-password")
	got = download(t, other, otherDownloads, chromedp.Submit(chromedp.CSS("#password")))
	assert.Equal(t, sha(t, files[2]), sha(t, got))

	// Over the quota (100 MiB), an upload gets the quota's message.
	big := writeFile(t, src, "too big.bin", 101<<20)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(f.Root+"/files/"), chromedp.WaitVisible(chromedp.CSS("#files")),
		chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{big})))
	poll(t, ctx, `document.querySelector("#uploads li.failed") !== null`)
	assert.Contains(t, text(t, ctx, "#uploads li.failed"), "Not enough storage")
	screenshot(t, ctx, "over-quota")

	// Settings show the WebDAV details; /dav/ in a browser points there.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(f.Root+"/settings"), chromedp.WaitVisible(chromedp.CSS("#webdav"))))
	assert.Contains(t, text(t, ctx, "#webdav"), f.Root+"/dav/")
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("app-password").checkVisibility()`))
	require.NoError(t, err)
	assert.False(t, shown, "the app password is shown only on demand")
	screenshot(t, ctx, "settings")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("details.secret summary")), chromedp.WaitVisible(chromedp.CSS("#app-password"))))
	password, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#app-password")))
	require.NoError(t, err)
	assert.NotEmpty(t, password, "the app password, shown")
	assert.Empty(t, unlabelled(t, ctx), "the settings page")
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(f.Root+"/dav/"), chromedp.WaitVisible(chromedp.CSS("main"))))
	assert.Contains(t, text(t, ctx, "main"), "WebDAV")

	// Sign out: the old cookie no longer opens anything.
	cookies, err := chromedp.Run(ctx, chromedp.Action[[]*network.Cookie](func(ctx context.Context, _ *chromedp.Target) ([]*network.Cookie, error) {
		res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
		return res.Cookies, err
	}))
	require.NoError(t, err)
	session := ""
	for _, c := range cookies {
		if c.Name == "ferry" {
			session = c.Value
			assert.True(t, c.HTTPOnly)
		}
	}
	require.NotEmpty(t, session)
	assert.Equal(t, http.StatusOK, httpGet(t, f.Root+"/files/", session).StatusCode)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(f.Root+"/files/"), chromedp.WaitVisible(chromedp.CSS("#upload-form")),
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)), chromedp.WaitVisible(chromedp.CSS("#email"))))
	assert.Equal(t, http.StatusSeeOther, httpGet(t, f.Root+"/files/", session).StatusCode)
}

// A 256 MiB file goes as one request, the File itself; the page reloaded
// half-way through it goes on from what ferry kept when the same file is
// picked again, with the rest as one more request, and the stored file is
// whole. (The proxy in front paces the upload so that the reload falls in
// the middle.)
func TestBrowser_UploadResumesAfterReload(t *testing.T) {
	t.Parallel()
	f := startFerry(t)
	f.addUser(email, password, 0)
	p := startProxy(t, f.Root, 0, 128<<20)
	via := *f
	via.Root = p.URL
	ctx, _ := tab(t)
	signIn(t, ctx, &via, false)
	const size = 256 << 20
	big := randomFile(t, t.TempDir(), "big.bin", size)

	require.NoError(t, chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{big})))
	poll(t, ctx, `document.querySelector("#uploads progress").value >= 96 * 1048576`)
	screenshot(t, ctx, "uploading")
	require.NoError(t, chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#files")),
		chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{big})))
	waitDone(t, ctx, 1)
	assert.Regexp(t, `^Uploaded 268\.4 MB \(resumed from [1-9][\d.]* MB\)$`, text(t, ctx, "#uploads .stat"))
	puts, _ := p.puts()
	require.Len(t, puts, 2, "one request before the reload, one after: %q", puts)
	assert.Equal(t, "bytes 0-268435455/268435456", puts[0], "the whole file in one request")
	assert.Regexp(t, `^bytes [1-9]\d*-268435455/268435456$`, puts[1], "the rest in one, from where ferry stood")

	// The stored file is the whole file, in one piece.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(p.URL+"/item/big.bin"), chromedp.WaitVisible(chromedp.CSS(".details"))))
	assert.Contains(t, text(t, ctx, ".details"), sha(t, big))
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(p.URL+"/files/"), chromedp.WaitVisible(chromedp.CSS("#listing"))))
	assert.Contains(t, text(t, ctx, "#listing"), "big.bin")
	assert.NotContains(t, text(t, ctx, "#listing"), "big (1).bin", "resumed, not uploaded anew")
}

// randomFile writes size random bytes to dir/name.
func randomFile(t *testing.T, dir, name string, size int64) string {
	t.Helper()
	p := filepath.Join(dir, name)
	out, err := os.Create(p)
	require.NoError(t, err)
	_, err = io.CopyN(out, rand.Reader, size)
	require.NoError(t, err)
	require.NoError(t, out.Close())
	return p
}

// A page of another origin (another loopback port: the same site to the
// browser, so SameSite cookies do go along) cannot change anything with
// the victim's session.
func TestBrowser_CrossOriginFormsAreRefused(t *testing.T) {
	t.Parallel()
	f, ctx := signedIn(t)
	keep := writeFile(t, t.TempDir(), "keep.txt", 100)
	require.NoError(t, chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{keep})))
	waitDone(t, ctx, 1)

	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(`<!doctype html><form id="f" method="post" action="` + f.Root + `/delete/keep.txt"></form>
<script>document.getElementById("f").submit()</script>`))
	}))
	defer evil.Close()
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(evil.URL), chromedp.WaitVisible(chromedp.CSS("main"))))
	assert.Contains(t, text(t, ctx, "main"), "came from another site")
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(f.Root+"/files/"), chromedp.WaitVisible(chromedp.CSS("#listing"))))
	assert.Contains(t, text(t, ctx, "#listing"), "keep.txt")
}

// newFolder puts name, as it is (spaces and all, past the field's own
// limits), in the folder page's New folder field and submits it; it
// returns the text of the page that answers.
func newFolder(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("newfolder").value = `+strconv.Quote(name)+`, true`))
	require.NoError(t, err)
	_, err = chromedp.RunResponse(ctx, chromedp.Submit(chromedp.CSS("#newfolder")))
	require.NoError(t, err)
	return text(t, ctx, "main")
}

// A folder name that is only spaces, or too long, is refused on the page
// with its own reason, and nothing is made; spaces around a name typed in
// the field are dropped.
func TestBrowser_FolderNamesRefusedWithReasons(t *testing.T) {
	t.Parallel()
	f, ctx := signedIn(t)
	assert.Contains(t, newFolder(t, ctx, "   "), "A name cannot be empty or only spaces.")
	screenshot(t, ctx, "name-refused")
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(f.Root+"/files/"), chromedp.WaitVisible(chromedp.CSS("#newfolder"))))
	assert.Contains(t, newFolder(t, ctx, strings.Repeat("é", 150)), "The name is too long: at most 255 bytes")
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(f.Root+"/files/"), chromedp.WaitVisible(chromedp.CSS("#newfolder"))))
	newFolder(t, ctx, "  Holiday photos ")
	assert.Contains(t, text(t, ctx, "#listing"), "Holiday photos")
	links, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#listing td.name a")).map(a => a.getAttribute("href"))`))
	require.NoError(t, err)
	assert.Equal(t, []string{"/files/Holiday%20photos"}, links, "one folder, its name trimmed")
}

// A file moves into a folder chosen by opening folders, not by typing a
// path; a folder is not offered as a place to go into itself.
func TestBrowser_MoveWithTheFolderPicker(t *testing.T) {
	t.Parallel()
	f, ctx := signedIn(t)
	src := t.TempDir()
	require.NoError(t, chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{writeFile(t, src, "report.pdf", 500)})))
	waitDone(t, ctx, 1)
	for _, folder := range [][2]string{{"", "Projects"}, {"Projects", "2027"}, {"", "Archive"}} {
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(f.Root+"/files/"+folder[0]), chromedp.WaitVisible(chromedp.CSS("#newfolder"))))
		newFolder(t, ctx, folder[1])
	}
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(f.Root+"/item/report.pdf"), chromedp.WaitVisible(chromedp.CSS(".details"))))
	_, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`a[href^="/choose/report.pdf"]`)))
	require.NoError(t, err)
	assert.Contains(t, text(t, ctx, "ul.choose"), "Archive")
	_, err = chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`ul.choose a[href$="in=Projects"]`)))
	require.NoError(t, err)
	screenshot(t, ctx, "choose")
	_, err = chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`ul.choose a[href$="in=Projects%2f2027"]`)))
	require.NoError(t, err)
	assert.Contains(t, text(t, ctx, "nav.crumbs"), "2027")
	_, err = chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`form[action="/move/report.pdf"] button`)))
	require.NoError(t, err)
	assert.Equal(t, "/files/Projects/2027", path(t, ctx))
	assert.Contains(t, text(t, ctx, "#listing"), "report.pdf")

	// The folder Projects, moving: Projects itself is not offered.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(f.Root+"/choose/Projects"), chromedp.WaitVisible(chromedp.CSS("main"))))
	offered := text(t, ctx, "main")
	assert.Contains(t, offered, "Archive")
	assert.NotContains(t, text(t, ctx, "ul.choose"), "Projects")
}
