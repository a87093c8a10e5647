// Package api_test drives ferry from outside: the real server (app.New, as
// cmd/ferry runs it) on 127.0.0.1:0 with its data in t.TempDir(), real HTTP
// requests, and the real binary for the command line.
package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/app"
	"github.com/ferryhq/ferry/ferrytest"
)

// clock is a fake clock the tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock {
	return &clock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testServer is a running ferry.
type testServer struct {
	t     testing.TB
	URL   string // the API base, http://127.0.0.1:port/api/1
	Root  string // public_url: http://127.0.0.1:port unless the test sets it
	Addr  string // 127.0.0.1:port
	Cfg   app.Config
	Clock *clock
	logs  *syncBuffer
	stop  func()
}

// syncBuffer collects log lines (the server's, the binary's).
type syncBuffer = ferrytest.Logs

// startServer runs ferry on the default config with the changes of mutate,
// on 127.0.0.1:0 with a fresh data dir and a fake clock. Cleanup stops it,
// checks that it stopped cleanly and runs bbolt's consistency check and a
// full fsck (blob contents hashed) on the data it leaves.
func startServer(t testing.TB, mutate ...func(*app.Config)) *testServer {
	t.Helper()
	return startServerOpts(t, app.Options{}, mutate...)
}

// startServerOpts is startServer with app options (the clock, the logger
// and the sweep interval are the harness's).
func startServerOpts(t testing.TB, opts app.Options, mutate ...func(*app.Config)) *testServer {
	t.Helper()
	cfg := app.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.PublicURL = ""
	cfg.DataDir = t.TempDir()
	if ferrytest.BlobsInS3() {
		ferrytest.SharedS3(t).UseS3(&cfg)
	}
	for _, m := range mutate {
		m(&cfg)
	}
	ts := &testServer{t: t, Cfg: cfg, Clock: newClock(), logs: &syncBuffer{}}
	logger := slog.New(slog.NewTextHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts.Now, opts.Logger, opts.SweepEvery = ts.Clock.Now, logger, 100*time.Millisecond
	a, stop := ferrytest.Run(t, cfg, opts, ts.logs)
	ts.Root, ts.Addr, ts.stop = a.PublicURL(), a.Addr(), stop
	ts.URL = ts.Root + "/api/1"
	return ts
}

// restart stops the server and starts a new one on the same data and
// config, with the clock where it was.
func (ts *testServer) restart() *testServer {
	ts.t.Helper()
	ts.stop()
	cfg := ts.Cfg
	next := startServer(ts.t, func(c *app.Config) {
		*c = cfg
		c.Listen, c.PublicURL = "127.0.0.1:0", ""
	})
	next.Clock.Advance(ts.Clock.Now().Sub(next.Clock.Now()))
	return next
}

// blobFiles counts the blobs stored: the files under data_dir/blobs, or
// the objects under the server's prefix.
func (ts *testServer) blobFiles() int {
	return len(ts.blobs().Names())
}

// requireBlobs waits until n blobs are stored: their removal can finish
// after the answer (a folder's, when the sweep reclaims it), and an
// object store's listing can lag a delete.
func (ts *testServer) requireBlobs(n int, msgAndArgs ...any) {
	ts.t.Helper()
	var got int
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if got = ts.blobFiles(); got == n || time.Now().After(deadline) {
			break
		}
	}
	assert.Equal(ts.t, n, got, msgAndArgs...)
}

// blobs reaches the server's blobs behind its back.
func (ts *testServer) blobs() *ferrytest.Blobs {
	return ferrytest.BlobsOf(ts.t, ts.Cfg)
}

func countFiles(t testing.TB, dir string) int {
	t.Helper()
	n := 0
	require.NoError(t, filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return err
	}))
	return n
}

// admin returns the admin commands of the running server, as the CLI
// reaches them (over the admin socket).
func (ts *testServer) admin() app.Admin {
	ts.t.Helper()
	a, closer, err := app.OpenAdmin(ts.Cfg)
	require.NoError(ts.t, err)
	ts.t.Cleanup(func() { closer.Close() })
	return a
}

// addUser creates a user through the admin socket and returns the email.
func (ts *testServer) addUser(email, password string) string {
	ts.t.Helper()
	_, err := ts.admin().AddUser(app.AddUserRequest{Email: email, Password: password, Name: "User " + email})
	require.NoError(ts.t, err)
	return email
}

// client is a small typed client of the API.
type client struct {
	t     testing.TB
	base  string
	token string
	http  *http.Client
}

func (ts *testServer) client() *client {
	return &client{t: ts.t, base: ts.URL, http: &http.Client{Timeout: 30 * time.Second}}
}

// login returns a client holding a token of email.
func (ts *testServer) login(email, password string) *client {
	ts.t.Helper()
	c := ts.client()
	r := c.postForm("/auth/token", url.Values{"email": {email}, "password": {password}})
	r.requireStatus(http.StatusOK)
	var out struct{ Token string }
	r.decode(&out)
	require.NotEmpty(ts.t, out.Token)
	c.token = out.Token
	return c
}

// response is an answer read whole.
type response struct {
	t      testing.TB
	Status int
	Header http.Header
	Body   []byte
}

func (c *client) do(req *http.Request) *response {
	c.t.Helper()
	if c.token != "" && req.Header.Get("token") == "" && req.Header.Get("Authorization") == "" {
		req.Header.Set("token", c.token)
	}
	resp, err := c.http.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	checkContract(c.t, req, resp.StatusCode, resp.Header, body)
	return &response{t: c.t, Status: resp.StatusCode, Header: resp.Header, Body: body}
}

func (c *client) request(method, path string, body io.Reader, contentType string) *response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	require.NoError(c.t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return c.do(req)
}

func (c *client) get(path string, query url.Values) *response {
	c.t.Helper()
	if len(query) > 0 {
		path += "?" + query.Encode()
	}
	return c.request(http.MethodGet, path, nil, "")
}

func (c *client) postForm(path string, form url.Values) *response {
	c.t.Helper()
	return c.request(http.MethodPost, path, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded")
}

func (c *client) postJSON(path string, v any) *response {
	c.t.Helper()
	b, err := json.Marshal(v)
	require.NoError(c.t, err)
	return c.request(http.MethodPost, path, bytes.NewReader(b), "application/json")
}

func (r *response) requireStatus(status int) *response {
	r.t.Helper()
	require.Equal(r.t, status, r.Status, "body: %s", r.Body)
	return r
}

func (r *response) decode(v any) {
	r.t.Helper()
	require.NoError(r.t, json.Unmarshal(r.Body, v), "body: %s", r.Body)
}

// putFile uploads content to path with PUT /files.
func (c *client) putFile(path string, content []byte, resolve bool) *response {
	c.t.Helper()
	q := url.Values{"path": {path}}
	if resolve {
		q.Set("resolve", "1")
	}
	return c.request(http.MethodPut, "/files?"+q.Encode(), bytes.NewReader(content), "application/octet-stream")
}

// mustPut uploads content and returns the answer's file path.
func (c *client) mustPut(path string, content []byte) string {
	c.t.Helper()
	var out struct{ File string }
	c.putFile(path, content, false).requireStatus(http.StatusOK).decode(&out)
	return out.File
}

// getFile downloads the file at path.
func (c *client) getFile(path string) *response {
	c.t.Helper()
	return c.get("/files", url.Values{"path": {path}})
}

// list returns the entries of the folder at path.
func (c *client) list(path string) []ferry.Entry {
	c.t.Helper()
	var entries []ferry.Entry
	c.get("/ops/list", url.Values{"path": {path}}).requireStatus(http.StatusOK).decode(&entries)
	return entries
}

// quota returns the user's /account/quota.
func (c *client) quota() quotaInfo {
	c.t.Helper()
	var q quotaInfo
	c.get("/account/quota", nil).requireStatus(http.StatusOK).decode(&q)
	return q
}

type quotaInfo struct {
	Quota          int64 `json:"quota"`
	Normal         int64 `json:"normal"`
	ReceivingQuota int64 `json:"receiving_quota"`
	Received       int64 `json:"received"`
}

// requireError checks an error answer: the status and code of docs/api.md's
// table, and a message.
func (r *response) requireError(status int, code string) {
	r.t.Helper()
	require.Equal(r.t, status, r.Status, "body: %s", r.Body)
	var e struct{ Error, Message string }
	r.decode(&e)
	require.Equal(r.t, code, e.Error, "body: %s", r.Body)
	require.NotEmpty(r.t, e.Message, "an error carries a message")
	require.Equal(r.t, "application/json; charset=utf-8", r.Header.Get("Content-Type"))
}
