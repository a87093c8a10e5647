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
// Buckets: messages (id -> record), inbox (receiver + id, pending only),
// outbox (sender + id), received (receiver + id), pending (created time +
// id, pending only, for the expiry sweep), closed (closed time + id, for the
// history sweep).
//
// A message's record is its JSON header, a zero byte, then its items, each
// a uvarint length and the item's encoding. JSON never holds a raw zero
// byte, so the first one ends the header. The items never change after the
// send; a change of status rewrites the header and copies them as they are.
// Up to schema 5 the items had a bucket of their own (message_items, id +
// seq -> item), which made every send write the pages of one more bucket.

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
	Landed      string `json:"landed,omitempty"` // where an accepted message was placed
	// Invitee is the email of a message sent with an invitation, while it
	// waits for that account (Receiver 0, status invited).
	Invitee string `json:"invitee,omitempty"`
}

// waiting reports whether a message is still open: pending, or invited.
func (m *messageRecord) waiting() bool {
	return m.Status == ferry.StatusPending || m.Status == ferry.StatusInvited
}

// invitedKey is a message's key in the index invited: the invitee's email,
// a zero byte, the message id.
func invitedKey(email string, id uint64) []byte {
	return append(append([]byte(email), 0), itob(id)...)
}

// item is one file or folder of a message. Record: flags 1 | size 8 |
// sha256 32 | path relative to the destination ("" for a single file).
type item struct {
	dir  bool
	size int64
	sum  sum
	path string
}

// appendTo appends the item's record to b, after its length as a uvarint.
func (it *item) appendTo(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(41+len(it.path)))
	flags := byte(0)
	if it.dir {
		flags = 1
	}
	b = append(b, flags)
	b = binary.BigEndian.AppendUint64(b, uint64(it.size))
	b = append(b, it.sum[:]...)
	return append(b, it.path...)
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

// splitMessage cuts a message's record into its JSON header and its items.
func splitMessage(v []byte) (header, items []byte) {
	if i := bytes.IndexByte(v, 0); i >= 0 {
		return v[:i], v[i+1:]
	}
	return v, nil
}

// decodeMessage reads the header of a message's record v.
func decodeMessage(v []byte) (messageRecord, error) {
	var m messageRecord
	header, _ := splitMessage(v)
	return m, json.Unmarshal(header, &m)
}

func getMessage(tx *bolt.Tx, id uint64) (messageRecord, bool, error) {
	v := tx.Bucket(bucketMessages).Get(itob(id))
	if v == nil {
		return messageRecord{}, false, nil
	}
	m, err := decodeMessage(v)
	return m, true, err
}

// putMessage writes message id's header m and keeps its items.
func putMessage(tx *bolt.Tx, id uint64, m *messageRecord) error {
	_, items := splitMessage(tx.Bucket(bucketMessages).Get(itob(id)))
	return writeMessage(tx, id, m, items)
}

// writeMessage writes message id's record: header m and the encoded items.
func writeMessage(tx *bolt.Tx, id uint64, m *messageRecord, items []byte) error {
	header, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketMessages).Put(itob(id), joinMessage(header, items))
}

// joinMessage makes a message's record of its JSON header and its encoded
// items: splitMessage's inverse.
func joinMessage(header, items []byte) []byte {
	v := make([]byte, 0, len(header)+1+len(items))
	return append(append(append(v, header...), 0), items...)
}

// encodeItems encodes items for a message's record.
func encodeItems(items []item) []byte {
	var b []byte
	for i := range items {
		b = items[i].appendTo(b)
	}
	return b
}

// messageItems returns the items of message id, in order.
func messageItems(tx *bolt.Tx, id uint64) ([]item, error) {
	return itemsOf(tx, id, 0, -1)
}

// itemsOf returns up to limit (all when negative) of the items of message
// id, from the offset-th.
func itemsOf(tx *bolt.Tx, id uint64, offset, limit int) ([]item, error) {
	_, raw := splitMessage(tx.Bucket(bucketMessages).Get(itob(id)))
	return decodeItems(id, raw, offset, limit)
}

// decodeItems is itemsOf for the items part of message id's record.
func decodeItems(id uint64, raw []byte, offset, limit int) ([]item, error) {
	var items []item
	for i := 0; len(raw) > 0 && (limit < 0 || len(items) < limit); i++ {
		n, w := binary.Uvarint(raw)
		if w <= 0 || uint64(len(raw)-w) < n {
			return nil, fmt.Errorf("message %d: item %d is cut short", id, i)
		}
		v := raw[w : w+int(n)]
		raw = raw[w+int(n):]
		if i < offset {
			continue
		}
		it, err := decodeItem(v)
		if err != nil {
			return nil, fmt.Errorf("message %d: %w", id, err)
		}
		items = append(items, it)
	}
	return items, nil
}

// expired reports whether a pending message is past its expiry at now.
func (db *DB) expired(m *messageRecord, now time.Time) bool {
	return m.waiting() && now.UnixNano()-m.Created >= int64(db.rules.sendExpire)
}

// closeMessage ends a pending message with status: it drops the pins and
// the pending indexes, and returns the blobs whose last reference went.
func closeMessage(tx *bolt.Tx, id uint64, m *messageRecord, status string, now time.Time) ([]sum, error) {
	items, err := messageItems(tx, id)
	if err != nil {
		return nil, err
	}
	return closeWithItems(tx, id, m, items, status, now)
}

// closeWithItems is closeMessage given the message's items, read already.
func closeWithItems(tx *bolt.Tx, id uint64, m *messageRecord, items []item, status string, now time.Time) ([]sum, error) {
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
	if m.Invitee != "" {
		if err := tx.Bucket(bucketInvited).Delete(invitedKey(m.Invitee, id)); err != nil {
			return nil, err
		}
	}
	if err := tx.Bucket(bucketPending).Delete(pairKey(uint64(m.Created), id)); err != nil {
		return nil, err
	}
	m.Status, m.Closed = status, now.UnixNano()
	if err := tx.Bucket(bucketClosed).Put(pairKey(uint64(m.Closed), id), nil); err != nil {
		return nil, err
	}
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

// listMessages returns the messages of userID's entries in index, oldest
// first; pendingOnly leaves out those past their expiry.
func (db *DB) listMessages(index []byte, userID uint64, pendingOnly bool) ([]ferry.Message, error) {
	now := db.now()
	list := []ferry.Message{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		users := userCache(tx, db)
		prefix := itob(userID)
		c := tx.Bucket(index).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			msg, err := db.message(tx, binary.BigEndian.Uint64(k[8:]), userID, now, users)
			if err != nil {
				return err
			}
			if pendingOnly && msg.Status != ferry.StatusPending {
				continue
			}
			list = append(list, msg)
		}
		return nil
	})
	return list, err
}

// Received returns up to limit of the messages receiver has accepted,
// declined or let expire, newest first.
func (db *DB) Received(ctx context.Context, receiverID uint64, limit int) ([]ferry.Message, error) {
	now := db.now()
	list := []ferry.Message{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		users := userCache(tx, db)
		prefix := itob(receiverID)
		c := tx.Bucket(bucketReceived).Cursor()
		k, _ := c.Seek(itob(receiverID + 1))
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && len(list) < limit; k, _ = c.Prev() {
			msg, err := db.message(tx, binary.BigEndian.Uint64(k[8:]), receiverID, now, users)
			if err != nil {
				return err
			}
			if msg.Status != ferry.StatusPending {
				list = append(list, msg)
			}
		}
		return nil
	})
	return list, err
}

// userCache returns a lookup of users by id that reads each once. A
// deleted account (the other side of a send) reads as deletedAccount.
func userCache(tx *bolt.Tx, db *DB) func(uint64) (*ferry.User, error) {
	users := map[uint64]*ferry.User{}
	return func(id uint64) (*ferry.User, error) {
		if u, ok := users[id]; ok {
			return u, nil
		}
		u, err := db.findUserByID(tx, id)
		if ferry.ErrorCode(err) == ferry.EUSERNOTFOUND {
			u, err = &deletedAccount, nil
		}
		users[id] = u
		return u, err
	}
}

// deletedAccount stands for the other side of a send whose account was
// deleted.
var deletedAccount = ferry.User{Email: "(deleted account)", FullName: "A deleted account"}

// message returns message id as viewer sees it at now: expired once past
// its expiry, and with where it landed only for its receiver.
func (db *DB) message(tx *bolt.Tx, id, viewer uint64, now time.Time, user func(uint64) (*ferry.User, error)) (ferry.Message, error) {
	m, ok, err := getMessage(tx, id)
	if err != nil {
		return ferry.Message{}, err
	} else if !ok {
		return ferry.Message{}, fmt.Errorf("message %d is indexed but missing", id)
	}
	status := m.Status
	if db.expired(&m, now) {
		status = ferry.StatusExpired
	}
	sender, err := user(m.Sender)
	if err != nil {
		return ferry.Message{}, err
	}
	receiver := &deletedAccount
	if m.Receiver != 0 {
		if receiver, err = user(m.Receiver); err != nil {
			return ferry.Message{}, err
		}
	}
	msg := ferry.Message{
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
		ToName:      receiver.FullName,
		Items:       m.Items,
	}
	if m.Receiver == 0 {
		msg.To = m.Invitee
	}
	if viewer == m.Receiver {
		msg.Landed = m.Landed
	}
	return msg, nil
}

// Contents returns message id with up to limit of the items it carries,
// in order from the offset-th, to its sender or receiver;
// MESSAGE_NOT_FOUND to anyone else.
func (db *DB) Contents(ctx context.Context, userID, id uint64, offset, limit int) (ferry.Message, []ferry.SentItem, error) {
	var msg ferry.Message
	list := []ferry.SentItem{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		m, ok, err := getMessage(tx, id)
		if err != nil {
			return err
		}
		if !ok || (m.Sender != userID && m.Receiver != userID) {
			return ferry.Errorf(ferry.EMESSAGENOTFOUND, "No message %d.", id)
		}
		if msg, err = db.message(tx, id, userID, db.now(), userCache(tx, db)); err != nil {
			return err
		}
		items, err := itemsOf(tx, id, offset, max(limit, 0))
		for _, it := range items {
			list = append(list, ferry.SentItem{Path: it.path, Dir: it.dir, Size: it.size})
		}
		return err
	})
	return msg, list, err
}

// checkMessages reports each message whose record does not read back
// whole: its header, and as many items as the header counts.
func checkMessages(tx *bolt.Tx, report func(string, ...any)) error {
	return tx.Bucket(bucketMessages).ForEach(func(k, v []byte) error {
		id := binary.BigEndian.Uint64(k)
		m, err := decodeMessage(v)
		if err != nil {
			report("message %d: its header does not read: %v", id, err)
			return nil
		}
		_, raw := splitMessage(v)
		items, err := decodeItems(id, raw, 0, -1)
		if err != nil {
			report("%v", err)
		} else if len(items) != m.Items {
			report("message %d has %d items, but its header says %d", id, len(items), m.Items)
		}
		return nil
	})
}

// migrateItems moves each message's items from the bucket message_items
// into its record, and drops that bucket (schema 6). It runs in Open's
// transaction, so a crash leaves the store as it was, to migrate again.
func migrateItems(tx *bolt.Tx) error {
	name := []byte("message_items") // id + seq -> item, up to schema 5
	old := tx.Bucket(name)
	if old == nil {
		return nil
	}
	msgs := tx.Bucket(bucketMessages)
	msgs.FillPercent = appendFill
	var ids [][]byte
	if err := msgs.ForEach(func(k, _ []byte) error {
		ids = append(ids, bytes.Clone(k))
		return nil
	}); err != nil {
		return err
	}
	c := old.Cursor()
	for _, k := range ids {
		header := msgs.Get(k) // all of the record up to schema 5
		if bytes.IndexByte(header, 0) >= 0 {
			return fmt.Errorf("message %x already has items in its record", k)
		}
		if _, err := decodeMessage(header); err != nil {
			return fmt.Errorf("message %x: %w", k, err)
		}
		var items []byte
		for ik, iv := c.Seek(k); ik != nil && bytes.HasPrefix(ik, k); ik, iv = c.Next() {
			if _, err := decodeItem(iv); err != nil {
				return fmt.Errorf("message %x: %w", k, err)
			}
			items = append(binary.AppendUvarint(items, uint64(len(iv))), iv...)
		}
		if err := msgs.Put(k, joinMessage(header, items)); err != nil {
			return err
		}
	}
	return tx.DeleteBucket(name)
}

// migrateReceived builds the index received from the messages (schema 4).
func migrateReceived(tx *bolt.Tx) error {
	index := tx.Bucket(bucketReceived)
	return tx.Bucket(bucketMessages).ForEach(func(k, v []byte) error {
		m, err := decodeMessage(v)
		if err != nil {
			return fmt.Errorf("message %x: %w", k, err)
		}
		return index.Put(pairKey(m.Receiver, binary.BigEndian.Uint64(k)), nil)
	})
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
				rel, err := closeMessage(tx, id, &m, ferry.StatusExpired, now)
				if err != nil {
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
