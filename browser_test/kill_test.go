package browser_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/ferrytest"
)

var servingRE = regexp.MustCompile(`msg="ferry serving" addr=(\S+)`)

// serveBinary starts `ferry serve` on config and returns its address and
// process (killed when the test ends).
func serveBinary(t *testing.T, config string) (string, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(ferrytest.Binary(t), "serve", "--config", config)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		return a, cmd
	case <-time.After(20 * time.Second):
		t.Fatal("ferry serve did not start")
		return "", nil
	}
}

// ferry SIGKILLed in the middle of the page's one request for a 64 MiB
// file, behind a proxy (which answers 502 while ferry is down): the page
// keeps trying, and when ferry is back it goes on from the last checkpoint
// (uploads.checkpoint, 4 MiB here), not from the start; the stored file is
// whole.
func TestBrowser_UploadSurvivesAKill(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	config := filepath.Join(dir, "ferry.toml")
	require.NoError(t, os.WriteFile(config, []byte(fmt.Sprintf("listen = \"127.0.0.1:0\"\ndata_dir = %q\n[uploads]\ncheckpoint = \"4MiB\"\n", filepath.Join(dir, "data"))), 0o600))
	out, err := exec.Command(ferrytest.Binary(t), "--config", config, "user", "add", "--email", email, "--password", password).CombinedOutput()
	require.NoError(t, err, "%s", out)
	addr, first := serveBinary(t, config)
	p := startProxy(t, "http://"+addr, 0, 32<<20)
	ctx, _ := tab(t)
	signIn(t, ctx, &ferry{t: t, Root: p.URL}, false)
	const size = 64 << 20
	big := randomFile(t, t.TempDir(), "big.bin", size)

	require.NoError(t, chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{big})))
	poll(t, ctx, `document.querySelector("#uploads progress").value >= 24 * 1048576`)
	require.NoError(t, first.Process.Kill())
	_ = first.Wait()
	time.Sleep(time.Second) // the page meets the proxy's 502s meanwhile
	addr, _ = serveBinary(t, config)
	p.retarget(t, "http://"+addr)

	waitDone(t, ctx, 1)
	puts, _ := p.puts()
	require.GreaterOrEqual(t, len(puts), 2, "%q", puts)
	assert.Equal(t, "bytes 0-67108863/67108864", puts[0])
	var from int
	_, err = fmt.Sscanf(puts[len(puts)-1], "bytes %d-67108863/67108864", &from)
	require.NoError(t, err, puts[len(puts)-1])
	assert.Positive(t, from, "went on from a checkpoint, not from the start")
	assert.Zero(t, from%(4<<20), "%d is a checkpoint", from)
	t.Logf("killed after the page had sent 24 MiB or more; went on from %s MiB", strconv.Itoa(from>>20))

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(p.URL+"/item/big.bin"), chromedp.WaitVisible(chromedp.CSS(".details"))))
	assert.Contains(t, text(t, ctx, ".details"), sha(t, big))
}
