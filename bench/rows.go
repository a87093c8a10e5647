package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// bigFiles runs rows 1, 2, 3 and 8: a file of -size bytes through
// PUT /files, GET /files and the resumable upload, against the reference
// server's direct-I/O writer, io.Copy-and-fsync handler and
// http.ServeFile; ferry's peak RSS meanwhile; and the server CPU each side
// spends, beside what SHA-256 of the same bytes costs. Row 1n runs row 1
// again with a busy loop pinned to one CPU beside it.
func (b *bench) bigFiles(rows map[int]bool) []result {
	src := filepath.Join(b.dir, "src.bin")
	log.Printf("rows 1-3, 8: writing %d bytes of test data", b.size)
	randomFile(src, b.size)
	refDir := filepath.Join(b.dir, "ref")
	check(os.MkdirAll(refDir, 0o755))
	ref := b.startRef("-dir", refDir, "-file", src)
	defer ref.stop()
	u := b.addUsers("big", 1)[0]
	b.resetPeakRSS()
	sha := b.sha256Cost(src)
	log.Printf("SHA-256 costs %.2f CPU s/GiB here", sha)

	ferryPid, refPid := b.cmd.Process.Pid, ref.cmd.Process.Pid
	fileURL := b.base + "/files?path=big.bin"
	// Best of n, alternating so that no side gets a warmer cache, each
	// after a sync so that none pays for the last one's writeback.
	puts := func(n int) (direct, copied, put transfer) {
		for range n {
			syscall.Sync()
			direct.best(b.measure(refPid, b.putFile(src, ref.url+"/direct", "")))
			syscall.Sync()
			copied.best(b.measure(refPid, b.putFile(src, ref.url+"/put", "")))
			syscall.Sync()
			put.best(b.measure(ferryPid, b.putFile(src, fileURL, u.token)))
		}
		return
	}
	putRows := func(sub, with string, direct, copied, put transfer) []result {
		return []result{
			{Row: 1, Sub: sub, Figure: "PUT /files of " + *flagSize + " against direct I/O" + with, Value: put.rate, Reference: direct.rate,
				Unit: "MiB/s", Ratio: put.rate / direct.rate, Target: ">= 0.80", Pass: put.rate/direct.rate >= 0.80, CPU: put.cpu, RefCPU: direct.cpu},
			{Row: 1, Sub: sub + "b", Figure: "PUT /files of " + *flagSize + " against io.Copy + fsync" + with, Value: put.rate, Reference: copied.rate,
				Unit: "MiB/s", Ratio: put.rate / copied.rate, Target: ">= 1.0", Pass: put.rate/copied.rate >= 1.0, CPU: put.cpu, RefCPU: copied.cpu},
		}
	}
	var results []result
	direct, copied, put := puts(5)
	results = append(results, putRows("", "", direct, copied, put)...)
	budget := copied.cpu + 1.1*sha
	results = append(results, result{Row: 1, Sub: "c", Figure: fmt.Sprintf("ferry's CPU for PUT against io.Copy + fsync's and 1.1 x SHA-256's (%.2f s/GiB)", sha),
		Value: put.cpu, Reference: budget, Unit: "CPU s/GiB", Ratio: put.cpu / budget, Target: "<= 1.0", Pass: put.cpu <= budget})

	var get, serveFile transfer
	for range 5 {
		serveFile.best(b.measure(refPid, b.download(ref.url+"/get", "")))
		get.best(b.measure(ferryPid, b.download(fileURL, u.token)))
	}
	results = append(results, result{Row: 2, Figure: "GET /files of " + *flagSize, Value: get.rate, Reference: serveFile.rate, Unit: "MiB/s",
		Ratio: get.rate / serveFile.rate, Target: ">= 0.90", Pass: get.rate/serveFile.rate >= 0.90, CPU: get.cpu, RefCPU: serveFile.cpu})
	hwm := float64(b.procStatus("VmHWM"))
	results = append(results, result{Row: 3, Figure: "ferry peak RSS (VmHWM) during rows 1 and 2", Value: hwm / (1 << 20), Unit: "MiB",
		Target: "<= 32 MiB", Pass: hwm <= 32<<20})

	{
		log.Printf("row 1n: row 1 again beside a busy loop pinned to one CPU")
		spin := b.spinner()
		direct, copied, put := puts(3)
		spin.stop()
		results = append(results, putRows("n", ", beside a busy loop", direct, copied, put)...)
	}

	if rows[8] {
		const chunk = 8 << 20
		resumable := func() error {
			var link struct {
				Key string `json:"upload_key"`
			}
			if err := u.post("/upload/link", url.Values{"path": {"resumable.bin"}, "size": {strconv.FormatInt(b.size, 10)}}, &link); err != nil {
				return err
			}
			f, err := os.Open(src)
			if err != nil {
				return err
			}
			defer f.Close()
			for off := int64(0); off < b.size; off += chunk {
				n := min(chunk, b.size-off)
				req, err := http.NewRequest(http.MethodPut, b.base+"/upload/chunked/"+link.Key, io.NewSectionReader(f, off, n))
				if err != nil {
					return err
				}
				req.ContentLength = n
				req.Header.Set("token", u.token)
				req.Header.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, off+n-1, b.size))
				resp, err := b.client.Do(req)
				if err != nil {
					return err
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("chunk at %d: %s", off, resp.Status)
				}
			}
			return u.do(http.MethodGet, "/upload/finalize/"+link.Key, nil, "", nil)
		}
		var res transfer
		for range 3 {
			syscall.Sync()
			res.best(b.measure(ferryPid, resumable))
			u.must(u.post("/ops/delete", url.Values{"file[]": {"resumable.bin"}}, nil))
		}
		results = append(results, result{Row: 8, Figure: "resumable upload of " + *flagSize + " in 8 MiB chunks", Value: res.rate, Reference: put.rate,
			Unit: "MiB/s", Ratio: res.rate / put.rate, Target: ">= 0.85 of row 1's PUT /files", Pass: res.rate/put.rate >= 0.85, CPU: res.cpu, RefCPU: put.cpu})
	}
	check(os.Remove(src))
	return results
}

// download returns a GET of target, with the token when there is one,
// that wants all b.size bytes.
func (b *bench) download(target, token string) func() error {
	return func() error {
		resp, err := b.transferRequest(http.MethodGet, target, token, nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		// 1 MiB reads: io.Discard's own ReadFrom reads 8 KiB at a time.
		n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, resp.Body, make([]byte, 1<<20))
		if err == nil && n != b.size {
			err = errShort
		}
		return err
	}
}

// listRate is row 4: authenticated ops/list of a 10-entry folder with 32
// connections, against a bare hello handler.
func (b *bench) listRate() []result {
	u := b.addUsers("list", 1)[0]
	for i := range 10 {
		u.must(u.put(fmt.Sprintf("ten/file-%d.txt", i), []byte("entry")))
	}
	hello := b.startRef()
	defer hello.stop()
	refURL := hello.url + "/hello"
	client := newClient(32)
	get := func(target, token string) func(int) error {
		return func(int) error {
			req, _ := http.NewRequest(http.MethodGet, target, nil)
			if token != "" {
				req.Header.Set("token", token)
			}
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s", resp.Status)
			}
			return nil
		}
	}
	log.Printf("row 4: %v each, in 5 alternating rounds", *flagDuration)
	ref, got := interleaved(5,
		func(d time.Duration) float64 { r, _ := load(32, d, get(refURL, "")); return r },
		func(d time.Duration) float64 {
			r, _ := load(32, d, get(b.base+"/ops/list?path=ten", u.token))
			return r
		})
	return []result{{Row: 4, Figure: "GET /ops/list (10 entries, token auth), 32 connections", Value: got, Reference: ref,
		Unit: "req/s", Ratio: got / ref, Target: ">= 0.70", Pass: got/ref >= 0.70}}
}

// fillFolder makes n entries in folder by copying one file, 32 at a time.
func (u *user) fillFolder(folder string, n int) {
	u.must(u.put("seed.txt", []byte("seed")))
	parallel(n, 32, func(i int) {
		u.must(u.post("/ops/copy", url.Values{"source": {"seed.txt"}, "destination": {fmt.Sprintf("%s/f%06d", folder, i)}}, nil))
	})
}

// listScaling is row 5: the median latency of listing 10,000 and 100,000
// entries.
func (b *bench) listScaling() []result {
	u := b.addUsers("scale", 1)[0]
	log.Printf("row 5: filling folders of 10,000 and 100,000 entries")
	u.fillFolder("k10", 10_000)
	u.fillFolder("k100", 100_000)
	list := func(folder string) time.Duration {
		return timed(func() error { return u.do(http.MethodGet, "/ops/list?path="+folder, nil, "", nil) })
	}
	list("k10") // warm up
	list("k100")
	// 101 of each, alternating, so that both sizes see the same drift of
	// the machine: with 21 and 11 samples two runs differed by up to 40%.
	var smalls, bigs []time.Duration
	for range 101 {
		smalls = append(smalls, list("k10"))
		bigs = append(bigs, list("k100"))
	}
	small, big := median(smalls), median(bigs)
	r := float64(big) / float64(small)
	return []result{{Row: 5, Figure: "ops/list median latency, 100,000 entries vs 10,000", Value: ms(big), Reference: ms(small),
		Unit: "ms", Ratio: r, Target: "<= 12 (linear)", Pass: r <= 12}}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// moveScaling is row 6: moving a folder with 100,000 descendants against
// moving an empty folder.
func (b *bench) moveScaling() []result {
	u := b.addUsers("move", 1)[0]
	log.Printf("row 6: filling a folder with 100,000 descendants")
	u.fillFolder("tree/big", 100_000)
	u.must(u.post("/ops/mkdir", url.Values{"path": {"empty"}}, nil))
	moves := func(a, c string, reps int) time.Duration {
		var ds []time.Duration
		for i := range reps {
			from, to := a, c
			if i%2 == 1 {
				from, to = c, a
			}
			ds = append(ds, timed(func() error { return u.post("/ops/move", url.Values{"source": {from}, "destination": {to}}, nil) }))
		}
		return median(ds)
	}
	moves("empty", "elsewhere/empty", 4)
	empty := moves("empty", "elsewhere/empty", 20)
	big := moves("tree", "moved/tree", 20)
	r := float64(big) / float64(empty)
	return []result{{Row: 6, Figure: "ops/move of a folder with 100,000 descendants, median", Value: ms(big), Reference: ms(empty),
		Unit: "ms", Ratio: r, Target: "<= 2 (constant)", Pass: r <= 2}}
}

// sendAccept is row 7: send + accept pairs per second with 32 concurrent
// senders, against one sender doing the same in sequence.
func (b *bench) sendAccept() []result {
	senders, receivers := b.addUsers("sender", 32), b.addUsers("receiver", 32)
	for _, s := range senders {
		s.must(s.put("out/doc.txt", []byte("a document of some length, sent again and again")))
	}
	pair := func(w int) error {
		s, r := senders[w], receivers[w]
		var sent struct{ Messages []uint64 }
		if err := s.post("/ops/send", url.Values{"to": {r.email}, "source": {`[{"path":"out","files":["doc.txt"]}]`}}, &sent); err != nil {
			return err
		}
		return r.post("/inbox/update", url.Values{"messages": {fmt.Sprintf(`[{"id":%d,"accept":"YES"}]`, sent.Messages[0])}}, nil)
	}
	log.Printf("row 7: %v each, in 5 alternating rounds", *flagDuration)
	seq, conc := interleaved(5,
		func(d time.Duration) float64 { r, _ := load(1, d, pair); return r },
		func(d time.Duration) float64 { r, _ := load(32, d, pair); return r })
	return []result{{Row: 7, Figure: "send + accept pairs, 32 concurrent senders, fsync on", Value: conc, Reference: seq,
		Unit: "pairs/s", Ratio: conc / seq, Target: ">= 8 (group commit)", Pass: conc/seq >= 8}}
}

// heapAtScale is row 9: ferry's heap with 1,000 users and about -files
// files, after listing and sending under load.
func (b *bench) heapAtScale() []result {
	const nUsers = 1000
	perUser := *flagFiles / nUsers
	log.Printf("row 9: %d users with %d files each", nUsers, perUser)
	users := b.addUsers("many", nUsers)
	// Eight files, then double the folder until it holds perUser files:
	// copy it aside and move the copy inside.
	parallel(nUsers, 16, func(i int) {
		u := users[i]
		for j := range 8 {
			u.must(u.put(fmt.Sprintf("t/f%d.txt", j), []byte(fmt.Sprintf("user %d file %d", i, j))))
		}
		for n, k := 8, 0; n < perUser; n, k = n*2, k+1 {
			u.must(u.post("/ops/copy", url.Values{"source": {"t"}, "destination": {"tmp"}}, nil))
			u.must(u.post("/ops/move", url.Values{"source": {"tmp"}, "destination": {fmt.Sprintf("t/c%d", k)}}, nil))
		}
	})
	log.Printf("row 9: listing and sending under load for %v", 2**flagDuration)
	var n atomic.Int64
	_, _ = load(32, 2**flagDuration, func(w int) error {
		i := int(n.Add(1)) % nUsers
		u, to := users[i], users[(i+1)%nUsers]
		if w%4 == 0 {
			var sent struct{ Messages []uint64 }
			if err := u.post("/ops/send", url.Values{"to": {to.email}, "source": {`[{"path":"t","files":["f0.txt"]}]`}}, &sent); err != nil {
				return err
			}
			return to.post("/inbox/update", url.Values{"messages": {fmt.Sprintf(`[{"id":%d,"accept":"YES"}]`, sent.Messages[0])}}, nil)
		}
		return u.do(http.MethodGet, "/ops/list?path=t/c1", nil, "", nil)
	})
	files := int64(nUsers) * int64(perUser)
	heap := b.metric("go_memstats_heap_inuse_bytes")
	rss := b.metric("process_resident_memory_bytes")
	return []result{{Row: 9, Figure: fmt.Sprintf("Go HeapInuse with %d users, %d files, after load", nUsers, files), Value: heap / (1 << 20),
		Unit: "MiB", Target: "<= 64 MiB", Pass: heap <= 64<<20, Note: "RSS beside it: " + mib(rss) + " (bbolt's file is mapped, so RSS counts the pages of it that were read)"}}
}
