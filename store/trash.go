package store

import (
	"context"
	"encoding/binary"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
)

// Deleting a folder costs a write per node below it, and every writer
// waits on the one write transaction: a delete of 100,000 nodes in one
// transaction held everyone else for about a second. So a delete only
// detaches the folder in the request's transaction (its parent's totals
// and the owner's normal follow at once, so the quota is right at once);
// the folder goes into the trash bucket, and Reclaim deletes what is
// below it in transactions of at most reclaimBatch nodes each, between
// which other writes go ahead. Until then its files keep their blobs'
// references, so no content goes away early. The request that deleted
// the folder reclaims it before it answers; a crash leaves the trash to
// the start-up sweep.
//
// trash: node id -> owner's user id 8

// reclaimBatch is how many nodes one reclaiming transaction deletes.
const reclaimBatch = 500

// removeTree unlinks n from its parent and deletes it: a file or an empty
// folder at once, a folder with anything in it by way of the trash. The
// parents' totals and the user's usage follow (what a pending send of the
// user carries moves from normal to held, for trashed files as they are
// reclaimed), and the blobs whose last reference went are appended to
// released.
func removeTree(tx *bolt.Tx, userID uint64, n node, released []sum) ([]sum, error) {
	if err := tx.Bucket(bucketChildren).Delete(childKey(n.parent, n.name)); err != nil {
		return nil, err
	}
	if err := addToTotals(tx, n.parent, -n.size); err != nil {
		return nil, err
	}
	if err := uncharge(tx, userID, n.size); err != nil {
		return nil, err
	}
	if n.dir && firstChild(tx, n.id) != 0 {
		return released, tx.Bucket(bucketTrash).Put(itob(n.id), itob(userID))
	}
	var c charges
	released, err := deleteNode(tx, userID, n, released, &c)
	if err != nil {
		return nil, err
	}
	return released, c.apply(tx)
}

// charges are the changes to users' held and props that a reclaiming
// transaction gathers, to write each user's usage once.
type charges map[uint64]*[2]int64 // user -> held, props

func (c *charges) add(userID uint64, held, props int64) {
	if *c == nil {
		*c = charges{}
	}
	d := (*c)[userID]
	if d == nil {
		d = new([2]int64)
		(*c)[userID] = d
	}
	d[0] += held
	d[1] += props
}

func (c charges) apply(tx *bolt.Tx) error {
	for userID, d := range c {
		if d[0] == 0 && d[1] == 0 || tx.Bucket(bucketUsers).Get(itob(userID)) == nil {
			continue // nothing to charge, or a deleted account's folder
		}
		if err := updateUsage(tx, userID, func(u *ferry.Usage) error {
			u.Held += d[0]
			u.Props -= d[1]
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// deleteNode deletes a file, or a folder with nothing below it, already
// unlinked from its parent: its record, its properties and (a file) its
// blob's reference.
func deleteNode(tx *bolt.Tx, userID uint64, n node, released []sum, c *charges) ([]sum, error) {
	if err := tx.Bucket(bucketNodes).Delete(itob(n.id)); err != nil {
		return nil, err
	}
	props := tx.Bucket(bucketDeadProps)
	var held int64
	if v := props.Get(itob(n.id)); v != nil {
		c.add(userID, 0, int64(len(v)))
		if err := props.Delete(itob(n.id)); err != nil {
			return nil, err
		}
	}
	if n.dir {
		return released, nil
	}
	last, err := unrefBlob(tx, n.sum)
	if err != nil {
		return nil, err
	}
	if last {
		released = append(released, n.sum)
	}
	if held, err = holdIfSent(tx, userID, n.sum, n.size); err != nil {
		return nil, err
	}
	c.add(userID, held, 0)
	return released, nil
}

// firstChild returns the id of a folder's first child, 0 when it has none.
func firstChild(tx *bolt.Tx, parent uint64) uint64 {
	if ids := firstChildren(tx, parent, 1); len(ids) == 1 {
		return ids[0]
	}
	return 0
}

// reclaimNow reclaims the trash after a commit that may have put
// something there; a failure is left to the sweep.
func (db *DB) reclaimNow() {
	if db.leaveTrash {
		return
	}
	if _, err := db.Reclaim(); err != nil {
		db.log("reclaiming deleted folders", err)
	}
}

// trashEmpty reports whether nothing waits to be reclaimed.
func (db *DB) trashEmpty() bool {
	empty := true
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bucketTrash).Cursor().First()
		empty = k == nil
		return nil
	})
	return empty
}

// Reclaim deletes what is in the trash, reclaimBatch nodes a transaction,
// and returns how many nodes it deleted; with nothing there it writes
// nothing. Blob files whose last reference went are removed after each
// transaction.
func (db *DB) Reclaim() (int, error) {
	total := 0
	for !db.trashEmpty() {
		var released []sum
		var n int
		err := db.update(context.Background(), func(tx *bolt.Tx) error {
			var err error
			released, n, err = reclaimSome(tx, reclaimBatch)
			return err
		})
		if err != nil {
			return total, err
		}
		db.release(released)
		total += n
	}
	return total, nil
}

// reclaimSome deletes up to max nodes of the trash: the files and empty
// folders of each trashed folder, and the folder once empty; a folder
// below one goes into the trash itself.
func reclaimSome(tx *bolt.Tx, max int) (released []sum, done int, err error) {
	trash := tx.Bucket(bucketTrash)
	kids := tx.Bucket(bucketChildren)
	var c charges
	for done < max {
		k, v := trash.Cursor().First()
		if k == nil {
			break
		}
		id, userID := binary.BigEndian.Uint64(k), binary.BigEndian.Uint64(v)
		dir, err := getNode(tx, id)
		if err != nil {
			return nil, 0, err
		}
		for _, childID := range firstChildren(tx, id, max-done) {
			child, err := getNode(tx, childID)
			if err != nil {
				return nil, 0, err
			}
			if err := kids.Delete(childKey(id, child.name)); err != nil {
				return nil, 0, err
			}
			done++
			if child.dir && firstChild(tx, child.id) != 0 {
				if err := trash.Put(itob(child.id), itob(userID)); err != nil {
					return nil, 0, err
				}
				continue
			}
			if released, err = deleteNode(tx, userID, child, released, &c); err != nil {
				return nil, 0, err
			}
		}
		if firstChild(tx, id) != 0 {
			break // the batch is full
		}
		if err := trash.Delete(itob(id)); err != nil { // not k: the bucket changed since the cursor gave it
			return nil, 0, err
		}
		if released, err = deleteNode(tx, userID, dir, released, &c); err != nil {
			return nil, 0, err
		}
		done++
	}
	return released, done, c.apply(tx)
}

// eachTrashed calls f with every node in the trash or in a copy being
// built, and below them, and its owner: they are not reachable from a
// root, but still hold their blobs.
func eachTrashed(tx *bolt.Tx, f func(userID uint64, n node) error) error {
	if err := eachBelow(tx, bucketTrash, f); err != nil {
		return err
	}
	return eachBelow(tx, bucketCopying, f)
}

func eachBelow(tx *bolt.Tx, bucket []byte, f func(userID uint64, n node) error) error {
	return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
		userID := binary.BigEndian.Uint64(v)
		top, err := getNode(tx, binary.BigEndian.Uint64(k))
		if err != nil {
			return err
		}
		stack := []node{top}
		for len(stack) > 0 {
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if err := f(userID, n); err != nil {
				return err
			}
			for _, id := range children(tx, n.id) {
				child, err := getNode(tx, id)
				if err != nil {
					return err
				}
				stack = append(stack, child)
			}
		}
		return nil
	})
}
