package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// cutOff is a change that SIGKILL cut off before it was answered, to be
// checked after the restart.
type cutOff struct {
	finalize     bool
	key, path    string // finalize: the upload, and where its file goes
	sum          string // finalize: the file's content; move: the source's
	src, dst     string // move: the source file and the destination folder
	dstFile, old string // move: the file inside the destination, and its content
}

// TestCrash_CutOffFinalizeAndOverwrite kills `ferry serve` while resumable
// uploads whose chunks were all acknowledged are being finalized, and while
// WebDAV MOVEs with Overwrite: T replace folders. After each restart, every
// cut-off upload is either its file or can still be finalized into it, and
// every cut-off move left either the old state or the new one whole: never
// a deleted destination beside an unmoved source.
func TestCrash_CutOffFinalizeAndOverwrite(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	t.Parallel()
	const kills, workers = 8, 4
	config, _ := cliConfig(t, "[packages.free]\nstorage = 0\nreceive_per_month = 0\n")
	ferryCLI(t, config, "", "user", "add", "--email", "cut@example.com", "--password", password).requireOK(t)
	var finalizes, moves, finalizesCut, movesCut int
	for round := 0; round <= kills; round++ {
		srv := startBinary(t, config)
		c := &client{t: t, base: srv.client(t).base, http: &http.Client{Timeout: 10 * time.Second}}
		var tok struct{ Token string }
		c.postForm("/auth/token", url.Values{"email": {"cut@example.com"}, "password": {password}}).requireStatus(http.StatusOK).decode(&tok)
		c.token = tok.Token
		if round > 0 {
			require.Eventually(t, func() bool { return ferryCLI(t, config, "", "fsck").code == 0 },
				10*time.Second, 100*time.Millisecond, "round %d: fsck: %s", round, ferryCLI(t, config, "", "fsck").stdout)
		}
		if round == kills {
			require.NoError(t, srv.cmd.Process.Signal(syscall.SIGTERM))
			srv.requireExit(t, 0)
			break
		}
		var sl slice
		c.get("/slice", nil).requireStatus(http.StatusOK).decode(&sl)
		d := &dav{c: &client{t: t, http: c.http}, root: "http://" + srv.addr + "/dav", user: sl.Login, pass: sl.Rsync}

		var mu sync.Mutex
		var cut []cutOff
		loadThenKill(t, srv, round, workers, time.Duration(150+rand.IntN(400))*time.Millisecond,
			func(ctx context.Context, w, i int, rng *rand.Rand) {
				name := fmt.Sprintf("r%d-w%d-%d", round, w, i)
				var co *cutOff
				if w%2 == 0 {
					co = cutFinalize(ctx, c, rng, name)
				} else {
					co = cutMove(ctx, c, d, rng, name)
				}
				mu.Lock()
				defer mu.Unlock()
				switch {
				case co == nil:
					return
				case co.finalize:
					finalizes++
				default:
					moves++
				}
				if co.key != "-" {
					cut = append(cut, *co)
				}
			})

		// Check what was cut off on a restarted server.
		srv = startBinary(t, config)
		c.base = srv.client(t).base
		c.postForm("/auth/token", url.Values{"email": {"cut@example.com"}, "password": {password}}).requireStatus(http.StatusOK).decode(&tok)
		c.token = tok.Token
		for _, co := range cut {
			if co.finalize {
				finalizesCut++
				if r := c.getFile(co.path); r.Status == http.StatusOK {
					require.Equal(t, co.sum, sha(r.Body), "round %d: %s", round, co.path)
					continue
				}
				r := c.get("/upload/finalize/"+co.key, nil)
				require.Equal(t, http.StatusOK, r.Status, "round %d: a cut-off finalize of %s is lost: %s", round, co.path, r.Body)
				require.Equal(t, co.sum, sha(c.getFile(co.path).Body), "round %d: %s", round, co.path)
				continue
			}
			movesCut++
			src, inDst, dst := c.getFile(co.src), c.getFile(co.dstFile), c.getFile(co.dst)
			switch {
			case src.Status == http.StatusOK: // not moved: all as it was
				require.Equal(t, co.sum, sha(src.Body), "round %d: %s", round, co.src)
				require.Equal(t, http.StatusOK, inDst.Status, "round %d: %s is gone but %s was not moved", round, co.dstFile, co.src)
				require.Equal(t, co.old, sha(inDst.Body))
			default: // moved: the destination is the source's file
				require.Equal(t, http.StatusOK, dst.Status, "round %d: neither %s nor %s is there", round, co.src, co.dst)
				require.Equal(t, co.sum, sha(dst.Body), "round %d: %s", round, co.dst)
			}
		}
		require.NoError(t, srv.cmd.Process.Signal(syscall.SIGTERM))
		srv.requireExit(t, 0)
	}
	t.Logf("%d finalizes and %d moves, of which %d and %d were cut off by %d kills", finalizes, moves, finalizesCut, movesCut, kills)
}

// tryStatus sends req under ctx and returns the status, 0 when there was
// no answer, and the body.
func tryStatus(ctx context.Context, c *client, req *http.Request) (int, []byte) {
	req = req.WithContext(ctx)
	if c.token != "" && req.Header.Get("Authorization") == "" {
		req.Header.Set("token", c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return 0, nil
	}
	return resp.StatusCode, buf.Bytes()
}

// cutFinalize makes an upload whose chunks are all acknowledged and
// finalizes it; it returns the upload when the finalize got no answer, an
// entry with key "-" when it did, and nil when it did not get that far.
func cutFinalize(ctx context.Context, c *client, rng *rand.Rand, name string) *cutOff {
	content := make([]byte, 1+rng.IntN(64<<10))
	for i := range content {
		content[i] = byte(rng.Uint32())
	}
	path := name + ".bin"
	req, _ := http.NewRequest(http.MethodPost, c.base+"/upload/link", bytes.NewReader([]byte(url.Values{"path": {path}, "size": {fmt.Sprint(len(content))}}.Encode())))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	st, body := tryStatus(ctx, c, req)
	var link struct {
		Key string `json:"upload_key"`
	}
	if st != http.StatusOK || json.Unmarshal(body, &link) != nil {
		return nil
	}
	req, _ = http.NewRequest(http.MethodPut, c.base+"/upload/chunked/"+link.Key, bytes.NewReader(content))
	req.Header.Set("Content-Range", fmt.Sprintf("bytes 0-%d/%d", len(content)-1, len(content)))
	if st, _ := tryStatus(ctx, c, req); st != http.StatusOK {
		return nil
	}
	req, _ = http.NewRequest(http.MethodGet, c.base+"/upload/finalize/"+link.Key, nil)
	co := &cutOff{finalize: true, key: link.Key, path: path, sum: sha(content)}
	if st, _ := tryStatus(ctx, c, req); st == http.StatusOK {
		co.key = "-"
	}
	return co
}

// cutMove makes a file and a folder holding a file, then moves the file
// onto the folder over WebDAV with Overwrite: T; like cutFinalize, it
// returns what was cut off.
func cutMove(ctx context.Context, c *client, d *dav, rng *rand.Rand, name string) *cutOff {
	co := &cutOff{src: name + "/src.bin", dst: name + "/dst", dstFile: name + "/dst/in.bin"}
	for _, p := range []struct {
		path string
		sum  *string
	}{{co.src, &co.sum}, {co.dstFile, &co.old}} {
		content := make([]byte, 1+rng.IntN(16<<10))
		for i := range content {
			content[i] = byte(rng.Uint32())
		}
		*p.sum = sha(content)
		req, _ := http.NewRequest(http.MethodPut, c.base+"/files?path="+url.QueryEscape(p.path), bytes.NewReader(content))
		if st, _ := tryStatus(ctx, c, req); st != http.StatusOK {
			return nil
		}
	}
	req, _ := http.NewRequest("MOVE", d.root+"/"+co.src, nil)
	req.SetBasicAuth(d.user, d.pass)
	req.Header.Set("Destination", d.root+"/"+co.dst)
	req.Header.Set("Overwrite", "T")
	if st, _ := tryStatus(ctx, &client{http: c.http}, req); st == http.StatusNoContent {
		co.key = "-"
	}
	return co
}
