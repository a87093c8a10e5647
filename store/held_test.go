package store_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/store"
)

// A schema 1 store has no send pins: Open makes them from the pending
// messages, and fsck finds nothing wrong after. A held or reserved figure
// that disagrees with the pins and uploads is found and repaired.
func TestSendPins_MigrateAndRepair(t *testing.T) {
	c := &clock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{Now: c.Now})
	require.NoError(t, err)
	s := newUser(t, db, "s@example.com")
	newUser(t, db, "r@example.com")
	_, err = db.PutFile(ctx, ferry.PutRequest{UserID: s.ID, Names: []string{"x.bin"}, Body: strings.NewReader("pinned"), Size: 6})
	require.NoError(t, err)
	_, err = db.Send(ctx, s.ID, "r@example.com", []ferry.SendSource{{Files: [][]string{{"x.bin"}}}}, nil)
	require.NoError(t, err)
	_, _, err = db.CreateUpload(ctx, s.ID, []string{"up.bin"}, 100, false)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	// As schema 1 left it: no send_pins bucket.
	editFile(t, dir, func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket([]byte("send_pins")); err != nil {
			return err
		}
		return setSchema(tx, 1)
	})

	db, err = store.Open(dir, store.Options{Now: c.Now})
	require.NoError(t, err)
	defer db.Close()
	problems, err := db.CheckTree()
	require.NoError(t, err)
	assert.Empty(t, problems)
	results, err := db.Delete(ctx, s.ID, [][]string{{"x.bin"}})
	require.NoError(t, err)
	require.NoError(t, results[0])
	u, err := db.Usage(s.ID)
	require.NoError(t, err)
	assert.Equal(t, ferry.Usage{Held: 6, Reserved: 100}, ferry.Usage{Normal: u.Normal, Held: u.Held, Reserved: u.Reserved},
		"the migrated pin holds the deleted file; the upload its room")

	// Break the figures, and let fsck find and repair them.
	_, err = db.UpdateUsageForTest(s.ID, func(u *ferry.Usage) { u.Held, u.Reserved = 1, 2 })
	require.NoError(t, err)
	problems, err = db.CheckTree()
	require.NoError(t, err)
	require.Len(t, problems, 1)
	assert.Contains(t, problems[0], "held 1 and reserved 2")
	fixes, err := db.Repair()
	require.NoError(t, err)
	assert.NotEmpty(t, fixes)
	problems, err = db.CheckTree()
	require.NoError(t, err)
	assert.Empty(t, problems)
	u, err = db.Usage(s.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(6), u.Held)
	assert.Equal(t, int64(100), u.Reserved)
}
