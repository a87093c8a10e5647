package store

import (
	"context"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
)

// The properties WebDAV clients set on files and folders (PROPPATCH) are
// kept by node id, as the client's encoding of them; they count toward
// their owner's Usage.Props.

// maxDeadProps bounds the properties a client may keep on one file or
// folder, and maxUserProps those of all of one user's files and folders
// (Usage.Props): they live in the database, outside the storage quota.
const (
	maxDeadProps = 64 << 10
	maxUserProps = 1 << 20
)

// DeadProps returns what PatchDeadProps last stored for the file or folder
// at names (nil when nothing).
func (db *DB) DeadProps(ctx context.Context, userID uint64, names []string) ([]byte, error) {
	var out []byte
	err := db.bolt.View(func(tx *bolt.Tx) error {
		n, err := walk(tx, userID, names)
		if err != nil || n.id == 0 {
			return err
		}
		out = append(out, tx.Bucket(bucketDeadProps).Get(itob(n.id))...)
		return nil
	})
	return out, err
}

// PatchDeadProps replaces the properties of the file or folder at names
// with what patch makes of the stored ones, in one transaction. The
// properties go with the node: a move keeps them, a delete drops them.
func (db *DB) PatchDeadProps(ctx context.Context, userID uint64, names []string, patch func(old []byte) ([]byte, error)) error {
	now := db.now().UnixNano()
	return db.update(ctx, func(tx *bolt.Tx) error {
		n, err := walk(tx, userID, names)
		if err != nil {
			return err
		}
		if n.id == 0 { // a root not made yet
			if n, err = mkdirAll(tx, userID, nil, now); err != nil {
				return err
			}
		}
		props := tx.Bucket(bucketDeadProps)
		old := props.Get(itob(n.id))
		v, err := patch(old)
		if err != nil {
			return err
		}
		if len(v) > maxDeadProps {
			return ferry.Errorf(ferry.ETOOLARGE, "The properties are over %d bytes.", maxDeadProps)
		}
		if delta := int64(len(v) - len(old)); delta > 0 {
			if err := db.checkSpace(delta); err != nil {
				return err
			}
		}
		if err := chargeProps(tx, userID, int64(len(v)-len(old))); err != nil {
			return err
		}
		if len(v) == 0 {
			return props.Delete(itob(n.id))
		}
		return props.Put(itob(n.id), v)
	})
}

// orphanDeadProps returns the keys of properties kept for nodes that no
// longer exist.
func orphanDeadProps(tx *bolt.Tx) [][]byte {
	nodes := tx.Bucket(bucketNodes)
	var gone [][]byte
	_ = tx.Bucket(bucketDeadProps).ForEach(func(k, _ []byte) error {
		if nodes.Get(k) == nil {
			gone = append(gone, append([]byte(nil), k...))
		}
		return nil
	})
	return gone
}

// checkDeadProps reports properties kept for nodes that no longer exist.
func checkDeadProps(tx *bolt.Tx) []string {
	var problems []string
	for _, k := range orphanDeadProps(tx) {
		problems = append(problems, fmt.Sprintf("dead properties of node %d, which does not exist", binary.BigEndian.Uint64(k)))
	}
	return problems
}

// dropDeadProps deletes the properties kept for nodes that no longer exist.
func dropDeadProps(tx *bolt.Tx, fix func(format string, args ...any)) error {
	props := tx.Bucket(bucketDeadProps)
	for _, k := range orphanDeadProps(tx) {
		fix("dead properties of node %d, which does not exist: deleted", binary.BigEndian.Uint64(k))
		if err := props.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
