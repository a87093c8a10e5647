package store_test

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/store"
)

// Links of a version 2 store (owner, node, expiry) get ids and the
// user_links index when it opens; fsck finds an index that lost a link,
// and a file of a deleted folder no longer opens while it waits in the
// trash.
func TestLinks_MigrateListRevokeAndRepair(t *testing.T) {
	c := &clock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{Now: c.Now})
	require.NoError(t, err)
	u := newUser(t, db, "links@example.com")
	for _, name := range []string{"a.txt", "b.txt"} {
		_, err = db.PutFile(ctx, ferry.PutRequest{UserID: u.ID, Names: []string{"dir", name}, Body: strings.NewReader(name), Size: int64(len(name))})
		require.NoError(t, err)
	}
	tokenA, _, err := db.CreateLink(ctx, u.ID, []string{"dir", "a.txt"}, c.Now().Add(time.Hour))
	require.NoError(t, err)
	tokenB, _, err := db.CreateLink(ctx, u.ID, []string{"dir", "b.txt"}, c.Now().Add(2*time.Hour))
	require.NoError(t, err)
	require.NoError(t, db.Close())

	// As schema 2 left it: 24-byte records, no index.
	b, err := bolt.Open(dir+"/"+store.FileName, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, b.Update(func(tx *bolt.Tx) error {
		links := tx.Bucket([]byte("links"))
		var keys, values [][]byte
		_ = links.ForEach(func(k, v []byte) error {
			keys, values = append(keys, append([]byte(nil), k...)), append(values, append([]byte(nil), v[:24]...))
			return nil
		})
		for i := range keys {
			if err := links.Put(keys[i], values[i]); err != nil {
				return err
			}
		}
		if err := tx.DeleteBucket([]byte("user_links")); err != nil {
			return err
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), binary.BigEndian.AppendUint64(nil, 2))
	}))
	require.NoError(t, b.Close())

	db, err = store.Open(dir, store.Options{Now: c.Now})
	require.NoError(t, err)
	defer db.Close()
	problems, err := db.CheckTree()
	require.NoError(t, err)
	assert.Empty(t, problems)
	list, err := db.Links(ctx, u.ID)
	require.NoError(t, err)
	require.Len(t, list, 2)
	files := []string{list[0].File, list[1].File}
	assert.ElementsMatch(t, []string{"dir/a.txt", "dir/b.txt"}, files)
	assert.NotEqual(t, list[0].ID, list[1].ID)

	// Counting, revoking, another user's id.
	require.NoError(t, db.CountDownload(ctx, tokenB))
	other := newUser(t, db, "other@example.com")
	var idB uint64
	for _, l := range list {
		if l.File == "dir/b.txt" {
			idB = l.ID
		}
	}
	assert.Equal(t, ferry.ELINKNOTFOUND, ferry.ErrorCode(db.RevokeLink(ctx, other.ID, idB)))
	list, err = db.Links(ctx, u.ID)
	require.NoError(t, err)
	for _, l := range list {
		if l.ID == idB {
			assert.Equal(t, uint64(1), l.Downloads)
		}
	}
	require.NoError(t, db.RevokeLink(ctx, u.ID, idB))
	_, _, err = db.OpenLink(ctx, tokenB)
	assert.Equal(t, ferry.EFILENOTFOUND, ferry.ErrorCode(err))
	assert.Equal(t, ferry.ELINKNOTFOUND, ferry.ErrorCode(db.RevokeLink(ctx, u.ID, idB)))

	// A file whose folder went to the trash does not open, even before the
	// trash is reclaimed; its link lists with no file.
	_, _, err = db.OpenLink(ctx, tokenA)
	require.NoError(t, err)
	db.LeaveTrashForTest(true)
	results, err := db.Delete(ctx, u.ID, [][]string{{"dir"}})
	require.NoError(t, err)
	require.NoError(t, results[0])
	db.LeaveTrashForTest(false)
	_, _, err = db.OpenLink(ctx, tokenA)
	assert.Equal(t, ferry.EFILENOTFOUND, ferry.ErrorCode(err))
	list, err = db.Links(ctx, u.ID)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "", list[0].File)
	_, err = db.Reclaim()
	require.NoError(t, err)

	// An index entry without its record: fsck reports, repair drops it.
	require.NoError(t, db.DropLinkRecordForTest(tokenA))
	problems, err = db.CheckTree()
	require.NoError(t, err)
	require.Len(t, problems, 1)
	assert.Contains(t, problems[0], "user_links")
	_, err = db.Repair()
	require.NoError(t, err)
	problems, err = db.CheckTree()
	require.NoError(t, err)
	assert.Empty(t, problems)
}
