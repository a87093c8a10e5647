package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
)

// A send is a message per file or folder, with the items it carries: each
// item's path relative to the message's destination, size and SHA-256. A
// pending message pins its blobs (one reference per file item), so the
// receiver gets what was sent whatever the sender does later; accepting
// makes the receiver's nodes over the same blobs, declining or expiry drops
// the pins. No bytes are copied.
//
// Buckets: messages (id -> JSON header), message_items (id + seq -> item),
// inbox (receiver + id, pending only), outbox (sender + id), pending (created
// time + id, pending only, for the expiry sweep).

type messageRecord struct {
	Sender      uint64 `json:"sender"`
	Receiver    uint64 `json:"receiver"`
	Destination string `json:"destination"`
	Folder      bool   `json:"folder,omitempty"`
	Size        int64  `json:"size"`
	Items       int    `json:"items"`
	Created     int64  `json:"created"`
	Status      string `json:"status"`
	Closed      int64  `json:"closed,omitempty"`
}

// item is one file or folder of a message. Record: flags 1 | size 8 |
// sha256 32 | path relative to the destination ("" for a single file).
type item struct {
	dir  bool
	size int64
	sum  sum
	path string
}

func (it *item) encode() []byte {
	b := make([]byte, 41+len(it.path))
	if it.dir {
		b[0] = 1
	}
	binary.BigEndian.PutUint64(b[1:], uint64(it.size))
	copy(b[9:41], it.sum[:])
	copy(b[41:], it.path)
	return b
}

func decodeItem(v []byte) (item, error) {
	if len(v) < 41 {
		return item{}, fmt.Errorf("message item of %d bytes", len(v))
	}
	return item{dir: v[0] == 1, size: int64(binary.BigEndian.Uint64(v[1:])), sum: sum(v[9:41]), path: string(v[41:])}, nil
}

func pairKey(a, b uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, a)
	binary.BigEndian.PutUint64(k[8:], b)
	return k
}

func itemKey(msg uint64, seq int) []byte {
	k := make([]byte, 12)
	binary.BigEndian.PutUint64(k, msg)
	binary.BigEndian.PutUint32(k[8:], uint32(seq))
	return k
}

func getMessage(tx *bolt.Tx, id uint64) (messageRecord, bool, error) {
	var m messageRecord
	v := tx.Bucket(bucketMessages).Get(itob(id))
	if v == nil {
		return m, false, nil
	}
	return m, true, json.Unmarshal(v, &m)
}

func putMessage(tx *bolt.Tx, id uint64, m *messageRecord) error {
	v, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketMessages).Put(itob(id), v)
}

// messageItems returns the items of message id, in order.
func messageItems(tx *bolt.Tx, id uint64) ([]item, error) {
	var items []item
	prefix := itob(id)
	c := tx.Bucket(bucketMessageItems).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		it, err := decodeItem(v)
		if err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	return items, nil
}

// expired reports whether a pending message is past its expiry at now.
func (db *DB) expired(m *messageRecord, now time.Time) bool {
	return m.Status == ferry.StatusPending && now.UnixNano()-m.Created >= int64(db.rules.sendExpire)
}

// closeMessage ends a pending message with status: it drops the pins and
// the pending indexes, and returns the blobs whose last reference went.
func closeMessage(tx *bolt.Tx, id uint64, m *messageRecord, status string, now time.Time) ([]sum, error) {
	items, err := messageItems(tx, id)
	if err != nil {
		return nil, err
	}
	var released []sum
	for _, it := range items {
		if it.dir {
			continue
		}
		last, err := unrefBlob(tx, it.sum)
		if err != nil {
			return nil, err
		}
		if last {
			released = append(released, it.sum)
		}
		if err := unpinSend(tx, m.Sender, it.sum); err != nil {
			return nil, err
		}
	}
	if err := tx.Bucket(bucketInbox).Delete(pairKey(m.Receiver, id)); err != nil {
		return nil, err
	}
	if err := tx.Bucket(bucketPending).Delete(pairKey(uint64(m.Created), id)); err != nil {
		return nil, err
	}
	m.Status, m.Closed = status, now.UnixNano()
	return released, putMessage(tx, id, m)
}

// release removes the files of released blobs, logging failures: the
// change has committed, and start-up removes what is left.
func (db *DB) release(released []sum) {
	if err := db.releaseBlobs(released); err != nil {
		db.log("removing released blobs", err)
	}
}

// Outbox returns every message sender has sent, oldest first.
func (db *DB) Outbox(ctx context.Context, senderID uint64) ([]ferry.Message, error) {
	return db.listMessages(bucketOutbox, senderID, false)
}

func (db *DB) listMessages(index []byte, userID uint64, pendingOnly bool) ([]ferry.Message, error) {
	now := db.now()
	list := []ferry.Message{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		names := map[uint64]*ferry.User{}
		user := func(id uint64) (*ferry.User, error) {
			if u, ok := names[id]; ok {
				return u, nil
			}
			u, err := db.findUserByID(tx, id)
			names[id] = u
			return u, err
		}
		prefix := itob(userID)
		c := tx.Bucket(index).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			id := binary.BigEndian.Uint64(k[8:])
			m, ok, err := getMessage(tx, id)
			if err != nil {
				return err
			} else if !ok {
				return fmt.Errorf("message %d is indexed but missing", id)
			}
			status := m.Status
			if db.expired(&m, now) {
				if pendingOnly {
					continue
				}
				status = ferry.StatusExpired
			}
			sender, err := user(m.Sender)
			if err != nil {
				return err
			}
			receiver, err := user(m.Receiver)
			if err != nil {
				return err
			}
			list = append(list, ferry.Message{
				ID:          id,
				Destination: m.Destination,
				Folder:      m.Folder,
				Size:        m.Size,
				Created:     time.Unix(0, m.Created).UTC(),
				Status:      status,
				SenderName:  sender.FullName,
				SenderEmail: sender.Email,
				SenderPhoto: sender.PhotoToken,
				To:          receiver.Email,
			})
		}
		return nil
	})
	return list, err
}

// ExpireMessages ends the pending messages past their expiry, releasing
// their pins, and returns how many it ended. With none due it writes
// nothing.
func (db *DB) ExpireMessages() (int, error) {
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
	var any bool
	if err := db.bolt.View(func(tx *bolt.Tx) error { any = len(due(tx, 1)) > 0; return nil }); err != nil || !any {
		return 0, err
	}
	// Messages are closed in transactions of about reclaimBatch items, so
	// that many sends expiring at once never hold the write for long.
	total := 0
	for more := true; more; {
		n := 0
		var released []sum
		err := db.update(context.Background(), func(tx *bolt.Tx) error {
			n, released, more = 0, released[:0], false
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
				if !ok || m.Status != ferry.StatusPending {
					if err := tx.Bucket(bucketPending).Delete(k); err != nil {
						return err
					}
					continue
				}
				rel, err := closeMessage(tx, id, &m, ferry.StatusExpired, now)
				if err != nil {
					return err
				}
				released = append(released, rel...)
				items += 1 + m.Items
				n++
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		db.release(released)
		total += n
	}
	return total, nil
}
