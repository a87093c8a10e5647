package store

import (
	"bytes"
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
	// Request is the file request of a delivery, whose sender is the
	// outsider as they named themself (Sender 0: they have no account).
	Request       uint64 `json:"request,omitempty"`
	OutsiderName  string `json:"outsider_name,omitempty"`
	OutsiderEmail string `json:"outsider_email,omitempty"`
	// Held says that content it carries waits for the virus scanner
	// (scan.go).
	Held bool `json:"held,omitempty"`
	// A send across nodes (remote.go): RemoteNode is the other node; an
	// outbound message (Receiver 0) names its receiver by RemoteTo; an
	// inbound one (Sender 0) is RemoteID there, its sender named as
	// OutsiderName and OutsiderEmail, and RemoteObjects holds where each
	// of its blobs is in the sending node's objects (by SHA-256 in hex).
	RemoteNode    string            `json:"remote_node,omitempty"`
	RemoteTo      string            `json:"remote_to,omitempty"`
	RemoteID      uint64            `json:"remote_id,omitempty"`
	RemoteObjects map[string]string `json:"remote_objects,omitempty"`
	// RemoteVia is, for an inbound message whose receiver moved here, the
	// node its sender's node sent it to: the decision names it (move.go).
	RemoteVia string `json:"remote_via,omitempty"`
	// Mirror is, on the node an account moved to, one of its sends that
	// stays on the node it moved from (RemoteNode): it holds no blob here.
	Mirror bool `json:"mirror,omitempty"`
	// RelayNode and RelayID are, on the node an account moved from, the
	// node it moved to and the mirror there of this send of its: its
	// decision goes there.
	RelayNode  string `json:"relay_node,omitempty"`
	RelayID    uint64 `json:"relay_id,omitempty"`
	fromRemote bool   // ended by the other node's envelope: nothing to tell it
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
		if it.dir || m.blobless() {
			continue
		}
		last, err := unrefBlob(tx, it.sum)
		if err != nil {
			return nil, err
		}
		if last {
			released = append(released, it.sum)
		}
		if m.Sender == 0 {
			continue // a delivery: no sender's pins
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
	if m.Held {
		m.Held = false
		if err := tx.Bucket(bucketScanHeld).Delete(itob(id)); err != nil {
			return nil, err
		}
	}
	if err := closeRemote(tx, id, m, status); err != nil {
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
