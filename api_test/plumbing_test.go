package api_test

import (
	"bufio"
	"bytes"
	"context"
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
	"github.com/ferryhq/ferry/version"
)

func TestPlumbing_UnknownRouteAndWrongMethod(t *testing.T) {
	ts := startServer(t)
	c := ts.login(ts.addUser("kim@example.com", password), password)
	c.get("/no/such/route", nil).requireError(404, ferry.ENOTFOUND)
	c.get("/../../etc/passwd", nil).requireError(404, ferry.ENOTFOUND)
	c.request(http.MethodPut, "/settings/list", nil, "").requireError(405, ferry.EMETHODNOTALLOWED)
	c.request(http.MethodPost, "/settings/list", nil, "").requireError(405, ferry.EMETHODNOTALLOWED)
	c.request(http.MethodPatch, "/auth/token", nil, "").requireError(405, ferry.EMETHODNOTALLOWED)
	c.request(http.MethodGet, "/auth/register", nil, "").requireError(405, ferry.EMETHODNOTALLOWED)
	root := &client{t: t, base: ts.Root, http: c.http}
	// "/" is the web app's now; a client that does not take HTML still
	// gets the API's JSON 404 for a path that is nothing.
	home := root.get("/", nil).requireStatus(http.StatusOK) // redirected to /login
	assert.Contains(t, string(home.Body), "Sign in")
	root.get("/api/2/settings/list", nil).requireError(404, ferry.ENOTFOUND)
}

func TestPlumbing_MalformedBodies(t *testing.T) {
	ts := startServer(t)
	email := ts.addUser("lee@example.com", password)
	c := ts.client()
	for _, tc := range []struct{ name, body, ct string }{
		{"bad percent escape", "email=%zz&password=x", "application/x-www-form-urlencoded"},
		{"truncated JSON", `{"email":"` + email, "application/json"},
		{"JSON array", `["email"]`, "application/json"},
		{"JSON null", `null`, "application/json"},
		{"two JSON values", `{"email":"a"} {"email":"b"}`, "application/json"},
		{"multipart without boundary", "--x\r\n", "multipart/form-data"},
		{"broken multipart", "--b\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nx", "multipart/form-data; boundary=b"},
		{"unsupported type", "email=" + email, "text/plain"},
		{"malformed content type", "email=" + email, "application/x-www-form-urlencoded; charset"},
	} {
		r := c.request(http.MethodPost, "/auth/token", strings.NewReader(tc.body), tc.ct)
		assert.Equal(t, 400, r.Status, "%s: %s", tc.name, r.Body)
		assert.Contains(t, string(r.Body), `"error":"METHOD_BAD_REQUEST"`, tc.name)
	}
	// JSON with non-string values is read as form values.
	r := c.postJSON("/auth/token", map[string]any{"email": email, "password": password, "remember": true, "n": 3})
	r.requireStatus(http.StatusOK)
	// The server still serves.
	ts.login(email, password)
}

func TestPlumbing_OversizeBodies(t *testing.T) {
	ts := startServer(t, func(c *app.Config) { c.MaxRequestBody = 64 << 10 })
	email := ts.addUser("mia@example.com", password)
	c := ts.client()
	big := "email=" + email + "&password=" + url.QueryEscape(password) + "&pad=" + strings.Repeat("x", 80<<10)

	// A declared length over the limit is refused before the body is read.
	c.request(http.MethodPost, "/auth/token", strings.NewReader(big), "application/x-www-form-urlencoded").
		requireError(413, ferry.ETOOLARGE)
	// A chunked body (no declared length) is cut off when it passes the limit.
	req, err := http.NewRequest(http.MethodPost, ts.URL+"/auth/token", io.MultiReader(strings.NewReader(big)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.ContentLength = -1
	c.do(req).requireError(413, ferry.ETOOLARGE)
	// The same through JSON and multipart.
	jsonBig := `{"email":"` + email + `","pad":"` + strings.Repeat("x", 80<<10) + `"}`
	req, err = http.NewRequest(http.MethodPost, ts.URL+"/auth/token", io.MultiReader(strings.NewReader(jsonBig)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	c.do(req).requireError(413, ferry.ETOOLARGE)
	mp := "--b\r\nContent-Disposition: form-data; name=\"pad\"\r\n\r\n" + strings.Repeat("x", 80<<10) + "\r\n--b--\r\n"
	req, err = http.NewRequest(http.MethodPost, ts.URL+"/auth/token", io.MultiReader(strings.NewReader(mp)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "multipart/form-data; boundary=b")
	c.do(req).requireError(413, ferry.ETOOLARGE)

	// Just under the limit is fine, and the server keeps serving.
	small := "email=" + email + "&password=" + url.QueryEscape(password) + "&pad=" + strings.Repeat("x", 60<<10)
	c.request(http.MethodPost, "/auth/token", strings.NewReader(small), "application/x-www-form-urlencoded").
		requireStatus(http.StatusOK)
}

func TestPlumbing_OversizeHeaders(t *testing.T) {
	ts := startServer(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.Root, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	var b bytes.Buffer
	b.WriteString("GET /healthz HTTP/1.1\r\nHost: x\r\n")
	for range 200 {
		b.WriteString("X-Pad: " + strings.Repeat("y", 1000) + "\r\n")
	}
	b.WriteString("\r\n")
	_, _ = conn.Write(b.Bytes())
	reply, _ := io.ReadAll(io.LimitReader(conn, 4096))
	assert.Contains(t, string(reply), "431", "headers over 64 KiB are refused")
	ts.client().get("/settings/list", nil).requireError(401, ferry.ENOPERMISSION)
}

func TestPlumbing_Healthz(t *testing.T) {
	ts := startServer(t)
	root := &client{t: t, base: ts.Root, http: http.DefaultClient}
	r := root.get("/healthz", nil).requireStatus(http.StatusOK)
	assert.JSONEq(t, `{"status":"ok","version":"`+version.Get().Version+`"}`, string(r.Body))
}

func TestSettings_List(t *testing.T) {
	ts := startServer(t, func(c *app.Config) {
		c.Packages["pro"] = app.Package{Storage: 2_500_000_000, ReceivePerMonth: 0}
	})
	_, err := ts.admin().AddUser(app.AddUserRequest{Email: "ned@example.com", Password: password, Name: "Ned Stark", Package: "pro"})
	require.NoError(t, err)
	c := ts.login("ned@example.com", password)
	r := c.get("/settings/list", nil).requireStatus(http.StatusOK)
	assert.JSONEq(t, `{"email":"ned@example.com","fullname":"Ned Stark","photo":"","accept_all":false,"mail_on_decision":true,"package":"pro","storage":2500,"two_factor":false,"mail_on_download":false}`, string(r.Body))

	unlimited := int64(0)
	_, err = ts.admin().SetUser(app.SetUserRequest{Email: "ned@example.com", Storage: &unlimited})
	require.NoError(t, err)
	var s struct{ Storage int64 }
	c.get("/settings/list", nil).requireStatus(http.StatusOK).decode(&s)
	assert.Equal(t, int64(0), s.Storage)
}

func TestPlumbing_MetricsAndProfiles(t *testing.T) {
	ts := startServer(t, func(c *app.Config) { c.Metrics.Token = "scrape-secret" })
	root := &client{t: t, base: ts.Root, http: http.DefaultClient}
	body := string(root.scrape(ts.Root + "/metrics").Body)
	for _, m := range []string{"go_memstats_heap_inuse_bytes", "go_goroutines", "process_resident_memory_bytes"} {
		assert.Contains(t, body, "\n"+m+" ")
	}
	build := version.Get()
	assert.Contains(t, body, fmt.Sprintf("\nferry_build_info{commit=%q,goversion=%q,version=%q} 1\n", build.Commit, build.Go, build.Version))
	// Profiles are on the admin socket only, for the owner of the data.
	root.get("/debug/pprof/", nil).requireError(404, ferry.ENOTFOUND)
	sock := filepath.Join(ts.Cfg.DataDir, "admin.sock")
	admin := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	resp, err := admin.Get("http://ferry/debug/pprof/heap?debug=1")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(b), "heap profile")
	info, err := os.Stat(sock)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
}

func TestMetrics_RequestsStoreAndMail(t *testing.T) {
	ts := startServer(t, func(c *app.Config) { c.Metrics.Token = "scrape-secret" })
	c := ts.newUser("met@example.com")
	ts.addUser("rcv@example.com", password)
	c.mustPut("m/a.bin", make([]byte, 1234))
	c.get("/ops/list", url.Values{"path": {"m"}}).requireStatus(http.StatusOK)
	c.get("/ops/list", url.Values{"path": {"none"}}).requireError(404, ferry.EFILENOTFOUND)
	c.mustSend("rcv@example.com", `[{"path":"m","files":["a.bin"]}]`)

	ts.client().postForm("/auth/token", url.Values{"email": {"met@example.com"}, "password": {"wrong password"}}).requireError(403, ferry.EAUTHFAILED)

	root := &client{t: t, base: ts.Root, http: http.DefaultClient}
	root.get("/metrics", nil).requireError(401, ferry.ENOPERMISSION)
	body := string(root.scrape(ts.Root + "/metrics").Body)
	for _, line := range []string{
		`ferry_http_requests_total{code="2xx",method="GET",route="/api/1/ops/list"} 1`,
		`ferry_http_requests_total{code="4xx",method="GET",route="/api/1/ops/list"} 1`,
		`ferry_http_request_bytes_total{route="/api/1/files"} 1234`,
		`ferry_http_request_duration_seconds_count{method="GET",route="/api/1/ops/list"} 2`,
		`ferry_login_failures_total 1`,
		`ferry_messages_pending 1`,
		`ferry_mail_queued 1`, // the "sent you" mail; no smtp.host here
		`ferry_mail_outbox{status="queued"} 1`,
		`ferry_mail_outbox{status="sent"} 0`,
		`ferry_store_blobs 1`,
		`ferry_store_blob_bytes 1234`,
		`ferry_mail_failed_total 0`,
	} {
		assert.Contains(t, body, "\n"+line+"\n")
	}
	assert.Regexp(t, `\nferry_store_db_bytes \d`, body)
	assert.Regexp(t, `\nferry_store_commit_calls_count [1-9]`, body)
	assert.Regexp(t, `\nferry_store_commit_duration_seconds_bucket\{le="0.0001"\} \d`, body)
	assert.Regexp(t, `\nferry_http_response_bytes_total\{route="/api/1/ops/list"\} \d+`, body)
}

func TestPlumbing_BatchesAreBounded(t *testing.T) {
	ts := startServer(t)
	c := ts.newUser("many@example.com")
	many := make([]string, 10_001)
	for i := range many {
		many[i] = fmt.Sprintf("f%d", i)
	}
	for path, key := range map[string]string{
		"/ops/delete": "file[]", "/ops/filesize": "files[]", "/contacts/add": "email[]",
		"/invite": "email[]", "/notifications/update": "id[]",
	} {
		c.postForm(path, url.Values{key: many}).requireError(400, ferry.EBADREQUEST)
		want := http.StatusAccepted // nothing there: per-item failures
		if path == "/ops/filesize" {
			want = http.StatusOK // sizes of -1
		}
		c.postForm(path, url.Values{key: many[:3]}).requireStatus(want)
	}
	var msgs []string
	for i := range 10_001 {
		msgs = append(msgs, fmt.Sprintf(`{"id":%d}`, i+1))
	}
	c.decide("["+strings.Join(msgs, ",")+"]").requireError(400, ferry.EBADREQUEST)
}

// A body that stops arriving is cut off after body_idle_timeout; one that
// arrives slowly is not; the server keeps serving.
func TestPlumbing_StalledBodyIsCut(t *testing.T) {
	t.Parallel() // slow and waiting more than computing: beside the others
	ts := startServer(t, func(c *app.Config) { c.BodyIdleTimeout = app.Duration(time.Second) })
	c := ts.newUser("slow@example.com")
	addr := strings.TrimPrefix(ts.Root, "http://")
	head := func(conn net.Conn, n int) {
		fmt.Fprintf(conn, "PUT /api/1/files?path=slow.bin HTTP/1.1\r\nHost: x\r\ntoken: %s\r\nContent-Length: %d\r\n\r\n", c.token, n)
	}

	stalled, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer stalled.Close()
	head(stalled, 100)
	_, err = stalled.Write(make([]byte, 10))
	require.NoError(t, err)
	start := time.Now()
	require.NoError(t, stalled.SetReadDeadline(time.Now().Add(20*time.Second)))
	io.ReadAll(stalled) // the server answers and closes, or just closes
	assert.Less(t, time.Since(start), 15*time.Second, "the stalled body was cut off")
	c.getFile("slow.bin").requireError(404, ferry.EFILENOTFOUND)

	slow, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer slow.Close()
	head(slow, 4)
	for _, b := range []byte("slow") {
		time.Sleep(600 * time.Millisecond) // under the timeout each time, over it in all
		_, err := slow.Write([]byte{b})
		require.NoError(t, err)
	}
	reply, err := bufio.NewReader(slow).ReadString('\n')
	require.NoError(t, err)
	assert.Contains(t, reply, "200 OK")
	assert.Equal(t, "slow", string(c.getFile("slow.bin").Body))
}

// A download the client stops taking is cut off after body_idle_timeout,
// while one taken slowly but steadily runs to the end however long it takes
// (sendfile goes out a chunk at a time, each under a fresh deadline).
func TestPlumbing_StalledDownloadIsCut(t *testing.T) {
	t.Parallel() // slow and waiting more than computing: beside the others
	// Two seconds: a slow reader starved for a second on a loaded CI
	// (the race detector, the other suites beside it) was once cut at one.
	ts := startServer(t, func(c *app.Config) { c.BodyIdleTimeout = app.Duration(2 * time.Second) })
	c := ts.newUser("reader@example.com")
	content := bytes.Repeat([]byte("ferry"), 16<<20/5) // more than loopback's socket buffers hold at first
	size := len(content)
	c.mustPut("big.bin", content)
	addr := strings.TrimPrefix(ts.Root, "http://")
	get := func() net.Conn {
		conn, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { conn.Close() })
		fmt.Fprintf(conn, "GET /api/1/files?path=big.bin HTTP/1.1\r\nHost: x\r\ntoken: %s\r\n\r\n", c.token)
		return conn
	}

	stalled, slow := get(), get()
	done := make(chan int64)
	go func() {
		// 256 KiB every 50 ms: about three seconds for the whole file.
		var got int64
		buf := make([]byte, 256<<10)
		slow.SetReadDeadline(time.Now().Add(20 * time.Second))
		for got < int64(size) {
			n, err := io.ReadFull(slow, buf)
			got += int64(n)
			if err != nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		done <- got
	}()
	time.Sleep(5 * time.Second) // take nothing for 2.5 times the timeout
	require.NoError(t, stalled.SetReadDeadline(time.Now().Add(20*time.Second)))
	got, _ := io.Copy(io.Discard, stalled)
	assert.Less(t, got, int64(size), "the stalled download was not cut off")
	assert.Greater(t, <-done, int64(size), "the slow download was cut off")
}

// JSON nested deeper than 16 is refused before it is decoded, in a JSON
// body and in a form field; brackets inside strings do not count.
func TestPlumbing_JSONDepthLimit(t *testing.T) {
	ts := startServer(t)
	c := ts.newUser("deep@example.com")
	ts.newUser("peer@example.com")
	c.mustPut(`q"[[[[[[[[[[[[[[[[[[[[.txt`, []byte("x"))
	deep := strings.Repeat("[", 17) + strings.Repeat("]", 17)

	r := c.request(http.MethodPost, "/ops/send", strings.NewReader(`{"to":"peer@example.com","source":`+deep+`}`), "application/json")
	r.requireError(400, ferry.EBADREQUEST)
	assert.Contains(t, string(r.Body), "nested more than 16 deep")
	r = c.send("peer@example.com", deep)
	r.requireError(400, ferry.EBADREQUEST)
	assert.Contains(t, string(r.Body), "nested more than 16 deep")

	ok := `[{"path":"","files":["q\"[[[[[[[[[[[[[[[[[[[[.txt"]}]`
	c.send("peer@example.com", ok).requireStatus(http.StatusOK)
	r = c.request(http.MethodPost, "/ops/send", strings.NewReader(`{"to":"peer@example.com","source":`+ok+`}`), "application/json")
	r.requireStatus(http.StatusOK)
}

// scrape gets a metrics URL with the test's metrics token.
func (c *client) scrape(url string) *response {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(c.t, err)
	req.Header.Set("Authorization", "Bearer scrape-secret")
	return c.do(req).requireStatus(http.StatusOK)
}

// Every answer carries a request id, which the request's log line
// carries too; a trusted proxy's is kept, anyone else's replaced.
func TestPlumbing_RequestIDs(t *testing.T) {
	ts := startServer(t, func(c *app.Config) { c.TrustedProxies = []string{"10.9.9.9"} })
	r := ts.client().get("/settings/list", nil)
	id := r.Header.Get("X-Request-Id")
	assert.Regexp(t, `^[0-9a-f]{16}$`, id)
	assert.NotEqual(t, id, ts.client().get("/settings/list", nil).Header.Get("X-Request-Id"))
	require.Eventually(t, func() bool { return strings.Contains(ts.logs.String(), "request_id="+id) }, 5*time.Second, 10*time.Millisecond)
	req, err := http.NewRequest(http.MethodGet, ts.URL+"/settings/list", nil)
	require.NoError(t, err)
	req.Header.Set("X-Request-Id", "from-the-client")
	assert.NotEqual(t, "from-the-client", ts.client().do(req).Header.Get("X-Request-Id"), "the loopback is not a trusted proxy here")
}
