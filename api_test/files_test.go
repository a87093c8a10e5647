package api_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/app"
)

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// newUser starts a user on ts and returns a logged-in client.
func (ts *testServer) newUser(email string) *client {
	ts.t.Helper()
	return ts.login(ts.addUser(email, password), password)
}

// newUnlimitedUser is newUser with no quotas, whatever the package says:
// a sender whose own uploads the test's tight package must not limit.
func (ts *testServer) newUnlimitedUser(email string) *client {
	ts.t.Helper()
	c := ts.newUser(email)
	zero := int64(0)
	_, err := ts.admin().SetUser(app.SetUserRequest{Email: email, Storage: &zero, Receive: &zero})
	require.NoError(ts.t, err)
	return c
}

// Listings larger than a pooled buffer's first size come out whole, and
// a buffer that held a large listing holds a small one next without a
// trace of the first (the server keeps listing buffers between requests).
func TestFiles_LargeListingsReuseBuffers(t *testing.T) {
	t.Parallel() // slow and waiting more than computing: beside the others
	ts := startServer(t)
	c := ts.newUser("lea@example.com")
	const n = 600 // about 160 KiB of JSON
	long := strings.Repeat("n", 200)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				c.mustPut(fmt.Sprintf("big/%s-%04d.txt", long, i), []byte(fmt.Sprint(i)))
			}
		}()
	}
	wg.Wait()
	c.mustPut("small/one.txt", []byte("1"))
	for range 3 {
		big := c.list("big")
		require.Len(t, big, n)
		for i, e := range big {
			assert.Equal(t, ferry.Entry{File: fmt.Sprintf("big/%s-%04d.txt", long, i), Size: int64(len(fmt.Sprint(i))), Type: "f"}, e)
		}
		assert.Equal(t, []ferry.Entry{{File: "small/one.txt", Size: 1, Type: "f"}}, c.list("small"))
	}
}

func TestFiles_PutListGet(t *testing.T) {
	ts := startServer(t)
	c := ts.newUser("ann@example.com")
	report := []byte("quarterly numbers\n")
	r := c.putFile("/docs/2024/report.txt", report, false).requireStatus(http.StatusOK)
	assert.JSONEq(t, fmt.Sprintf(`{"file":"docs/2024/report.txt","size":%d,"sha256":%q}`, len(report), sha(report)), string(r.Body))
	c.mustPut("docs/a.txt", []byte("a"))
	c.mustPut("docs/B.txt", []byte("bb"))
	c.mustPut("photos/x.jpg", []byte("jpeg bytes"))

	assert.Equal(t, []ferry.Entry{
		{File: "docs", Size: int64(len(report)) + 3, Type: "d"},
		{File: "photos", Size: 10, Type: "d"},
	}, c.list(""))
	assert.Equal(t, c.list(""), c.list("/"))
	assert.Equal(t, []ferry.Entry{
		{File: "docs/2024", Size: int64(len(report)), Type: "d"},
		{File: "docs/B.txt", Size: 2, Type: "f"},
		{File: "docs/a.txt", Size: 1, Type: "f"},
	}, c.list("docs"), "sorted by name, full paths, folder totals")
	assert.Equal(t, c.list("docs"), c.list("/docs/"))

	g := c.getFile("docs/2024/report.txt").requireStatus(http.StatusOK)
	assert.Equal(t, report, g.Body)
	assert.Equal(t, `"`+sha(report)+`"`, g.Header.Get("ETag"))
	assert.NotEmpty(t, g.Header.Get("Last-Modified"))
	assert.Equal(t, "nosniff", g.Header.Get("X-Content-Type-Options"))
	assert.Contains(t, g.Header.Get("Content-Disposition"), "attachment")

	// Conditional and range requests, as ServeContent does them.
	req, err := http.NewRequest(http.MethodGet, ts.URL+"/files?path=docs/2024/report.txt", nil)
	require.NoError(t, err)
	req.Header.Set("If-None-Match", g.Header.Get("ETag"))
	assert.Equal(t, http.StatusNotModified, c.do(req).Status)
	req.Header.Del("If-None-Match")
	req.Header.Set("Range", "bytes=10-16")
	part := c.do(req)
	assert.Equal(t, http.StatusPartialContent, part.Status)
	assert.Equal(t, "numbers", string(part.Body))
	req.Header.Set("Range", "bytes=-8")
	assert.Equal(t, "numbers\n", string(c.do(req).Body))
	req.Method = http.MethodHead
	req.Header.Del("Range")
	head := c.do(req)
	assert.Equal(t, http.StatusOK, head.Status)
	assert.Equal(t, fmt.Sprint(len(report)), head.Header.Get("Content-Length"))

	c.getFile("docs/none.txt").requireError(404, ferry.EFILENOTFOUND)
	c.getFile("docs").requireError(400, ferry.EBADREQUEST)
	c.get("/ops/list", url.Values{"path": {"nothing"}}).requireError(404, ferry.EFILENOTFOUND)
	c.get("/ops/list", url.Values{"path": {"docs/a.txt"}}).requireError(400, ferry.EBADREQUEST)
	c.get("/ops/list", url.Values{"path": {"docs/a.txt/x"}}).requireError(404, ferry.EFILENOTFOUND)

	// A new user's root is empty, not missing.
	assert.Empty(t, ts.newUser("bea@example.com").list(""))
}

func TestFiles_PutIsStreamedAndNotAForm(t *testing.T) {
	ts := startServer(t, func(c *app.Config) { c.MaxRequestBody = 4096 })
	c := ts.newUser("cid@example.com")
	// A body far over max_request_body, sent with a form content type as
	// curl --data-binary does: it is the file, whole.
	content := []byte("a=1&b=2&" + strings.Repeat("z", 1<<20))
	r := c.request(http.MethodPut, "/files?path=form.txt", strings.NewReader(string(content)), "application/x-www-form-urlencoded")
	r.requireStatus(http.StatusOK)
	assert.Equal(t, content, c.getFile("form.txt").Body)
}

func TestFiles_ReplaceResolveAndConflicts(t *testing.T) {
	ts := startServer(t)
	c := ts.newUser("dan@example.com")
	c.mustPut("notes/todo.txt", []byte("one"))
	c.mustPut("notes/todo.txt", []byte("two two"))
	assert.Equal(t, "two two", string(c.getFile("notes/todo.txt").Body), "replaced")
	assert.Equal(t, int64(7), c.quota().Normal)

	var out struct{ File string }
	c.putFile("notes/todo.txt", []byte("three"), true).requireStatus(http.StatusOK).decode(&out)
	assert.Equal(t, "notes/todo (1).txt", out.File)
	c.putFile("notes/todo.txt", []byte("four"), true).requireStatus(http.StatusOK).decode(&out)
	assert.Equal(t, "notes/todo (2).txt", out.File)
	assert.Equal(t, "two two", string(c.getFile("notes/todo.txt").Body))
	assert.Equal(t, "three", string(c.getFile("notes/todo (1).txt").Body))

	// A folder at the path: 409, or a free name with resolve.
	c.putFile("notes", []byte("x"), false).requireError(409, ferry.EFILEEXISTS)
	c.putFile("notes", []byte("x"), true).requireStatus(http.StatusOK).decode(&out)
	assert.Equal(t, "notes (1)", out.File)
	// A file in the way of the parents, and the root.
	c.putFile("notes/todo.txt/inner.txt", []byte("x"), false).requireError(409, ferry.EFILEEXISTS)
	c.putFile("notes/todo.txt/deeper/inner.txt", []byte("x"), false).requireError(409, ferry.EFILEEXISTS)
	c.putFile("", []byte("x"), false).requireError(409, ferry.EFILEEXISTS)
	c.putFile("a/../b", []byte("x"), false).requireError(400, ferry.EBADREQUEST)

	assert.Equal(t, int64(7+5+4+1), c.quota().Normal, "normal is the sum of the files")
	ts.requireBlobs(4, "the replaced content is gone; the rest is stored once each")
}

func TestFiles_Mkdir(t *testing.T) {
	ts := startServer(t)
	c := ts.newUser("eve@example.com")
	mkdir := func(p string) *response { return c.postForm("/ops/mkdir", url.Values{"path": {p}}) }
	assert.JSONEq(t, `{}`, string(mkdir("a/b/c").requireStatus(http.StatusOK).Body))
	mkdir("a/b/c").requireStatus(http.StatusOK)
	mkdir("a/b").requireStatus(http.StatusOK)
	mkdir("").requireStatus(http.StatusOK)
	assert.Equal(t, []ferry.Entry{{File: "a/b/c", Size: 0, Type: "d"}}, c.list("a/b"))
	c.mustPut("a/f.txt", []byte("file"))
	mkdir("a/f.txt").requireError(409, ferry.EFILEEXISTS)
	mkdir("a/f.txt/sub").requireError(409, ferry.EFILEEXISTS)
	mkdir("a//b").requireError(400, ferry.EBADREQUEST)
}

func TestFiles_MoveAndCopy(t *testing.T) {
	ts := startServer(t, func(c *app.Config) {
		c.Packages["tiny"] = app.Package{Storage: 70}
		c.DefaultPackage = "tiny"
	})
	c := ts.newUser("fay@example.com")
	move := func(src, dst string) *response {
		return c.postForm("/ops/move", url.Values{"source": {src}, "destination": {dst}})
	}
	cp := func(src, dst string) *response {
		return c.postForm("/ops/copy", url.Values{"source": {src}, "destination": {dst}})
	}
	c.mustPut("src/a.txt", []byte("aaaaaaaaaa"))     // 10
	c.mustPut("src/sub/b.txt", []byte("bbbbbbbbbb")) // 10

	// Rename a file; move a folder into new parents.
	assert.JSONEq(t, `{}`, string(move("src/a.txt", "src/renamed.txt").requireStatus(http.StatusOK).Body))
	move("src", "x/y/dst").requireStatus(http.StatusOK)
	c.get("/ops/list", url.Values{"path": {"src"}}).requireError(404, ferry.EFILENOTFOUND)
	assert.Equal(t, "bbbbbbbbbb", string(c.getFile("x/y/dst/sub/b.txt").Body))
	assert.Equal(t, []ferry.Entry{{File: "x/y", Size: 20, Type: "d"}}, c.list("x"))

	move("nothing", "z").requireError(404, ferry.EFILENOTFOUND)
	move("x/y/dst/renamed.txt", "x/y/dst/sub/b.txt").requireError(409, ferry.EFILEEXISTS)
	move("x/y/dst/renamed.txt", "x/y/dst/sub/b.txt/in").requireError(409, ferry.EFILEEXISTS)
	move("x/y", "x/y/inside").requireError(400, ferry.EBADREQUEST)
	move("x/y", "x/y").requireError(400, ferry.EBADREQUEST)
	move("", "elsewhere").requireError(400, ferry.EBADREQUEST)
	move("x", "").requireError(409, ferry.EFILEEXISTS)
	move("x/../y", "z").requireError(400, ferry.EBADREQUEST)

	// Copy shares the bytes but counts toward the quota.
	blobs := ts.blobFiles()
	cp("x/y/dst", "copy").requireStatus(http.StatusOK)
	ts.requireBlobs(blobs, "no bytes copied")
	assert.Equal(t, int64(40), c.quota().Normal)
	assert.Equal(t, "aaaaaaaaaa", string(c.getFile("copy/renamed.txt").Body))
	assert.Equal(t, "bbbbbbbbbb", string(c.getFile("x/y/dst/sub/b.txt").Body), "the source stays")
	cp("x/y", "x/y/z").requireError(400, ferry.EBADREQUEST)
	cp("copy", "x").requireError(409, ferry.EFILEEXISTS)
	cp("none", "n").requireError(404, ferry.EFILENOTFOUND)
	cp("x", "copy2").requireStatus(http.StatusOK) // 60 of 70
	cp("x", "copy3").requireError(403, ferry.EQUOTAEXCEEDED)
	c.get("/ops/list", url.Values{"path": {"copy3"}}).requireError(404, ferry.EFILENOTFOUND)
	assert.Equal(t, int64(60), c.quota().Normal)

	// Editing a copy leaves the original alone.
	c.mustPut("copy/renamed.txt", []byte("changed"))
	assert.Equal(t, "aaaaaaaaaa", string(c.getFile("x/y/dst/renamed.txt").Body))
}

func TestFiles_MoveFolderWithThousandDescendants(t *testing.T) {
	ts := startServer(t)
	c := ts.newUser("gus@example.com")
	// 10 folders of 10 files, then 9 copies of the lot: 1,000 files below
	// big/, and 110 folders.
	for i := range 10 {
		for j := range 10 {
			c.mustPut(fmt.Sprintf("big/c0/d%d/f%d.txt", i, j), []byte(fmt.Sprintf("file %d/%d", i, j)))
		}
	}
	for k := 1; k < 10; k++ {
		c.postForm("/ops/copy", url.Values{"source": {"big/c0"}, "destination": {fmt.Sprintf("big/c%d", k)}}).requireStatus(http.StatusOK)
	}
	var sizes []struct {
		File string
		Size int64
	}
	c.postForm("/ops/filesize", url.Values{"files[]": {"big"}}).requireStatus(http.StatusOK).decode(&sizes)
	total := sizes[0].Size

	c.postForm("/ops/move", url.Values{"source": {"big"}, "destination": {"archive/2026/big"}}).requireStatus(http.StatusOK)
	assert.Equal(t, "file 7/3", string(c.getFile("archive/2026/big/c9/d7/f3.txt").Body))
	c.postForm("/ops/filesize", url.Values{"files[]": {"big", "archive", "archive/2026/big/c4"}}).requireStatus(http.StatusOK).decode(&sizes)
	assert.Equal(t, int64(-1), sizes[0].Size)
	assert.Equal(t, total, sizes[1].Size)
	assert.Equal(t, total/10, sizes[2].Size)
	assert.Len(t, c.list("archive/2026/big"), 10)
	assert.Equal(t, total, c.quota().Normal)
}

func TestFiles_Filesize(t *testing.T) {
	ts := startServer(t)
	c := ts.newUser("hal@example.com")
	c.mustPut("a/one.txt", []byte("1"))
	c.mustPut("a/b/two.txt", []byte("22"))
	r := c.postForm("/ops/filesize", url.Values{"files[]": {"a/one.txt", "/a", "a/b", "nope.txt", "a/one.txt/x", ""}})
	assert.JSONEq(t, `[{"file":"a/one.txt","size":1},{"file":"/a","size":3},{"file":"a/b","size":2},
		{"file":"nope.txt","size":-1},{"file":"a/one.txt/x","size":-1},{"file":"","size":3}]`, string(r.requireStatus(http.StatusOK).Body))
	// JSON body with a native array.
	r = c.postJSON("/ops/filesize", map[string]any{"files": []string{"a/b/two.txt"}})
	assert.JSONEq(t, `[{"file":"a/b/two.txt","size":2}]`, string(r.requireStatus(http.StatusOK).Body))
	c.postForm("/ops/filesize", url.Values{"files[]": {"a/../x"}}).requireError(400, ferry.EBADREQUEST)
}

func TestFiles_DeleteBatch(t *testing.T) {
	ts := startServer(t)
	c := ts.newUser("ida@example.com")
	shared := []byte("the same bytes in two places")
	c.mustPut("keep/shared.txt", shared)
	c.mustPut("gone/shared.txt", shared)
	c.mustPut("gone/sub/only.txt", []byte("only here"))
	c.mustPut("single.txt", []byte("single"))
	ts.requireBlobs(3)

	r := c.postForm("/ops/delete", url.Values{"file[]": {"gone", "single.txt"}})
	assert.JSONEq(t, `[]`, string(r.requireStatus(http.StatusOK).Body))
	ts.requireBlobs(1, "only the shared content is left")
	assert.Equal(t, shared, c.getFile("keep/shared.txt").Body, "the other reference keeps its bytes")
	assert.Equal(t, int64(len(shared)), c.quota().Normal)

	r = c.postForm("/ops/delete", url.Values{"file[]": {"missing", "a/../b", "keep/shared.txt", "", "keep/shared.txt"}})
	r.requireStatus(http.StatusAccepted)
	assert.JSONEq(t, `[{"file":"missing","error":"FILE_NOT_FOUND"},{"file":"a/../b","error":"METHOD_BAD_REQUEST"},
		{"file":"","error":"METHOD_BAD_REQUEST"},{"file":"keep/shared.txt","error":"FILE_NOT_FOUND"}]`, string(r.Body))
	ts.requireBlobs(0)
	assert.Equal(t, int64(0), c.quota().Normal)
	assert.Equal(t, []ferry.Entry{{File: "keep", Size: 0, Type: "d"}}, c.list(""))
	c.postForm("/ops/delete", url.Values{}).requireError(400, ferry.EBADREQUEST)
}

func TestFiles_NoPathEscapes(t *testing.T) {
	ts := startServer(t)
	alice := ts.newUser("alice@example.com")
	bob := ts.newUser("bob@example.com")
	secret := []byte("alice's secret")
	alice.mustPut("private/secret.txt", secret)
	bob.mustPut("mine.txt", []byte("bob's"))

	hostile := []string{
		"..", "../", "../alice@example.com/private/secret.txt", "/../private/secret.txt",
		"a/../../private", "./private", "private/./secret.txt", "%2e%2e", "%2e%2e/private",
		"..%2fprivate", "private\x00", "secret.txt\x00.jpg", "//private", "private//secret.txt",
		"/etc/passwd", "\\..\\private", "private/secret.txt/..", strings.Repeat("../", 50),
	}
	for _, p := range hostile {
		for _, r := range []*response{
			bob.get("/ops/list", url.Values{"path": {p}}),
			bob.getFile(p),
			bob.putFile(p, []byte("overwrite"), false),
			bob.postForm("/ops/mkdir", url.Values{"path": {p}}),
			bob.postForm("/ops/move", url.Values{"source": {"mine.txt"}, "destination": {p}}),
			bob.postForm("/ops/copy", url.Values{"source": {p}, "destination": {"stolen"}}),
			bob.postForm("/files/link", url.Values{"path": {p}}),
			bob.postForm("/upload/link", url.Values{"path": {p}, "size": {"1"}}),
		} {
			assert.NotContains(t, string(r.Body), "secret", "%q", p)
			if r.Status == http.StatusOK {
				// Only names that are plainly Bob's own ("%2e%2e", "/etc/passwd"
				// as folders in his tree) may succeed.
				assert.NotContains(t, []string{"..", "../", "./private"}, p)
			}
		}
		var sizes []struct{ Size int64 }
		if r := bob.postForm("/ops/filesize", url.Values{"files[]": {p}}); r.Status == http.StatusOK {
			r.decode(&sizes)
			assert.NotEqual(t, int64(len(secret)), sizes[0].Size, "%q", p)
		}
	}
	// Whatever Bob made, it is all in his own tree: Alice's is untouched.
	assert.Equal(t, secret, alice.getFile("private/secret.txt").Body)
	assert.Equal(t, []ferry.Entry{{File: "private", Size: int64(len(secret)), Type: "d"}}, alice.list(""))
	assert.Equal(t, int64(len(secret)), alice.quota().Normal)
	// Raw escapes in the URL are decoded once, then refused.
	for _, raw := range []string{"/ops/list?path=%2E%2E", "/files?path=..%2F..%2Fprivate%2Fsecret.txt", "/files?path=private%00"} {
		r := bob.request(http.MethodGet, raw, nil, "")
		assert.NotEqual(t, http.StatusOK, r.Status, raw)
		assert.NotContains(t, string(r.Body), "secret", raw)
	}
	// Bob's paths name Bob's files only, even where Alice has the same.
	bob.getFile("private/secret.txt").requireError(404, ferry.EFILENOTFOUND)
	bob.mustPut("private/secret.txt", []byte("bob's own"))
	assert.Equal(t, secret, alice.getFile("private/secret.txt").Body)
}

func TestFiles_UnicodeNamesAreNFC(t *testing.T) {
	ts := startServer(t)
	c := ts.newUser("ivy@example.com")
	c.mustPut("Cafe\u0301/me\u0301nu.txt", []byte("NFD in")) // decomposed é
	assert.Equal(t, []ferry.Entry{{File: "Café", Size: 6, Type: "d"}}, c.list(""))
	assert.Equal(t, "NFD in", string(c.getFile("Café/ménu.txt").Body), "NFC finds NFD")
}

func TestFiles_OrphansRemovedAtStartup(t *testing.T) {
	ts := startServer(t)
	c := ts.newUser("jon@example.com")
	c.mustPut("kept.txt", []byte("kept"))
	ts.stop()

	// What a crash can leave: a blob renamed in but never committed, and a
	// half-written temporary file.
	orphan := []byte("never committed")
	ts.blobs().Put(sha(orphan), orphan)
	tmpPath := filepath.Join(ts.Cfg.DataDir, "tmp", "put-123")
	require.NoError(t, os.WriteFile(tmpPath, []byte("half"), 0o600))

	ts = ts.restart()
	require.Eventually(t, func() bool {
		return !ts.blobs().Exists(sha(orphan))
	}, 10*time.Second, 20*time.Millisecond)
	assert.NoFileExists(t, tmpPath)
	ts.requireBlobs(1)
	c = ts.login("jon@example.com", password)
	assert.Equal(t, "kept", string(c.getFile("kept.txt").Body))
}
