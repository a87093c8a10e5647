package store_test

import (
	"archive/tar"
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/store"
)

// A blob whose last reference goes while a backup runs is still in the
// backup, and is removed from the store when the backup ends.
func TestBackupDefersRemoval(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{})
	require.NoError(t, err)
	defer db.Close()
	u := newUser(t, db, "a@example.com")
	for _, p := range []string{"keep.txt", "gone.txt"} {
		_, err := db.PutFile(ctx, ferry.PutRequest{UserID: u.ID, Names: []string{p}, Body: strings.NewReader("content of " + p), Size: int64(len("content of " + p))})
		require.NoError(t, err)
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- db.Backup(pw); pw.Close() }()
	tr := tar.NewReader(pr)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	copyEntry := func() bool {
		hdr, err := tr.Next()
		if err == io.EOF {
			return false
		}
		require.NoError(t, err)
		require.NoError(t, tw.WriteHeader(hdr))
		_, err = io.Copy(tw, tr)
		require.NoError(t, err)
		return true
	}
	require.True(t, copyEntry()) // ferry.db: the snapshot is taken
	results, err := db.Delete(ctx, u.ID, [][]string{{"gone.txt"}})
	require.NoError(t, err)
	require.NoError(t, results[0])
	assert.Equal(t, 2, countBlobFiles(t, dir), "removal waits for the backup")
	for copyEntry() {
	}
	require.NoError(t, <-done)
	require.NoError(t, tw.Close())
	assert.Equal(t, 1, countBlobFiles(t, dir), "removed when the backup ended")

	restored := filepath.Join(t.TempDir(), "restored")
	require.NoError(t, store.Restore(&buf, restored))
	rdb, err := store.Open(restored, store.Options{})
	require.NoError(t, err)
	defer rdb.Close()
	problems, err := rdb.Fsck(false)
	require.NoError(t, err)
	assert.Empty(t, problems)
	info, err := rdb.Stat(ctx, u.ID, []string{"gone.txt"})
	require.NoError(t, err, "the backup has the file as it was")
	assert.Equal(t, int64(len("content of gone.txt")), info.Size)
}
