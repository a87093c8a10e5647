package store

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A writebackWriter starts the writeback of each writebackEvery bytes once,
// in order, from where its file's writes began, and writes every byte.
func TestWritebackWriter(t *testing.T) {
	type span struct{ off, n int64 }
	var started []span
	old := startWriteback
	startWriteback = func(f *os.File, off, n int64) {
		started = append(started, span{off, n})
		old(f, off, n) // the real call, too: it must not fail on a plain file
	}
	defer func() { startWriteback = old }()

	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	require.NoError(t, err)
	defer f.Close()
	const head = 1000 // as a chunk that continues an upload
	_, err = f.Write(make([]byte, head))
	require.NoError(t, err)
	w := &writebackWriter{f: f, off: head, started: head}
	data := bytes.Repeat([]byte("0123456789abcdef"), (3*writebackEvery+writebackEvery/2)/16)
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 300<<10)
		m, err := w.Write(rest[:n])
		require.NoError(t, err)
		require.Equal(t, n, m)
		rest = rest[n:]
	}
	require.Len(t, started, 3)
	next := int64(head)
	for _, s := range started {
		assert.Equal(t, next, s.off, "the ranges follow each other")
		assert.GreaterOrEqual(t, s.n, int64(writebackEvery))
		assert.Less(t, s.n, int64(writebackEvery+300<<10))
		next = s.off + s.n
	}
	require.NoError(t, f.Sync())
	got, err := os.ReadFile(f.Name())
	require.NoError(t, err)
	assert.Equal(t, data, got[head:])
}
