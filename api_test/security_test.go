package api_test

// The outside attack's findings (issue 13), one test each, through the
// real server.

import (
	"bufio"
	"bytes"
	"mime/multipart"
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
	"github.com/ferryhq/ferry/front"
)

// requireInert checks that a response cannot run as a page of ferry's
// origin: it is not sniffed, and it is sandboxed.
func requireInert(t *testing.T, what string, h http.Header) {
	t.Helper()
	assert.Equal(t, "nosniff", h.Get("X-Content-Type-Options"), what)
	assert.Equal(t, front.InertPolicy, h.Get("Content-Security-Policy"), what)
}

// An uploaded page never runs on ferry's origin: WebDAV answers only its
// own methods (POST was served like GET, inline), and every response on
// every route is sandboxed and not sniffed.
func TestSecurity_UserContentIsNeverAPage(t *testing.T) {
	ts := startServer(t)
	alice := ts.login(ts.addUser("alice@example.com", "alice password"), "alice password")
	page := []byte("<html><script>alert(document.domain)</script></html>")
	alice.mustPut("evil.html", page)
	d := ts.dav(alice)

	for _, method := range []string{http.MethodPost, "PATCH", "TRACE", "SEARCH", "BREW"} {
		r := d.do(method, "/evil.html", strings.NewReader("x=1"), "Content-Type", "application/x-www-form-urlencoded")
		r.requireError(http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
		assert.NotContains(t, string(r.Body), "<script>", method)
		requireInert(t, "dav "+method, r.Header)
	}
	r := d.do(http.MethodGet, "/evil.html", nil)
	require.Equal(t, http.StatusOK, r.Status)
	assert.Contains(t, r.Header.Get("Content-Disposition"), "attachment")
	requireInert(t, "dav GET", r.Header)

	// A dead property holding XHTML comes back inside PROPFIND's XML:
	// that answer is inert too.
	prop := `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>` +
		`<x:note xmlns:x="urn:x"><h:script xmlns:h="http://www.w3.org/1999/xhtml">alert(1)</h:script></x:note>` +
		`</D:prop></D:set></D:propertyupdate>`
	require.Equal(t, http.StatusMultiStatus, d.do("PROPPATCH", "/evil.html", strings.NewReader(prop)).Status)
	r = d.do("PROPFIND", "/evil.html", strings.NewReader(`<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>`), "Depth", "0")
	require.Equal(t, http.StatusMultiStatus, r.Status)
	require.Contains(t, string(r.Body), "alert(1)")
	requireInert(t, "PROPFIND", r.Header)

	var link struct{ URL string }
	alice.postForm("/files/link", map[string][]string{"path": {"evil.html"}}).requireStatus(http.StatusOK).decode(&link)
	for what, resp := range map[string]*response{
		"GET /files":   alice.getFile("evil.html"),
		"ops/list":     alice.get("/ops/list", nil),
		"unknown":      alice.get("/nothing/here", nil),
		"healthz":      getURL(t, ts.Root+"/healthz"),
		"link":         getURL(t, link.URL),
		"dav no auth":  getURL(t, ts.Root+"/dav/"),
		"dav redirect": getURL(t, ts.Root+"/dav"),
	} {
		requireInert(t, what, resp.Header)
	}
}

func getURL(t *testing.T, u string) *response {
	t.Helper()
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	return &response{t: t, Status: resp.StatusCode, Header: resp.Header}
}

// rawExchange sends req on a new connection and returns the status line
// of the answer and whether the server then closed the connection, within
// wait.
func rawExchange(t *testing.T, addr, req string, wait time.Duration) (status string, closed bool) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte(req))
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(wait)))
	br := bufio.NewReader(conn)
	status, err = br.ReadString('\n')
	if err != nil {
		return "", false
	}
	for {
		if _, err := br.ReadByte(); err != nil {
			ne, ok := err.(net.Error)
			return strings.TrimSpace(status), !(ok && ne.Timeout())
		}
	}
}

// A request that declares a body and sends none is answered, and its
// connection closed, on every route: nothing reads a body without a
// deadline, and a refusal does not wait for the body.
func TestSecurity_DeclaredBodyNeverSentIsAnswered(t *testing.T) {
	ts := startServer(t, func(c *app.Config) {
		c.BodyIdleTimeout = app.Duration(time.Second)
	})
	alice := ts.login(ts.addUser("alice@example.com", "alice password"), "alice password")
	addr := strings.TrimPrefix(ts.Root, "http://")
	for _, tc := range []struct {
		name, head string
		status     string
	}{
		{"healthz, huge", "GET /healthz", "200"},
		{"healthz, small", "GET /healthz", "200"},
		{"wrong method, huge", "POST /healthz", "405"},
		{"login, huge", "POST /api/1/auth/token", "413"},
		{"login, small", "POST /api/1/auth/token", "400"},
		{"register, small", "POST /api/1/auth/register", "400"},
		{"upload, no token", "PUT /api/1/files?path=a", "401"},
		{"upload, over quota", "PUT /api/1/files?path=a\r\ntoken: " + alice.token, "403"},
		{"upload, fits", "PUT /api/1/files?path=a\r\ntoken: " + alice.token, "400"},
		{"dav, no auth", "PUT /dav/a", "401"},
		{"unknown", "POST /nowhere", "404"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			length := "1000000000000"
			if strings.Contains(tc.name, "small") || strings.Contains(tc.name, "fits") {
				length = "10"
			}
			req := tc.head + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " + length + "\r\n\r\n"
			if i := strings.Index(tc.head, "\r\n"); i >= 0 {
				req = tc.head[:i] + " HTTP/1.1" + tc.head[i:] + "\r\nHost: x\r\nContent-Length: " + length + "\r\n\r\n"
			}
			status, closed := rawExchange(t, addr, req, 5*time.Second)
			require.NotEmpty(t, status, "no answer within 5s")
			assert.Contains(t, status, " "+tc.status+" ")
			assert.True(t, closed, "the connection stays open")
		})
	}
}

// A multipart body leaves no file anywhere, whichever route it is sent
// to: net/http's form parser wrote file parts over 1 MiB to the system's
// temporary folder and, on a copy of the request, never removed them.
func TestSecurity_MultipartLeavesNoFiles(t *testing.T) {
	ts := startServer(t, func(c *app.Config) { c.Auth.Signup = "open" })
	alice := ts.login(ts.addUser("alice@example.com", "alice password"), "alice password")
	pattern := filepath.Join(os.TempDir(), "multipart-*")
	before, err := filepath.Glob(pattern)
	require.NoError(t, err)
	form := func(fields map[string]string, file string, size int) (*bytes.Buffer, string) {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		for k, v := range fields {
			require.NoError(t, mw.WriteField(k, v))
		}
		fw, err := mw.CreateFormFile(file, "big.bin")
		require.NoError(t, err)
		_, err = fw.Write(bytes.Repeat([]byte{'x'}, size))
		require.NoError(t, err)
		require.NoError(t, mw.Close())
		return &body, mw.FormDataContentType()
	}
	c := ts.client()
	body, ct := form(map[string]string{"email": "bob@example.com", "password": "bob password"}, "junk", 3<<20)
	c.request(http.MethodPost, "/auth/register", body, ct).requireStatus(http.StatusOK)
	body, ct = form(map[string]string{"email": "bob@example.com", "password": "bob password"}, "junk", 3<<20)
	c.request(http.MethodPost, "/auth/token", body, ct).requireStatus(http.StatusOK)
	body, ct = form(nil, "photo", 3<<20)
	alice.request(http.MethodPost, "/user-photo/update", body, ct).requireError(http.StatusBadRequest, "INVALID_PHOTO")

	after, err := filepath.Glob(pattern)
	require.NoError(t, err)
	assert.ElementsMatch(t, before, after, "files left in %s", os.TempDir())
	entries, err := os.ReadDir(filepath.Join(ts.Cfg.DataDir, "tmp"))
	require.NoError(t, err)
	assert.Empty(t, entries, "files left in data_dir/tmp")
}

// Bidirectional controls would make "evil\u202Etxt.exe" show as
// "evilexe.txt" to a receiver: names refuse them like control characters.
func TestSecurity_BidiControlsInNames(t *testing.T) {
	ts := startServer(t)
	alice := ts.login(ts.addUser("alice@example.com", "alice password"), "alice password")
	d := ts.dav(alice)
	for _, name := range []string{"evil\u202etxt.exe", "a\u2066b", "x\u200f.pdf", "dir\u061c/a.txt"} {
		alice.putFile(name, []byte("x"), false).requireError(http.StatusBadRequest, ferry.EBADREQUEST)
		alice.postForm("/ops/mkdir", url.Values{"path": {name}}).requireError(http.StatusBadRequest, ferry.EBADREQUEST)
		r := d.do(http.MethodPut, "/"+url.PathEscape(name), strings.NewReader("x"))
		assert.GreaterOrEqual(t, r.Status, 400, "WebDAV PUT %q", name)
	}
	alice.postForm("/settings/update", url.Values{"fullname": {"Alice \u202eecilA"}}).requireError(http.StatusBadRequest, ferry.EBADREQUEST)
	assert.Empty(t, alice.list(""))
}
