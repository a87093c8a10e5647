// Package browser_test drives ferry's web app in a real browser: Debian's
// chromium, headless, through chromedp, against the real server on
// 127.0.0.1:0.
package browser_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/app"
	"github.com/ferryhq/ferry/ferrytest"
)

// allocator is the first tab of the package's one chromium process;
// every test gets browser contexts of its own beside it (cookies and
// storage apart).
var allocator context.Context

func TestMain(m *testing.M) {
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("FERRYTEST_REQUIRE_BROWSER") != "" {
			fmt.Fprintln(os.Stderr, "chromium is not installed (.ci/run installs it: apt-get install chromium)")
			os.Exit(1)
		}
		fmt.Println("skipped: chromium is not installed (apt-get install chromium, or run bash .ci/run)")
		os.Exit(0)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.NoSandbox, chromedp.ExecPath(path), chromedp.WindowSize(1280, 800))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		fmt.Fprintln(os.Stderr, "chromium did not start:", err)
		os.Exit(1)
	}
	allocator = ctx
	code := m.Run()
	cancel()
	cancelAlloc()
	ferrytest.RemoveBinary() // built by the tests that run ferry as a process
	os.Exit(code)
}

// ferry is a running server.
type ferry struct {
	t    *testing.T
	Root string
	Cfg  app.Config
}

func startFerry(t *testing.T, configure ...func(*app.Config)) *ferry {
	t.Helper()
	cfg := app.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.PublicURL = ""
	cfg.DataDir = t.TempDir()
	for _, c := range configure {
		c(&cfg)
	}
	logs := &ferrytest.Logs{}
	a, _ := ferrytest.Run(t, cfg, app.Options{Logger: slog.New(slog.NewTextHandler(logs, nil)), SweepEvery: 100 * time.Millisecond}, logs)
	return &ferry{t: t, Root: a.PublicURL(), Cfg: cfg}
}

// setReceive sets a user's monthly receive quota.
func (f *ferry) setReceive(email string, receive int64) {
	f.t.Helper()
	admin, closer, err := app.OpenAdmin(f.Cfg)
	require.NoError(f.t, err)
	defer closer.Close()
	_, err = admin.SetUser(app.SetUserRequest{Email: email, Receive: &receive})
	require.NoError(f.t, err)
}

func (f *ferry) addUser(email, password string, storage int64) {
	f.t.Helper()
	admin, closer, err := app.OpenAdmin(f.Cfg)
	require.NoError(f.t, err)
	defer closer.Close()
	_, err = admin.AddUser(app.AddUserRequest{Email: email, Password: password, Name: "User " + email})
	require.NoError(f.t, err)
	if storage > 0 {
		_, err = admin.SetUser(app.SetUserRequest{Email: email, Storage: &storage})
		require.NoError(f.t, err)
	}
}

// signedIn starts ferry with pat's account and returns it with a tab of
// its own where pat is signed in, on the folder page.
func signedIn(t *testing.T) (*ferry, context.Context) {
	t.Helper()
	f := startFerry(t)
	f.addUser(email, password, 0)
	ctx, _ := tab(t)
	signIn(t, ctx, f, false)
	return f, ctx
}

// tab opens a browser context of its own (no cookies, no storage) and
// returns its tab, at desktop size, with downloads going to dir.
func tab(t *testing.T) (context.Context, string) {
	t.Helper()
	ctx, cancel := chromedp.NewContext(allocator, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancelTimeout)
	dir := t.TempDir()
	require.NoError(t, chromedp.Do(ctx,
		chromedp.EmulateViewport(1280, 800),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: ptr(true),
				BrowserContextID: chromedp.FromContext(ctx).BrowserContextID,
			})
			return err
		}),
	))
	return ctx, dir
}

func ptr[T any](v T) *T { return &v }

// screenshot saves the page at desktop and phone widths, into
// $FERRYTEST_SCREENSHOTS when set (docs/screenshots holds the current ones),
// else into the test's temporary folder.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("FERRYTEST_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	for _, size := range []struct {
		label         string
		width, height int64
		mobile        bool
	}{{"desktop", 1280, 800, false}, {"phone", 390, 844, true}} {
		var opts []chromedp.EmulateViewportOption
		if size.mobile {
			opts = append(opts, chromedp.EmulateScale(2))
		}
		shot, err := chromedp.Run(ctx, chromedp.Action[[]byte](func(ctx context.Context, _ *chromedp.Target) ([]byte, error) {
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(size.width, size.height, opts...), chromedp.Sleep(100*time.Millisecond)); err != nil {
				return nil, err
			}
			return chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG; below, JPEG
		}))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name+"-"+size.label+".png"), shot, 0o644))
	}
	fits(t, ctx, name)
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)))
}

// fits checks that the page fits a 360 px wide phone: nothing makes it
// scroll sideways.
func fits(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(360, 740, chromedp.EmulateScale(2)), chromedp.Sleep(100*time.Millisecond)))
	wide, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("body *"))
		.filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
		.slice(0, 5).map(e => e.tagName.toLowerCase() + (e.className ? "." + e.className : "") + " " + Math.round(e.getBoundingClientRect().right) + "px")`))
	require.NoError(t, err)
	width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	require.NoError(t, err)
	assert.LessOrEqual(t, width, 360, "%s: the page is %d px wide at 360 px: %v", name, width, wide)
}

// httpGet fetches a URL with a cookie, without following redirects.
func httpGet(t *testing.T, url, cookie string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Cookie", "ferry="+cookie)
	res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}
