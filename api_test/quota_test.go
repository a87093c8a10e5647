package api_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/app"
)

func TestQuota_Report(t *testing.T) {
	ts := startServer(t, func(c *app.Config) {
		c.Packages["free"] = app.Package{Storage: 5000, ReceivePerMonth: 7000}
	})
	c := ts.newUser("sal@example.com")
	assert.Equal(t, quotaInfo{Quota: 5000, Normal: 0, ReceivingQuota: 7000, Received: 0}, c.quota())
	c.mustPut("a.bin", make([]byte, 1200))
	c.mustPut("b/c.bin", make([]byte, 300))
	assert.Equal(t, int64(1500), c.quota().Normal)
	c.putFile("big.bin", make([]byte, 3501), false).requireError(403, ferry.EQUOTAEXCEEDED)
	c.putFile("a.bin", make([]byte, 4700), false).requireStatus(http.StatusOK) // replacing frees the old size
	assert.Equal(t, int64(5000), c.quota().Normal)
	c.putFile("one-more.bin", []byte("x"), false).requireError(403, ferry.EQUOTAEXCEEDED)

	unlimited := int64(0)
	_, err := ts.admin().SetUser(app.SetUserRequest{Email: "sal@example.com", Storage: &unlimited})
	require.NoError(t, err)
	assert.Equal(t, int64(0), c.quota().Quota)
	c.putFile("one-more.bin", []byte("x"), false).requireStatus(http.StatusOK)
}

// Twenty uploads race for the last bytes of a quota that ten fit in: exactly
// ten are kept, and nothing of the others.
func TestQuota_ParallelUploadsKeepExactlyWhatFits(t *testing.T) {
	const size, fit, racers = 1000, 10, 20
	ts := startServer(t, func(c *app.Config) {
		c.Packages["free"] = app.Package{Storage: fit*size + size/2}
	})
	c := ts.newUser("tom@example.com")

	var wg sync.WaitGroup
	statuses := make([]int, racers)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			content := randomBytes(t, size)
			statuses[i] = c.putFile(fmt.Sprintf("race/%02d.bin", i), content, false).Status
		}()
	}
	wg.Wait()
	counts := map[int]int{}
	for _, s := range statuses {
		counts[s]++
	}
	assert.Equal(t, map[int]int{http.StatusOK: fit, http.StatusForbidden: racers - fit}, counts)
	assert.Len(t, c.list("race"), fit)
	assert.Equal(t, int64(fit*size), c.quota().Normal)
	ts.requireBlobs(fit, "no blob of a refused upload is left")
	tmp, err := os.ReadDir(filepath.Join(ts.Cfg.DataDir, "tmp"))
	require.NoError(t, err)
	assert.Empty(t, tmp)
}

// The same race through resumable uploads, whose links all fit the quota
// when made: the finalizes decide.
func TestQuota_ParallelUploadLinksKeepExactlyWhatFits(t *testing.T) {
	const size, fit, racers = 1000, 5, 12
	ts := startServer(t, func(c *app.Config) {
		c.Packages["free"] = app.Package{Storage: fit*size + size/2}
	})
	c := ts.newUser("uma@example.com")
	// Each upload takes its room when it is made, so of racers made at
	// once exactly what fits is made, and every one of those finalizes.
	keys := make([]string, racers)
	statuses := make([]int, racers)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := c.uploadLink(fmt.Sprintf("up/%02d.bin", i), size, nil)
			statuses[i] = r.Status
			if r.Status == http.StatusOK {
				var out struct {
					Key string `json:"upload_key"`
				}
				r.decode(&out)
				keys[i] = out.Key
			}
		}()
	}
	wg.Wait()
	ok := 0
	for i, s := range statuses {
		if s != http.StatusOK {
			assert.Equal(t, http.StatusForbidden, s)
			continue
		}
		ok++
		c.chunk(keys[i], 0, size, randomBytes(t, size)).requireStatus(http.StatusOK)
		c.get("/upload/finalize/"+keys[i], nil).requireStatus(http.StatusOK)
	}
	assert.Equal(t, fit, ok)
	assert.Equal(t, int64(fit*size), c.quota().Normal)
	ts.requireBlobs(fit)
	assert.Equal(t, 0, countFiles(t, filepath.Join(ts.Cfg.DataDir, "uploads")))
}
