package ferrytest

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// EICAR is the antivirus test file: no virus, but every scanner's test
// signature matches it.
const EICAR = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

// Clamd is a real ClamAV daemon (Debian's clamav-daemon) on a unix socket
// in a temporary folder, whose database holds one signature only, the
// EICAR test file's, made here: no signature download is needed.
type Clamd struct {
	t      testing.TB
	Socket string // the socket's path
	config string
	cmd    *exec.Cmd
	done   chan error
	logs   *Logs // what clamd printed, said when it fails
}

// HaveClamd reports whether clamd is installed.
func HaveClamd() bool {
	_, err := exec.LookPath("clamd")
	return err == nil
}

// StartClamd starts clamd with a stream limit of streamMax bytes; it skips
// the test when clamd is missing (under .ci/run, FERRYTEST_REQUIRE_CLAMD=1,
// it fails instead).
func StartClamd(t testing.TB, streamMax int64) *Clamd {
	t.Helper()
	if !HaveClamd() {
		if os.Getenv("FERRYTEST_REQUIRE_CLAMD") != "" {
			t.Fatal("clamd is not installed (.ci/run installs it: apt-get install clamav-daemon)")
		}
		t.Skip("skipped: clamd is not installed (apt-get install clamav-daemon, or run bash .ci/run)")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	require.NoError(t, os.Mkdir(db, 0o700))
	sum := md5.Sum([]byte(EICAR))
	require.NoError(t, os.WriteFile(filepath.Join(db, "test.hdb"),
		[]byte(fmt.Sprintf("%s:%d:Eicar-Test-Signature\n", hex.EncodeToString(sum[:]), len(EICAR))), 0o600))
	c := &Clamd{t: t, Socket: filepath.Join(dir, "clamd.sock"), config: filepath.Join(dir, "clamd.conf"), logs: &Logs{}}
	user := ""
	if os.Geteuid() == 0 {
		user = "User root\n" // else it drops to the clamav user, who cannot read the folder
	}
	require.NoError(t, os.WriteFile(c.config, []byte(fmt.Sprintf(
		"Foreground yes\n%sLocalSocket %s\nDatabaseDirectory %s\nStreamMaxLength %d\nLogTime no\nLogSyslog no\n",
		user, c.Socket, db, streamMax)), 0o600))
	c.Start()
	t.Cleanup(c.Stop)
	return c
}

// Start starts the daemon (again) and waits until its socket answers.
func (c *Clamd) Start() {
	c.t.Helper()
	c.cmd = exec.Command("clamd", "--config-file="+c.config)
	c.cmd.Stdout, c.cmd.Stderr = c.logs, c.logs
	require.NoError(c.t, c.cmd.Start())
	c.done = make(chan error, 1)
	go func() { c.done <- c.cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(c.Socket); err == nil {
			return
		}
		select {
		case err := <-c.done:
			c.t.Fatalf("clamd exited: %v\n%s", err, c.logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		require.True(c.t, time.Now().Before(deadline), "clamd did not open its socket in time")
	}
}

// Stop kills the daemon (a scanner that is down).
func (c *Clamd) Stop() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	_ = c.cmd.Process.Kill()
	<-c.done
	c.cmd = nil
	os.Remove(c.Socket)
}
