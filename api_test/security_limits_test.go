package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/app"
)

// countingBody is a request body of n bytes of 'x', sent without a
// declared length, that counts what the server read of it (the client's
// transport reads it on a goroutine of its own).
type countingBody struct {
	left int64
	read atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	if b.left == 0 {
		return 0, io.EOF
	}
	n := min(int64(min(len(p), 32<<10)), b.left)
	for i := range p[:n] {
		p[i] = 'x'
	}
	b.left -= n
	b.read.Add(n)
	return int(n), nil
}

// An upload without Content-Length stops being read the moment it passes
// the quota (it was spooled whole, fsynced, then refused), on PUT /files
// and WebDAV PUT alike.
func TestSecurity_UploadOverQuotaIsNotReadWhole(t *testing.T) {
	ts := startServer(t, func(c *app.Config) {
		c.Packages["free"] = app.Package{Storage: 10_000}
	})
	alice := ts.login(ts.addUser("alice@example.com", "alice password"), "alice password")
	d := ts.dav(alice)
	for _, put := range []struct {
		name string
		do   func(io.Reader) *response
	}{
		{"PUT /files", func(body io.Reader) *response {
			return alice.request(http.MethodPut, "/files?path=big.bin", body, "application/octet-stream")
		}},
		{"WebDAV PUT", func(body io.Reader) *response { return d.do(http.MethodPut, "/big.bin", body) }},
	} {
		body := &countingBody{left: 24 << 20}
		r := put.do(io.NopCloser(body)) // NopCloser hides the length
		assert.True(t, r.Status == http.StatusForbidden || r.Status == http.StatusInsufficientStorage, "%s: %d %s", put.name, r.Status, r.Body)
		assert.Contains(t, string(r.Body), ferry.EQUOTAEXCEEDED, put.name)
		assert.Less(t, body.read.Load(), int64(8<<20), "%s: the server read %d bytes of a body over the quota", put.name, body.read.Load())
	}
	assert.Equal(t, int64(0), alice.quota().Normal)
	alice.mustPut("fits.bin", bytes.Repeat([]byte{'y'}, 10_000))
}

// Resumable uploads take their room when they are made: five of 9,000
// bytes on a 10,000-byte quota all staged their bytes.
func TestSecurity_UploadsInProgressHoldRoom(t *testing.T) {
	ts := startServer(t, func(c *app.Config) {
		c.Packages["free"] = app.Package{Storage: 10_000}
		c.Uploads.IdleTimeout = app.Duration(time.Minute)
	})
	alice := ts.login(ts.addUser("alice@example.com", "alice password"), "alice password")
	first := alice.mustUploadLink("a.bin", 9_000)
	for i := range 4 {
		alice.uploadLink(fmt.Sprintf("b%d.bin", i), 9_000, nil).requireError(http.StatusForbidden, ferry.EQUOTAEXCEEDED)
	}
	alice.putFile("c.bin", make([]byte, 2_000), false).requireError(http.StatusForbidden, ferry.EQUOTAEXCEEDED)
	alice.putFile("c.bin", make([]byte, 1_000), false).requireStatus(http.StatusOK)

	// Finalize gives the room back as the file takes it.
	content := bytes.Repeat([]byte{'z'}, 9_000)
	alice.chunk(first, 0, 9_000, content).requireStatus(http.StatusOK)
	alice.get("/upload/finalize/"+first, nil).requireStatus(http.StatusOK)
	assert.Equal(t, int64(10_000), alice.quota().Normal)

	// Expiry gives it back too.
	alice.postForm("/ops/delete", url.Values{"file[]": {"a.bin"}}).requireStatus(http.StatusOK)
	second := alice.mustUploadLink("d.bin", 9_000)
	alice.uploadLink("e.bin", 9_000, nil).requireError(http.StatusForbidden, ferry.EQUOTAEXCEEDED)
	ts.Clock.Advance(2 * time.Minute)
	require.Eventually(t, func() bool {
		return alice.uploadLink("e.bin", 9_000, nil).Status == http.StatusOK
	}, 10*time.Second, 50*time.Millisecond)
	alice.get("/upload/status/"+second, nil).requireError(http.StatusNotFound, ferry.EUPLOADNOTFOUND)
}

// Content that only the sender's pending sends still carry counts against
// the sender until the sends are decided: upload, send, delete and again
// pinned three quotas for 30 days at a usage of 0.
func TestSecurity_PendingSendsHoldDeletedContent(t *testing.T) {
	ts := startServer(t, func(c *app.Config) {
		c.Packages["free"] = app.Package{Storage: 10_000}
	})
	alice := ts.login(ts.addUser("alice@example.com", "alice password"), "alice password")
	bob := ts.login(ts.addUser("bob@example.com", "bob password"), "bob password")
	alice.mustPut("f.bin", bytes.Repeat([]byte{'a'}, 6_000))
	first := alice.mustSend("bob@example.com", `[{"path":"","files":["f.bin"]}]`)
	alice.postForm("/ops/delete", url.Values{"file[]": {"f.bin"}}).requireStatus(http.StatusOK)
	assert.Equal(t, int64(0), alice.quota().Normal)
	// The deleted content still counts: 6,000 held beside a new 6,000 is
	// over the quota.
	alice.putFile("g.bin", make([]byte, 6_000), false).requireError(http.StatusForbidden, ferry.EQUOTAEXCEEDED)
	alice.putFile("g.bin", make([]byte, 4_000), false).requireStatus(http.StatusOK)

	// Replacing a sent file holds the old content too.
	alice.mustSend("bob@example.com", `[{"path":"","files":["g.bin"]}]`)
	alice.putFile("g.bin", make([]byte, 10), false).requireStatus(http.StatusOK)
	alice.putFile("h.bin", make([]byte, 10), false).requireError(http.StatusForbidden, ferry.EQUOTAEXCEEDED)

	// Declining one send gives back what it held; accepting the other too.
	bob.postJSON("/inbox/update", map[string]any{"messages": []map[string]any{{"id": first[0], "accept": "NO"}}}).requireStatus(http.StatusOK)
	alice.putFile("h.bin", make([]byte, 5_000), false).requireStatus(http.StatusOK)
	inbox := bob.inbox()
	require.Len(t, inbox, 1)
	bob.postJSON("/inbox/update", map[string]any{"messages": []map[string]any{{"id": inbox[0].ID, "accept": "YES"}}}).requireStatus(http.StatusOK)
	alice.putFile("i.bin", make([]byte, 4_980), false).requireStatus(http.StatusOK)
	assert.Equal(t, int64(10+5_000+4_980), alice.quota().Normal)
}

// WebDAV properties are bounded per user, not only per node.
func TestSecurity_DeadPropertiesAreCapped(t *testing.T) {
	ts := startServer(t)
	alice := ts.login(ts.addUser("alice@example.com", "alice password"), "alice password")
	d := ts.dav(alice)
	value := strings.Repeat("v", 40<<10) // stored as about 54 KiB
	prop := `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:big xmlns:x="urn:x">` + value + `</x:big></D:prop></D:set></D:propertyupdate>`
	stored := 0
	for i := range 40 {
		name := fmt.Sprintf("/f%d", i)
		d.do(http.MethodPut, name, strings.NewReader("x")).requireStatus(http.StatusCreated)
		r := d.do("PROPPATCH", name, strings.NewReader(prop))
		require.Equal(t, http.StatusMultiStatus, r.Status, "body: %s", r.Body)
		if !strings.Contains(string(r.Body), "HTTP/1.1 200 OK") {
			// RFC 4918 9.2.1: the property gets 507, and none is set.
			require.Contains(t, string(r.Body), "HTTP/1.1 507 Insufficient Storage", "body: %s", r.Body)
			assert.NotContains(t, string(d.do("PROPFIND", name, nil, "Depth", "0").Body), "urn:x")
			break
		}
		stored++
	}
	assert.Equal(t, 19, stored, "1 MiB of 54 KiB properties")
	// Deleting a file gives its properties' room back.
	d.do(http.MethodDelete, "/f0", nil).requireStatus(http.StatusNoContent)
	r := d.do("PROPPATCH", "/f1", strings.NewReader(prop))
	require.Equal(t, http.StatusMultiStatus, r.Status, "body: %s", r.Body)
	r = d.do("PROPPATCH", fmt.Sprintf("/f%d", stored), strings.NewReader(prop))
	require.Equal(t, http.StatusMultiStatus, r.Status, "body: %s", r.Body)
	r = d.do("PROPPATCH", "/f1", strings.NewReader(prop)) // the same again: no more room taken
	require.Equal(t, http.StatusMultiStatus, r.Status, "body: %s", r.Body)
}

// Replacing a WebDAV destination (Overwrite: T) is one transaction with
// the move or copy: a move that then fails leaves the destination as it
// was (x/net/webdav deleted it first, in a commit of its own).
func TestSecurity_DavOverwriteIsOneStep(t *testing.T) {
	ts := startServer(t)
	alice := ts.login(ts.addUser("alice@example.com", "alice password"), "alice password")
	alice.mustPut("x/y/keep.txt", []byte("keep"))
	alice.mustPut("x/a.txt", []byte("a"))
	d := ts.dav(alice)
	for _, method := range []string{"MOVE", "COPY"} {
		r := d.do(method, "/x", nil, "Destination", ts.Root+"/dav/x/y", "Overwrite", "T")
		assert.GreaterOrEqual(t, r.Status, 400, "%s into itself: %s", method, r.Body)
		assert.Equal(t, []byte("keep"), alice.getFile("x/y/keep.txt").Body, "%s into itself lost the destination", method)
	}

	// What does work replaces the destination whole.
	alice.mustPut("src/one.txt", []byte("one"))
	alice.mustPut("src/sub/two.txt", []byte("two"))
	alice.mustPut("dst/old.txt", []byte("old"))
	require.Equal(t, http.StatusNoContent, d.do("COPY", "/src", nil, "Destination", ts.Root+"/dav/dst", "Overwrite", "T").Status)
	assert.Equal(t, []byte("two"), alice.getFile("dst/sub/two.txt").Body)
	alice.getFile("dst/old.txt").requireError(http.StatusNotFound, ferry.EFILENOTFOUND)
	require.Equal(t, http.StatusNoContent, d.do("MOVE", "/src/one.txt", nil, "Destination", ts.Root+"/dav/dst", "Overwrite", "T").Status)
	assert.Equal(t, []byte("one"), alice.getFile("dst").Body)
	alice.getFile("src/one.txt").requireError(http.StatusNotFound, ferry.EFILENOTFOUND)
	require.Equal(t, http.StatusPreconditionFailed, d.do("MOVE", "/src/sub", nil, "Destination", ts.Root+"/dav/dst", "Overwrite", "F").Status)
	assert.Equal(t, int64(4+1+3+3), alice.quota().Normal) // x/y/keep.txt, x/a.txt, src/sub/two.txt, dst
}

// WebDAV locks live in memory: one user may hold at most 100 at once.
func TestSecurity_DavLocksAreCapped(t *testing.T) {
	ts := startServer(t)
	alice := ts.login(ts.addUser("alice@example.com", "alice password"), "alice password")
	d := ts.dav(alice)
	lock := `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`
	var tokens []string
	for i := range 101 {
		r := d.do("LOCK", fmt.Sprintf("/l%d", i), strings.NewReader(lock), "Timeout", "Infinite")
		if i == 100 {
			require.Equal(t, http.StatusInsufficientStorage, r.Status, "body: %s", r.Body)
			break
		}
		require.Contains(t, []int{http.StatusOK, http.StatusCreated}, r.Status, "body: %s", r.Body)
		tokens = append(tokens, r.Header.Get("Lock-Token"))
	}
	// The brief locks of writes without an If header are not counted.
	d.do(http.MethodPut, "/other.txt", strings.NewReader("x")).requireStatus(http.StatusCreated)
	d.do("MKCOL", "/folder", nil).requireStatus(http.StatusCreated)
	d.do("PROPPATCH", "/other.txt", strings.NewReader(`<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:p xmlns:x="urn:x">v</x:p></D:prop></D:set></D:propertyupdate>`)).requireStatus(http.StatusMultiStatus)
	require.Equal(t, http.StatusNoContent, d.do("UNLOCK", "/l0", nil, "Lock-Token", tokens[0]).Status)
	r := d.do("LOCK", "/l100", strings.NewReader(lock), "Timeout", "Second-60")
	require.Contains(t, []int{http.StatusOK, http.StatusCreated}, r.Status, "after an UNLOCK there is room again: %s", r.Body)
}

// A send naming one folder 10,000 times walks it once, outside the write
// transaction every writer waits on: it held that transaction for seconds,
// and every other user's writes waited. Measured here as what it adds to
// another user's small writes (the bound is loose for -race on two cores;
// before, the attack added seconds).
func TestSecurity_HostileSendCostsOthersLittle(t *testing.T) {
	ts := startServer(t)
	alice := ts.login(ts.addUser("alice@example.com", "alice password"), "alice password")
	bob := ts.login(ts.addUser("bob@example.com", "bob password"), "bob password")
	ts.addUser("carol@example.com", "carol password")
	alice.mustPut("top/big/f", []byte("x"))
	for i := range 8 { // 256 files, by doubling
		alice.postForm("/ops/copy", url.Values{"source": {"top/big"}, "destination": {"half"}}).requireStatus(http.StatusOK)
		alice.postForm("/ops/move", url.Values{"source": {"half"}, "destination": {fmt.Sprintf("top/big/c%d", i)}}).requireStatus(http.StatusOK)
	}
	names := make([]string, 10_000)
	for i := range names {
		names[i] = "big"
	}
	source, err := json.Marshal([]map[string]any{{"path": "top", "files": names, "folder": true}})
	require.NoError(t, err)

	// Past the limit on names, refused before anything is read.
	over, err := json.Marshal([]map[string]any{{"path": "top", "files": append(names, "big"), "folder": true}})
	require.NoError(t, err)
	alice.send("carol@example.com", string(over)).requireError(http.StatusBadRequest, ferry.EBADREQUEST)

	slowestWrite := func(during func()) time.Duration {
		done := make(chan struct{})
		go func() { defer close(done); during() }()
		var worst time.Duration
		for i := 0; ; i++ {
			start := time.Now()
			bob.postForm("/ops/mkdir", url.Values{"path": {fmt.Sprint("d", i%50)}}).requireStatus(http.StatusOK)
			worst = max(worst, time.Since(start))
			select {
			case <-done:
				return worst
			default:
			}
		}
	}
	quiet := slowestWrite(func() { time.Sleep(500 * time.Millisecond) })
	attacked := slowestWrite(func() {
		var wg sync.WaitGroup
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				alice.send("carol@example.com", string(source)).requireStatus(http.StatusOK)
			}()
		}
		wg.Wait()
	})
	t.Logf("bob's slowest write: %v alone, %v beside three hostile sends", quiet, attacked)
	assert.Less(t, attacked-quiet, 250*time.Millisecond)
	var inbox []inboxMsg
	ts.login("carol@example.com", "carol password").get("/inbox/list", nil).requireStatus(http.StatusOK).decode(&inbox)
	require.Len(t, inbox, 3)
	assert.Equal(t, int64(256), inbox[0].Size, "the folder went once, whole")
}

// Copying and deleting a folder of 16,000 files and folders goes in steps
// of a few hundred nodes: another user's writes meanwhile wait for one
// step, not for the whole tree (one transaction took about 75 ms each for
// the copy and the delete, several times that under -race).
func TestSecurity_BigCopyAndDeleteCostOthersLittle(t *testing.T) {
	ts := startServer(t)
	alice := ts.login(ts.addUser("alice@example.com", "alice password"), "alice password")
	bob := ts.login(ts.addUser("bob@example.com", "bob password"), "bob password")
	alice.mustPut("big/f", []byte("x"))
	for i := range 13 { // 8,192 files, by doubling
		alice.postForm("/ops/copy", url.Values{"source": {"big"}, "destination": {"half"}}).requireStatus(http.StatusOK)
		alice.postForm("/ops/move", url.Values{"source": {"half"}, "destination": {fmt.Sprintf("big/c%d", i)}}).requireStatus(http.StatusOK)
	}
	slowestWrite := func(during func()) time.Duration {
		done := make(chan struct{})
		go func() { defer close(done); during() }()
		var worst time.Duration
		for i := 0; ; i++ {
			start := time.Now()
			bob.postForm("/ops/mkdir", url.Values{"path": {fmt.Sprint("d", i%50)}}).requireStatus(http.StatusOK)
			worst = max(worst, time.Since(start))
			select {
			case <-done:
				return worst
			default:
			}
		}
	}
	quiet := slowestWrite(func() { time.Sleep(300 * time.Millisecond) })
	var copyTook, deleteTook time.Duration
	busy := slowestWrite(func() {
		start := time.Now()
		alice.postForm("/ops/copy", url.Values{"source": {"big"}, "destination": {"copy"}}).requireStatus(http.StatusOK)
		copyTook = time.Since(start)
		start = time.Now()
		alice.postForm("/ops/delete", url.Values{"file[]": {"big"}}).requireStatus(http.StatusOK)
		deleteTook = time.Since(start)
	})
	t.Logf("bob's slowest write: %v alone, %v beside a copy (%v) and a delete (%v) of 16,383 nodes", quiet, busy, copyTook, deleteTook)
	// Bob waits for one step of the copy or the delete, not for either
	// whole: measured against them, so that a loaded machine, which slows
	// both alike, does not decide the outcome.
	assert.Less(t, busy-quiet, min(copyTook, deleteTook)/2)
	assert.Equal(t, int64(8192), alice.quota().Normal, "the copy is whole, the original gone")
	alice.get("/ops/list", url.Values{"path": {"big"}}).requireError(http.StatusNotFound, ferry.EFILENOTFOUND)
	var sizes []struct{ Size int64 }
	alice.postForm("/ops/filesize", url.Values{"files[]": {"copy", "copy/c12/c11/f"}}).requireStatus(http.StatusOK).decode(&sizes)
	require.Len(t, sizes, 2)
	assert.Equal(t, int64(8192), sizes[0].Size)
	assert.Equal(t, int64(1), sizes[1].Size)
}
