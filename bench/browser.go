package main

import (
	"context"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// webRows runs rows 10 and 11 in headless chromium, alternating, medians
// of webRuns runs: a file of -size bytes uploaded through the web app's
// page (app.js) against one XMLHttpRequest PUT of the same File to
// /api/1/files from the same page (and, as a second figure, against the
// Go client's PUT /files); and downloaded through the page (the browser
// saves it) against the same browser downloading the same bytes from the
// reference server's http.ServeFile, navigated to directly (and, as a
// second figure, ferry's download navigated to the same way: the page's
// link, same-origin with a download attribute, is a cheaper path in
// Chromium than a navigation that turns into a download). Each reports
// Chromium's CPU seconds per GiB (all its processes) and the server's.
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
	chrome := chromedp.FromContext(ctx).Browser.Process().Pid
	ferryPID := b.cmd.Process.Pid
	gib := float64(b.size) / (1 << 30)
	// run times f and returns its rate with Chromium's and the server's
	// CPU seconds per GiB.
	run := func(server int, f func() time.Duration) webRun {
		c0, s0 := treeCPUSeconds(chrome), cpuSeconds(server)
		d := f()
		return webRun{rate: float64(b.size) / d.Seconds() / (1 << 20),
			chrome: (treeCPUSeconds(chrome) - c0) / gib, server: (cpuSeconds(server) - s0) / gib}
	}
	remove := func(name string) {
		u.must(u.post("/ops/delete", url.Values{"file[]": {name}}, nil))
	}

	var results []result
	if rows[10] {
		openFolder := func() {
			check(chromedp.Do(ctx, chromedp.Navigate(b.root+"/files/"), chromedp.WaitVisible(chromedp.CSS("#files"))))
		}
		page := func() time.Duration {
			openFolder()
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
		// xhr is the browser's best request: the same File, picked in a
		// file input of the same page, as the body of one PUT /files.
		xhr := func() time.Duration {
			openFolder()
			check(chromedp.Do(ctx,
				chromedp.Evaluate[chromedp.Void](`(() => { const i = document.createElement("input"); i.type = "file"; i.id = "bench-ref"; document.body.append(i); })()`),
				chromedp.SetUploadFiles(chromedp.CSS("#bench-ref"), []string{src})))
			script := `new Promise((resolve) => {
				const x = new XMLHttpRequest();
				x.open("PUT", "/api/1/files?path=xhr.bin");
				x.setRequestHeader("token", ` + strconv.Quote(u.token) + `);
				x.onload = () => resolve(x.status === 200 ? "" : x.status + " " + x.responseText);
				x.onerror = () => resolve("network error");
				x.send(document.getElementById("bench-ref").files[0]);
			})`
			var failed string
			d := timed(func() error {
				var err error
				failed, err = chromedp.Run(ctx, chromedp.Evaluate[string](script, chromedp.EvalAwaitPromise))
				return err
			})
			if failed != "" {
				log.Fatalf("row 10: the reference XHR failed: %s", failed)
			}
			return d
		}
		api := func() time.Duration { return timed(b.putFile(src, b.base+"/files?path=api.bin", u.token)) }
		var pages, xhrs, apis []webRun
		for range webRuns {
			syscall.Sync()
			xhrs = append(xhrs, run(ferryPID, xhr))
			remove("xhr.bin")
			syscall.Sync()
			pages = append(pages, run(ferryPID, page))
			remove("web.bin")
			syscall.Sync()
			apis = append(apis, run(ferryPID, api))
			remove("api.bin")
		}
		got, ref, goRef := medianRun(pages), medianRun(xhrs), medianRun(apis)
		log.Printf("row 10: page %s; XHR %s; Go client %s", runs(pages), runs(xhrs), runs(apis))
		results = append(results,
			webResult(10, "", "upload of "+*flagSize+" through the web page, against one XHR PUT /files of the same File", got, ref, 0.90),
			webResult(10, "b", "the same page upload, against the Go client's PUT /files", got, goRef, 0))
	}
	if rows[11] {
		check(b.putFile(src, b.base+"/files?path=web.bin", u.token)())
		ref := b.startRef("-file", src)
		defer ref.stop()
		// saved runs start, which makes the browser download the file,
		// and waits until it is saved.
		saved := func(start chromedp.Action[chromedp.Void]) time.Duration {
			progress := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
			t0 := time.Now()
			check(chromedp.Do(ctx, start))
			for ev, err := range progress {
				check(err)
				if ev.State == browser.DownloadProgressStateCanceled {
					log.Fatal("row 11: the browser cancelled the download")
				}
				if ev.State == browser.DownloadProgressStateCompleted {
					d := time.Since(t0)
					if ev.ReceivedBytes != float64(b.size) {
						log.Fatalf("row 11: the browser saved %v bytes of %d", ev.ReceivedBytes, b.size)
					}
					os.Remove(filepath.Join(downloads, ev.GUID))
					return d
				}
			}
			log.Fatal("row 11: no download")
			return 0
		}
		viaPage := func() time.Duration {
			check(chromedp.Do(ctx, chromedp.Navigate(b.root+"/files/"), chromedp.WaitVisible(chromedp.CSS("#listing"))))
			return saved(chromedp.Click(chromedp.CSS(`a[href="/download/web.bin"]`)))
		}
		// navigate points the tab at url, a download: the navigation
		// itself ends as aborted.
		navigate := func(url string) func() time.Duration {
			return func() time.Duration {
				return saved(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
					_, err := chromedp.Call(ctx, page.Navigate, page.NavigateParams{URL: url})
					return err
				}))
			}
		}
		var pages, refs, direct []webRun
		for range webRuns {
			syscall.Sync()
			refs = append(refs, run(ref.cmd.Process.Pid, navigate(ref.url+"/get")))
			syscall.Sync()
			pages = append(pages, run(ferryPID, viaPage))
			syscall.Sync()
			direct = append(direct, run(ferryPID, navigate(b.root+"/download/web.bin")))
		}
		got, want, same := medianRun(pages), medianRun(refs), medianRun(direct)
		log.Printf("row 11: page %s; http.ServeFile %s; ferry navigated to %s", runs(pages), runs(refs), runs(direct))
		results = append(results,
			webResult(11, "", "download of "+*flagSize+" through the web page, against the browser's download from http.ServeFile", got, want, 0.90),
			webResult(11, "b", "the same download from ferry navigated to directly, as the reference is", same, want, 0))
	}
	return results
}

// webResult is a row of rows 10 and 11: got against ref, with the
// servers' and Chromium's CPU; least is the ratio's target (0: the figure
// is reported, not judged).
func webResult(row int, sub, figure string, got, ref webRun, least float64) result {
	r := result{Row: row, Sub: sub, Figure: figure, Value: got.rate, Reference: ref.rate, Unit: "MiB/s",
		Ratio: got.rate / ref.rate, Target: "(reported)", Pass: true, CPU: got.server, RefCPU: ref.server}
	if least > 0 {
		r.Target, r.Pass = fmt.Sprintf(">= %.2f", least), r.Ratio >= least
	}
	if ref.chrome > 0 { // the reference ran in the browser too
		r.Note = fmt.Sprintf("Chromium %.2f against %.2f CPU s/GiB", got.chrome, ref.chrome)
	}
	return r
}

// webRuns is how many times each side of rows 10 and 11 runs.
const webRuns = 7

// webRun is one timed transfer of rows 10 and 11: its rate in MiB/s, and
// Chromium's and the server's CPU seconds per GiB.
type webRun struct{ rate, chrome, server float64 }

// medianRun is the run of median rate, with the median of each CPU figure.
func medianRun(list []webRun) webRun {
	pick := func(f func(webRun) float64) float64 {
		v := make([]float64, len(list))
		for i, r := range list {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return webRun{rate: pick(func(r webRun) float64 { return r.rate }),
		chrome: pick(func(r webRun) float64 { return r.chrome }), server: pick(func(r webRun) float64 { return r.server })}
}

// runs writes each run's rate, for the log.
func runs(list []webRun) string {
	parts := make([]string, len(list))
	for i, r := range list {
		parts[i] = fmt.Sprintf("%.0f", r.rate)
	}
	return strings.Join(parts, ", ") + " MiB/s"
}

// treeCPUSeconds is the CPU time of pid and every process below it (a
// browser's renderer, network and GPU processes), from /proc/*/stat.
func treeCPUSeconds(pid int) float64 {
	children := map[int][]int{}
	ticks := map[int]int64{}
	entries, err := os.ReadDir("/proc")
	check(err)
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone since the listing
		}
		ppid, t := parseStat(data)
		children[ppid] = append(children[ppid], p)
		ticks[p] = t
	}
	var total int64
	for todo := []int{pid}; len(todo) > 0; {
		p := todo[len(todo)-1]
		todo = append(todo[:len(todo)-1], children[p]...)
		total += ticks[p]
	}
	return float64(total) / 100
}

func ptr[T any](v T) *T { return &v }
