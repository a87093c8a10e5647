package store_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
)

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
		_, err := db.PutFile(ctx, ferry.PutRequest{UserID: u.ID, Names: []string{"t", fmt.Sprint("f", i)}, Body: strings.NewReader(fmt.Sprint("content ", i)), Size: 9})
		require.NoError(t, err)
	}
	for i := range 9 { // 1,536 files
		require.NoError(t, db.Copy(ctx, u.ID, ferry.Transfer{Src: []string{"t"}, Dst: []string{"half"}}))
		require.NoError(t, db.Move(ctx, u.ID, ferry.Transfer{Src: []string{"half"}, Dst: []string{"t", fmt.Sprint("c", i)}}))
	}
	_, err := db.Send(ctx, u.ID, "r@example.com", []ferry.SendSource{{Files: [][]string{{"t", "f0"}}}}, nil)
	require.NoError(t, err)

	db.LeaveTrashForTest(true)
	db.SlowestWrite()
	results, err := db.Delete(ctx, u.ID, [][]string{{"t"}})
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
