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
	tokenA, _, err := db.CreateLink(ctx, u.ID, []string{"dir", "a.txt"}, c.Now().Add(time.Hour), ferry.LinkOptions{})
	require.NoError(t, err)
	tokenB, _, err := db.CreateLink(ctx, u.ID, []string{"dir", "b.txt"}, c.Now().Add(2*time.Hour), ferry.LinkOptions{})
	require.NoError(t, err)
	require.NoError(t, db.Close())

	// As schema 2 left it: 24-byte records, no index.
	editFile(t, dir, func(tx *bolt.Tx) error {
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
		return setSchema(tx, 2)
	})

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
	_, err = db.OpenLink(ctx, tokenB, "")
	assert.Equal(t, ferry.ELINKEXPIRED, ferry.ErrorCode(err))
	assert.Equal(t, ferry.ELINKNOTFOUND, ferry.ErrorCode(db.RevokeLink(ctx, u.ID, idB)))

	// A file whose folder went to the trash does not open, even before the
	// trash is reclaimed; its link lists with no file.
	_, err = db.OpenLink(ctx, tokenA, "")
	require.NoError(t, err)
	db.LeaveTrashForTest(true)
	results, err := db.Delete(ctx, u.ID, [][]string{{"dir"}})
	require.NoError(t, err)
	require.NoError(t, results[0])
	db.LeaveTrashForTest(false)
	_, err = db.OpenLink(ctx, tokenA, "")
	assert.Equal(t, ferry.ELINKEXPIRED, ferry.ErrorCode(err))
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

// A link with a download limit and a password: the password is needed
// (not stored as it is), the count decides the last download, and a
// 48-byte record (before limits) still opens, with neither.
func TestLinks_LimitAndPassword(t *testing.T) {
	c := &clock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{Now: c.Now})
	require.NoError(t, err)
	u := newUser(t, db, "links@example.com")
	_, err = db.PutFile(ctx, ferry.PutRequest{UserID: u.ID, Names: []string{"a.txt"}, Body: strings.NewReader("a"), Size: 1})
	require.NoError(t, err)
	token, _, err := db.CreateLink(ctx, u.ID, []string{"a.txt"}, c.Now().Add(time.Hour), ferry.LinkOptions{MaxDownloads: 2, Password: "open sesame"})
	require.NoError(t, err)

	link, err := db.OpenLink(ctx, token, "")
	assert.Equal(t, ferry.EAUTHFAILED, ferry.ErrorCode(err))
	assert.True(t, link.Password)
	assert.Empty(t, link.File.Name, "nothing of the file without the password")
	_, err = db.OpenLink(ctx, token, "open sesame!")
	assert.Equal(t, ferry.EAUTHFAILED, ferry.ErrorCode(err))
	link, err = db.OpenLink(ctx, token, "open sesame")
	require.NoError(t, err)
	assert.Equal(t, "a.txt", link.File.Name)

	require.NoError(t, db.CountDownload(ctx, token))
	require.NoError(t, db.CountDownload(ctx, token))
	assert.Equal(t, ferry.ELINKEXPIRED, ferry.ErrorCode(db.CountDownload(ctx, token)), "the third is past the limit")
	_, err = db.OpenLink(ctx, token, "open sesame")
	assert.Equal(t, ferry.ELINKEXPIRED, ferry.ErrorCode(err))
	list, err := db.Links(ctx, u.ID)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, uint64(2), list[0].Downloads)
	assert.Equal(t, uint64(2), list[0].MaxDownloads)
	assert.True(t, list[0].Password)

	// The password is stored as an argon2id hash; an old record still opens.
	plain, _, err := db.CreateLink(ctx, u.ID, []string{"a.txt"}, c.Now().Add(time.Hour), ferry.LinkOptions{})
	require.NoError(t, err)
	require.NoError(t, db.Close())
	editFile(t, dir, func(tx *bolt.Tx) error {
		links := tx.Bucket([]byte("links"))
		return links.ForEach(func(k, v []byte) error {
			assert.NotContains(t, string(v), "open sesame")
			if len(v) == 56 {
				return links.Put(k, append([]byte(nil), v[:48]...))
			}
			return nil
		})
	})
	db, err = store.Open(dir, store.Options{Now: c.Now})
	require.NoError(t, err)
	defer db.Close()
	_, err = db.OpenLink(ctx, plain, "")
	require.NoError(t, err)
	problems, err := db.CheckTree()
	require.NoError(t, err)
	assert.Empty(t, problems)
}
