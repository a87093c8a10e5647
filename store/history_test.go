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

// Under steady sends, decisions and expiries, with history and the audit
// log kept ten days,
// the database's used pages stop growing once history reaches that age:
// closed sends go with their items and index entries, and expired
// invitations go too. The outbox keeps what is younger.
func TestHistory_BoundedUnderSteadyLoad(t *testing.T) {
	c := &clock{now: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}
	db, err := store.Open(t.TempDir(), store.Options{Now: c.Now, SendExpireAfter: 24 * time.Hour, KeepHistory: 10 * 24 * time.Hour, KeepAudit: 10 * 24 * time.Hour,
		Invite: ferry.InviteLimits{PerDay: 100, ExpireIn: 2 * 24 * time.Hour}})
	require.NoError(t, err)
	defer db.Close()
	s, r := newUser(t, db, "s@example.com"), newUser(t, db, "r@example.com")
	for i := range 5 {
		_, err := db.PutFile(ctx, ferry.PutRequest{UserID: s.ID, Names: []string{"d", fmt.Sprint("f", i)}, Body: strings.NewReader(strings.Repeat("x", 100+i)), Size: int64(100 + i)})
		require.NoError(t, err)
	}
	used := map[int]int{}
	for day := range 40 {
		for range 20 {
			ids, err := db.Send(ctx, s.ID, "r@example.com", []ferry.SendSource{{Path: []string{"d"}, Folder: true}}, nil)
			require.NoError(t, err)
			if ids[0]%2 == 0 { // half are declined, half expire
				_, err := db.UpdateInbox(ctx, r.ID, []ferry.Decision{{ID: ids[0]}})
				require.NoError(t, err)
			}
		}
		_, err := db.Invite(ctx, s.ID, []string{fmt.Sprintf("guest%d@example.com", day)}, func(email, code string) ferry.Mail {
			return ferry.Mail{To: email, Subject: "hi", Body: "hi"}
		})
		require.NoError(t, err)
		c.now = c.now.Add(24 * time.Hour)
		_, err = db.ExpireMessages()
		require.NoError(t, err)
		_, err = db.DeleteOldHistory()
		require.NoError(t, err)
		_, err = db.DeleteOldEvents()
		require.NoError(t, err)
		used[day] = db.UsedPagesForTest()
	}
	t.Logf("used pages on days 10, 15, 20, 30, 39: %d %d %d %d %d", used[10], used[15], used[20], used[30], used[39])
	assert.LessOrEqual(t, used[39], used[20]+used[20]/10, "no growth once history is ten days old")
	assert.LessOrEqual(t, used[30], used[20]+used[20]/10)

	out, err := db.Outbox(ctx, s.ID)
	require.NoError(t, err)
	assert.LessOrEqual(t, len(out), 11*20, "ten days of history, and the day's")
	assert.GreaterOrEqual(t, len(out), 9*20)
	problems, err := db.CheckTree()
	require.NoError(t, err)
	assert.Empty(t, problems)
}
