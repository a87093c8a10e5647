package ferrytest

import (
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/store"
)

// Schema5 copies store/testdata/schema5 into a new folder and returns it:
// a data folder that ferry wrote at schema 5 (commit 4ce952b, through the
// store's own calls). ann@example.com (password "password1", as bob and
// cy) put docs/report.txt, trip/a.txt and trip/sub/b.txt, and sent
//
//  1. docs/report.txt to bob@example.com, still pending;
//  2. the folder trip to bob, who accepted it;
//  3. the folder trip to cy@example.com, who declined it;
//  4. trip/a.txt to new@example.com, an invitation with no account yet,
//
// on 2026-12-01.
func Schema5(t testing.TB) string {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	from := filepath.Join(filepath.Dir(self), "..", "store", "testdata", "schema5")
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(filepath.Join(dir, "blobs"), os.DirFS(filepath.Join(from, "blobs"))))
	f, err := os.Open(filepath.Join(from, "ferry.db.gz"))
	require.NoError(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	require.NoError(t, err)
	out, err := os.OpenFile(filepath.Join(dir, store.FileName), os.O_CREATE|os.O_WRONLY, 0o600)
	require.NoError(t, err)
	_, err = io.Copy(out, zr)
	require.NoError(t, err)
	require.NoError(t, out.Close())
	return dir
}
