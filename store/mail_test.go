package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
)

// Sent and failed mail older than KeepMail goes, a thousand a transaction;
// queued mail stays whatever its age, and so does young mail. A sweep
// that finds nothing to delete writes nothing: it runs every minute.
func TestDeleteOldMail(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	db, err := Open(t.TempDir(), Options{Now: func() time.Time { return now }, KeepMail: time.Hour})
	require.NoError(t, err)
	defer db.Close()
	queue := func(n int) []uint64 {
		var ids []uint64
		require.NoError(t, db.update(context.Background(), func(tx *bolt.Tx) error {
			ids = ids[:0]
			for i := range n {
				if err := db.queueMail(tx, ferry.Mail{To: "a@example.com", Subject: fmt.Sprint(i)}); err != nil {
					return err
				}
				seq := tx.Bucket(bucketMail).Sequence()
				ids = append(ids, seq)
			}
			return nil
		}))
		return ids
	}
	old := queue(1002)
	for _, id := range old[:1001] {
		require.NoError(t, db.MailSent(id))
	}
	require.NoError(t, db.MailFailed(old[1001], "refused"))
	stays := queue(1)[0] // queued, and old soon
	now = now.Add(2 * time.Hour)
	young := queue(1)[0]
	require.NoError(t, db.MailSent(young))

	before := db.commits.commits
	n, err := db.DeleteOldMail()
	require.NoError(t, err)
	assert.Equal(t, 1002, n)
	assert.Equal(t, before+2, db.commits.commits, "1,002 in two transactions")
	list, err := db.ListMail()
	require.NoError(t, err)
	var left []uint64
	for _, q := range list {
		left = append(left, q.ID)
	}
	assert.Equal(t, []uint64{stays, young}, left)

	before = db.commits.commits
	n, err = db.DeleteOldMail()
	require.NoError(t, err)
	assert.Zero(t, n)
	assert.Equal(t, before, db.commits.commits, "nothing to delete: no write")
}
