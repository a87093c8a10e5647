package store

import (
	"context"
	"encoding/binary"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
)

// ExpireMessages ends the pending messages past their expiry, releasing
// their pins, and returns how many it ended. With none due it writes
// nothing.
func (db *DB) ExpireMessages() (int, error) {
	ferryContext := ferry.WithActor(context.Background(), ferry.Actor{Email: ferry.ActorFerry})
	now := db.now()
	// due lists the pending index's keys past expiry; the index is in order
	// of creation.
	due := func(tx *bolt.Tx, max int) [][]byte {
		var keys [][]byte
		c := tx.Bucket(bucketPending).Cursor()
		for k, _ := c.First(); k != nil && len(keys) < max && now.UnixNano()-int64(binary.BigEndian.Uint64(k)) >= int64(db.rules.sendExpire); k, _ = c.Next() {
			keys = append(keys, append([]byte(nil), k...))
		}
		return keys
	}
	var due1 bool
	if err := db.bolt.View(func(tx *bolt.Tx) error { due1 = len(due(tx, 1)) > 0; return nil }); err != nil || !due1 {
		return 0, err
	}
	// Messages are closed in transactions of about reclaimBatch items, so
	// that many sends expiring at once never hold the write for long.
	// The last transaction also queues the mails that tell the senders,
	// as UpdateInbox's does.
	total := 0
	told := outcomes{}
	for more := true; more; {
		n := 0
		var released []sum
		var expired outcomes
		err := db.update(context.Background(), func(tx *bolt.Tx) error {
			n, released, more, expired = 0, released[:0], false, outcomes{}
			items := 0
			keys := due(tx, reclaimBatch+1)
			more = len(keys) > reclaimBatch
			for _, k := range keys {
				if items >= reclaimBatch {
					more = true
					break
				}
				id := binary.BigEndian.Uint64(k[8:])
				m, ok, err := getMessage(tx, id)
				if err != nil {
					return err
				}
				if !ok || !m.waiting() {
					if err := tx.Bucket(bucketPending).Delete(k); err != nil {
						return err
					}
					continue
				}
				if db.frozen(m.Sender) || db.frozen(m.Receiver) {
					more = false // (its account is being moved: the next sweep)
					break
				}
				rel, err := closeMessage(tx, id, &m, ferry.StatusExpired, now)
				if err != nil {
					return err
				}
				if err := db.record(tx, ferryContext, m.Receiver, ferry.ActionExpire, m.Destination, map[string]any{"message": id}); err != nil {
					return err
				}
				expired.add(tx, db, &m)
				released = append(released, rel...)
				items += 1 + m.Items
				n++
			}
			if !more {
				return db.queueDecisionMails(tx, told.and(expired))
			}
			return nil
		})
		if err != nil {
			db.tellSenders(told)
			return total, err
		}
		db.release(released)
		told.merge(expired)
		total += n
	}
	return total, nil
}
