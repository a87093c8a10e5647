package store_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/store"
)

// A copy of a tree larger than one transaction's share is built in steps
// and linked at the end: the result is the same as a small copy's, fsck
// finds nothing, and no step held the write transaction for long.
func TestCopy_LargeTreeInSteps(t *testing.T) {
	c := &clock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	db, _ := openDB(t, c)
	u := newUser(t, db, "a@example.com")
	_, err := db.PutFile(ferry.PutRequest{UserID: u.ID, Names: []string{"t", "f"}, Body: strings.NewReader("x"), Size: 1})
	require.NoError(t, err)
	for i := range 11 { // 2,048 files and 2,047 folders, by doubling
		require.NoError(t, db.Copy(u.ID, []string{"t"}, []string{"half"}, false))
		require.NoError(t, db.Move(u.ID, []string{"half"}, []string{"t", fmt.Sprint("c", i)}, false))
	}
	sizes, err := db.Sizes(u.ID, [][]string{{"t"}})
	require.NoError(t, err)
	require.Equal(t, []int64{2048}, sizes)

	// Over the quota: refused, and the steps leave nothing.
	setStorage := func(n *int64) {
		_, err := db.UpdateUser(u.ID, func(u *ferry.User) error { u.StorageOverride = n; return nil })
		require.NoError(t, err)
	}
	setStorage(ptr(int64(3000)))
	err = db.Copy(u.ID, []string{"t"}, []string{"copy"}, false)
	assert.Equal(t, ferry.EQUOTAEXCEEDED, ferry.ErrorCode(err))
	setStorage(nil)
	db.SlowestWrite()
	require.NoError(t, db.Copy(u.ID, []string{"t"}, []string{"copy"}, false))
	slowest := db.SlowestWrite()
	sizes, err = db.Sizes(u.ID, [][]string{{"copy"}, {"copy", "c10", "c9", "f"}})
	require.NoError(t, err)
	assert.Equal(t, []int64{2048, 1}, sizes)
	usage, err := db.Usage(u.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(4096), usage.Normal)
	problems, err := db.CheckTree()
	require.NoError(t, err)
	assert.Empty(t, problems)
	t.Logf("the longest step of a copy of 4,095 nodes: %v", slowest)

	results, err := db.Delete(u.ID, [][]string{{"copy"}})
	require.NoError(t, err)
	require.NoError(t, results[0])
	problems, err = db.CheckTree()
	require.NoError(t, err)
	assert.Empty(t, problems)
}

// A deleted folder leaves its parent at once and is reclaimed in steps; in
// between (a crash, here a test's switch) fsck finds the store consistent,
// the quota already counts it as gone, and its content stays until the
// reclaim, which gives back what pending sends do not hold.
func TestDelete_TrashIsReclaimedInSteps(t *testing.T) {
	c := &clock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	db, dir := openDB(t, c)
	u := newUser(t, db, "a@example.com")
	newUser(t, db, "r@example.com")
	for i := range 3 {
		_, err := db.PutFile(ferry.PutRequest{UserID: u.ID, Names: []string{"t", fmt.Sprint("f", i)}, Body: strings.NewReader(fmt.Sprint("content ", i)), Size: 9})
		require.NoError(t, err)
	}
	for i := range 9 { // 1,536 files
		require.NoError(t, db.Copy(u.ID, []string{"t"}, []string{"half"}, false))
		require.NoError(t, db.Move(u.ID, []string{"half"}, []string{"t", fmt.Sprint("c", i)}, false))
	}
	_, err := db.Send(u.ID, "r@example.com", []ferry.SendSource{{Files: [][]string{{"t", "f0"}}}}, nil)
	require.NoError(t, err)

	db.LeaveTrashForTest(true)
	db.SlowestWrite()
	results, err := db.Delete(u.ID, [][]string{{"t"}})
	require.NoError(t, err)
	require.NoError(t, results[0])
	t.Logf("the delete's own transaction: %v", db.SlowestWrite())
	usage, err := db.Usage(u.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(0), usage.Normal, "gone from the quota at once")
	problems, err := db.CheckTree()
	require.NoError(t, err)
	assert.Empty(t, problems, "consistent with the folder in the trash")
	assert.Equal(t, 3, countBlobFiles(t, dir), "content stays until reclaimed")

	n, err := db.Reclaim()
	require.NoError(t, err)
	assert.Greater(t, n, 1536, "every file and folder below t, and t")
	t.Logf("the longest reclaiming transaction: %v", db.SlowestWrite())
	problems, err = db.CheckTree()
	require.NoError(t, err)
	assert.Empty(t, problems)
	assert.Equal(t, 1, countBlobFiles(t, dir), "what the pending send carries stays")
	usage, err = db.Usage(u.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(512*9), usage.Held, "f0's content is held for the pending send: each of its 512 copies deleted counts")
}

// Many sends expiring at once are closed in transactions of a bounded
// number of items, not in one.
func TestExpire_ManyAtOnceInSteps(t *testing.T) {
	c := &clock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{Now: c.Now, SendExpireAfter: time.Hour})
	require.NoError(t, err)
	defer db.Close()
	s := newUser(t, db, "s@example.com")
	newUser(t, db, "r@example.com")
	for i := range 10 {
		_, err := db.PutFile(ferry.PutRequest{UserID: s.ID, Names: []string{"d", fmt.Sprint("f", i)}, Body: strings.NewReader(fmt.Sprint(i)), Size: 1})
		require.NoError(t, err)
	}
	for range 120 {
		_, err := db.Send(s.ID, "r@example.com", []ferry.SendSource{{Path: []string{"d"}, Folder: true}}, nil)
		require.NoError(t, err)
	}
	c.now = c.now.Add(time.Hour)
	before := db.Commits()
	n, err := db.ExpireMessages()
	require.NoError(t, err)
	assert.Equal(t, 120, n)
	assert.GreaterOrEqual(t, db.Commits()-before, uint64(3), "120 messages of 11 items: three transactions or more")
	problems, err := db.CheckTree()
	require.NoError(t, err)
	assert.Empty(t, problems)
}

// One inbox/update of many messages decides them in order, in several
// transactions of a bounded number of items.
func TestUpdateInbox_ManyInSteps(t *testing.T) {
	c := &clock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	db, _ := openDB(t, c)
	s, r := newUser(t, db, "s@example.com"), newUser(t, db, "r@example.com")
	for i := range 10 {
		_, err := db.PutFile(ferry.PutRequest{UserID: s.ID, Names: []string{"d", fmt.Sprint("f", i)}, Body: strings.NewReader(fmt.Sprint(i)), Size: 1})
		require.NoError(t, err)
	}
	var decisions []ferry.Decision
	for range 120 {
		ids, err := db.Send(s.ID, "r@example.com", []ferry.SendSource{{Path: []string{"d"}, Folder: true}}, nil)
		require.NoError(t, err)
		decisions = append(decisions, ferry.Decision{ID: ids[0], Accept: true})
	}
	decisions = append(decisions, decisions[0]) // decided already by then
	before := db.Commits()
	results, err := db.UpdateInbox(r.ID, decisions)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, db.Commits()-before, uint64(3), "120 messages of 11 items: three transactions or more")
	for _, err := range results[:120] {
		assert.NoError(t, err)
	}
	assert.Equal(t, ferry.EMESSAGEREAD, ferry.ErrorCode(results[120]))
	usage, err := db.Usage(r.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(120*10), usage.Normal)
	problems, err := db.CheckTree()
	require.NoError(t, err)
	assert.Empty(t, problems)
}

func ptr[T any](v T) *T { return &v }
