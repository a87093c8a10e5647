package api_test

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/app"
	"github.com/ferryhq/ferry/ferrytest"
)

// A backup made while uploads, deletes and sends go on restores into a
// store that fsck finds clean, holding every file acknowledged before the
// backup began; what was acknowledged during it is there whole or not at
// all.
func TestBackup_UnderLoadRestoresClean(t *testing.T) {
	t.Parallel() // slow and waiting more than computing: beside the others
	config, _ := cliConfig(t, "")
	cfg, err := app.LoadConfig(config)
	require.NoError(t, err)
	ts := startServerWith(t, cfg)
	c := ts.newUser("bk@example.com")
	ts.addUser("bk2@example.com", password)
	before := map[string]string{}
	for i := range 40 {
		p := fmt.Sprintf("before/f%02d.bin", i)
		content := randomBytes(t, 1+i*997)
		c.mustPut(p, content)
		before[p] = sha(content)
	}
	c.mustSend("bk2@example.com", `[{"path":"before","files":[],"folder":true}]`)

	// Load during the backup: new files, replacements and deletions.
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	during := map[string]string{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			p := fmt.Sprintf("during/f%04d.bin", i)
			content := randomBytes(t, 1+i%5000)
			if r := c.putFile(p, content, false); r.Status == http.StatusOK {
				mu.Lock()
				during[p] = sha(content)
				mu.Unlock()
			}
			// With blobs in S3 a backup refers to objects in the live
			// bucket, which a delete after it removes (docs/operations.md: a
			// full backup needs the bucket versioned or copied).
			if i%3 == 0 && !ferrytest.BlobsInS3() {
				c.postForm("/ops/delete", map[string][]string{"file[]": {fmt.Sprintf("during/f%04d.bin", i-1)}})
			}
		}
	}()
	backup := filepath.Join(t.TempDir(), "ferry-backup.tar")
	out := ferryCLI(t, config, "", "backup", "--out", backup).requireOK(t)
	cancel()
	wg.Wait()
	assert.Contains(t, out, "backup written to")

	// The tar holds ferry.db and the blob files, or with blobs in S3 a
	// manifest of the objects (which stay in the bucket).
	entries := tarEntries(t, backup)
	require.Contains(t, entries, "ferry.db")
	if ferrytest.BlobsInS3() {
		require.Len(t, entries, 2, "ferry.db and the manifest: %v", entries)
		manifest := strings.Split(strings.TrimSpace(entries["blobs.manifest"]), "\n")
		assert.Contains(t, manifest[0], "# ferry blobs in s3:ferrytest/")
		assert.GreaterOrEqual(t, len(manifest)-1, len(before), "a line per object")
		for _, line := range manifest[1:] {
			f := strings.Fields(line)
			require.Len(t, f, 3, line)
			assert.True(t, strings.HasSuffix(f[2], f[0][:2]+"/"+f[0]), line)
		}
	} else {
		assert.NotContains(t, entries, "blobs.manifest")
		assert.GreaterOrEqual(t, len(entries)-1, len(before), "a blob file per content")
	}

	restored := filepath.Join(t.TempDir(), "restored")
	out = ferryCLI(t, config, "", "restore", "--from", backup, "--data", restored).requireOK(t)
	assert.Contains(t, out, "checked: no problems")
	ferryCLI(t, config, "", "restore", "--from", backup, "--data", restored).requireFail(t, 1, "is not empty")

	// The restored store takes the original's place (with blobs in S3 it
	// uses the same bucket and prefix, and its sweep removes what only
	// the original referred to).
	ts.stop()
	ts2 := startServer(t, func(c *app.Config) { c.DataDir, c.Blobs = restored, cfg.Blobs })
	c2 := ts2.login("bk@example.com", password)
	for p, want := range before {
		assert.Equal(t, want, sha(c2.getFile(p).Body), p)
	}
	mu.Lock()
	defer mu.Unlock()
	present := 0
	for p, want := range during {
		r := c2.getFile(p)
		if r.Status == http.StatusOK {
			assert.Equal(t, want, sha(r.Body), p)
			present++
		} else {
			assert.Equal(t, http.StatusNotFound, r.Status, p)
		}
	}
	t.Logf("%d files before the backup, %d acknowledged during it, %d of those in it", len(before), len(during), present)
	assert.Len(t, ts2.login("bk2@example.com", password).inbox(), 1, "the pending send is in the backup")
}

// tarEntries reads a tar file: each entry's name and, for the small
// ones, its content.
func tarEntries(t *testing.T, path string) map[string]string {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	out := map[string]string{}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		var b strings.Builder
		if hdr.Size < 1<<20 {
			_, err = io.Copy(&b, tr)
			require.NoError(t, err)
		}
		out[hdr.Name] = b.String()
	}
}
