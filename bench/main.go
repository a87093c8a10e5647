// Command bench measures ferry against references measured in the same
// run (reference servers in processes of their own, as ferry is), and prints the table of issue 6's targets as Markdown
// (and writes it as JSON). Run it from the repository root:
//
//	go run ./bench                 # every row, 1 GiB files, 1,000,000 files for row 9
//	go run ./bench -rows 4,7       # some rows
//	go run ./bench -size 256MiB    # smaller files for rows 1-3 and 8
//
// It builds ferry, starts it on 127.0.0.1 with a fresh data directory (in
// -dir), and drives it with the load generator below. Ratios, not absolute
// times, are the figures: the references see the same machine, disk and
// load in the same run.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ferryhq/ferry/app"
	"github.com/ferryhq/ferry/quota"
)

// result is one row of the table.
type result struct {
	Row       int     `json:"row"`
	Sub       string  `json:"sub,omitempty"` // 1b, 1c...: more figures of row 1
	Figure    string  `json:"figure"`
	Value     float64 `json:"value"`
	Reference float64 `json:"reference,omitempty"`
	Unit      string  `json:"unit"`
	Ratio     float64 `json:"ratio,omitempty"`
	Target    string  `json:"target"`
	Pass      bool    `json:"pass"`
	Note      string  `json:"note,omitempty"`
	// Server CPU seconds per GiB moved, from /proc/PID/stat, of ferry
	// and of the reference server (0: not measured).
	CPU    float64 `json:"cpu_s_per_gib,omitempty"`
	RefCPU float64 `json:"ref_cpu_s_per_gib,omitempty"`
}

var (
	flagRows     = flag.String("rows", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22", "rows to run")
	flagSize     = flag.String("size", "1GiB", "file size for rows 1-3, 8, 10, 11, 14 and 15")
	flagFiles    = flag.Int("files", 1_000_000, "files for row 9 (about; 1,000 users)")
	flagDir      = flag.String("dir", "", "work directory (default: a new one under the system's temp dir, removed after)")
	flagOut      = flag.String("out", "bench/out", "where results.json goes")
	flagDuration = flag.Duration("duration", 5*time.Second, "how long each load phase runs")
	flagLog      = flag.String("log", "info", "ferry's log.level (info logs a line per request, as by default)")
)

func main() {
	flag.Parse()
	log.SetFlags(log.Ltime)
	size, err := quota.ParseSize(*flagSize)
	check(err)
	rows := map[int]bool{}
	for _, r := range strings.Split(*flagRows, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(r))
		check(err)
		rows[n] = true
	}
	dir := *flagDir
	if dir == "" {
		dir, err = os.MkdirTemp("", "ferry-bench-")
		check(err)
		defer os.RemoveAll(dir)
	}
	b := &bench{dir: dir, size: size}
	b.build()
	b.start("")
	defer b.stop()

	var results []result
	// Rows 1-3 and 8 run first: row 3 is the process's peak RSS, which
	// the other rows' reading of a large database would raise. The rows
	// of small calls come next, before the web app and the object store:
	// in their wake the kernel is still writing gigabytes out, and row 4
	// read 10% lower there. Row 9 fills the database with a million
	// files, so it runs last.
	if rows[1] || rows[2] || rows[3] || rows[8] {
		results = append(results, b.bigFiles(rows)...)
	}
	syscall.Sync()
	for _, row := range []struct {
		n  int
		fn func() []result
	}{{4, b.listRate}, {5, b.listScaling}, {6, b.moveScaling}, {7, b.sendAccept}} {
		if rows[row.n] {
			results = append(results, row.fn()...)
		}
	}
	if rows[10] || rows[11] {
		results = append(results, b.webRows(rows)...)
	}
	if rows[12] || rows[13] {
		results = append(results, b.pageRows(rows)...)
	}
	if rows[14] || rows[15] {
		results = append(results, b.s3Rows()...)
	}
	if rows[16] || rows[17] || rows[18] || rows[19] || rows[20] || rows[21] || rows[22] {
		results = append(results, b.clusterRows()...)
	}
	if rows[9] {
		syscall.Sync()
		results = append(results, b.heapAtScale()...)
	}
	sort.SliceStable(results, func(i, j int) bool {
		if results[i].Row != results[j].Row {
			return results[i].Row < results[j].Row
		}
		return results[i].Sub < results[j].Sub
	})
	report(results, size)
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

// bench is a running ferry and what the rows share.
type bench struct {
	dir, bin, refBin string
	config, data     string
	size             int64
	cmd              *exec.Cmd
	base             string // http://addr/api/1
	root             string
	client           *http.Client
}

func (b *bench) build() {
	b.bin = filepath.Join(b.dir, "ferry")
	b.refBin = filepath.Join(b.dir, "refserver")
	log.Printf("building ferry and the reference server into %s", b.dir)
	for bin, pkg := range map[string]string{b.bin: "./cmd/ferry", b.refBin: "./bench/refserver"} {
		out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput()
		if err != nil {
			log.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
}

// start runs ferry serve with quotas and send limits off (the bench
// measures speed, not policy), and extra config after that, and waits for
// its address.
func (b *bench) start(extra string) {
	b.data = filepath.Join(b.dir, "data")
	b.config = filepath.Join(b.dir, "ferry.toml")
	ln, err := net.Listen("tcp", "127.0.0.1:0") // a free port, named in the config
	check(err)
	addr := ln.Addr().String()
	check(ln.Close())
	config := fmt.Sprintf(`listen = %q
data_dir = %q
[log]
level = %q
[send]
max_pending = 0
max_files = 0
[packages.free]
storage = 0
receive_per_month = 0
[metrics]
token = "bench"
%s`, addr, b.data, *flagLog, extra)
	check(os.WriteFile(b.config, []byte(config), 0o600))
	logFile, err := os.Create(filepath.Join(b.dir, "ferry.log"))
	check(err)
	b.cmd = exec.Command(b.bin, "serve", "--config", b.config)
	b.cmd.Stdout, b.cmd.Stderr = logFile, logFile
	check(b.cmd.Start())
	b.root = "http://" + addr
	b.base = b.root + "/api/1"
	b.client = newClient(64)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := b.client.Get(b.root + "/healthz"); err == nil {
			resp.Body.Close()
			log.Printf("ferry serving at %s (pid %d)", b.root, b.cmd.Process.Pid)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	log.Fatal("ferry did not start; see ", logFile.Name())
}

func (b *bench) stop() {
	if b.cmd != nil && b.cmd.Process != nil {
		b.cmd.Process.Signal(os.Interrupt)
		b.cmd.Wait()
	}
}

func newClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns,
		DisableCompression: true, IdleConnTimeout: time.Minute,
	}, Timeout: 10 * time.Minute}
}

// admin returns the admin commands of the running ferry (over its socket).
func (b *bench) admin() app.Admin {
	cfg, err := app.LoadConfig(b.config)
	check(err)
	a, _, err := app.OpenAdmin(cfg)
	check(err)
	return a
}

// procStatus reads a field (in kB) of ferry's /proc/PID/status.
func (b *bench) procStatus(field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", b.cmd.Process.Pid))
	check(err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			check(err)
			return n << 10
		}
	}
	log.Fatalf("no %s in /proc status", field)
	return 0
}

// resetPeakRSS makes VmHWM start again from the current RSS.
func (b *bench) resetPeakRSS() {
	check(os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", b.cmd.Process.Pid), []byte("5"), 0))
}

// metric reads one value from ferry's /metrics.
func (b *bench) metric(name string) float64 {
	for _, line := range b.metricLines() {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			v, err := strconv.ParseFloat(rest, 64)
			check(err)
			return v
		}
	}
	log.Fatalf("no %s in /metrics", name)
	return 0
}

// metricLines reads ferry's /metrics, a line each.
func (b *bench) metricLines() []string {
	req, err := http.NewRequest(http.MethodGet, b.root+"/metrics", nil)
	check(err)
	req.Header.Set("Authorization", "Bearer bench")
	resp, err := b.client.Do(req)
	check(err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	check(err)
	return strings.Split(string(body), "\n")
}

// transferRequest makes a request of target with the token when there is
// one.
func (b *bench) transferRequest(method, target, token string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = b.size
	}
	if token != "" {
		req.Header.Set("token", token)
	}
	return b.client.Do(req)
}

// putFile returns a PUT of the file src (b.size bytes) to target, with
// the token when there is one, that wants 200.
func (b *bench) putFile(src, target, token string) func() error {
	return func() error {
		f, err := os.Open(src)
		if err != nil {
			return err
		}
		defer f.Close()
		resp, err := b.transferRequest(http.MethodPut, target, token, f)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("PUT: %s", resp.Status)
		}
		return nil
	}
}

// randomFile writes n pseudo-random bytes to path.
func randomFile(path string, n int64) {
	f, err := os.Create(path)
	check(err)
	r := rand.NewChaCha8([32]byte{1, 2, 3})
	_, err = io.CopyN(f, r, n)
	check(err)
	check(f.Close())
}

// timed runs f and returns how long it took.
func timed(f func() error) time.Duration {
	start := time.Now()
	check(f())
	return time.Since(start)
}

func mib(n float64) string { return fmt.Sprintf("%.1f MiB", n/(1<<20)) }

var errShort = errors.New("short transfer")

func report(results []result, size int64) {
	var md strings.Builder
	fmt.Fprintf(&md, "| # | figure | ferry | reference | ratio | target | result | CPU s/GiB ferry | CPU s/GiB ref |\n|---|---|---|---|---|---|---|---|---|\n")
	cpu := func(v float64) string {
		if v == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", v)
	}
	for _, r := range results {
		ref, ratio := "-", "-"
		if r.Reference != 0 {
			ref = fmt.Sprintf("%.4g %s", r.Reference, r.Unit)
			ratio = fmt.Sprintf("%.2f", r.Ratio)
		}
		pass := "pass"
		if !r.Pass {
			pass = "**miss**"
		}
		fmt.Fprintf(&md, "| %d%s | %s | %.4g %s | %s | %s | %s | %s | %s | %s |\n", r.Row, r.Sub, r.Figure, r.Value, r.Unit, ref, ratio, r.Target, pass, cpu(r.CPU), cpu(r.RefCPU))
	}
	host, _ := os.Hostname()
	machine := fmt.Sprintf("%s, %d cores, %s, %s/%s, file size %s", host, runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH, quota.FormatSize(size))
	fmt.Printf("\n%s\nMachine: %s\n", md.String(), machine)
	for _, r := range results {
		if r.Note != "" {
			fmt.Printf("- row %d%s: %s\n", r.Row, r.Sub, r.Note)
		}
	}
	check(os.MkdirAll(*flagOut, 0o755))
	out, err := json.MarshalIndent(map[string]any{"machine": machine, "date": time.Now().UTC().Format(time.RFC3339), "results": results}, "", "  ")
	check(err)
	check(os.WriteFile(filepath.Join(*flagOut, "results.json"), out, 0o644))
	check(os.WriteFile(filepath.Join(*flagOut, "results.md"), []byte(md.String()+"\nMachine: "+machine+"\n"), 0o644))
}
