package ferrytest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Etcd is a real etcd cluster (Debian's etcd-server) of members on
// loopback, each with its data in a temporary folder.
type Etcd struct {
	t       testing.TB
	members []*etcdMember
}

type etcdMember struct {
	name, client, peer, dir string
	args                    []string
	cmd                     *exec.Cmd
	exited                  chan struct{} // closed when the process ended, with its err
	err                     error
	logs                    *Logs
}

// HaveEtcd reports whether etcd is installed.
func HaveEtcd() bool {
	_, err := exec.LookPath("etcd")
	return err == nil
}

// StartEtcd starts an etcd cluster of n members and waits until each
// answers; it skips the test when etcd is missing (under .ci/run,
// FERRYTEST_REQUIRE_ETCD=1, it fails instead).
func StartEtcd(t testing.TB, n int) *Etcd {
	t.Helper()
	if !HaveEtcd() {
		if os.Getenv("FERRYTEST_REQUIRE_ETCD") != "" {
			t.Fatal("etcd is not installed (.ci/run installs it: apt-get install etcd-server)")
		}
		t.Skip("skipped: etcd is not installed (apt-get install etcd-server, or run bash .ci/run)")
	}
	// Its ports are picked free and closed before etcd listens on them:
	// with many tests starting servers at once, another may take one
	// first, and the member exits. Launched again on new ports.
	var e *Etcd
	var err error
	for try := 0; try < 3; try++ {
		if e, err = LaunchEtcd(t.TempDir(), n); err == nil {
			break
		}
	}
	require.NoError(t, err)
	e.t = t
	t.Cleanup(e.Close)
	return e
}

// LaunchEtcd starts an etcd cluster of n members with their data under
// dir, and waits until each answers (for the bench; tests use StartEtcd).
func LaunchEtcd(dir string, n int) (*Etcd, error) {
	e := &Etcd{}
	var initial []string
	for i := range n {
		client, err := freePort()
		if err != nil {
			return nil, err
		}
		peer, err := freePort()
		if err != nil {
			return nil, err
		}
		m := &etcdMember{name: fmt.Sprintf("m%d", i), client: fmt.Sprintf("http://127.0.0.1:%d", client),
			peer: fmt.Sprintf("http://127.0.0.1:%d", peer), dir: filepath.Join(dir, fmt.Sprintf("etcd%d", i)), logs: &Logs{}}
		e.members = append(e.members, m)
		initial = append(initial, m.name+"="+m.peer)
	}
	for _, m := range e.members {
		m.args = []string{"--name", m.name, "--data-dir", m.dir,
			"--listen-client-urls", m.client, "--advertise-client-urls", m.client,
			"--listen-peer-urls", m.peer, "--initial-advertise-peer-urls", m.peer,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", "ferrytest", "--heartbeat-interval", "50", "--election-timeout", "500"}
		if err := m.start(); err != nil {
			e.Close()
			return nil, err
		}
	}
	for _, m := range e.members {
		if err := m.waitHealthy(); err != nil {
			e.Close()
			return nil, err
		}
	}
	return e, nil
}

// Close kills every member.
func (e *Etcd) Close() {
	for i := range e.members {
		e.Kill(i)
	}
}

func (m *etcdMember) start() error {
	m.cmd = exec.Command("etcd", m.args...)
	m.cmd.Stdout, m.cmd.Stderr = m.logs, m.logs
	if err := m.cmd.Start(); err != nil {
		return err
	}
	cmd, exited := m.cmd, make(chan struct{})
	m.exited = exited
	go func() { m.err = cmd.Wait(); close(exited) }()
	return nil
}

// waitHealthy waits until the member answers /health with true.
func (m *etcdMember) waitHealthy() error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		if res, err := http.Get(m.client + "/health"); err == nil {
			var body [64]byte
			n, _ := res.Body.Read(body[:])
			res.Body.Close()
			if strings.Contains(string(body[:n]), `"true"`) {
				return nil
			}
		}
		select {
		case <-m.exited:
			return fmt.Errorf("etcd %s exited: %v\n%s", m.name, m.err, m.logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("etcd %s did not become healthy:\n%s", m.name, m.logs.String())
		}
	}
}

// Endpoints are the members' client URLs.
func (e *Etcd) Endpoints() []string {
	var list []string
	for _, m := range e.members {
		list = append(list, m.client)
	}
	return list
}

// Kill stops member i at once (SIGKILL), as a crash would.
func (e *Etcd) Kill(i int) {
	m := e.members[i]
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	_ = m.cmd.Process.Kill()
	<-m.exited // (also when it had ended already: waitHealthy saw it)
	m.cmd = nil
}

// Restart starts member i again on its data, and waits until it answers.
func (e *Etcd) Restart(i int) {
	e.t.Helper()
	m := e.members[i]
	args := append([]string(nil), m.args...)
	for j, a := range args {
		if a == "new" {
			args[j] = "existing"
		}
	}
	m.args = args
	require.NoError(e.t, m.start())
	require.NoError(e.t, m.waitHealthy())
}

// FreeAddr is a loopback address with a port free now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	port, err := freePort()
	require.NoError(t, err)
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// Leader is the index of the member that leads now.
func (e *Etcd) Leader() int {
	e.t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: e.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	require.NoError(e.t, err)
	defer cli.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		for i, m := range e.members {
			if m.cmd == nil {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			st, err := cli.Status(ctx, m.client)
			cancel()
			if err == nil && st.Leader != 0 && st.Leader == st.Header.MemberId {
				return i
			}
		}
		require.True(e.t, time.Now().Before(deadline), "no etcd member leads")
		time.Sleep(100 * time.Millisecond)
	}
}
