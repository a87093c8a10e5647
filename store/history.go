package store

import (
	"context"
	"encoding/binary"
	"encoding/json"

	bolt "go.etcd.io/bbolt"
)

// A closed send (accepted, declined, expired) stays in its sender's
// outbox and its receiver's history for keepHistory after it closed;
// then DeleteOldHistory deletes it: the message, its items and its index
// entries. Invitations go once past their expiry, used or not.

// DeleteOldHistory deletes the sends closed longer than keepHistory ago
// and the invitations past their expiry, in transactions of about
// reclaimBatch items each, and returns how many records it deleted. With
// nothing due it writes nothing.
func (db *DB) DeleteOldHistory() (int, error) {
	now := db.now()
	total := 0
	if db.rules.keepHistory > 0 {
		before := now.Add(-db.rules.keepHistory).UnixNano()
		for {
			n, err := db.deleteHistoryBatch(before)
			total += n
			if err != nil || n == 0 {
				if err != nil {
					return total, err
				}
				break
			}
		}
	}
	n, err := db.deleteExpiredInvites(now.UnixNano())
	return total + n, err
}

// deleteHistoryBatch deletes closed sends that closed before before, up to
// about reclaimBatch messages and items, and returns how many messages.
func (db *DB) deleteHistoryBatch(before int64) (int, error) {
	var due bool
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bucketClosed).Cursor().First()
		due = k != nil && int64(binary.BigEndian.Uint64(k)) < before
		return nil
	}); err != nil || !due {
		return 0, err
	}
	n := 0
	err := db.update(context.Background(), func(tx *bolt.Tx) error {
		n = 0
		items := 0
		closed := tx.Bucket(bucketClosed)
		for items < reclaimBatch {
			k, _ := closed.Cursor().First()
			if k == nil || int64(binary.BigEndian.Uint64(k)) >= before {
				break
			}
			id := binary.BigEndian.Uint64(k[8:])
			if err := closed.Delete(k); err != nil {
				return err
			}
			m, ok, err := getMessage(tx, id)
			if err != nil {
				return err
			}
			if !ok || m.waiting() {
				continue // a stray entry
			}
			for _, del := range []struct{ bucket, key []byte }{
				{bucketOutbox, pairKey(m.Sender, id)},
				{bucketReceived, pairKey(m.Receiver, id)},
				{bucketMessages, itob(id)},
			} {
				if err := tx.Bucket(del.bucket).Delete(del.key); err != nil {
					return err
				}
			}
			items += 1 + m.Items
			n++
		}
		return nil
	})
	return n, err
}

// deleteExpiredInvites deletes the invitations past their expiry, with
// their index entries. (Each lives at least a day, so the daily count of
// invitations never misses one.)
func (db *DB) deleteExpiredInvites(now int64) (int, error) {
	expired := func(v []byte) bool {
		var rec inviteRecord
		return json.Unmarshal(v, &rec) != nil || now >= rec.Expires
	}
	var keys [][]byte
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketUserInvites).ForEach(func(k, _ []byte) error {
			if v := tx.Bucket(bucketInvites).Get(k[16:]); v == nil || expired(v) {
				keys = append(keys, append([]byte(nil), k...))
			}
			return nil
		})
	}); err != nil || len(keys) == 0 {
		return 0, err
	}
	err := db.update(context.Background(), func(tx *bolt.Tx) error {
		for _, k := range keys {
			if err := tx.Bucket(bucketInvites).Delete(k[16:]); err != nil {
				return err
			}
			if err := tx.Bucket(bucketUserInvites).Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	return len(keys), err
}
