package api_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/app"
	"github.com/ferryhq/ferry/ferrytest"
)

const fileSize = 4 << 20

// smallDataDir returns a directory on a tmpfs of the given size, or skips
// the test when it cannot mount one (mounting needs root).
func smallDataDir(t *testing.T, size string) string {
	t.Helper()
	if ferrytest.BlobsInS3() {
		t.Skip("blobs are in S3: the data directory holds only spools, removed after each upload")
	}
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("skipped: cannot mount a %s tmpfs for the data dir (mounting needs root): %v %s", size, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// fillDisk uploads 4 MiB files until one gets 507 STORAGE_FULL, checks
// that nothing of that one is left and that every acknowledged file still
// reads back, and returns those.
func fillDisk(t *testing.T, c *client, dir string) map[string][]byte {
	t.Helper()
	stored := map[string][]byte{}
	full := false
	for i := 0; i < 20 && !full; i++ {
		name := fmt.Sprintf("fill/%02d.bin", i)
		content := randomBytes(t, fileSize)
		r := c.putFile(name, content, false)
		switch r.Status {
		case http.StatusOK:
			stored[name] = content
		case http.StatusInsufficientStorage:
			r.requireError(http.StatusInsufficientStorage, ferry.ESTORAGEFULL)
			full = true
			// Nothing of it is visible, and its spool file is gone.
			c.getFile(name).requireError(http.StatusNotFound, ferry.EFILENOTFOUND)
			tmp, err := os.ReadDir(filepath.Join(dir, "tmp"))
			require.NoError(t, err)
			assert.Empty(t, tmp, "spool files left behind")
		default:
			t.Fatalf("PUT %s: %d %s", name, r.Status, r.Body)
		}
	}
	require.True(t, full, "the file system never filled")
	require.NotEmpty(t, stored)

	// Reads still work, and the usage counts only what was acknowledged.
	assert.Len(t, c.list("fill"), len(stored))
	for name, content := range stored {
		assert.Equal(t, content, c.getFile(name).Body, name)
	}
	assert.Equal(t, int64(len(stored)*fileSize), c.quota().Normal)
	return stored
}

// TestDiskFull_NoReserve fills the file system to the last byte
// (min_free_space = 0): the upload that meets ENOSPC gets 507 and the store
// stays consistent (fsck, and CheckTree at cleanup).
func TestDiskFull_NoReserve(t *testing.T) {
	t.Parallel() // slow and waiting more than computing: beside the others
	dir := smallDataDir(t, "40m")
	ts := startServer(t, func(c *app.Config) { c.DataDir, c.MinFreeSpace = dir, 0 })
	fillDisk(t, ts.newUser("full@example.com"), dir)
	report, err := ts.admin().Fsck(app.FsckRequest{})
	require.NoError(t, err)
	assert.Empty(t, report.Problems)
}

// TestDiskFull fills the data dir's file system down to min_free_space:
// uploads that do not fit get 507 STORAGE_FULL and leave nothing behind,
// reads go on working, deletes still commit, and a resumable upload that
// met the full disk half-way resumes once space is freed and completes
// with the right bytes.
func TestDiskFull(t *testing.T) {
	t.Parallel() // slow and waiting more than computing: beside the others
	dir := smallDataDir(t, "40m")
	ts := startServer(t, func(c *app.Config) { c.DataDir, c.MinFreeSpace = dir, 4<<20 })
	c := ts.newUser("full@example.com")
	stored := fillDisk(t, c, dir)
	var st unix.Statfs_t
	require.NoError(t, unix.Statfs(dir, &st))
	assert.GreaterOrEqual(t, int64(st.Bavail)*st.Bsize, int64(4<<20), "file content took the reserve")
	// WebDAV meets the same full disk with the same answer.
	r := ts.dav(c).do("PUT", "/dav-more.bin", bytes.NewReader(randomBytes(t, fileSize)))
	r.requireError(http.StatusInsufficientStorage, ferry.ESTORAGEFULL)
	c.getFile("dav-more.bin").requireError(http.StatusNotFound, ferry.EFILENOTFOUND)

	// A resumable upload runs into the full disk half-way ...
	content := randomBytes(t, 3*fileSize)
	key := c.mustUploadLink("big.bin", len(content))
	const chunk = 1 << 20
	off := 0
	for ; off < len(content); off += chunk {
		r := c.chunk(key, off, len(content), content[off:off+chunk])
		if r.Status == http.StatusInsufficientStorage {
			r.requireError(http.StatusInsufficientStorage, ferry.ESTORAGEFULL)
			break
		}
		r.requireStatus(http.StatusOK)
	}
	require.Less(t, off, len(content), "the upload never met the full disk")
	received, _ := c.uploadStatus(key)
	assert.Equal(t, int64(off), received, "a refused chunk counts for nothing")

	// ... and, once files are deleted, resumes where it stopped.
	del := url.Values{}
	n := 0
	for name := range stored {
		if n == 4 {
			break
		}
		del.Add("file[]", name)
		delete(stored, name)
		n++
	}
	c.postForm("/ops/delete", del).requireStatus(http.StatusOK)
	for ; off < len(content); off += chunk {
		c.chunk(key, off, len(content), content[off:off+chunk]).requireStatus(http.StatusOK)
	}
	var out struct{ SHA256 string }
	c.get("/upload/finalize/"+key, nil).requireStatus(http.StatusOK).decode(&out)
	assert.Equal(t, sha(content), out.SHA256)
	assert.Equal(t, content, c.getFile("big.bin").Body)

	report, err := ts.admin().Fsck(app.FsckRequest{})
	require.NoError(t, err)
	assert.Empty(t, report.Problems)
}
