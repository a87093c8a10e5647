package store

import (
	"context"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
)

// An administrator's hand on the mail outbox: send a mail again now, or
// drop it.

// RetryMail makes mail id due now (a failed one queued again, with its
// attempts counted from 0): NOT_FOUND for none.
func (db *DB) RetryMail(ctx context.Context, id uint64) error {
	return db.update(ctx, func(tx *bolt.Tx) error {
		q, err := getMail(tx, id)
		if err != nil {
			return ferry.Errorf(ferry.ENOTFOUND, "There is no mail %d.", id)
		}
		due := tx.Bucket(bucketMailDue)
		if err := due.Delete(dueKey(&q)); err != nil {
			return err
		}
		if q.Status == ferry.MailFailed {
			q.Attempts = 0
		}
		q.Status, q.NextAttempt = ferry.MailQueued, db.now()
		if err := due.Put(dueKey(&q), nil); err != nil {
			return err
		}
		tx.OnCommit(db.mail.queued)
		return putMail(tx, &q)
	})
}

// DeleteMail drops mail id from the outbox: NOT_FOUND for none.
func (db *DB) DeleteMail(ctx context.Context, id uint64) error {
	return db.update(ctx, func(tx *bolt.Tx) error {
		q, err := getMail(tx, id)
		if err != nil {
			return ferry.Errorf(ferry.ENOTFOUND, "There is no mail %d.", id)
		}
		if err := tx.Bucket(bucketMailDue).Delete(dueKey(&q)); err != nil {
			return err
		}
		return tx.Bucket(bucketMail).Delete(itob(id))
	})
}
