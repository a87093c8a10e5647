package store

import (
	"bytes"
	"encoding/binary"

	bolt "go.etcd.io/bbolt"
)

// What counts against a user's storage besides their files
// (ferry.Usage.Charged):
//
//   - Reserved: the room of their resumable uploads in progress, taken
//     when the upload is created and given back when it is finalized,
//     refused, expires or is deleted.
//   - Held: the rule for pending sends. A send pins the content it carries
//     without counting against anyone, since the sender still has the
//     files. A file the sender deletes or replaces while one of their
//     pending sends carries the same content keeps counting, as held,
//     until every send of theirs carrying it is accepted, declined or
//     expires. Without it, upload, send, delete and again would pin any
//     amount for send.expire_after outside every quota.
//
// send_pins: sender id + sha256 -> pins 8 | held 8, where pins is how many
// items of the sender's pending messages carry that content, and held the
// bytes of the sender's deleted files with that content while pins > 0.

// sendPinKey is the key of a sender's pins of one content.
func sendPinKey(sender uint64, h sum) []byte {
	k := make([]byte, 8+len(h))
	binary.BigEndian.PutUint64(k, sender)
	copy(k[8:], h[:])
	return k
}

func decodeSendPin(v []byte) (pins uint64, held int64) {
	if len(v) != 16 {
		return 0, 0
	}
	return binary.BigEndian.Uint64(v), int64(binary.BigEndian.Uint64(v[8:]))
}

func encodeSendPin(pins uint64, held int64) []byte {
	v := make([]byte, 16)
	binary.BigEndian.PutUint64(v, pins)
	binary.BigEndian.PutUint64(v[8:], uint64(held))
	return v
}

// pinSend counts one more item of sender's pending messages carrying h.
func pinSend(tx *bolt.Tx, sender uint64, h sum) error {
	b := tx.Bucket(bucketSendPins)
	k := sendPinKey(sender, h)
	pins, held := decodeSendPin(b.Get(k))
	return b.Put(k, encodeSendPin(pins+1, held))
}

// unpinSend counts one item less; when no pending message of sender
// carries h any more, what was held for it is given back.
func unpinSend(tx *bolt.Tx, sender uint64, h sum) error {
	b := tx.Bucket(bucketSendPins)
	k := sendPinKey(sender, h)
	pins, held := decodeSendPin(b.Get(k))
	if pins > 1 {
		return b.Put(k, encodeSendPin(pins-1, held))
	}
	if err := b.Delete(k); err != nil {
		return err
	}
	return addHeld(tx, sender, -held)
}

// holdIfSent is called when a file of the user with content h and size
// bytes leaves their folder: if a pending send of theirs carries h, the
// size is held, and returned for the caller to add to the user's Held.
func holdIfSent(tx *bolt.Tx, userID uint64, h sum, size int64) (int64, error) {
	b := tx.Bucket(bucketSendPins)
	k := sendPinKey(userID, h)
	v := b.Get(k)
	if v == nil || size == 0 {
		return 0, nil
	}
	pins, held := decodeSendPin(v)
	return size, b.Put(k, encodeSendPin(pins, held+size))
}

// countPins counts, from the pending messages, how many items of each
// sender's carry each content (the send pins), and adds to refs (when not
// nil) one blob reference per file item: what the messages pin, and the
// files of unfinished deliveries.
func countPins(tx *bolt.Tx, refs map[sum]uint64) (map[string]uint64, error) {
	pins := map[string]uint64{}
	count := func(k, _ []byte) error {
		id := binary.BigEndian.Uint64(k[8:])
		m, ok, err := getMessage(tx, id)
		if err != nil || !ok || m.blobless() {
			return err
		}
		items, err := messageItems(tx, id)
		for _, it := range items {
			if !it.dir {
				if m.Sender != 0 { // a delivery pins nobody's
					pins[string(sendPinKey(m.Sender, it.sum))]++
				}
				if refs != nil {
					refs[it.sum]++
				}
			}
		}
		return err
	}
	err := tx.Bucket(bucketPending).ForEach(count)
	if err == nil {
		err = tx.Bucket(bucketRemoteSent).ForEach(count) // sends to another node's users
	}
	if err == nil && refs != nil {
		err = countDeliveryRefs(tx, refs)
	}
	return pins, err
}

// countReserved sums the room each user's uploads in progress hold.
func countReserved(tx *bolt.Tx) (map[uint64]int64, error) {
	reserved := map[uint64]int64{}
	err := tx.Bucket(bucketUploads).ForEach(func(_, v []byte) error {
		rec, err := decodeUpload(v)
		reserved[rec.UserID] += rec.Reserved
		return err
	})
	return reserved, err
}

// checkCharges compares the send pins with the pending messages, and each
// user's Held and Reserved with what their pins and uploads hold; with fix
// set it makes them agree and reports each change through fix, else it
// reports each problem through report.
//
// want is the send pins that the pending messages make (countPins).
func checkCharges(tx *bolt.Tx, report func(format string, args ...any), repair bool, want map[string]uint64) error {
	reserved, err := countReserved(tx)
	if err != nil {
		return err
	}
	held := map[uint64]int64{}
	b := tx.Bucket(bucketSendPins)
	type change struct {
		key []byte
		val []byte // nil: delete
	}
	var changes []change
	err = b.ForEach(func(k, v []byte) error {
		user := binary.BigEndian.Uint64(k)
		pins, h := decodeSendPin(v)
		w := want[string(k)]
		delete(want, string(k))
		switch {
		case w == 0:
			report("send pins of user %d on %x: %d pins, but no pending message carries it", user, k[8:], pins)
			changes = append(changes, change{key: bytes.Clone(k)})
			return nil
		case w != pins:
			report("send pins of user %d on %x: %d pins, but %d pending items carry it", user, k[8:], pins, w)
			changes = append(changes, change{bytes.Clone(k), encodeSendPin(w, h)})
		}
		held[user] += h
		return nil
	})
	if err != nil {
		return err
	}
	for k, w := range want {
		report("send pins of user %d on %x: none, but %d pending items carry it", binary.BigEndian.Uint64([]byte(k)), k[8:], w)
		changes = append(changes, change{[]byte(k), encodeSendPin(w, 0)})
	}
	if repair {
		for _, c := range changes {
			if c.val == nil {
				err = b.Delete(c.key)
			} else {
				err = b.Put(c.key, c.val)
			}
			if err != nil {
				return err
			}
		}
	}
	return tx.Bucket(bucketUsers).ForEach(func(k, _ []byte) error {
		user := binary.BigEndian.Uint64(k)
		u := usageOf(tx, user)
		if u.Held == held[user] && u.Reserved == reserved[user] {
			return nil
		}
		report("user %d: held %d and reserved %d, but their send pins hold %d and their uploads %d",
			user, u.Held, u.Reserved, held[user], reserved[user])
		if !repair {
			return nil
		}
		u.Held, u.Reserved = held[user], reserved[user]
		return putUsage(tx, user, u)
	})
}
