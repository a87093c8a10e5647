package main

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// webRows runs rows 10 and 11: a file of -size bytes uploaded through the
// web app's page (app.js, resumable chunks) against PUT /files of the same
// file, and downloaded through the page (the browser saves it) against a
// plain HTTP client writing it to a file; in headless chromium, best of
// three, alternating.
func (b *bench) webRows(rows map[int]bool) []result {
	path, err := exec.LookPath("chromium")
	if err != nil {
		log.Printf("rows 10-11: skipped, chromium is not installed (apt-get install chromium)")
		return nil
	}
	src := filepath.Join(b.dir, "web.bin")
	log.Printf("rows 10-11: writing %d bytes of test data", b.size)
	randomFile(src, b.size)
	defer os.Remove(src)
	u := b.addUsers("web", 1)[0]

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.NoSandbox, chromedp.ExecPath(path))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	downloads := filepath.Join(b.dir, "downloads")
	check(os.MkdirAll(downloads, 0o755))
	check(chromedp.Do(ctx,
		chromedp.Navigate(b.root+"/login"),
		chromedp.SendKeys(chromedp.CSS("#email"), u.email),
		chromedp.SendKeys(chromedp.CSS("#password"), benchPassword),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("#upload-form")),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: downloads, EventsEnabled: ptr(true),
			})
			return err
		}),
	))
	rate := func(d time.Duration) float64 { return float64(b.size) / d.Seconds() / (1 << 20) }
	remove := func(name string) {
		u.must(u.post("/ops/delete", url.Values{"file[]": {name}}, nil))
	}

	var results []result
	if rows[10] {
		api := func() time.Duration { return timed(b.putFile(src, b.base+"/files?path=api.bin", u.token)) }
		page := func() time.Duration {
			check(chromedp.Do(ctx, chromedp.Navigate(b.root+"/files/"), chromedp.WaitVisible(chromedp.CSS("#files"))))
			d := timed(func() error {
				if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{src})); err != nil {
					return err
				}
				_, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector("#uploads li.done, #uploads li.failed") !== null`,
					chromedp.WithPollingInterval(10*time.Millisecond), chromedp.WithPollingTimeout(10*time.Minute)))
				return err
			})
			failed, err := chromedp.Run(ctx, chromedp.Evaluate[string](`Array.from(document.querySelectorAll("#uploads li.failed")).map(li => li.textContent).join("; ")`))
			check(err)
			if failed != "" {
				log.Fatalf("row 10: the page's upload failed: %s", failed)
			}
			return d
		}
		var ref, got float64
		for range 3 {
			syscall.Sync()
			ref = max(ref, rate(api()))
			remove("api.bin")
			syscall.Sync()
			got = max(got, rate(page()))
			remove("web.bin")
		}
		results = append(results, result{Row: 10, Figure: "upload of " + *flagSize + " through the web page (16 MiB chunks)", Value: got, Reference: ref, Unit: "MiB/s",
			Ratio: got / ref, Target: ">= 0.40 of PUT /files", Pass: got/ref >= 0.40})
	}
	if rows[11] {
		check(b.putFile(src, b.base+"/files?path=web.bin", u.token)())
		client := func() time.Duration {
			target := filepath.Join(downloads, "client.bin")
			defer os.Remove(target)
			return timed(func() error {
				req, err := http.NewRequest(http.MethodGet, b.base+"/files?path=web.bin", nil)
				if err != nil {
					return err
				}
				req.Header.Set("token", u.token)
				resp, err := b.client.Do(req)
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				out, err := os.Create(target)
				if err != nil {
					return err
				}
				defer out.Close()
				n, err := io.Copy(out, resp.Body)
				if err == nil && n != b.size {
					err = errShort
				}
				return err
			})
		}
		page := func() time.Duration {
			check(chromedp.Do(ctx, chromedp.Navigate(b.root+"/files/"), chromedp.WaitVisible(chromedp.CSS("#listing"))))
			progress := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
			start := time.Now()
			check(chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`a[href="/download/web.bin"]`))))
			for ev, err := range progress {
				check(err)
				if ev.State == browser.DownloadProgressStateCanceled {
					log.Fatal("row 11: the browser cancelled the download")
				}
				if ev.State == browser.DownloadProgressStateCompleted {
					d := time.Since(start)
					os.Remove(filepath.Join(downloads, ev.GUID))
					return d
				}
			}
			log.Fatal("row 11: no download")
			return 0
		}
		var ref, got float64
		for range 3 {
			syscall.Sync()
			ref = max(ref, rate(client()))
			syscall.Sync()
			got = max(got, rate(page()))
		}
		results = append(results, result{Row: 11, Figure: "download of " + *flagSize + " through the web page", Value: got, Reference: ref, Unit: "MiB/s",
			Ratio: got / ref, Target: ">= 0.50 of a plain client to a file", Pass: got/ref >= 0.50})
	}
	return results
}

func ptr[T any](v T) *T { return &v }
