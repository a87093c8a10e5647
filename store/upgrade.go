package store

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The upgrades of older layouts, run by Open (db.go, init) in its one
// transaction, in the order that comment gives: a crash or a failure part
// way leaves the file as it was, to upgrade at the next start.

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

// migrateSendPins makes the send pins of a store written by schema 1,
// which had none: from the pending messages, with nothing held.
func migrateSendPins(tx *bolt.Tx) error {
	pins, err := countPins(tx, nil)
	if err != nil {
		return fmt.Errorf("count send pins: %w", err)
	}
	b := tx.Bucket(bucketSendPins)
	for k, n := range pins {
		if err := b.Put([]byte(k), encodeSendPin(n, 0)); err != nil {
			return err
		}
	}
	return nil
}

// migrateClosed builds the index closed from the closed messages (schema
// 5); one closed before Closed was recorded counts from its creation.
func migrateClosed(tx *bolt.Tx) error {
	index := tx.Bucket(bucketClosed)
	return tx.Bucket(bucketMessages).ForEach(func(k, v []byte) error {
		m, err := decodeMessage(v)
		if err != nil {
			return fmt.Errorf("message %x: %w", k, err)
		}
		if m.waiting() {
			return nil
		}
		at := m.Closed
		if at == 0 {
			at = m.Created
		}
		return index.Put(pairKey(uint64(at), binary.BigEndian.Uint64(k)), nil)
	})
}

// migrateLinks gives the links of a version 2 store (owner, node, expiry)
// an id, a creation time (now) and an entry in user_links.
func migrateLinks(tx *bolt.Tx, now int64) error {
	links, index := tx.Bucket(bucketLinks), tx.Bucket(bucketUserLinks)
	type old struct{ k, v []byte }
	var olds []old
	err := links.ForEach(func(k, v []byte) error {
		if len(v) == 24 {
			olds = append(olds, old{append([]byte(nil), k...), append([]byte(nil), v...)})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, o := range olds {
		id, err := index.NextSequence()
		if err != nil {
			return err
		}
		l := linkRecord{owner: binary.BigEndian.Uint64(o.v[0:]), node: binary.BigEndian.Uint64(o.v[8:]),
			expires: int64(binary.BigEndian.Uint64(o.v[16:])), id: id, created: now}
		if err := index.Put(pairKey(l.owner, id), o.k); err != nil {
			return err
		}
		if err := links.Put(o.k, l.encode()); err != nil {
			return err
		}
	}
	return nil
}
