package api_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/app"
	"github.com/ferryhq/ferry/ferrytest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	ferrytest.RemoveBinary()
	os.Exit(code)
}

// ferryBinary is the binary of cmd/ferry, built once per test run.
func ferryBinary(t testing.TB) string {
	return ferrytest.Binary(t)
}

// cliConfig writes a config for the binary with its data in a fresh
// directory, listening on a free port.
func cliConfig(t testing.TB, extra string) (path, dataDir string) {
	t.Helper()
	dir := t.TempDir()
	dataDir = filepath.Join(dir, "data")
	path = filepath.Join(dir, "ferry.toml")
	text := fmt.Sprintf("listen = \"127.0.0.1:0\"\ndata_dir = %q\n%s", dataDir, extra)
	if ferrytest.BlobsInS3() {
		text += "\n" + ferrytest.SharedS3(t).TOML()
	}
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path, dataDir
}

type cliResult struct {
	stdout, stderr string
	code           int
}

// ferryCLI runs the binary with --config and args, feeding stdin.
func ferryCLI(t testing.TB, config, stdin string, args ...string) cliResult {
	t.Helper()
	cmd := exec.Command(ferryBinary(t), append([]string{"--config", config}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	code := exitCode(t, cmd.Run())
	return cliResult{stdout: out.String(), stderr: errb.String(), code: code}
}

// exitCode is the exit code a finished command's error stands for.
func exitCode(t testing.TB, err error) int {
	t.Helper()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	require.NoError(t, err)
	return 0
}

func (r cliResult) requireOK(t testing.TB) string {
	t.Helper()
	require.Equal(t, 0, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
	return r.stdout
}

func (r cliResult) requireFail(t testing.TB, code int, msg string) {
	t.Helper()
	require.Equal(t, code, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
	require.Contains(t, r.stderr, msg)
}

// adminScenario runs the admin commands against config and checks them,
// the same whether or not a server runs on the data.
func adminScenario(t *testing.T, config string) {
	ok := func(stdin string, args ...string) string {
		t.Helper()
		return ferryCLI(t, config, stdin, args...).requireOK(t)
	}
	fail := func(code int, msg string, args ...string) {
		t.Helper()
		ferryCLI(t, config, "", args...).requireFail(t, code, msg)
	}
	assert.Equal(t, "1\n", ok("", "user", "add", "--email", "Olga@Example.com", "--password", password, "--name", "Olga O"))
	assert.Equal(t, "2\n", ok(password+"\n", "user", "add", "--email", "pat@example.com", "--password-stdin", "--package", "pro"))
	assert.Equal(t, "3\n", ok(password, "user", "add", "--email", "quinn@example.com", "--password-stdin"), "stdin without a newline")

	fail(1, "exists already", "user", "add", "--email", "olga@example.com", "--password", password)
	fail(1, `No package is named "gold"`, "user", "add", "--email", "rob@example.com", "--password", password, "--package", "gold")
	fail(1, "not a valid email", "user", "add", "--email", "rob", "--password", password)
	fail(1, "at least 8 characters", "user", "add", "--email", "rob@example.com", "--password", "short")
	fail(1, "--password or --password-stdin", "user", "add", "--email", "rob@example.com")
	fail(1, "needs --email", "user", "add", "--password", password)
	fail(1, "No user has the email nobody@example.com", "user", "set", "--email", "nobody@example.com", "--storage", "1GB")
	fail(1, "--storage", "user", "set", "--email", "olga@example.com", "--storage", "lots")
	fail(1, `No package is named "gold"`, "user", "set", "--email", "olga@example.com", "--package", "gold")
	fail(2, "unknown command", "frobnicate")
	fail(2, "flag provided but not defined", "user", "add", "--emial", "x@example.com")

	line := ok("", "user", "set", "--email", "olga@example.com", "--storage", "10MB", "--receive", "5GiB")
	assert.Equal(t, "olga@example.com\tfree\t0 B/10 MB\t0 B/5.3 GB\n", line)
	ok("", "user", "set", "--email", "pat@example.com", "--storage", "0", "--disabled=true")
	ok("", "user", "set", "--email", "quinn@example.com", "--storage", "1048576", "--package", "pro")
	ok("", "user", "set", "--email", "quinn@example.com", "--storage", "package")

	var lines [][]string
	for _, l := range strings.Split(strings.TrimRight(ok("", "user", "list"), "\n"), "\n") {
		lines = append(lines, strings.Fields(l))
	}
	assert.Equal(t, [][]string{
		{"olga@example.com", "free", "0", "B/10", "MB", "0", "B/5.3", "GB"},
		{"pat@example.com", "pro", "0", "B/unlimited", "0", "B/unlimited", "disabled"},
		{"quinn@example.com", "pro", "0", "B/2", "GB", "0", "B/unlimited"},
	}, lines)

	// Enabling again.
	assert.NotContains(t, ok("", "user", "set", "--email", "pat@example.com", "--disabled=false"), "disabled")

	// A password from standard input: the rules apply.
	ferryCLI(t, config, "short\n", "user", "set", "--email", "quinn@example.com", "--password-stdin").requireFail(t, 1, "at least 8 characters")
	fail(1, "reading the password", "user", "set", "--email", "quinn@example.com", "--password-stdin")
	ok("a new password\n", "user", "set", "--email", "quinn@example.com", "--password-stdin")

	// Deleting an account.
	ok("", "user", "add", "--email", "gone@example.com", "--password", password)
	assert.Equal(t, "deleted gone@example.com\n", ok("", "user", "delete", "--email", "gone@example.com"))
	fail(1, "No user has the email", "user", "delete", "--email", "gone@example.com")
	fail(1, "needs --email", "user", "delete")
}

const proPackage = `
[packages.free]
storage = "5GB"
receive_per_month = "10GB"
[packages.pro]
storage = "2GB"
receive_per_month = 0
`

func TestCLI_ServerStopped(t *testing.T) {
	t.Parallel() // slow and waiting more than computing: beside the others
	config, _ := cliConfig(t, proPackage)
	adminScenario(t, config)

	// What the CLI wrote is what the server serves.
	cfg, err := app.LoadConfig(config)
	require.NoError(t, err)
	ts := startServerWith(t, cfg)
	c := ts.login("olga@example.com", password)
	var s struct {
		FullName string `json:"fullname"`
		Storage  int64
	}
	c.get("/settings/list", nil).requireStatus(http.StatusOK).decode(&s)
	assert.Equal(t, "Olga O", s.FullName)
	assert.Equal(t, int64(10), s.Storage)
	ts.login("pat@example.com", password)
	ts.login("quinn@example.com", "a new password")
}

func TestCLI_ServerRunning(t *testing.T) {
	t.Parallel() // slow and waiting more than computing: beside the others
	config, _ := cliConfig(t, proPackage)
	srv := startBinary(t, config)
	adminScenario(t, config)

	// Changes take effect in the running server at once.
	c := srv.client(t)
	r := c.get("/auth/token", url.Values{"email": {"olga@example.com"}, "password": {password}})
	r.requireStatus(http.StatusOK)
	ferryCLI(t, config, "", "user", "set", "--email", "olga@example.com", "--disabled=true").requireOK(t)
	c.get("/auth/token", url.Values{"email": {"olga@example.com"}, "password": {password}}).
		requireError(403, ferry.EACCOUNTDISABLED)

	// A password set by the admin ends the account's tokens.
	quinn := srv.client(t)
	var out struct{ Token string }
	quinn.get("/auth/token", url.Values{"email": {"quinn@example.com"}, "password": {"a new password"}}).requireStatus(http.StatusOK).decode(&out)
	quinn.token = out.Token
	quinn.get("/settings/list", nil).requireStatus(http.StatusOK)
	ferryCLI(t, config, "a third password\n", "user", "set", "--email", "quinn@example.com", "--password-stdin").requireOK(t)
	quinn.get("/settings/list", nil).requireError(401, ferry.ENOPERMISSION)

	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGTERM))
	srv.requireExit(t, 0)
}

// ferry serve runs the garbage collector at GOGC=400 and one P more than
// Go's default unless GOGC or GOMAXPROCS is set (docs/configuration.md).
func TestServe_RuntimeSettings(t *testing.T) {
	runtimeOf := func(extra ...string) (gogc, procs string) {
		env := slices.DeleteFunc(os.Environ(), func(v string) bool {
			return strings.HasPrefix(v, "GOGC=") || strings.HasPrefix(v, "GOMAXPROCS=")
		})
		config, _ := cliConfig(t, "metrics_listen = \"127.0.0.1:0\"\n")
		srv := startBinaryEnv(t, config, append(env, extra...))
		scraper := &client{t: t, http: http.DefaultClient}
		body := string(scraper.request(http.MethodGet, "http://"+srv.metricsAddr(t)+"/metrics", nil, "").requireStatus(http.StatusOK).Body)
		metric := func(name string) string {
			m := regexp.MustCompile(`\n` + name + ` (\d+)\n`).FindStringSubmatch(body)
			require.NotNil(t, m, "no %s in /metrics", name)
			return m[1]
		}
		gogc, procs = metric("go_gc_gogc_percent"), metric("go_sched_gomaxprocs_threads")
		require.NoError(t, srv.cmd.Process.Signal(syscall.SIGTERM))
		srv.requireExit(t, 0)
		return gogc, procs
	}
	// Go's default is what this test process got, unless its own
	// environment set it.
	def := runtime.GOMAXPROCS(0)
	if v, ok := os.LookupEnv("GOMAXPROCS"); ok {
		t.Logf("GOMAXPROCS=%s here; Go's default is the CPU count", v)
		def = runtime.NumCPU()
	}
	gogc, procs := runtimeOf()
	assert.Equal(t, "400", gogc)
	assert.Equal(t, fmt.Sprint(def+1), procs)
	gogc, procs = runtimeOf("GOGC=150", "GOMAXPROCS=1")
	assert.Equal(t, "150", gogc)
	assert.Equal(t, "1", procs)
}

// binaryServer is `ferry serve` running as its own process.
type binaryServer struct {
	cmd  *exec.Cmd
	addr string
	logs *syncBuffer
	done chan error
}

var servingRE = regexp.MustCompile(`msg="ferry serving" addr=(\S+)`)

// startBinary runs `ferry serve --config config` and waits until it serves.
// Cleanup kills it if the test did not stop it.
func startBinary(t *testing.T, config string) *binaryServer {
	t.Helper()
	return startBinaryEnv(t, config, nil)
}

// startBinaryEnv is startBinary with exactly the environment env (nil: the
// test's own).
func startBinaryEnv(t *testing.T, config string, env []string, flags ...string) *binaryServer {
	t.Helper()
	cmd := exec.Command(ferryBinary(t), append([]string{"serve", "--config", config}, flags...)...)
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	s := &binaryServer{cmd: cmd, logs: &syncBuffer{}, done: make(chan error, 1)}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(s.logs, sc.Text())
			if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
				addrc <- m[1]
			}
		}
		s.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		if t.Failed() {
			t.Logf("ferry serve log:\n%s", s.logs.String())
		}
	})
	select {
	case s.addr = <-addrc:
	case <-time.After(20 * time.Second):
		t.Fatalf("ferry serve did not start:\n%s", s.logs.String())
	}
	return s
}

func (s *binaryServer) client(t testing.TB) *client {
	return &client{t: t, base: "http://" + s.addr + "/api/1", http: &http.Client{Timeout: 30 * time.Second}}
}

// requireExit waits for the process to end and checks its exit code.
func (s *binaryServer) requireExit(t testing.TB, code int) {
	t.Helper()
	select {
	case err := <-s.done:
		require.Equal(t, code, exitCode(t, err), "exit code; log:\n%s", s.logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("ferry serve did not exit:\n%s", s.logs.String())
	}
}

// startServerWith runs the in-process server on an exact config.
func startServerWith(t *testing.T, cfg app.Config) *testServer {
	return startServer(t, func(c *app.Config) {
		listen := c.Listen
		*c = cfg
		c.Listen, c.PublicURL = listen, ""
	})
}

// beginLogin opens a connection and sends a login request whose body stops
// halfway; it returns the connection and the rest of the body.
func beginLogin(t *testing.T, addr, email string) (net.Conn, string) {
	t.Helper()
	body := url.Values{"email": {email}, "password": {password}}.Encode()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	head := fmt.Sprintf("POST /api/1/auth/token HTTP/1.1\r\nHost: %s\r\n"+
		"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n", addr, len(body))
	half := len(body) / 2
	_, err = io.WriteString(conn, head+body[:half])
	require.NoError(t, err)
	return conn, body[half:]
}

// waitRefused waits until addr no longer accepts connections.
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	}, 10*time.Second, 10*time.Millisecond, "the server still accepts connections after SIGTERM")
}

func TestServe_GracefulShutdownFinishesRequestsInFlight(t *testing.T) {
	config, _ := cliConfig(t, "")
	ferryCLI(t, config, "", "user", "add", "--email", "sam@example.com", "--password", password).requireOK(t)
	srv := startBinary(t, config)

	conn, rest := beginLogin(t, srv.addr, "sam@example.com")
	time.Sleep(200 * time.Millisecond) // let the server read the header and enter the handler
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGTERM))
	waitRefused(t, srv.addr)

	// The request in flight is finished and answered.
	_, err := io.WriteString(conn, rest)
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	assert.Contains(t, string(body), `"token":"`)

	srv.requireExit(t, 0)
	assert.Contains(t, srv.logs.String(), `msg="ferry stopped"`)
	// The store was closed cleanly: the CLI can open it at once.
	assert.Contains(t, ferryCLI(t, config, "", "user", "list").requireOK(t), "sam@example.com")
}

func TestServe_ShutdownIsBounded(t *testing.T) {
	config, _ := cliConfig(t, `shutdown_timeout = "1s"`)
	ferryCLI(t, config, "", "user", "add", "--email", "tia@example.com", "--password", password).requireOK(t)
	srv := startBinary(t, config)

	_, _ = beginLogin(t, srv.addr, "tia@example.com") // never finished
	time.Sleep(200 * time.Millisecond)
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGINT))
	srv.requireExit(t, 0)
	assert.Contains(t, srv.logs.String(), "cut off")
	assert.Contains(t, ferryCLI(t, config, "", "user", "list").requireOK(t), "tia@example.com")
}

func TestServe_BadConfigStopsStartup(t *testing.T) {
	config, _ := cliConfig(t, "[auth]\nsignup = \"sometimes\"\n")
	r := ferryCLI(t, config, "", "serve")
	r.requireFail(t, 1, "auth.signup")
	config, _ = cliConfig(t, "[smtp]\nhots = \"mail\"\n")
	ferryCLI(t, config, "", "serve").requireFail(t, 1, "unknown key smtp.hots")
}

func TestServe_SecondServerOnTheSameDataFailsFast(t *testing.T) {
	t.Parallel() // slow and waiting more than computing: beside the others
	config, _ := cliConfig(t, "")
	startBinary(t, config)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, ferryBinary(t), "serve", "--config", config).CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "locked by another process")
}

// `ferry version` names the version, the commit the binary was built from
// (go build stamps it from git) and the Go that built it.
func TestCLI_Version(t *testing.T) {
	config, _ := cliConfig(t, "")
	out := ferryCLI(t, config, "", "version").requireOK(t)
	m := regexp.MustCompile(`^ferry (\S+) \((\S+)\) (go\S+)\n$`).FindStringSubmatch(out)
	require.NotNil(t, m, "%q", out)
	assert.NotContains(t, m[1], "(devel)", "devel, or the version the toolchain stamped")
	assert.Equal(t, runtime.Version(), m[3])
	if head, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
		assert.Regexp(t, "^"+string(head[:12])+"(-dirty)?$", m[2])
	}
}

// Issue 18's CLI conventions: help on standard output (exit 0) for every
// command, by `ferry help COMMAND` and by --help; an unknown flag prints
// the command's usage on standard error (exit 2); an admin command at a
// data directory without a store says so (exit 1) and makes none; serve's
// --listen and --data win over the file.
func TestCLI_Conventions(t *testing.T) {
	t.Parallel() // slow and waiting more than computing: beside the others
	config, dataDir := cliConfig(t, "")
	for _, c := range []string{"serve", "user add", "user set", "user delete", "user list", "mail list", "backup", "restore", "fsck", "version", "help"} {
		r := ferryCLI(t, config, "", append([]string{"help"}, strings.Fields(c)...)...)
		assert.Equal(t, 0, r.code, c)
		assert.Contains(t, r.stdout, "usage: ferry [--config FILE] "+c, c)
		assert.Regexp(t, "example:\n  .*ferry ", r.stdout, c)
		assert.Empty(t, r.stderr, c)
		r = ferryCLI(t, config, "", append(strings.Fields(c), "--help")...)
		assert.Equal(t, 0, r.code, c)
		assert.Contains(t, r.stdout, "usage: ferry [--config FILE] "+c, c)
	}
	r := ferryCLI(t, config, "", "help")
	assert.Equal(t, 0, r.code)
	assert.Contains(t, r.stdout, "user delete --email E")
	r = ferryCLI(t, config, "", "user", "list", "--bogus")
	assert.Equal(t, 2, r.code)
	assert.Empty(t, r.stdout)
	assert.Contains(t, r.stderr, "flag provided but not defined: -bogus")
	assert.Contains(t, r.stderr, "usage: ferry [--config FILE] user list")
	ferryCLI(t, config, "", "help", "frobnicate").requireFail(t, 2, "no command")
	// A group's help lists its commands, as git's does.
	for _, group := range []string{"user", "mail", "blobs"} {
		for _, args := range [][]string{{"help", group}, {group, "--help"}, {group, "-h"}} {
			r := ferryCLI(t, config, "", args...)
			assert.Equal(t, 0, r.code, args)
			assert.Contains(t, r.stdout, "usage: ferry [--config FILE] "+group+" COMMAND", args)
			assert.Empty(t, r.stderr, args)
		}
	}
	r = ferryCLI(t, config, "", "help", "user")
	for _, c := range []string{"user add --email E", "user set --email E", "user delete --email E", "user list"} {
		assert.Contains(t, r.stdout, c)
	}
	ferryCLI(t, config, "", "user").requireFail(t, 2, "user add --email E")
	ferryCLI(t, config, "", "user", "frob").requireFail(t, 2, `user has no command "frob"`)

	for _, args := range [][]string{{"user", "list"}, {"mail", "list"}, {"fsck"}, {"user", "set", "--email", "a@example.com", "--storage", "1GB"}, {"user", "delete", "--email", "a@example.com"}} {
		ferryCLI(t, config, "", args...).requireFail(t, 1, "no ferry store in "+dataDir)
	}
	_, err := os.Stat(dataDir)
	assert.True(t, errors.Is(err, os.ErrNotExist), "no store was made")

	// serve's flags win over the file (whose port would not do).
	bad, _ := cliConfig(t, "")
	require.NoError(t, os.WriteFile(bad, []byte("listen = \"256.0.0.1:99999\"\ndata_dir = \"/nonexistent/ferry\"\n"), 0o600))
	other := t.TempDir()
	srv := startBinaryEnv(t, bad, nil, "--listen", "127.0.0.1:0", "--data", other)
	srv.client(t).get("/auth/token", url.Values{"email": {"x@example.com"}, "password": {password}}).requireError(403, ferry.EAUTHFAILED)
	_, err = os.Stat(filepath.Join(other, "ferry.db"))
	assert.NoError(t, err)
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGTERM))
	srv.requireExit(t, 0)
}

var metricsRE = regexp.MustCompile(`msg="metrics served" addr=(\S+)`)

// metricsAddr is the metrics_listen address the server logged (before
// the line startBinary waits for).
func (s *binaryServer) metricsAddr(t testing.TB) string {
	t.Helper()
	m := metricsRE.FindStringSubmatch(s.logs.String())
	require.NotNil(t, m, "no metrics_listen address in the log:\n%s", s.logs.String())
	return m[1]
}

// Configuration from the environment reaches the real binary: a FERRY_
// variable wins over the file, and one that names no key stops it.
func TestServe_Environment(t *testing.T) {
	config, _ := cliConfig(t, "[auth]\nsignup = \"closed\"\n")
	env := append(slices.DeleteFunc(os.Environ(), func(v string) bool { return strings.HasPrefix(v, "FERRY_") }),
		"FERRY_AUTH_SIGNUP=open")
	srv := startBinaryEnv(t, config, env)
	srv.client(t).postForm("/auth/register", url.Values{"email": {"env@example.com"}, "password": {password}}).requireStatus(http.StatusOK)
	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGTERM))
	srv.requireExit(t, 0)

	cmd := exec.Command(ferryBinary(t), "serve", "--config", config)
	cmd.Env = append(env, "FERRY_SMTP_HOTS=mail.example.com")
	out, err := cmd.CombinedOutput()
	assert.Equal(t, 1, exitCode(t, err))
	assert.Contains(t, string(out), "FERRY_SMTP_HOTS: no configuration key has this name")
}
