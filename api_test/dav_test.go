package api_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/app"
	"github.com/ferryhq/ferry/front"
)

// slice is GET /api/1/slice's answer.
type slice struct {
	IP, Tracker, Login string
	Rsync              string `json:"rsync"`
}

func (c *client) slice() slice {
	c.t.Helper()
	var s slice
	c.get("/slice", nil).requireStatus(http.StatusOK).decode(&s)
	return s
}

// dav is a WebDAV client of one user: Basic auth with login and app
// password, over the harness's client (which adds no token).
type dav struct {
	c          *client
	root       string // {public_url}/dav
	user, pass string
}

func (ts *testServer) dav(c *client) *dav {
	s := c.slice()
	return &dav{c: ts.client(), root: ts.Root + "/dav", user: s.Login, pass: s.Rsync}
}

func (d *dav) do(method, path string, body io.Reader, header ...string) *response {
	d.c.t.Helper()
	req, err := http.NewRequest(method, d.root+path, body)
	require.NoError(d.c.t, err)
	req.SetBasicAuth(d.user, d.pass)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return d.c.do(req)
}

// needTool returns the path of a WebDAV client the test runs, or skips the
// test when it is missing; under .ci/run (FERRYTEST_REQUIRE_DAV_CLIENTS=1) a
// missing client fails it instead.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("FERRYTEST_REQUIRE_DAV_CLIENTS") != "" {
			t.Fatalf("%s is not installed (.ci/run installs it: apt-get install %s)", name, name)
		}
		t.Skipf("skipped: %s is not installed (apt-get install %s, or run bash .ci/run)", name, name)
	}
	return p
}

func TestSlice_AppPassword(t *testing.T) {
	ts := startServer(t, func(c *app.Config) { c.Slice.Tracker = "udp://tracker.example:6969" })
	c := ts.newUser("slice@example.com")
	ts.client().get("/slice", nil).requireError(401, ferry.ENOPERMISSION)

	s := c.slice()
	assert.Equal(t, "127.0.0.1", s.IP)
	assert.Equal(t, "udp://tracker.example:6969", s.Tracker)
	assert.Equal(t, "slice@example.com", s.Login)
	assert.Len(t, s.Rsync, 24)
	assert.Equal(t, s, c.slice(), "the app password is stable")

	d := ts.dav(c)
	d.do("PUT", "/hello.txt", strings.NewReader("hi")).requireStatus(http.StatusCreated)
	assert.Equal(t, "hi", string(c.getFile("hello.txt").Body), "a WebDAV PUT shows in the API at once")

	// Reset: the old password stops working at once, the new one works.
	var reset slice
	c.postForm("/slice/reset", nil).requireStatus(http.StatusOK).decode(&reset)
	assert.NotEqual(t, s.Rsync, reset.Rsync)
	assert.Equal(t, reset, c.slice())
	r := d.do("GET", "/hello.txt", nil)
	r.requireError(401, ferry.ENOPERMISSION)
	assert.Contains(t, r.Header.Get("WWW-Authenticate"), "Basic")
	d.pass = reset.Rsync
	assert.Equal(t, "hi", string(d.do("GET", "/hello.txt", nil).requireStatus(http.StatusOK).Body))

	// The account password is not a WebDAV password; no credentials is 401.
	(&dav{c: ts.client(), root: d.root, user: d.user, pass: password}).do("PROPFIND", "/", nil).requireError(401, ferry.ENOPERMISSION)
	req, err := http.NewRequest("PROPFIND", d.root+"/", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	// Another user's app password reaches only that user's own folder.
	other := ts.dav(ts.newUser("other@example.com"))
	other.do("GET", "/hello.txt", nil).requireStatus(http.StatusNotFound)
	assert.NotContains(t, string(other.do("PROPFIND", "/", nil, "Depth", "1").Body), "hello.txt")

	// Disabling an account ends its app password.
	disabled := true
	_, err = ts.admin().SetUser(app.SetUserRequest{Email: "slice@example.com", Disabled: &disabled})
	require.NoError(t, err)
	d.do("GET", "/hello.txt", nil).requireError(401, ferry.ENOPERMISSION)
}

// Wrong app passwords count as failed logins: past the burst, 429.
func TestSlice_FailedLoginsAreLimited(t *testing.T) {
	ts := startServer(t, func(c *app.Config) { c.Auth.LoginFailureBurst = 3 })
	c := ts.newUser("guess@example.com")
	d := ts.dav(c)
	right := d.pass
	d.pass = "wrong"
	for range 3 {
		d.do("PROPFIND", "/", nil).requireError(401, ferry.ENOPERMISSION)
	}
	r := d.do("PROPFIND", "/", nil)
	r.requireError(429, ferry.ETOOMANYREQUESTS)
	assert.NotEmpty(t, r.Header.Get("Retry-After"))
	d.pass = right
	d.do("PROPFIND", "/", nil).requireError(429, ferry.ETOOMANYREQUESTS)
}

// litmus, the WebDAV protocol test suite: basic, copymove and props pass
// whole; of locks, only the two tests docs/webdav.md explains fail.
func TestDav_Litmus(t *testing.T) {
	t.Parallel() // slow and waiting more than computing: beside the others
	litmus := needTool(t, "litmus")
	ts := startServer(t)
	d := ts.dav(ts.newUser("litmus@example.com"))

	run := func(suites string) (string, error) {
		// "--": an app password may begin with "-", which litmus would take
		// for an option.
		cmd := exec.Command(litmus, "--", d.root+"/", d.user, d.pass)
		cmd.Env = append(os.Environ(), "TESTS="+suites)
		cmd.Dir = t.TempDir() // its debug.log
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("basic copymove props")
	require.NoError(t, err, "litmus:\n%s", out)
	for _, suite := range []string{"basic", "copymove", "props"} {
		assert.Regexp(t, "summary for `"+suite+"': of \\d+ tests run: \\d+ passed, 0 failed", out)
	}

	out, _ = run("locks")
	assert.Regexp(t, "summary for `locks': of \\d+ tests run", out)
	failed := regexp.MustCompile(`(\w+)\.* FAIL \(`).FindAllStringSubmatch(out, -1)
	var names []string
	for _, f := range failed {
		names = append(names, f[1])
	}
	assert.ElementsMatch(t, []string{"lock_shared"}, names, "litmus locks:\n%s", out)
}

// rclone with a webdav remote: sync a tree of 200 files up, check it, sync
// it back down byte for byte; files added through the API show in rclone,
// and what rclone wrote shows in the API.
func TestDav_Rclone(t *testing.T) {
	t.Parallel() // slow and waiting more than computing: beside the others
	rclone := needTool(t, "rclone")
	ts := startServer(t)
	c := ts.newUser("rclone@example.com")
	d := ts.dav(c)

	// "--": an app password may begin with "-", which rclone would take
	// for a flag.
	obscured, err := exec.Command(rclone, "obscure", "--", d.pass).Output()
	require.NoError(t, err)
	conf := filepath.Join(t.TempDir(), "rclone.conf")
	require.NoError(t, os.WriteFile(conf, fmt.Appendf(nil,
		"[ferry]\ntype = webdav\nurl = %s/\nvendor = other\nuser = %s\npass = %s\n", d.root, d.user, strings.TrimSpace(string(obscured))), 0o600))
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(rclone, append([]string{"--config", conf, "--low-level-retries", "1", "--retries", "1"}, args...)...)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "rclone %v:\n%s", args, out)
		return string(out)
	}

	src := t.TempDir()
	for i := range 200 {
		dir := filepath.Join(src, fmt.Sprintf("d%d", i%7), fmt.Sprintf("s%d", i%3))
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d.bin", i)), randomBytes(t, i*131), 0o644))
	}
	run("sync", src, "ferry:tree")
	out := run("check", src, "ferry:tree")
	assert.Contains(t, out, "0 differences found")
	assert.Contains(t, out, "200 matching files")

	back := filepath.Join(t.TempDir(), "back")
	run("sync", "ferry:tree", back)
	err = filepath.WalkDir(src, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		want, _ := os.ReadFile(p)
		got, err := os.ReadFile(filepath.Join(back, rel))
		require.NoError(t, err, rel)
		assert.True(t, bytes.Equal(want, got), rel)
		// What rclone wrote is the API's file, with the same bytes.
		assert.Equal(t, sha(want), c.getFile("tree/" + filepath.ToSlash(rel)).Header.Get("ETag")[1:65], rel)
		return nil
	})
	require.NoError(t, err)
	assert.Len(t, c.list("tree"), 7)

	c.mustPut("tree/from-api.txt", []byte("made through the API"))
	assert.Contains(t, run("lsf", "ferry:tree"), "from-api.txt\n")
	assert.Equal(t, "made through the API", run("cat", "ferry:tree/from-api.txt"))
}

// Over the storage quota a WebDAV PUT gets 507 and leaves nothing behind,
// whether its length is declared or not; a COPY that does not fit gets 507
// too, and a COPY that fits shares the content without reading it.
func TestDav_QuotaAndCopy(t *testing.T) {
	ts := startServer(t, func(c *app.Config) {
		c.Packages = map[string]app.Package{"free": {Storage: 3 << 20}}
	})
	c := ts.newUser("full@example.com")
	d := ts.dav(c)
	two := randomBytes(t, 2<<20)
	d.do("PUT", "/two.bin", bytes.NewReader(two)).requireStatus(http.StatusCreated)
	blobs := ts.blobFiles()

	r := d.do("PUT", "/more.bin", bytes.NewReader(randomBytes(t, 2<<20)))
	assert.Equal(t, http.StatusInsufficientStorage, r.Status, "declared length: %s", r.Body)
	r = d.do("PUT", "/more.bin", io.MultiReader(bytes.NewReader(randomBytes(t, 2<<20)))) // no Content-Length
	assert.Equal(t, http.StatusInsufficientStorage, r.Status, "chunked: %s", r.Body)
	r = d.do("COPY", "/two.bin", nil, "Destination", d.root+"/copy.bin")
	assert.Equal(t, http.StatusInsufficientStorage, r.Status, "copy: %s", r.Body)
	d.do("GET", "/more.bin", nil).requireStatus(http.StatusNotFound)
	d.do("GET", "/copy.bin", nil).requireStatus(http.StatusNotFound)
	c.getFile("more.bin").requireError(404, ferry.EFILENOTFOUND)
	ts.requireBlobs(blobs, "nothing of the refused uploads is kept")
	tmp, err := os.ReadDir(filepath.Join(ts.Cfg.DataDir, "tmp"))
	require.NoError(t, err)
	assert.Empty(t, tmp)
	assert.Equal(t, int64(len(two)), c.quota().Normal)

	// With room, COPY shares the blob; MOVE and DELETE show in the API.
	_, err = ts.admin().SetUser(app.SetUserRequest{Email: "full@example.com", Storage: ptr(int64(10 << 20))})
	require.NoError(t, err)
	// COPY never reads the content: it works with the blob file away.
	putBack := ts.blobs().Hide(sha(two))
	d.do("COPY", "/two.bin", nil, "Destination", d.root+"/copy.bin").requireStatus(http.StatusCreated)
	putBack()
	ts.requireBlobs(blobs)
	assert.Equal(t, two, c.getFile("copy.bin").Body)
	assert.Equal(t, int64(2*len(two)), c.quota().Normal)
	d.do("MKCOL", "/folder", nil).requireStatus(http.StatusCreated)
	d.do("MOVE", "/copy.bin", nil, "Destination", d.root+"/folder/moved.bin").requireStatus(http.StatusCreated)
	assert.Equal(t, []ferry.Entry{{File: "folder/moved.bin", Size: int64(len(two)), Type: "f"}}, c.list("folder"))
	d.do("DELETE", "/folder", nil).requireStatus(http.StatusNoContent)
	c.getFile("folder/moved.bin").requireError(404, ferry.EFILENOTFOUND)

	// Ranges and the SHA-256 as ETag, as GET /files has them.
	r = d.do("GET", "/two.bin", nil, "Range", "bytes=10-19")
	r.requireStatus(http.StatusPartialContent)
	assert.Equal(t, two[10:20], r.Body)
	assert.Equal(t, `"`+sha(two)+`"`, r.Header.Get("ETag"))
	assert.Contains(t, r.Header.Get("Content-Disposition"), "attachment")
	assert.Equal(t, front.InertPolicy, r.Header.Get("Content-Security-Policy"))
	// PROPFIND tells size, time and ETag; HEAD the same without the bytes.
	props := string(d.do("PROPFIND", "/two.bin", nil, "Depth", "0").requireStatus(207).Body)
	assert.Contains(t, props, sha(two))
	assert.Contains(t, props, fmt.Sprintf("<D:getcontentlength>%d</D:getcontentlength>", len(two)))
	assert.Regexp(t, `<D:getlastmodified>\w{3}, \d{2} \w{3} \d{4} [\d:]{8} GMT</D:getlastmodified>`, props)
	r = d.do("HEAD", "/two.bin", nil)
	r.requireStatus(http.StatusOK)
	assert.Empty(t, r.Body)
	assert.Equal(t, fmt.Sprint(len(two)), r.Header.Get("Content-Length"))
	assert.Equal(t, `"`+sha(two)+`"`, r.Header.Get("ETag"))

	// The API's path rules: a name over 255 bytes, or with a control
	// character, is refused and nothing is made.
	for _, bad := range []string{"/" + strings.Repeat("n", 256), "/bad%01name"} {
		r = d.do("PUT", bad, strings.NewReader("x"))
		assert.True(t, r.Status >= 400 && r.Status < 500, "PUT %.20s: %d", bad, r.Status)
		r = d.do("MKCOL", bad, nil)
		assert.True(t, r.Status >= 400 && r.Status < 500, "MKCOL %.20s: %d", bad, r.Status)
	}
	names := []string{}
	for _, e := range c.list("") {
		names = append(names, e.File)
	}
	assert.ElementsMatch(t, []string{"two.bin"}, names)

	// A PROPFIND of the whole tree at once is refused, as RFC 4918 allows.
	for _, depth := range []string{"infinity", ""} {
		r = d.do("PROPFIND", "/", nil, "Depth", depth)
		assert.Equal(t, http.StatusForbidden, r.Status, "Depth %q", depth)
		assert.Contains(t, string(r.Body), "propfind-finite-depth")
	}
	assert.Contains(t, string(d.do("PROPFIND", "/", nil, "Depth", "1").requireStatus(207).Body), "two.bin")
}

func ptr[T any](v T) *T { return &v }

// Writes of one user to the same path at once wait for each other instead
// of getting x/net/webdav's 423 Locked (rclone's parallel transfers make
// the same parent folders at once). A client's LOCK still excludes others:
// litmus's locks suite proves that.
func TestDav_ConcurrentWritesToOnePath(t *testing.T) {
	t.Parallel() // slow and waiting more than computing: beside the others
	ts := startServer(t)
	d := ts.dav(ts.newUser("busy@example.com"))
	var wg sync.WaitGroup
	statuses := make(chan int, 8*20*2)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				statuses <- d.do("MKCOL", "/shared", nil).Status
				statuses <- d.do("PUT", "/shared/same.txt", strings.NewReader(fmt.Sprint(w, i))).Status
			}
		}()
	}
	wg.Wait()
	close(statuses)
	for st := range statuses {
		assert.Contains(t, []int{http.StatusCreated, http.StatusNoContent, http.StatusMethodNotAllowed}, st)
	}
}

// ferry answers WebDAV's writes itself: a lock excludes writes without
// its token (423) and with a wrong one (412), the If header is read as RFC
// 4918 10.4 has it, a lock on a free path makes an empty file, and MOVE
// and COPY replace their destination unless Overwrite: F.
func TestDav_LocksIfHeaderAndOverwrite(t *testing.T) {
	ts := startServer(t)
	c := ts.newUser("locks@example.com")
	d := ts.dav(c)
	lockBody := `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>me</D:href></D:owner></D:lockinfo>`

	r := d.do("LOCK", "/a.txt", strings.NewReader(lockBody), "Timeout", "Second-600")
	r.requireStatus(http.StatusCreated)
	token := strings.Trim(r.Header.Get("Lock-Token"), "<>")
	require.NotEmpty(t, token)
	assert.Contains(t, string(r.Body), "<D:timeout>Second-600</D:timeout>")
	assert.Contains(t, string(r.Body), "<D:href>me</D:href>")
	assert.Contains(t, string(r.Body), "<D:lockroot><D:href>/dav/a.txt</D:href></D:lockroot>")
	assert.Equal(t, []byte{}, c.getFile("a.txt").requireStatus(http.StatusOK).Body, "a lock on a free path makes an empty file")

	d.do("PUT", "/a.txt", strings.NewReader("no token")).requireStatus(http.StatusLocked)
	d.do("DELETE", "/a.txt", nil).requireStatus(http.StatusLocked)
	d.do("MOVE", "/a.txt", nil, "Destination", d.root+"/b.txt").requireStatus(http.StatusLocked)
	d.do("PUT", "/a.txt", strings.NewReader("wrong"), "If", "(<opaquelocktoken:nope>)").requireStatus(http.StatusPreconditionFailed)
	d.do("PUT", "/a.txt", strings.NewReader("bad"), "If", "(<"+token+">").requireError(http.StatusBadRequest, ferry.EBADREQUEST)
	d.do("PUT", "/a.txt", strings.NewReader("bad"), "If", "<"+d.root+"/a.txt>").requireError(http.StatusBadRequest, ferry.EBADREQUEST)
	d.do("PUT", "/a.txt", strings.NewReader("one"), "If", "(<"+token+">)").requireStatus(http.StatusNoContent)
	d.do("PUT", "/a.txt", strings.NewReader("two"), "If", `(<opaquelocktoken:nope>) (Not <opaquelocktoken:x> <`+token+`>)`).requireStatus(http.StatusNoContent)
	d.do("PUT", "/a.txt", strings.NewReader("three"), "If", "<"+d.root+"/a.txt> (<"+token+">)").requireStatus(http.StatusNoContent)
	d.do("PUT", "/a.txt", strings.NewReader("four"), "If", "<http://elsewhere.example/dav/a.txt> (<"+token+">)").requireStatus(http.StatusPreconditionFailed)
	assert.Equal(t, []byte("three"), c.getFile("a.txt").Body)
	// Another path is not locked; the lock's own path is, for a COPY onto it.
	d.do("COPY", "/a.txt", nil, "Destination", d.root+"/b.txt").requireStatus(http.StatusCreated)
	d.do("COPY", "/b.txt", nil, "Destination", d.root+"/a.txt").requireStatus(http.StatusLocked)

	// A refresh names the lock in the If header and has no body.
	r = d.do("LOCK", "/a.txt", nil, "Timeout", "Second-60", "If", "(<"+token+">)")
	r.requireStatus(http.StatusOK)
	assert.Contains(t, string(r.Body), "<D:timeout>Second-60</D:timeout>")
	d.do("LOCK", "/a.txt", nil, "If", "(<opaquelocktoken:nope>)").requireStatus(http.StatusPreconditionFailed)
	d.do("LOCK", "/a.txt", strings.NewReader(lockBody)).requireStatus(http.StatusLocked)
	d.do("LOCK", "/a.txt", strings.NewReader(lockBody), "Timeout", "Second-x").requireError(http.StatusBadRequest, ferry.EBADREQUEST)
	d.do("LOCK", "/c.txt", strings.NewReader(strings.Replace(lockBody, "exclusive", "shared", 2))).requireStatus(http.StatusNotImplemented)
	d.do("LOCK", "/no/such/c.txt", strings.NewReader(lockBody)).requireStatus(http.StatusConflict)
	require.Equal(t, http.StatusNoContent, d.do("UNLOCK", "/a.txt", nil, "Lock-Token", "<"+token+">").Status)
	d.do("PUT", "/a.txt", strings.NewReader("free"), "If", "(<"+token+">)").requireStatus(http.StatusPreconditionFailed)
	d.do("PUT", "/a.txt", strings.NewReader("free")).requireStatus(http.StatusNoContent)

	// Overwrite: T is the default of MOVE as of COPY (RFC 4918 10.6).
	d.do("MOVE", "/b.txt", nil, "Destination", d.root+"/a.txt", "Overwrite", "F").requireStatus(http.StatusPreconditionFailed)
	d.do("MOVE", "/b.txt", nil, "Destination", d.root+"/a.txt").requireStatus(http.StatusNoContent)
	assert.Equal(t, []byte("three"), c.getFile("a.txt").Body)
	d.do("MOVE", "/a.txt", nil, "Destination", d.root+"/no/such/a.txt").requireStatus(http.StatusConflict)
	d.do("MOVE", "/a.txt", nil, "Destination", "http://elsewhere.example/dav/x").requireStatus(http.StatusBadGateway)
	// Dot segments are resolved as RFC 3986 says: above /dav/ is foreign.
	for _, climb := range []string{"/dav/../x.txt", "/dav/%2e%2e/x.txt", "/dav/a%2f..%2f..%2fx.txt", "/dav/./../dav/../x.txt"} {
		for _, method := range []string{"MOVE", "COPY"} {
			d.do(method, "/a.txt", nil, "Destination", ts.Root+climb).requireStatus(http.StatusBadGateway)
		}
	}
	// One that climbs and comes back inside is the place it names.
	d.do("COPY", "/a.txt", nil, "Destination", ts.Root+"/dav/no/../back.txt").requireStatus(http.StatusCreated)
	d.do("DELETE", "/back.txt", nil).requireStatus(http.StatusNoContent)
	d.do("MOVE", "/a.txt", nil, "Destination", d.root+"/a.txt").requireStatus(http.StatusForbidden)
	d.do("MOVE", "/gone.txt", nil, "Destination", d.root+"/x.txt").requireError(http.StatusNotFound, ferry.EFILENOTFOUND)

	// COPY with Depth: 0 copies a folder without what it holds.
	c.mustPut("dir/inside.txt", []byte("in"))
	d.do("COPY", "/dir", nil, "Destination", d.root+"/shallow", "Depth", "0").requireStatus(http.StatusCreated)
	assert.Empty(t, c.list("shallow"))
	d.do("COPY", "/dir", nil, "Destination", d.root+"/deep", "Depth", "1").requireError(http.StatusBadRequest, ferry.EBADREQUEST)
	d.do("MKCOL", "/dir", nil).requireStatus(http.StatusMethodNotAllowed)
	d.do("MKCOL", "/no/such", nil).requireStatus(http.StatusConflict)
	d.do("MKCOL", "/a.txt/sub", nil).requireStatus(http.StatusConflict)
	d.do("PUT", "/a.txt/sub", strings.NewReader("x")).requireStatus(http.StatusConflict)
	d.do("PUT", "/dir", strings.NewReader("x")).requireStatus(http.StatusMethodNotAllowed)
	d.do("MKCOL", "/body", strings.NewReader("x")).requireStatus(http.StatusUnsupportedMediaType)
	d.do("DELETE", "/gone", nil).requireError(http.StatusNotFound, ferry.EFILENOTFOUND)
}

// Entity tags in an If header are checked against the file's SHA-256.
func TestDav_IfHeaderEntityTags(t *testing.T) {
	ts := startServer(t)
	c := ts.newUser("etags@example.com")
	d := ts.dav(c)
	c.mustPut("e.txt", []byte("e"))
	etag := `"` + sha([]byte("e")) + `"`
	d.do("PUT", "/e.txt", strings.NewReader("wrong tag"), "If", `(["nope"])`).requireStatus(http.StatusPreconditionFailed)
	d.do("PUT", "/e.txt", strings.NewReader("not the tag"), "If", `(Not [`+etag+`])`).requireStatus(http.StatusPreconditionFailed)
	d.do("PUT", "/e.txt", strings.NewReader("right tag"), "If", `(["nope"]) ([`+etag+`])`).requireStatus(http.StatusNoContent)
	assert.Equal(t, []byte("right tag"), c.getFile("e.txt").Body)
	d.do("PUT", "/e.txt", strings.NewReader("no lock"), "If", `(Not <DAV:no-lock>)`).requireStatus(http.StatusNoContent)

	lock := `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>`
	token := strings.Trim(d.do("LOCK", "/e.txt", strings.NewReader(lock)).requireStatus(http.StatusOK).Header.Get("Lock-Token"), "<>")
	etag = `"` + sha([]byte("no lock")) + `"`
	d.do("PUT", "/e.txt", strings.NewReader("x"), "If", `(<`+token+`> ["nope"])`).requireStatus(http.StatusPreconditionFailed)
	d.do("PUT", "/e.txt", strings.NewReader("x"), "If", `([`+etag+`])`).requireStatus(http.StatusPreconditionFailed) // locked, no token
	d.do("PUT", "/e.txt", strings.NewReader("locked"), "If", `(<`+token+`> [`+etag+`])`).requireStatus(http.StatusNoContent)
	assert.Equal(t, []byte("locked"), c.getFile("e.txt").Body)
}
