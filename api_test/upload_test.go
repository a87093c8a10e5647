package api_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/app"
)

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

// uploadLink starts a resumable upload and returns its key.
func (c *client) uploadLink(path string, size int, extra url.Values) *response {
	c.t.Helper()
	form := url.Values{"path": {path}, "size": {fmt.Sprint(size)}}
	for k, v := range extra {
		form[k] = v
	}
	return c.postForm("/upload/link", form)
}

func (c *client) mustUploadLink(path string, size int) string {
	c.t.Helper()
	var out struct {
		Key  string `json:"upload_key"`
		File string `json:"file"`
	}
	c.uploadLink(path, size, nil).requireStatus(http.StatusOK).decode(&out)
	require.NotEmpty(c.t, out.Key)
	return out.Key
}

// chunk sends content as the bytes from start of a file of total bytes.
func (c *client) chunk(key string, start, total int, content []byte) *response {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPut, c.base+"/upload/chunked/"+key, bytes.NewReader(content))
	require.NoError(c.t, err)
	req.Header.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, start+len(content)-1, total))
	return c.do(req)
}

func (c *client) uploadStatus(key string) (received, size int64) {
	c.t.Helper()
	var out struct{ Received, Size int64 }
	c.get("/upload/status/"+key, nil).requireStatus(http.StatusOK).decode(&out)
	return out.Received, out.Size
}

func TestUpload_InChunks(t *testing.T) {
	ts := startServer(t)
	c := ts.newUser("kay@example.com")
	content := randomBytes(t, 3<<20+123)
	key := c.mustUploadLink("media/video.bin", len(content))
	received, size := c.uploadStatus(key)
	assert.Equal(t, int64(0), received)
	assert.Equal(t, int64(len(content)), size)

	const chunk = 1 << 20
	for off := 0; off < len(content); off += chunk {
		end := min(off+chunk, len(content))
		var out struct{ Received int64 }
		c.chunk(key, off, len(content), content[off:end]).requireStatus(http.StatusOK).decode(&out)
		assert.Equal(t, int64(end), out.Received)
		if end < len(content) {
			// Nothing shows before finalize.
			c.getFile("media/video.bin").requireError(404, ferry.EFILENOTFOUND)
		}
	}
	r := c.get("/upload/finalize/"+key, nil).requireStatus(http.StatusOK)
	assert.JSONEq(t, fmt.Sprintf(`{"file":"media/video.bin","size":%d,"sha256":%q}`, len(content), sha(content)), string(r.Body))
	assert.Equal(t, content, c.getFile("media/video.bin").Body)
	assert.Equal(t, int64(len(content)), c.quota().Normal)
	// The key is spent.
	c.get("/upload/status/"+key, nil).requireError(404, ferry.EUPLOADNOTFOUND)
	c.get("/upload/finalize/"+key, nil).requireError(404, ferry.EUPLOADNOTFOUND)
	assert.Equal(t, 0, countFiles(t, filepath.Join(ts.Cfg.DataDir, "uploads")))
}

// Chunks of any length, so that most start and end inside a disk block
// (their whole blocks are written around the page cache, their ragged
// edges through it): the file reads back whole, with its hash.
func TestUpload_OddChunks(t *testing.T) {
	ts := startServer(t)
	c := ts.newUser("odd@example.com")
	content := randomBytes(t, 3<<20+5)
	key := c.mustUploadLink("odd.bin", len(content))
	off := 0
	for _, n := range []int{1, 4095, 4097, 1<<20 + 13, 8191, 1 << 20} {
		c.chunk(key, off, len(content), content[off:off+n]).requireStatus(http.StatusOK)
		off += n
	}
	c.chunk(key, off, len(content), content[off:]).requireStatus(http.StatusOK)
	r := c.get("/upload/finalize/"+key, nil).requireStatus(http.StatusOK)
	assert.JSONEq(t, fmt.Sprintf(`{"file":"odd.bin","size":%d,"sha256":%q}`, len(content), sha(content)), string(r.Body))
	assert.Equal(t, content, c.getFile("odd.bin").Body)
}

func TestUpload_ResumeAfterDroppedConnection(t *testing.T) {
	ts := startServer(t)
	c := ts.newUser("lou@example.com")
	content := randomBytes(t, 2<<20)
	key := c.mustUploadLink("backup.tar", len(content))

	// One chunk for the whole file; the connection drops after 700 KiB.
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.Root, "http://"))
	require.NoError(t, err)
	fmt.Fprintf(conn, "PUT /api/1/upload/chunked/%s HTTP/1.1\r\nHost: x\r\ntoken: %s\r\nContent-Range: bytes 0-%d/%d\r\nContent-Length: %d\r\n\r\n",
		key, c.token, len(content)-1, len(content), len(content))
	sent := 700 << 10
	_, err = conn.Write(content[:sent])
	require.NoError(t, err)
	require.NoError(t, conn.Close())

	// The bytes that arrived are kept.
	var received int64
	require.Eventually(t, func() bool {
		received, _ = c.uploadStatus(key)
		return received == int64(sent)
	}, 10*time.Second, 20*time.Millisecond, "received %d", received)

	// Resume where it stands; a chunk elsewhere gets 409 with the offset.
	r := c.chunk(key, 0, len(content), content[:1000])
	r.requireStatus(http.StatusConflict)
	assert.JSONEq(t, fmt.Sprintf(`{"error":"UPLOAD_OFFSET_MISMATCH","message":"A chunk must start at byte %d.","received":%d}`, sent, sent), string(r.Body))
	c.chunk(key, sent+1, len(content), content[sent+1:]).requireStatus(http.StatusConflict)
	c.chunk(key, sent, len(content), content[sent:]).requireStatus(http.StatusOK)
	c.get("/upload/finalize/"+key, nil).requireStatus(http.StatusOK)
	assert.Equal(t, content, c.getFile("backup.tar").Body)
}

// A PUT whose connection drops before its declared length has arrived
// stores nothing: not the part that came, not a file of that length.
func TestUpload_CutOffPutIsNotStored(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := ts.newUser("cut@example.com")
	content := randomBytes(t, 3<<20)
	for _, sent := range []int{0, 100, 1 << 20, 1<<20 + 5000} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(ts.Root, "http://"))
		require.NoError(t, err)
		fmt.Fprintf(conn, "PUT /api/1/files?path=cut.bin HTTP/1.1\r\nHost: x\r\ntoken: %s\r\nContent-Length: %d\r\n\r\n", c.token, len(content))
		_, err = conn.Write(content[:sent])
		require.NoError(t, err)
		require.NoError(t, conn.Close())
		require.Never(t, func() bool { return c.getFile("cut.bin").Status == http.StatusOK }, time.Second, 20*time.Millisecond,
			"a body cut off after %d of %d bytes was stored", sent, len(content))
	}
	c.putFile("cut.bin", content, false).requireStatus(http.StatusOK)
	assert.Equal(t, content, c.getFile("cut.bin").Body)
}

func TestUpload_Errors(t *testing.T) {
	ts := startServer(t, func(c *app.Config) {
		c.MaxFileSize = 1000
		c.Packages["small"] = app.Package{Storage: 1500}
		c.DefaultPackage = "small"
	})
	c := ts.newUser("max@example.com")
	other := ts.newUser("ned@example.com")
	c.postForm("/ops/mkdir", url.Values{"path": {"folder"}}).requireStatus(http.StatusOK)

	c.uploadLink("big.bin", 1001, nil).requireError(413, ferry.ETOOLARGE)
	c.uploadLink("folder", 10, nil).requireError(409, ferry.EFILEEXISTS)
	c.uploadLink("", 10, nil).requireError(409, ferry.EFILEEXISTS)
	c.uploadLink("a/../b", 10, nil).requireError(400, ferry.EBADREQUEST)
	c.postForm("/upload/link", url.Values{"path": {"x"}, "size": {"ten"}}).requireError(400, ferry.EBADREQUEST)
	c.postForm("/upload/link", url.Values{"path": {"x"}, "size": {"-1"}}).requireError(400, ferry.EBADREQUEST)
	var out struct{ File string }
	c.uploadLink("folder", 10, url.Values{"resolve": {"1"}}).requireStatus(http.StatusOK).decode(&out)
	assert.Equal(t, "folder (1)", out.File)

	c.mustPut("used.bin", randomBytes(t, 900))
	c.uploadLink("more.bin", 700, nil).requireError(403, ferry.EQUOTAEXCEEDED) // 900 + 700 > 1500

	key := c.mustUploadLink("part.bin", 100)
	for _, path := range []string{"/upload/status/nokey", "/upload/finalize/nokey", "/upload/status/" + key, "/upload/finalize/" + key} {
		other.get(path, nil).requireError(404, ferry.EUPLOADNOTFOUND) // another user's key is unknown too
	}
	other.chunk(key, 0, 100, make([]byte, 100)).requireError(404, ferry.EUPLOADNOTFOUND)
	c.chunk("nokey", 0, 100, make([]byte, 100)).requireError(404, ferry.EUPLOADNOTFOUND)

	c.chunk(key, 0, 100, make([]byte, 50)).requireStatus(http.StatusOK)
	c.get("/upload/finalize/"+key, nil).requireError(400, ferry.EBADREQUEST) // bytes missing
	// Malformed or inconsistent Content-Range.
	for _, cr := range []string{"", "bytes 50-99", "bytes=50-99/100", "bytes 50-99/101", "bytes 50-100/100", "bytes 60-59/100", "50-99/100"} {
		req, err := http.NewRequest(http.MethodPut, c.base+"/upload/chunked/"+key, bytes.NewReader(make([]byte, 50)))
		require.NoError(t, err)
		if cr != "" {
			req.Header.Set("Content-Range", cr)
		}
		c.do(req).requireError(400, ferry.EBADREQUEST)
	}
	// A body longer than the range says.
	req, err := http.NewRequest(http.MethodPut, c.base+"/upload/chunked/"+key, bytes.NewReader(make([]byte, 60)))
	require.NoError(t, err)
	req.Header.Set("Content-Range", "bytes 50-99/100")
	c.do(req).requireError(400, ferry.EBADREQUEST)
	received, _ := c.uploadStatus(key)
	assert.Equal(t, int64(50), received, "refused chunks change nothing")
}

func TestUpload_ExpiresWhenIdle(t *testing.T) {
	ts := startServer(t, longTokens)
	c := ts.newUser("oli@example.com")
	key := c.mustUploadLink("slow.bin", 100)
	c.chunk(key, 0, 100, make([]byte, 40)).requireStatus(http.StatusOK)
	ts.Clock.Advance(14 * time.Minute)
	c.chunk(key, 40, 100, make([]byte, 40)).requireStatus(http.StatusOK) // still alive, and renewed
	ts.Clock.Advance(14 * time.Minute)
	received, _ := c.uploadStatus(key)
	assert.Equal(t, int64(80), received)
	uploads := filepath.Join(ts.Cfg.DataDir, "uploads")
	assert.Equal(t, 1, countFiles(t, uploads))

	ts.Clock.Advance(15*time.Minute + time.Second)
	c.get("/upload/status/"+key, nil).requireError(404, ferry.EUPLOADNOTFOUND)
	assert.Equal(t, 0, countFiles(t, uploads), "the partial bytes are deleted")
	c.chunk(key, 80, 100, make([]byte, 20)).requireError(404, ferry.EUPLOADNOTFOUND)

	// One nobody asks about again is swept (at start-up and every minute).
	key2 := c.mustUploadLink("forgotten.bin", 10)
	ts.Clock.Advance(16 * time.Minute)
	ts = ts.restart()
	require.Eventually(t, func() bool { return countFiles(t, uploads) == 0 }, 10*time.Second, 20*time.Millisecond)
	c = ts.login("oli@example.com", password)
	c.get("/upload/status/"+key2, nil).requireError(404, ferry.EUPLOADNOTFOUND)
}

func TestUpload_FinalizeOverQuotaLeavesNothing(t *testing.T) {
	ts := startServer(t, func(c *app.Config) {
		c.Packages["small"] = app.Package{Storage: 1000}
		c.DefaultPackage = "small"
	})
	c := ts.newUser("pia@example.com")
	content := randomBytes(t, 600)
	// The upload replaces a file of its size, so it holds no room; the
	// file is deleted meanwhile, and something else takes the room.
	c.mustPut("late.bin", randomBytes(t, 600))
	key := c.mustUploadLink("late.bin", len(content))
	c.chunk(key, 0, len(content), content).requireStatus(http.StatusOK)
	c.postForm("/ops/delete", url.Values{"file[]": {"late.bin"}}).requireStatus(http.StatusOK)
	c.mustPut("meanwhile.bin", randomBytes(t, 500)) // now 600 more does not fit
	c.get("/upload/finalize/"+key, nil).requireError(403, ferry.EQUOTAEXCEEDED)
	c.get("/upload/status/"+key, nil).requireError(404, ferry.EUPLOADNOTFOUND)
	assert.Equal(t, 0, countFiles(t, filepath.Join(ts.Cfg.DataDir, "uploads")))
	ts.requireBlobs(1)
	assert.Equal(t, int64(500), c.quota().Normal)
	c.getFile("late.bin").requireError(404, ferry.EFILENOTFOUND)
}

func TestUpload_ResolveAtFinalize(t *testing.T) {
	ts := startServer(t)
	c := ts.newUser("quin@example.com")
	var out struct {
		Key  string `json:"upload_key"`
		File string `json:"file"`
	}
	c.uploadLink("doc.txt", 3, url.Values{"resolve": {"1"}}).requireStatus(http.StatusOK).decode(&out)
	assert.Equal(t, "doc.txt", out.File)
	c.mustPut("doc.txt", []byte("first"))
	c.chunk(out.Key, 0, 3, []byte("new")).requireStatus(http.StatusOK)
	var done struct{ File string }
	c.get("/upload/finalize/"+out.Key, nil).requireStatus(http.StatusOK).decode(&done)
	assert.Equal(t, "doc (1).txt", done.File)
	assert.Equal(t, "first", string(c.getFile("doc.txt").Body))
	assert.Equal(t, "new", string(c.getFile("doc (1).txt").Body))
}

func TestUpload_MaxFileSizeOnPut(t *testing.T) {
	ts := startServer(t, func(c *app.Config) { c.MaxFileSize = 1000 })
	c := ts.newUser("rae@example.com")
	c.putFile("ok.bin", make([]byte, 1000), false).requireStatus(http.StatusOK)
	c.putFile("big.bin", make([]byte, 1001), false).requireError(413, ferry.ETOOLARGE)
	// Without a declared length the limit holds while reading.
	req, err := http.NewRequest(http.MethodPut, c.base+"/files?path=big2.bin", io.MultiReader(bytes.NewReader(make([]byte, 5000))))
	require.NoError(t, err)
	req.ContentLength = -1
	c.do(req).requireError(413, ferry.ETOOLARGE)
	assert.Equal(t, []ferry.Entry{{File: "ok.bin", Size: 1000, Type: "f"}}, c.list(""))
	ts.requireBlobs(1)
	entries, err := os.ReadDir(filepath.Join(ts.Cfg.DataDir, "tmp"))
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing of a refused body is kept")
}
