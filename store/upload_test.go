package store_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/store"
)

// TestWriteChunk_CheckpointsALongChunk: while one chunk streams, every
// checkpoint's bytes are recorded with the hash state after them, before
// the chunk ends; a chunk cut off between two keeps every byte that
// arrived, and the next chunk goes on from there to the right SHA-256.
func TestWriteChunk_CheckpointsALongChunk(t *testing.T) {
	const step = 1 << 20
	db, err := store.Open(t.TempDir(), store.Options{UploadCheckpoint: step})
	require.NoError(t, err)
	defer db.Close()
	u := newUser(t, db, "long@example.com")
	content := make([]byte, 5*step+12345)
	_, _ = rand.Read(content)
	size := int64(len(content))
	key, _, err := db.CreateUpload(ctx, u.ID, []string{"long.bin"}, size, false)
	require.NoError(t, err)

	// The first request sends 2.5 checkpoints' worth, then stalls.
	pr, pw := io.Pipe()
	done := make(chan int64)
	var chunkErr error
	go func() {
		n, err := db.WriteChunk(ctx, ferry.Chunk{UserID: u.ID, Key: key, Start: 0, End: size - 1, Total: size, Body: pr})
		chunkErr = err
		done <- n
	}()
	_, err = pw.Write(content[:5*step/2])
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		received, _, err := db.UploadRecordForTest(key)
		return err == nil && received == 2*step
	}, 10*time.Second, 5*time.Millisecond, "two checkpoints recorded while the request goes on")
	received, sum, err := db.UploadRecordForTest(key)
	require.NoError(t, err)
	assert.Equal(t, int64(2*step), received)
	assert.Equal(t, shaOf(content[:2*step]), sum, "the hash state is that of the bytes recorded")

	// The connection drops: what arrived after the last checkpoint counts too.
	pw.CloseWithError(errors.New("connection reset"))
	assert.Equal(t, int64(5*step/2), <-done)
	assert.ErrorIs(t, chunkErr, ferry.ErrBodyRead)

	// The rest in one more request.
	n, err := db.WriteChunk(ctx, ferry.Chunk{UserID: u.ID, Key: key, Start: 5 * step / 2, End: size - 1, Total: size, Body: bytes.NewReader(content[5*step/2:])})
	require.NoError(t, err)
	assert.Equal(t, size, n)
	info, err := db.FinalizeUpload(ctx, u.ID, key)
	require.NoError(t, err)
	assert.Equal(t, shaOf(content), info.SHA256)
}

func shaOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
