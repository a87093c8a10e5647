package api_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCrash_KillDuringOneLongChunk kills `ferry serve` while one request
// carries a whole file as one chunk (as the web app sends it), at a random
// point of it. After each restart the upload goes on from its last
// checkpoint (uploads.checkpoint, 1 MiB here): never more than the client
// sent, never between two checkpoints, and the remainder sent as one more
// request finalizes to the file's SHA-256. (How far back a round goes
// depends on what loopback's sockets held, up to tcp_rmem's 32 MiB here, so
// only the last check asks for progress, and of some round.)
func TestCrash_KillDuringOneLongChunk(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	t.Parallel()
	const kills, size, step = 5, 48 << 20, 1 << 20
	config, _ := cliConfig(t, "[uploads]\ncheckpoint = \"1MiB\"\n[packages.free]\nstorage = 0\nreceive_per_month = 0\n")
	ferryCLI(t, config, "", "user", "add", "--email", "long@example.com", "--password", password).requireOK(t)
	rng := rand.New(rand.NewPCG(29, 1))
	resumed := 0
	for round := range kills {
		content := randomBytes(t, size)
		srv := startBinary(t, config)
		c := srv.client(t)
		var tok struct{ Token string }
		c.postForm("/auth/token", url.Values{"email": {"long@example.com"}, "password": {password}}).requireStatus(http.StatusOK).decode(&tok)
		c.token = tok.Token
		key := c.mustUploadLink(fmt.Sprintf("long-%d.bin", round), size)

		// One request for the whole file, its body paced at about 400
		// MiB/s; SIGKILL once a random part of it has been written.
		killAt := (16 + rng.IntN(28)) << 20
		pr, pw := io.Pipe()
		sent := make(chan int, 1)
		go func() {
			n := 0
			for n < size {
				m, err := pw.Write(content[n : n+step])
				n += m
				if err != nil {
					break
				}
				if n == killAt {
					assert.NoError(t, srv.cmd.Process.Signal(syscall.SIGKILL))
					sent <- n
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
		req, err := http.NewRequest(http.MethodPut, c.base+"/upload/chunked/"+key, pr)
		require.NoError(t, err)
		req.Header.Set("token", c.token)
		req.Header.Set("Content-Range", fmt.Sprintf("bytes 0-%d/%d", size-1, size))
		req.ContentLength = size
		if resp, err := c.http.Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("round %d: the request was answered (%s) though ferry was killed", round, resp.Status)
		}
		n := <-sent
		<-srv.done
		pr.CloseWithError(io.ErrClosedPipe)

		srv = startBinary(t, config)
		c.base = srv.client(t).base
		require.Eventually(t, func() bool { return ferryCLI(t, config, "", "fsck").code == 0 },
			10*time.Second, 100*time.Millisecond, "round %d: fsck", round)
		received, _ := c.uploadStatus(key)
		t.Logf("round %d: killed after %d MiB sent; %d MiB kept", round, n>>20, received>>20)
		assert.LessOrEqual(t, received, int64(n), "round %d: no more than was sent", round)
		assert.Zero(t, received%step, "round %d: %d is a checkpoint", round, received)
		if received > 0 {
			resumed++
		}
		c.chunk(key, int(received), size, content[received:]).requireStatus(http.StatusOK)
		var info struct{ SHA256 string }
		c.get("/upload/finalize/"+key, nil).requireStatus(http.StatusOK).decode(&info)
		require.Equal(t, sha(content), info.SHA256, "round %d", round)
		require.Equal(t, sha(content), sha(c.getFile(fmt.Sprintf("long-%d.bin", round)).requireStatus(http.StatusOK).Body), "round %d", round)
		require.NoError(t, srv.cmd.Process.Signal(syscall.SIGTERM))
		srv.requireExit(t, 0)
	}
	assert.Positive(t, resumed, "the uploads went on from a checkpoint, not from the start")
}
