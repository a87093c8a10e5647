package ferrytest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

// Binary builds cmd/ferry once per test binary and returns its path, for
// the tests that run ferry as a process of its own (to SIGKILL it, or to
// run its command line). RemoveBinary, from TestMain, removes it.
func Binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "ferry-bin-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "ferry")
		out, err := exec.Command("go", "build", "-buildvcs=auto", "-o", binPath, "github.com/ferryhq/ferry/cmd/ferry").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, binErr)
	return binPath
}

// RemoveBinary removes what Binary built, if anything.
func RemoveBinary() {
	if binDir != "" {
		os.RemoveAll(binDir)
	}
}
