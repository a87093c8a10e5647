package store_test

import (
	"fmt"
	"strings"
	"sync"
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
	_, err := db.PutFile(ctx, ferry.PutRequest{UserID: u.ID, Names: []string{"t", "f"}, Body: strings.NewReader("x"), Size: 1})
	require.NoError(t, err)
	for i := range 11 { // 2,048 files and 2,047 folders, by doubling
		require.NoError(t, db.Copy(ctx, u.ID, ferry.Transfer{Src: []string{"t"}, Dst: []string{"half"}}))
		require.NoError(t, db.Move(ctx, u.ID, ferry.Transfer{Src: []string{"half"}, Dst: []string{"t", fmt.Sprint("c", i)}}))
	}
	sizes, err := db.Sizes(ctx, u.ID, [][]string{{"t"}})
	require.NoError(t, err)
	require.Equal(t, []int64{2048}, sizes)

	// Over the quota: refused, and the steps leave nothing.
	setStorage := func(n *int64) {
		_, err := db.UpdateUser(ctx, u.ID, func(u *ferry.User) error { u.StorageOverride = n; return nil })
		require.NoError(t, err)
	}
	setStorage(ptr(int64(3000)))
	err = db.Copy(ctx, u.ID, ferry.Transfer{Src: []string{"t"}, Dst: []string{"copy"}})
	assert.Equal(t, ferry.EQUOTAEXCEEDED, ferry.ErrorCode(err))
	setStorage(nil)
	db.SlowestWrite()
	require.NoError(t, db.Copy(ctx, u.ID, ferry.Transfer{Src: []string{"t"}, Dst: []string{"copy"}}))
	slowest := db.SlowestWrite()
	sizes, err = db.Sizes(ctx, u.ID, [][]string{{"copy"}, {"copy", "c10", "c9", "f"}})
	require.NoError(t, err)
	assert.Equal(t, []int64{2048, 1}, sizes)
	usage, err := db.Usage(u.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(4096), usage.Normal)
	problems, err := db.CheckTree()
	require.NoError(t, err)
	assert.Empty(t, problems)
	t.Logf("the longest step of a copy of 4,095 nodes: %v", slowest)

	results, err := db.Delete(ctx, u.ID, [][]string{{"copy"}})
	require.NoError(t, err)
	require.NoError(t, results[0])
	problems, err = db.CheckTree()
	require.NoError(t, err)
	assert.Empty(t, problems)
}

func ptr[T any](v T) *T { return &v }

// Large copies are built outside the trash: a reclaim that another request
// runs meanwhile (after a delete) must not delete a copy half built.
func TestCopy_LargeCopiesBesideReclaims(t *testing.T) {
	c := &clock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	db, _ := openDB(t, c)
	users := []*ferry.User{newUser(t, db, "a@example.com"), newUser(t, db, "b@example.com")}
	for _, u := range users {
		_, err := db.PutFile(ctx, ferry.PutRequest{UserID: u.ID, Names: []string{"t", "f"}, Body: strings.NewReader(u.Email), Size: int64(len(u.Email))})
		require.NoError(t, err)
		for i := range 10 { // 1,024 files
			require.NoError(t, db.Copy(ctx, u.ID, ferry.Transfer{Src: []string{"t"}, Dst: []string{"half"}}))
			require.NoError(t, db.Move(ctx, u.ID, ferry.Transfer{Src: []string{"half"}, Dst: []string{"t", fmt.Sprint("c", i)}}))
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for _, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 4 {
				dst := []string{fmt.Sprint("copy", i)}
				if err := db.Copy(ctx, u.ID, ferry.Transfer{Src: []string{"t"}, Dst: dst}); err != nil {
					errs <- err
					return
				}
				if _, err := db.Delete(ctx, u.ID, [][]string{dst}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	problems, err := db.CheckTree()
	require.NoError(t, err)
	assert.Empty(t, problems)
}

// A large copy cut off between its steps (a crash) leaves its part built
// in the copying bucket: fsck finds the store consistent, and the next
// Open hands it to the trash, whose reclaim deletes it.
func TestCopy_CutOffCopyIsReclaimedAfterOpen(t *testing.T) {
	c := &clock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{Now: c.Now})
	require.NoError(t, err)
	u := newUser(t, db, "a@example.com")
	_, err = db.PutFile(ctx, ferry.PutRequest{UserID: u.ID, Names: []string{"t", "f"}, Body: strings.NewReader("x"), Size: 1})
	require.NoError(t, err)
	for i := range 10 { // 1,024 files
		require.NoError(t, db.Copy(ctx, u.ID, ferry.Transfer{Src: []string{"t"}, Dst: []string{"half"}}))
		require.NoError(t, db.Move(ctx, u.ID, ferry.Transfer{Src: []string{"half"}, Dst: []string{"t", fmt.Sprint("c", i)}}))
	}
	db.CutCopiesForTest(true)
	require.Error(t, db.Copy(ctx, u.ID, ferry.Transfer{Src: []string{"t"}, Dst: []string{"copy"}}))
	problems, err := db.CheckTree()
	require.NoError(t, err)
	assert.Empty(t, problems, "the part built is accounted for")
	require.NoError(t, db.Close())

	db, err = store.Open(dir, store.Options{Now: c.Now})
	require.NoError(t, err)
	defer db.Close()
	n, err := db.Reclaim()
	require.NoError(t, err)
	assert.Greater(t, n, 0, "the cut-off copy was in the trash")
	problems, err = db.CheckTree()
	require.NoError(t, err)
	assert.Empty(t, problems)
	sizes, err := db.Sizes(ctx, u.ID, [][]string{{"copy"}, {"t"}})
	require.NoError(t, err)
	assert.Equal(t, []int64{-1, 1024}, sizes)
}
