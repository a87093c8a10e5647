package browser_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/app"
)

// The upload list's other paths: a chunk whose connection drops is sent
// again, a cancelled upload leaves nothing, a name ferry refuses says
// why, and files and folders dropped on the page are uploaded.
func TestBrowser_UploadRetryCancelBadNameAndDrop(t *testing.T) {
	t.Parallel()
	f, ctx := signedIn(t)
	src := t.TempDir()

	// The page's chunk PUTs pass through a hand that drops the first one's
	// connection and holds every chunk of "held.bin" until the test lets it.
	paused := chromedp.Events(ctx, fetch.RequestPaused)
	require.NoError(t, chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*/uploads/*"}}})
		return err
	})))
	var dropped atomic.Int32
	held := make(chan fetch.RequestID, 4)
	hctx, stopHand := context.WithCancel(ctx)
	defer stopHand()
	go func() {
		for ev, err := range paused {
			if err != nil || hctx.Err() != nil {
				return
			}
			switch {
			case ev.Request.Method == http.MethodPut && dropped.Load() == 0:
				dropped.Add(1)
				_, _ = chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonConnectionReset})
			case ev.Request.Method == http.MethodPut && ev.Request.Headers["Content-Range"] == "bytes 0-1023/1024":
				held <- ev.RequestID // held.bin's one chunk
			default:
				_, _ = chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
			}
		}
	}()

	retried := writeFile(t, src, "retried.bin", 3<<20) // one chunk: each paused event carries its body
	require.NoError(t, chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{retried})))
	waitDone(t, ctx, 1)
	assert.Equal(t, int32(1), dropped.Load())
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(f.Root+"/item/retried.bin"), chromedp.WaitVisible(chromedp.CSS(".details"))))
	assert.Contains(t, text(t, ctx, ".details"), sha(t, retried), "whole after the dropped chunk was sent again")

	// Cancel while the chunk is held: nothing is stored.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(f.Root+"/files/"), chromedp.WaitVisible(chromedp.CSS("#files")),
		chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{writeFile(t, src, "held.bin", 1024)})))
	<-held
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#uploads li button"))))
	poll(t, ctx, `document.querySelector("#uploads li .stat").textContent === "Cancelled"`)
	stopHand()
	require.NoError(t, chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, fetch.Disable, struct{}{})
		return err
	})))

	// A name with a control character is refused, in the page.
	bad := writeFile(t, src, "bad\x01name.txt", 10)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(f.Root+"/files/"), chromedp.WaitVisible(chromedp.CSS("#files")),
		chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{bad})))
	poll(t, ctx, `document.querySelector("#uploads li.failed") !== null`)
	assert.Contains(t, text(t, ctx, "#uploads li.failed .stat"), "control")

	// Files dropped on the page.
	dropped1 := writeFile(t, src, "dropped/one.txt", 100)
	dropped2 := writeFile(t, src, "dropped/two.txt", 200)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(f.Root+"/files/"), chromedp.WaitVisible(chromedp.CSS("#drop")),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			data := &input.DragData{Items: []*input.DragDataItem{}, Files: []string{dropped1, dropped2}, DragOperationsMask: 1}
			for _, typ := range []input.DispatchDragEventType{input.DispatchDragEventTypeDragEnter, input.DispatchDragEventTypeDragOver, input.DispatchDragEventTypeDrop} {
				if _, err := chromedp.Call(ctx, input.DispatchDragEvent, input.DispatchDragEventParams{Type: typ, X: 300, Y: 330, Data: data}); err != nil {
					return err
				}
			}
			return nil
		})))
	waitDone(t, ctx, 2)
	poll(t, ctx, `document.querySelector("#listing").textContent.includes("two.txt")`)
	listing := text(t, ctx, "#listing")
	assert.Contains(t, listing, "one.txt")
	assert.NotContains(t, listing, "held.bin", "the cancelled upload left nothing")
	assert.NotContains(t, listing, "name.txt")
}

// Behind a proxy that answers 413 to large requests, the page goes on in
// parts the proxy lets through; with web.upload_request_max set, it sends
// parts of that size from the start and nothing is refused.
func TestBrowser_UploadBehindARequestLimit(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	for _, c := range []struct {
		name           string
		limit, max     int64 // the proxy's, and web.upload_request_max
		size           int64
		parts, refused int
	}{
		// 20 MiB, then 16, are refused; 4 MiB parts go through.
		{"proxy.bin", 5 << 20, 0, 20<<20 + 5, 6, 2},
		{"configured.bin", 0, 2 << 20, 5 << 20, 3, 0},
	} {
		f := startFerry(t, func(cfg *app.Config) { cfg.Web.UploadRequestMax = app.Size(c.max) })
		f.addUser(email, password, 0)
		p := startProxy(t, f.Root, c.limit, 0)
		via := *f
		via.Root = p.URL
		ctx, _ := tab(t)
		signIn(t, ctx, &via, false)
		file := randomFile(t, src, c.name, c.size)
		require.NoError(t, chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{file})))
		waitDone(t, ctx, 1)
		puts, refused := p.puts()
		assert.Len(t, puts, c.parts, "%s: %q", c.name, puts)
		assert.Equal(t, c.refused, refused, c.name)
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(p.URL+"/item/"+c.name), chromedp.WaitVisible(chromedp.CSS(".details"))))
		assert.Contains(t, text(t, ctx, ".details"), sha(t, file), c.name)
	}
}
