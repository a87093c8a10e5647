package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/ferrytest"
)

// crashModel is what each path may hold: a set of allowed contents (by
// SHA-256), "" for absent. An acknowledged change makes a path certain; a
// request that died with the server leaves both outcomes allowed.
type crashModel struct {
	mu    sync.Mutex
	paths map[string]map[string]bool // "user:path" -> allowed sha256 ("" = absent)
}

func (m *crashModel) set(key string, allowed ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	set := map[string]bool{}
	for _, a := range allowed {
		set[a] = true
	}
	m.paths[key] = set
}

// outcome records a change of key from before to after: after when it was
// acknowledged, either when the request failed.
func (m *crashModel) outcome(key, before, after string, acked bool) {
	if acked {
		m.set(key, after)
	} else {
		m.set(key, before, after)
	}
}

// TestCrash_KillUnderLoad kills `ferry serve` with SIGKILL at random
// moments under mixed load, twenty times (six with blobs in S3), and checks after every restart
// that each acknowledged change is there with the right bytes, that no
// path holds anything but an allowed version (nothing half-written), and
// that fsck finds nothing.
func TestCrash_KillUnderLoad(t *testing.T) {
	t.Parallel() // slow and waiting more than computing: beside the others
	if testing.Short() {
		t.Skip("slow")
	}
	kills, workers := 20, 4
	if ferrytest.BlobsInS3() {
		kills = 6 // each round reads every file back from the object store
	}
	config, _ := cliConfig(t, "[packages.free]\nstorage = 0\nreceive_per_month = 0\n[send]\nmax_pending = 0\n")
	for _, email := range []string{"crash-a@example.com", "crash-b@example.com"} {
		ferryCLI(t, config, "", "user", "add", "--email", email, "--password", password).requireOK(t)
	}
	model := &crashModel{paths: map[string]map[string]bool{}}
	rng := rand.New(rand.NewPCG(1, 2))
	acked, checked := 0, 0
	var ackMu sync.Mutex

	for round := 0; round <= kills; round++ {
		srv := startBinary(t, config)
		base := srv.client(t)
		a := &client{t: t, base: base.base, http: &http.Client{Timeout: 10 * time.Second}}
		b := &client{t: t, base: base.base, http: &http.Client{Timeout: 10 * time.Second}}
		for _, c := range []struct {
			cl    *client
			email string
		}{{a, "crash-a@example.com"}, {b, "crash-b@example.com"}} {
			var out struct{ Token string }
			c.cl.postForm("/auth/token", url.Values{"email": {c.email}, "password": {password}}).requireStatus(http.StatusOK).decode(&out)
			c.cl.token = out.Token
		}

		// Everything the model says, the restarted server holds.
		model.mu.Lock()
		keys := make([]string, 0, len(model.paths))
		for k := range model.paths {
			keys = append(keys, k)
		}
		model.mu.Unlock()
		for _, key := range keys {
			owner, path := a, key[2:]
			if key[0] == 'b' {
				owner = b
			}
			r := owner.getFile(path)
			got := ""
			if r.Status == http.StatusOK {
				got = sha(r.Body)
			} else {
				require.Equal(t, http.StatusNotFound, r.Status, "round %d, %s: %s", round, key, r.Body)
			}
			model.mu.Lock()
			allowed := model.paths[key]
			model.mu.Unlock()
			require.True(t, allowed[got], "round %d: %s holds %q, allowed %v", round, key, got, allowed)
			model.set(key, got)
			checked++
		}
		require.Eventually(t, func() bool {
			return ferryCLI(t, config, "", "fsck").code == 0
		}, 10*time.Second, 100*time.Millisecond, "round %d: fsck: %s", round, ferryCLI(t, config, "", "fsck").stdout)
		if round == kills {
			require.NoError(t, srv.cmd.Process.Signal(syscall.SIGTERM))
			srv.requireExit(t, 0)
			break
		}

		// Mixed load, then SIGKILL at a random moment.
		loadThenKill(t, srv, round, workers, time.Duration(100+rng.IntN(700))*time.Millisecond,
			func(ctx context.Context, w, i int, wrng *rand.Rand) {
				if crashOp(ctx, a, b, model, wrng, fmt.Sprintf("w%d/r%d-%d", w, round, i)) {
					ackMu.Lock()
					acked++
					ackMu.Unlock()
				}
			})
	}
	t.Logf("%d kills survived; %d acknowledged changes; %d path checks", kills, acked, checked)
}

// loadThenKill runs op in a loop on workers goroutines (each with a
// random source of its own, seeded by round and worker), SIGKILLs the
// server after pause, and returns when every worker has stopped.
func loadThenKill(t *testing.T, srv *binaryServer, round, workers int, pause time.Duration, op func(ctx context.Context, w, i int, rng *rand.Rand)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		rng := rand.New(rand.NewPCG(uint64(round), uint64(w)))
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				op(ctx, w, i, rng)
			}
		}()
	}
	time.Sleep(pause)
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGKILL))
	<-srv.done
	cancel()
	wg.Wait()
}

// crashOp does one random change and records it in the model; it reports
// whether the change was acknowledged.
func crashOp(ctx context.Context, a, b *client, m *crashModel, rng *rand.Rand, name string) bool {
	content := make([]byte, 1+rng.IntN(96<<10))
	for i := range content {
		content[i] = byte(rng.Uint32())
	}
	sum := sha(content)
	tryDo := func(c *client, req *http.Request) (int, []byte) {
		req = req.WithContext(ctx)
		if c.token != "" {
			req.Header.Set("token", c.token)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return 0, nil
		}
		defer resp.Body.Close()
		body := make([]byte, 0, 512)
		buf := make([]byte, 512)
		for {
			n, err := resp.Body.Read(buf)
			body = append(body, buf[:n]...)
			if err != nil {
				break
			}
		}
		return resp.StatusCode, body
	}
	put := func(c *client, path string, data []byte) bool {
		req, _ := http.NewRequest(http.MethodPut, c.base+"/files?path="+url.QueryEscape(path), bytes.NewReader(data))
		st, _ := tryDo(c, req)
		return st == http.StatusOK
	}
	post := func(c *client, path string, form url.Values) (int, []byte) {
		req, _ := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return tryDo(c, req)
	}
	path := name + ".bin"
	switch op := rng.IntN(5); op {
	case 0, 1: // PUT
		ok := put(a, path, content)
		m.outcome("a:"+path, "", sum, ok)
		return ok
	case 2: // resumable upload in two chunks
		st, body := post(a, "/upload/link", url.Values{"path": {path}, "size": {fmt.Sprint(len(content))}})
		if st != http.StatusOK {
			return false
		}
		var link struct {
			Key string `json:"upload_key"`
		}
		if json.Unmarshal(body, &link) != nil {
			return false
		}
		key := link.Key
		half := len(content) / 2
		for _, part := range [][2]int{{0, half}, {half, len(content)}} {
			if part[1] == part[0] {
				continue
			}
			req, _ := http.NewRequest(http.MethodPut, a.base+"/upload/chunked/"+key, bytes.NewReader(content[part[0]:part[1]]))
			req.Header.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", part[0], part[1]-1, len(content)))
			if st, _ := tryDo(a, req); st != http.StatusOK {
				return false // not finalized: the file cannot exist
			}
		}
		req, _ := http.NewRequest(http.MethodGet, a.base+"/upload/finalize/"+key, nil)
		st, _ = tryDo(a, req)
		m.outcome("a:"+path, "", sum, st == http.StatusOK)
		return st == http.StatusOK
	case 3: // upload, then move it (or delete it)
		if !put(a, path, content) {
			m.outcome("a:"+path, "", sum, false)
			return false
		}
		m.set("a:"+path, sum)
		if rng.IntN(2) == 0 {
			st, _ := post(a, "/ops/delete", url.Values{"file[]": {path}})
			m.outcome("a:"+path, sum, "", st == http.StatusOK)
			return st == http.StatusOK
		}
		to := name + "-moved.bin"
		st, _ := post(a, "/ops/move", url.Values{"source": {path}, "destination": {to}})
		m.outcome("a:"+path, sum, "", st == http.StatusOK)
		m.outcome("a:"+to, "", sum, st == http.StatusOK)
		return st == http.StatusOK
	default: // send to b, and b accepts
		if !put(a, path, content) {
			m.outcome("a:"+path, "", sum, false)
			return false
		}
		m.set("a:"+path, sum)
		st, body := post(a, "/ops/send", url.Values{"to": {"crash-b@example.com"}, "source": {fmt.Sprintf(`[{"path":"","files":[%q]}]`, path)}})
		if st != http.StatusOK {
			return false
		}
		var sent struct{ Messages []uint64 }
		if json.Unmarshal(body, &sent) != nil || len(sent.Messages) != 1 {
			return false
		}
		id := sent.Messages[0]
		st, _ = post(b, "/inbox/update", url.Values{"messages": {fmt.Sprintf(`[{"id":%d,"accept":"YES"}]`, id)}})
		m.outcome("b:"+path, "", sum, st == http.StatusOK)
		return st == http.StatusOK
	}
}
