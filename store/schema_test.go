package store_test

import (
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/ferrytest"
	"github.com/ferryhq/ferry/store"
)

// openSchema5 copies testdata/schema5 (see ferrytest.Schema5) into a new
// folder, checks that it is what it says, and returns the folder and the
// time of the sends.
func openSchema5(t *testing.T) (string, time.Time) {
	t.Helper()
	dir := ferrytest.Schema5(t)
	var sent time.Time
	editFile(t, dir, func(tx *bolt.Tx) error {
		assert.Equal(t, uint64(5), schemaOf(tx))
		assert.NotNil(t, tx.Bucket([]byte("message_items")), "schema 5 kept items in a bucket of their own")
		var m struct{ Created int64 }
		require.NoError(t, json.Unmarshal(tx.Bucket([]byte("messages")).Get(binary.BigEndian.AppendUint64(nil, 1)), &m))
		sent = time.Unix(0, m.Created)
		return nil
	})
	return dir, sent
}

func TestOpen_MigratesSchema5(t *testing.T) {
	dir, sent := openSchema5(t)
	c := &clock{now: sent.Add(time.Hour)}
	db, err := store.Open(dir, store.Options{Now: c.Now})
	require.NoError(t, err)
	problems, err := db.Fsck(false)
	require.NoError(t, err)
	assert.Empty(t, problems, "the migrated store passes fsck")

	ann, err := db.UserByEmail("ann@example.com")
	require.NoError(t, err)
	bob, err := db.UserByEmail("bob@example.com")
	require.NoError(t, err)
	cy, err := db.UserByEmail("cy@example.com")
	require.NoError(t, err)
	trip := []ferry.SentItem{{Path: "a.txt", Size: 9}, {Path: "sub", Dir: true}, {Path: "sub/b.txt", Size: 18}}
	for _, tc := range []struct {
		user   *ferry.User
		id     uint64
		status string
		items  []ferry.SentItem
	}{
		{bob, 1, ferry.StatusPending, []ferry.SentItem{{Path: "", Size: 17}}},
		{bob, 2, ferry.StatusAccepted, trip},
		{cy, 3, ferry.StatusDeclined, trip},
		{ann, 4, ferry.StatusInvited, []ferry.SentItem{{Path: "", Size: 9}}},
	} {
		msg, items, err := db.Contents(ctx, tc.user.ID, tc.id, 0, 10)
		require.NoError(t, err, "message %d", tc.id)
		assert.Equal(t, tc.status, msg.Status, "message %d", tc.id)
		assert.Equal(t, tc.items, items, "message %d", tc.id)
	}
	_, items, err := db.Contents(ctx, ann.ID, 2, 1, 1)
	require.NoError(t, err)
	assert.Equal(t, trip[1:2], items, "a page of the items")

	// The pending send still pins its blob: accepting it lands the file.
	results, err := db.UpdateInbox(ctx, bob.ID, []ferry.Decision{{ID: 1, Accept: true}})
	require.NoError(t, err)
	require.NoError(t, results[0])
	msg, _, err := db.Contents(ctx, bob.ID, 1, 0, 0)
	require.NoError(t, err)
	assert.Equal(t, ferry.StatusAccepted, msg.Status)
	info, err := db.Stat(ctx, bob.ID, strings.Split(msg.Landed, "/"))
	require.NoError(t, err, msg.Landed)
	assert.Equal(t, int64(17), info.Size)
	// And the invitation's send reaches the account made for it.
	newcomer, err := db.CreateUser(ctx, ferry.NewUser{Email: "new@example.com", Password: "password1", Package: "free"})
	require.NoError(t, err)
	inbox, err := db.Inbox(ctx, newcomer.ID)
	require.NoError(t, err)
	require.Len(t, inbox, 1)
	assert.Equal(t, "trip/a.txt", inbox[0].Destination)
	problems, err = db.Fsck(false)
	require.NoError(t, err)
	assert.Empty(t, problems)
	require.NoError(t, db.Close())

	editFile(t, dir, func(tx *bolt.Tx) error {
		assert.Equal(t, uint64(store.SchemaVersion), schemaOf(tx))
		assert.Nil(t, tx.Bucket([]byte("message_items")), "the old bucket is gone")
		// Damage: message 2's record loses the end of its last item.
		key := binary.BigEndian.AppendUint64(nil, 2)
		v := tx.Bucket([]byte("messages")).Get(key)
		return tx.Bucket([]byte("messages")).Put(key, append([]byte(nil), v[:len(v)-5]...))
	})
	db, err = store.Open(dir, store.Options{Now: c.Now})
	require.NoError(t, err)
	defer db.Close()
	problems, err = db.Fsck(true)
	require.NoError(t, err)
	assert.Equal(t, []string{"message 2: item 2 is cut short"}, problems.Problems)
	assert.Empty(t, problems.Debris)
}

// A migration that fails part way leaves the store as it was: it runs in
// the one transaction of Open, as a crash would leave it.
func TestOpen_FailedMigrationChangesNothing(t *testing.T) {
	dir, sent := openSchema5(t)
	var before []byte
	editFile(t, dir, func(tx *bolt.Tx) error {
		// Message 3's second item, cut short.
		key := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(nil, 3), 1)
		before = append([]byte(nil), tx.Bucket([]byte("messages")).Get(binary.BigEndian.AppendUint64(nil, 1))...)
		return tx.Bucket([]byte("message_items")).Put(key, []byte("short"))
	})
	_, err := store.Open(dir, store.Options{Now: (&clock{now: sent}).Now})
	require.ErrorContains(t, err, "message")
	editFile(t, dir, func(tx *bolt.Tx) error {
		assert.Equal(t, uint64(5), schemaOf(tx))
		assert.NotNil(t, tx.Bucket([]byte("message_items")))
		assert.Equal(t, before, tx.Bucket([]byte("messages")).Get(binary.BigEndian.AppendUint64(nil, 1)), "message 1 as it was")
		return nil
	})
}
