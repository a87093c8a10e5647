package api_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// walkthroughStep is one command of the README's walkthrough and the
// output its comment shows.
type walkthroughStep struct {
	command string
	want    []string
}

// readmeWalkthrough returns the README walkthrough's shell blocks: the
// one that starts the server, and the steps of the one pasted after.
func readmeWalkthrough(t *testing.T) (start string, steps []walkthroughStep) {
	t.Helper()
	text, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(text), "\n## A five-minute walkthrough\n")
	require.True(t, ok, "no walkthrough in the README")
	section, _, _ = strings.Cut(section, "\n## ")
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(section, -1)
	require.Len(t, blocks, 2, "the walkthrough has two shell blocks")
	prev := "" // what the line before was: "command", "output" or ""
	for _, line := range strings.Split(blocks[1][1], "\n") {
		switch {
		case strings.TrimSpace(line) == "":
			prev = ""
		case strings.HasPrefix(line, "#"):
			// Output right after a command (or its earlier lines);
			// anything else is a remark.
			if prev == "command" || prev == "output" {
				steps[len(steps)-1].want = append(steps[len(steps)-1].want, strings.TrimPrefix(strings.TrimPrefix(line, "#"), " "))
				prev = "output"
			}
		default:
			steps = append(steps, walkthroughStep{command: line})
			prev = "command"
		}
	}
	return blocks[0][1], steps
}

// The README's walkthrough, pasted in order into a shell as a person
// would, against the real binary started as it says: every command works
// and answers what its comment shows ("..." for what differs).
func TestReadme_Walkthrough(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	start, steps := readmeWalkthrough(t)
	require.Contains(t, start, "go build -o ferry ./cmd/ferry")
	require.Contains(t, start, "./ferry serve")
	require.GreaterOrEqual(t, len(steps), 10)

	dir := t.TempDir()
	require.NoError(t, os.Symlink(ferryBinary(t), filepath.Join(dir, "ferry")))
	// As the README starts it, on a free port instead of 8080.
	srv := exec.Command("./ferry", "serve", "--listen", "127.0.0.1:0")
	srv.Dir = dir
	stderr, err := srv.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, srv.Start())
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	addrc := make(chan string, 1)
	var logs syncBuffer
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(&logs, sc.Text())
			if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
				addrc <- m[1]
			}
		}
	}()
	var addr string
	select {
	case addr = <-addrc:
	case <-time.After(20 * time.Second):
		t.Fatalf("ferry serve did not start:\n%s", logs.String())
	}

	// One shell, as a terminal is: a marker before each command's output.
	var script strings.Builder
	script.WriteString("set -e -o pipefail\n")
	for i, s := range steps {
		fmt.Fprintf(&script, "echo '@@@ %d'\n%s\n", i, strings.ReplaceAll(s.command, "127.0.0.1:8080", addr))
	}
	sh := exec.Command("bash", "-c", script.String())
	sh.Dir = dir
	out, err := sh.CombinedOutput()
	require.NoError(t, err, "the walkthrough stopped:\n%s\nserver log:\n%s", out, logs.String())
	outputs := regexp.MustCompile(`(?m)^@@@ \d+\n`).Split(string(out), -1)[1:]
	require.Len(t, outputs, len(steps))
	for i, s := range steps {
		got := strings.Split(strings.TrimSuffix(outputs[i], "\n"), "\n")
		if outputs[i] == "" {
			got = nil
		}
		require.Len(t, got, len(s.want), "%s\ngot:\n%s", s.command, outputs[i])
		for j, want := range s.want {
			pattern := strings.ReplaceAll(regexp.QuoteMeta(strings.ReplaceAll(want, "127.0.0.1:8080", addr)), `\.\.\.`, `.*`)
			assert.Regexp(t, "^"+pattern+"$", got[j], s.command)
		}
	}

	require.NoError(t, srv.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	select {
	case err := <-done:
		assert.NoError(t, err, "ferry serve exits 0 on SIGTERM")
	case <-time.After(30 * time.Second):
		t.Fatal("ferry serve did not stop")
	}
}
