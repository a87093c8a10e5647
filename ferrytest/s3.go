package ferrytest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/app"
)

// S3 is a real S3-compatible server for the tests: OpenStack Swift (its
// proxy with the s3api middleware, and one account, container and object
// server) on loopback ports, its data in a temporary directory. Debian's
// swift-proxy, swift-account, swift-container and swift-object packages
// provide it; .ci/run installs them.
type S3 struct {
	Endpoint  string // host:port of the proxy
	AccessKey string
	SecretKey string

	dir   string
	ports map[string]int // server -> port
	mu    sync.Mutex
	procs map[string]*exec.Cmd
}

// BlobsEnv is the variable that runs the tests with blobs in S3
// (FERRYTEST_BLOBS=s3): every server the tests start keeps its blobs in
// the shared Swift, under a prefix of its own.
const BlobsEnv = "FERRYTEST_BLOBS"

// BlobsInS3 reports whether the tests run with blobs in S3.
func BlobsInS3() bool { return os.Getenv(BlobsEnv) == "s3" }

// swiftServers are the processes of one Swift, the proxy last.
var swiftServers = []string{"account", "container", "object", "proxy"}

// swiftProcs are the processes of one Swift: its servers, and the
// memcached its proxy keeps tokens in (without one, every request costs
// twice as long).
var swiftProcs = append([]string{"memcached"}, swiftServers...)

// HaveSwift reports whether Swift's servers are installed.
func HaveSwift() bool {
	for _, s := range swiftServers {
		if _, err := exec.LookPath("swift-" + s + "-server"); err != nil {
			return false
		}
	}
	if _, err := exec.LookPath("memcached"); err != nil {
		return false
	}
	_, err := exec.LookPath("swift-ring-builder")
	return err == nil
}

// StartS3 starts a Swift of the test's own (to stop and start in fault
// tests), stopped at the test's cleanup. It skips the test when Swift is
// not installed, unless FERRYTEST_REQUIRE_S3 is set.
func StartS3(t testing.TB) *S3 {
	t.Helper()
	if !HaveSwift() {
		if os.Getenv("FERRYTEST_REQUIRE_S3") != "" {
			t.Fatal("OpenStack Swift is not installed (apt-get install swift-proxy swift-account swift-container swift-object memcached)")
		}
		t.Skip("OpenStack Swift or memcached is not installed")
	}
	dir, err := swiftDir()
	require.NoError(t, err)
	s, err := StartSwift(dir)
	t.Cleanup(func() {
		if s != nil {
			s.Close()
		}
		os.RemoveAll(dir)
	})
	require.NoError(t, err)
	return s
}

var shared struct {
	once sync.Once
	s3   *S3
	err  error
}

// SharedS3 is one Swift for every test of the process, started on first
// use; its processes end with the process.
func SharedS3(t testing.TB) *S3 {
	t.Helper()
	if !HaveSwift() {
		t.Fatal("FERRYTEST_BLOBS=s3, but OpenStack Swift is not installed (apt-get install swift-proxy swift-account swift-container swift-object memcached)")
	}
	shared.once.Do(func() {
		dir, err := swiftDir()
		if err != nil {
			shared.err = err
			return
		}
		shared.s3, shared.err = StartSwift(dir)
	})
	require.NoError(t, shared.err, "starting Swift")
	return shared.s3
}

// UseS3 points cfg's blobs at s3, under a prefix no other server uses,
// and with no orphan grace in the tests (a crash's orphans are swept at
// the next start).
func (s *S3) UseS3(cfg *app.Config) {
	cfg.Blobs.Backend = "s3"
	cfg.Blobs.Endpoint = s.Endpoint
	cfg.Blobs.Bucket = "ferrytest"
	cfg.Blobs.Prefix = newPrefix()
	cfg.Blobs.AccessKey = s.AccessKey
	cfg.Blobs.SecretKey = s.SecretKey
	cfg.Blobs.TLS = false
	cfg.Blobs.Timeout = app.Duration(5 * time.Second)
	cfg.Blobs.OrphanGrace = 0
}

// TOML is the [blobs] section of a config file that UseS3 would make.
func (s *S3) TOML() string {
	return fmt.Sprintf("[blobs]\nbackend = \"s3\"\nendpoint = %q\nbucket = \"ferrytest\"\nprefix = %q\naccess_key = %q\nsecret_key = %q\ntls = false\ntimeout = \"5s\"\norphan_grace = \"0s\"\n",
		s.Endpoint, newPrefix(), s.AccessKey, s.SecretKey)
}

func newPrefix() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "t" + hex.EncodeToString(b) + "/"
}

// NewClient is a minio-go client of the server.
func (s *S3) NewClient() (*minio.Client, error) {
	return minio.New(s.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), Region: "us-east-1"})
}

// Client is NewClient for a test, for looking at the bucket.
func (s *S3) Client(t testing.TB) *minio.Client {
	c, err := s.NewClient()
	require.NoError(t, err)
	return c
}

// StopProxy kills the proxy, the server clients talk to (SIGKILL: as a
// crash, in the middle of whatever it does).
func (s *S3) StopProxy(t testing.TB) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.procs["proxy"]; p != nil {
		p.Process.Kill()
		p.Wait()
		delete(s.procs, "proxy")
	}
}

// PauseProxy stops the proxy without ending it (SIGSTOP): connections are
// taken by the kernel and then nothing answers, as with a server that
// hangs. ResumeProxy lets it go on.
func (s *S3) PauseProxy(t testing.TB) {
	s.signalProxy(t, syscall.SIGSTOP)
}

// ResumeProxy lets a paused proxy go on (SIGCONT).
func (s *S3) ResumeProxy(t testing.TB) {
	s.signalProxy(t, syscall.SIGCONT)
}

func (s *S3) signalProxy(t testing.TB, sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	require.NotNil(t, s.procs["proxy"], "the proxy is not running")
	require.NoError(t, s.procs["proxy"].Process.Signal(sig))
}

// StartProxy starts the proxy again after StopProxy and waits until it
// answers.
func (s *S3) StartProxy(t testing.TB) {
	require.NoError(t, s.start("proxy"))
	require.NoError(t, s.waitReady(2*time.Minute))
}

// Close ends the Swift's processes (its data stays in its directory).
func (s *S3) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, p := range s.procs {
		p.Process.Signal(syscall.SIGCONT)
		p.Process.Kill()
		p.Wait()
		delete(s.procs, name)
	}
}

// swiftDir makes a directory for a Swift's rings and data: in memory
// (/dev/shm) where there is one, so that the tests wait for no disk
// flushes of the object store's (ferry's own are what they test).
func swiftDir() (string, error) {
	if info, err := os.Stat("/dev/shm"); err == nil && info.IsDir() {
		return os.MkdirTemp("/dev/shm", "ferrytest-swift-")
	}
	return os.MkdirTemp("", "ferrytest-swift-")
}

// StartSwift writes the configs and rings of a one-node Swift in dir and
// starts its servers; Close ends them (and so does the end of the
// process).
func StartSwift(dir string) (*S3, error) {
	s := &S3{AccessKey: "test:tester", SecretKey: "testing", dir: dir, ports: map[string]int{}, procs: map[string]*exec.Cmd{}}
	for _, name := range swiftProcs {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s.ports[name] = port
	}
	s.Endpoint = "127.0.0.1:" + strconv.Itoa(s.ports["proxy"])
	if err := os.MkdirAll(filepath.Join(dir, "devs", "d1"), 0o700); err != nil {
		return nil, err
	}
	for _, name := range swiftServers[:3] {
		builder := filepath.Join(dir, name+".builder")
		for _, args := range [][]string{
			{builder, "create", "0", "1", "1"},
			{builder, "add", fmt.Sprintf("r1z1-127.0.0.1:%d/d1", s.ports[name]), "1"},
			{builder, "rebalance"},
		} {
			if out, err := exec.Command("swift-ring-builder", args...).CombinedOutput(); err != nil && args[1] != "rebalance" {
				return nil, fmt.Errorf("swift-ring-builder %v: %v: %s", args, err, out)
			}
		}
		conf := fmt.Sprintf(swiftServerConf, s.ports[name], dir, dir, name, name, name)
		if err := os.WriteFile(filepath.Join(dir, name+"-server.conf"), []byte(conf), 0o600); err != nil {
			return nil, err
		}
	}
	conf := fmt.Sprintf(swiftProxyConf, s.ports["proxy"], dir, s.ports["memcached"])
	if err := os.WriteFile(filepath.Join(dir, "proxy-server.conf"), []byte(conf), 0o600); err != nil {
		return nil, err
	}
	for _, name := range swiftProcs {
		if err := s.start(name); err != nil {
			s.Close()
			return nil, err
		}
	}
	if err := s.waitReady(3 * time.Minute); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// start starts one server. Every server is started from one OS thread
// that lives as long as the process, so that Pdeathsig ends them all when
// the process ends, however it ends.
func (s *S3) start(name string) error {
	cmd := exec.Command("swift-"+name+"-server", filepath.Join(s.dir, name+"-server.conf"))
	if name == "memcached" {
		cmd = exec.Command("memcached", "-l", "127.0.0.1", "-p", strconv.Itoa(s.ports[name]), "-U", "0", "-m", "16")
		if os.Getuid() == 0 {
			cmd.Args = append(cmd.Args, "-u", "root")
		}
	}
	log, err := os.Create(filepath.Join(s.dir, name+".log"))
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := <-startOnLauncher(cmd); err != nil {
		return fmt.Errorf("start swift-%s-server: %w", name, err)
	}
	s.mu.Lock()
	s.procs[name] = cmd
	s.mu.Unlock()
	return nil
}

var launcher struct {
	once sync.Once
	reqs chan launch
}

type launch struct {
	cmd  *exec.Cmd
	done chan error
}

func startOnLauncher(cmd *exec.Cmd) chan error {
	launcher.once.Do(func() {
		launcher.reqs = make(chan launch)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives with the process
			for l := range launcher.reqs {
				l.done <- l.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	launcher.reqs <- launch{cmd, done}
	return done
}

// waitReady waits until the proxy and every server behind it answer: a
// bucket listed, made (the tests' bucket) and written to. Under load a
// server can start well after the proxy, and the proxy answers 503 for
// it meanwhile.
func (s *S3) waitReady(limit time.Duration) error {
	c, err := s.NewClient()
	if err != nil {
		return err
	}
	ready := func(ctx context.Context) error {
		if _, err := c.ListBuckets(ctx); err != nil {
			return err
		}
		if ok, err := c.BucketExists(ctx, "ferrytest"); err != nil {
			return err
		} else if !ok {
			if err := c.MakeBucket(ctx, "ferrytest", minio.MakeBucketOptions{}); err != nil {
				return err
			}
		}
		if _, err := c.PutObject(ctx, "ferrytest", "ready", strings.NewReader("ready"), 5, minio.PutObjectOptions{DisableContentSha256: true}); err != nil {
			return err
		}
		return c.RemoveObject(ctx, "ferrytest", "ready", minio.RemoveObjectOptions{})
	}
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := ready(ctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			var logs strings.Builder
			for _, name := range swiftProcs {
				tail, _ := os.ReadFile(filepath.Join(s.dir, name+".log"))
				fmt.Fprintf(&logs, "--- %s.log (port %d):\n%s\n", name, s.ports[name], tail[max(0, len(tail)-2000):])
			}
			return fmt.Errorf("swift did not answer within %s: %v\n%s", limit, err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// freePort returns a free loopback port for one of Swift's servers.
//
// It is below the kernel's ephemeral range: a port of that range that is
// free now can become the local port of any outgoing connection before
// the server binds it (the suites make thousands), and a Swift whose
// account or container server could not bind answers 503 for good. A
// fresh-clone CI run met that once, its shared Swift never ready.
func freePort() (int, error) {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 11000 {
				low = n
			}
		}
	}
	for range 100 {
		port := 10000 + mathrand.IntN(low-10000)
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue // taken
		}
		ln.Close()
		return port, nil
	}
	return 0, errors.New("no free port below the ephemeral range")
}

// One storage server's config: port, swift_dir, devices, and the server's
// name for its pipeline, app and sections. As root, each needs user =
// root, or it drops to a swift user and answers 503.
const swiftServerConf = `[DEFAULT]
bind_ip = 127.0.0.1
bind_port = %d
workers = 0
user = root
swift_dir = %s
devices = %s/devs
mount_check = false
log_level = WARNING
log_facility = LOG_LOCAL0

[pipeline:main]
pipeline = %s-server

[app:%s-server]
use = egg:swift#%s
`

// The proxy's config: port, swift_dir and memcached's port. s3api before tempauth, which
// takes S3 signatures for its users (test:tester / testing); slo for
// multipart uploads.
const swiftProxyConf = `[DEFAULT]
bind_ip = 127.0.0.1
bind_port = %d
workers = 0
user = root
swift_dir = %s
log_level = WARNING
log_facility = LOG_LOCAL0

[pipeline:main]
pipeline = catch_errors proxy-logging cache s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin

[filter:s3api]
use = egg:swift#s3api

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:%d

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo
`
