package blobs

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"hash"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
)

// Copy writes every byte at its place and hashes it, whatever the
// offset it starts at and the size, around the page cache or through it,
// with a body that arrives in small and odd reads.
func TestCopy(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, direct := range []bool{true, false} {
		for _, start := range []int64{0, 1, align - 1, align, 3*align + 17, pieceSize + 5} {
			for _, size := range []int{0, 1, align - 1, align, align + 1, pieceSize, 3*pieceSize + 12345} {
				name := filepath.Join(t.TempDir(), "f")
				head := make([]byte, start)
				for i := range head {
					head[i] = 'h'
				}
				require.NoError(t, os.WriteFile(name, head, 0o600))
				f, err := os.OpenFile(name, os.O_WRONLY, 0)
				require.NoError(t, err)
				dst := NewFileWriter(f, nil)
				if !direct {
					dst.Close()
				}
				data := make([]byte, size)
				for i := range data {
					data[i] = byte(rnd.Uint32())
				}
				h := sha256.New()
				expect := int64(size) // as declared, or unknown every other time
				if (start+int64(size))%2 == 1 {
					expect = -1
				}
				n, readErr, writeErr := Copy(dst, start, iotest.HalfReader(bytes.NewReader(data)), h, expect)
				dst.Close()
				require.NoError(t, readErr)
				require.NoError(t, writeErr)
				require.NoError(t, f.Sync())
				require.NoError(t, f.Close())
				assert.Equal(t, int64(size), n)
				want := sha256.Sum256(data)
				assert.Equal(t, want[:], h.Sum(nil), "direct %v, from %d, %d bytes", direct, start, size)
				got, err := os.ReadFile(name)
				require.NoError(t, err)
				require.Equal(t, append(head, data...), got, "direct %v, from %d, %d bytes", direct, start, size)
			}
		}
	}
}

// A body that fails half-way: what came before the failure is written
// and hashed, and the failure is the body's. An HTTP body cut short
// (io.ErrUnexpectedEOF) is such a failure, not an end.
func TestCopy_ReadError(t *testing.T) {
	for _, cause := range []error{errors.New("connection reset"), io.ErrUnexpectedEOF} {
		f, err := os.Create(filepath.Join(t.TempDir(), "f"))
		require.NoError(t, err)
		dst := NewFileWriter(f, nil)
		data := bytes.Repeat([]byte("x"), pieceSize+100)
		broken := io.MultiReader(bytes.NewReader(data), iotest.ErrReader(cause))
		h := sha256.New()
		n, readErr, writeErr := Copy(dst, 0, broken, h, int64(len(data)+1000))
		dst.Close()
		require.NoError(t, writeErr)
		require.ErrorIs(t, readErr, ferry.ErrBodyRead, "after %v", cause)
		require.ErrorIs(t, readErr, cause)
		assertCopied(t, f.Name(), data, n, h)
		f.Close()
	}
}

// assertCopied checks that a copy of data reported all of it, hashed it
// and left it in the file name.
func assertCopied(t *testing.T, name string, data []byte, n int64, h hash.Hash) {
	t.Helper()
	assert.Equal(t, int64(len(data)), n)
	want := sha256.Sum256(data)
	assert.Equal(t, want[:], h.Sum(nil))
	got, err := os.ReadFile(name)
	require.NoError(t, err)
	assert.Equal(t, data, got)
}

// A sink that refuses (a full disk) ends the copy with its error, however
// much of the body is left.
func TestCopy_WriteError(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	require.NoError(t, err)
	defer f.Close()
	full := errors.New("no space left")
	written := int64(0)
	dst := &FileWriter{f: f, check: func(need int64) error {
		if written += need; written > 2*pieceSize {
			return full
		}
		return nil
	}}
	n, readErr, writeErr := Copy(dst, 0, io.LimitReader(zeros{}, 100*pieceSize), sha256.New(), 100*pieceSize)
	require.ErrorIs(t, writeErr, full)
	require.NoError(t, readErr)
	assert.Less(t, n, int64(100*pieceSize), "the copy stopped early")
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// Written through the cache, each piece has its writeback started at
// once, in order, so that the fsync finds little left to do.
func TestFileWriter_StartsWriteback(t *testing.T) {
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
	dst := &FileWriter{f: f, writeback: true}
	const start = 1000 // as a chunk that continues an upload
	_, _, err = Copy(dst, start, bytes.NewReader(make([]byte, 3*pieceSize)), sha256.New(), -1)
	require.NoError(t, err)
	require.Len(t, started, 4)
	next := int64(start)
	for _, s := range started {
		assert.Equal(t, next, s.off, "the ranges follow each other")
		next = s.off + s.n
	}
	assert.Equal(t, int64(start+3*pieceSize), next)
}

// A body longer than expected is copied whole all the same, in the small
// buffers the expectation chose.
func TestCopy_LongerThanExpected(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	require.NoError(t, err)
	defer f.Close()
	dst := NewFileWriter(f, nil)
	defer dst.Close()
	data := bytes.Repeat([]byte("0123456789"), 100_000)
	h := sha256.New()
	n, readErr, writeErr := Copy(dst, 0, bytes.NewReader(data), h, 10)
	require.NoError(t, readErr)
	require.NoError(t, writeErr)
	assertCopied(t, f.Name(), data, n, h)
}
