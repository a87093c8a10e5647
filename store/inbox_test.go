package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/store"
)

// A pending message past its expiry that no sweep has reached is expired
// by the decision that finds it: MESSAGE_NOT_FOUND, and its pins go.
func TestDecideExpires(t *testing.T) {
	c := &clock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{Now: c.Now, SendExpireAfter: time.Hour})
	require.NoError(t, err)
	defer db.Close()
	s, r := newUser(t, db, "s@example.com"), newUser(t, db, "r@example.com")
	_, err = db.PutFile(ctx, ferry.PutRequest{UserID: s.ID, Names: []string{"x.bin"}, Body: strings.NewReader("pinned"), Size: 6})
	require.NoError(t, err)
	ids, err := db.Send(ctx, s.ID, "r@example.com", []ferry.SendSource{{Files: [][]string{{"x.bin"}}}}, nil)
	require.NoError(t, err)
	results, err := db.Delete(ctx, s.ID, [][]string{{"x.bin"}})
	require.NoError(t, err)
	require.NoError(t, results[0])

	waiting, err := db.Waiting(ctx, r.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, waiting)
	c.now = c.now.Add(time.Hour)
	waiting, err = db.Waiting(ctx, r.ID)
	require.NoError(t, err)
	assert.Equal(t, 0, waiting, "past its expiry, as Inbox leaves it out, before any sweep")
	results, err = db.UpdateInbox(ctx, r.ID, []ferry.Decision{{ID: ids[0], Accept: true}})
	require.NoError(t, err)
	assert.Equal(t, ferry.EMESSAGENOTFOUND, ferry.ErrorCode(results[0]))
	out, err := db.Outbox(ctx, s.ID)
	require.NoError(t, err)
	assert.Equal(t, ferry.StatusExpired, out[0].Status)
	problems, err := db.CheckTree()
	require.NoError(t, err)
	assert.Empty(t, problems)
	assert.Equal(t, 0, countBlobFiles(t, dir), "the pin went with the message")
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
	sendFolders(t, db, s, 120)
	c.now = c.now.Add(time.Hour)
	db.SetDecisionNotice(func(sender *ferry.User, outcomes []ferry.Outcome) ferry.Mail {
		return ferry.Mail{To: sender.Email, Subject: fmt.Sprint(len(outcomes), " expired")}
	})
	before := db.Commits()
	n, err := db.ExpireMessages()
	require.NoError(t, err)
	assert.Equal(t, 120, n)
	assert.Equal(t, uint64(3), db.Commits()-before, "120 messages of 11 items, each counted as 12, 42 a transaction; the mail in the last")
	mails, err := db.DueMail(c.now, 10)
	require.NoError(t, err)
	require.Len(t, mails, 1, "one mail for the sweep, queued in its last transaction")
	assert.Equal(t, "120 expired", mails[0].Subject)
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
	decisions := sendFolders(t, db, s, 120)
	decisions = append(decisions, decisions[0]) // decided already by then
	told := map[string]int{}
	db.SetDecisionNotice(func(sender *ferry.User, outcomes []ferry.Outcome) ferry.Mail {
		told[sender.Email] += len(outcomes)
		return ferry.Mail{To: sender.Email, Subject: fmt.Sprint(len(outcomes), " decided")}
	})
	before := db.Commits()
	results, err := db.UpdateInbox(ctx, r.ID, decisions)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, db.Commits()-before, uint64(3), "120 messages of 11 items: three transactions or more")
	for _, err := range results[:120] {
		assert.NoError(t, err)
	}
	assert.Equal(t, ferry.EMESSAGEREAD, ferry.ErrorCode(results[120]))
	mails, err := db.DueMail(c.now, 10)
	require.NoError(t, err)
	require.Len(t, mails, 1, "one mail for the whole call")
	assert.Equal(t, "120 decided", mails[0].Subject)
	assert.Equal(t, map[string]int{"s@example.com": 120}, told, "made once, in the last transaction")
	usage, err := db.Usage(r.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(120*10), usage.Normal)
	problems, err := db.CheckTree()
	require.NoError(t, err)
	assert.Empty(t, problems)
}

// The receiver's history: each decided message newest first, an accepted
// one with the path it landed at (a free name when its own was taken),
// seen by the receiver only; the contents of a send, to its two users
// only; and a version 3 store gains the index received when it opens.
func TestReceived_LandedContentsAndMigration(t *testing.T) {
	c := &clock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{Now: c.Now})
	require.NoError(t, err)
	s, r := newUser(t, db, "s@example.com"), newUser(t, db, "r@example.com")
	for _, name := range []string{"a.txt", "sub/b.txt"} {
		names := strings.Split("Trip/"+name, "/")
		_, err = db.PutFile(ctx, ferry.PutRequest{UserID: s.ID, Names: names, Body: strings.NewReader(name), Size: int64(len(name))})
		require.NoError(t, err)
	}
	err = db.Mkdir(ctx, r.ID, []string{"Trip"})
	require.NoError(t, err)
	var ids []uint64
	for range 3 {
		sent, err := db.Send(ctx, s.ID, "r@example.com", []ferry.SendSource{{Path: []string{"Trip"}, Folder: true}}, nil)
		require.NoError(t, err)
		ids = append(ids, sent...)
	}
	results, err := db.UpdateInbox(ctx, r.ID, []ferry.Decision{{ID: ids[0], Accept: true}, {ID: ids[1]}})
	require.NoError(t, err)
	require.NoError(t, results[0])
	require.NoError(t, results[1])

	list, err := db.Received(ctx, r.ID, 10)
	require.NoError(t, err)
	require.Len(t, list, 2, "the pending one is not history")
	assert.Equal(t, ids[1], list[0].ID)
	assert.Equal(t, ferry.StatusDeclined, list[0].Status)
	assert.Equal(t, "", list[0].Landed)
	assert.Equal(t, ferry.StatusAccepted, list[1].Status)
	assert.Equal(t, "Trip (1)", list[1].Landed, "Trip was taken")
	assert.Equal(t, 3, list[1].Items)
	_, err = db.Lookup(ctx, r.ID, []string{"Trip (1)", "sub", "b.txt"})
	require.NoError(t, err)
	out, err := db.Outbox(ctx, s.ID)
	require.NoError(t, err)
	assert.Equal(t, "", out[0].Landed, "the sender does not see the receiver's folder")
	list, err = db.Received(ctx, r.ID, 1)
	require.NoError(t, err)
	assert.Len(t, list, 1)

	msg, items, err := db.Contents(ctx, r.ID, ids[2], 0, 10)
	require.NoError(t, err)
	assert.Equal(t, "Trip", msg.Destination)
	assert.Equal(t, []ferry.SentItem{{Path: "a.txt", Size: 5}, {Path: "sub", Dir: true}, {Path: "sub/b.txt", Size: 9}}, items)
	_, items, err = db.Contents(ctx, s.ID, ids[2], 1, 1)
	require.NoError(t, err)
	assert.Equal(t, []ferry.SentItem{{Path: "sub", Dir: true}}, items)
	other := newUser(t, db, "o@example.com")
	_, _, err = db.Contents(ctx, other.ID, ids[2], 0, 10)
	assert.Equal(t, ferry.EMESSAGENOTFOUND, ferry.ErrorCode(err))
	require.NoError(t, db.Close())

	// As schema 3 left it: no index received.
	editFile(t, dir, func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket([]byte("received")); err != nil {
			return err
		}
		return setSchema(tx, 3)
	})
	db, err = store.Open(dir, store.Options{Now: c.Now})
	require.NoError(t, err)
	defer db.Close()
	list, err = db.Received(ctx, r.ID, 10)
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, "Trip (1)", list[1].Landed)
	list, err = db.Received(ctx, s.ID, 10)
	require.NoError(t, err)
	assert.Empty(t, list)
}

// A decision and the mail that tells its sender commit together, in one
// transaction: neither is ever without the other. When a later
// transaction of the same call fails, the mail for the earlier ones is
// queued on its own, as they stand.
func TestUpdateInbox_DecisionAndItsMailCommitTogether(t *testing.T) {
	c := &clock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	var afterCommit atomic.Pointer[func()] // runs in the commit loop, before the writers hear
	db, err := store.Open(t.TempDir(), store.Options{Now: c.Now, ObserveCommit: func(int, time.Duration) {
		if f := afterCommit.Load(); f != nil {
			(*f)()
		}
	}})
	require.NoError(t, err)
	defer db.Close()
	db.SetDecisionNotice(func(sender *ferry.User, outcomes []ferry.Outcome) ferry.Mail {
		return ferry.Mail{To: sender.Email, Subject: fmt.Sprint(len(outcomes), " decided")}
	})
	s, r := newUser(t, db, "s@example.com"), newUser(t, db, "r@example.com")
	decisions := sendFolders(t, db, s, 60)

	before := db.Commits()
	results, err := db.UpdateInbox(ctx, r.ID, decisions[:1])
	require.NoError(t, err)
	require.NoError(t, results[0])
	assert.Equal(t, before+1, db.Commits(), "the decision and its mail in one transaction")
	mails, err := db.DueMail(c.now, 10)
	require.NoError(t, err)
	require.Len(t, mails, 1)
	assert.Equal(t, "1 decided", mails[0].Subject)
	require.NoError(t, db.MailSent(mails[0].ID))

	// The rest take two transactions; the request goes away when the first
	// has committed.
	gone, cancel := context.WithCancel(ctx)
	goAway := func() { cancel() }
	afterCommit.Store(&goAway)
	results, err = db.UpdateInbox(gone, r.ID, decisions[1:])
	afterCommit.Store(nil)
	require.ErrorIs(t, err, context.Canceled)
	assert.Nil(t, results)
	out, err := db.Outbox(ctx, s.ID)
	require.NoError(t, err)
	accepted := 0
	for _, m := range out {
		if m.Status == ferry.StatusAccepted {
			accepted++
		}
	}
	assert.Greater(t, accepted, 1, "the first transaction stands")
	assert.Less(t, accepted, 60, "the rest were not decided")
	mails, err = db.DueMail(c.now, 10)
	require.NoError(t, err)
	require.Len(t, mails, 1, "the first transaction's decisions are told")
	assert.Equal(t, fmt.Sprint(accepted-1, " decided"), mails[0].Subject)
	problems, err := db.CheckTree()
	require.NoError(t, err)
	assert.Empty(t, problems)
}

// Deleting an account withdraws the sends waiting for it; their senders
// hear so by a mail queued in the deletion's own transaction.
func TestDeleteUser_TellsSenders(t *testing.T) {
	c := &clock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	db, _ := openDB(t, c)
	db.SetDecisionNotice(func(sender *ferry.User, outcomes []ferry.Outcome) ferry.Mail {
		return ferry.Mail{To: sender.Email, Subject: fmt.Sprint(len(outcomes), " ", outcomes[0].Status)}
	})
	s, r := newUser(t, db, "s@example.com"), newUser(t, db, "r@example.com")
	_, err := db.PutFile(ctx, ferry.PutRequest{UserID: s.ID, Names: []string{"x.txt"}, Body: strings.NewReader("x"), Size: 1})
	require.NoError(t, err)
	for range 2 {
		_, err := db.Send(ctx, s.ID, "r@example.com", []ferry.SendSource{{Files: [][]string{{"x.txt"}}}}, nil)
		require.NoError(t, err)
	}
	require.NoError(t, db.DeleteUser(ctx, r.ID))
	mails, err := db.DueMail(c.now, 10)
	require.NoError(t, err)
	require.Len(t, mails, 1)
	assert.Equal(t, "s@example.com", mails[0].To)
	assert.Equal(t, "2 expired", mails[0].Subject)
}

// sendFolders puts a folder d of ten one-byte files in s's folder and
// sends it to r@example.com n times, one message of eleven items (the
// folder and its files) a send; it returns a decision accepting each.
func sendFolders(t *testing.T, db *store.DB, s *ferry.User, n int) []ferry.Decision {
	t.Helper()
	for i := range 10 {
		_, err := db.PutFile(ctx, ferry.PutRequest{UserID: s.ID, Names: []string{"d", fmt.Sprint("f", i)}, Body: strings.NewReader(fmt.Sprint(i)), Size: 1})
		require.NoError(t, err)
	}
	var decisions []ferry.Decision
	for range n {
		ids, err := db.Send(ctx, s.ID, "r@example.com", []ferry.SendSource{{Path: []string{"d"}, Folder: true}}, nil)
		require.NoError(t, err)
		decisions = append(decisions, ferry.Decision{ID: ids[0], Accept: true})
	}
	return decisions
}
