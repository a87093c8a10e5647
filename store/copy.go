package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/paths"
)

// A copy makes a node for every node below its source, and every writer
// waits on the one write transaction. So a tree of more than copyBatch
// nodes is copied in steps: its nodes are read in one read transaction
// (a consistent snapshot), the copy is built in transactions of copyBatch
// nodes each, unlinked and listed in the copying bucket, and the last
// transaction checks the destination and the quota and links it, as a
// small copy's one transaction does. A copy that fails goes to the trash,
// as does one a crash cut off (at the next Open): nothing is left but what
// Reclaim deletes. (It is not built in the trash itself: a reclaim that
// some other request runs meanwhile would delete it.)

// errCutOffForTest ends a copy after its first step, as a crash would
// (DB.cutCopiesForTest).
var errCutOffForTest = errors.New("copy cut off for a test")

// copyBatch is how many nodes one transaction of a copy makes.
const copyBatch = 500

// MaxCopyNodes bounds the files and folders one copy may make: they are
// held in memory while it runs.
const MaxCopyNodes = 200_000

// Copy copies the file or folder at src to the full path dst, sharing the
// content (no bytes are copied). Errors are Move's, QUOTA_EXCEEDED when the
// copy does not fit the storage quota, and METHOD_BAD_REQUEST for a tree of
// more than MaxCopyNodes; replace is Move's.
func (db *DB) Copy(ctx context.Context, userID uint64, t ferry.Transfer) error {
	for try := 1; ; try++ {
		err := db.copyOnce(ctx, userID, t)
		if err != errSnapshotStale || try == 3 {
			return err
		}
	}
}

func (db *DB) copyOnce(ctx context.Context, userID uint64, t ferry.Transfer) error {
	var tree []node
	err := db.bolt.View(func(tx *bolt.Tx) error {
		n, err := checkTransfer(tx, userID, t)
		if err != nil {
			return err
		}
		limits, err := db.limitsOf(tx, userID)
		if err != nil {
			return err
		}
		if err := limits.CheckStorage(usageOf(tx, userID), n.size); err != nil && !t.Replace {
			return err
		}
		tree, err = snapshotTree(tx, n)
		return err
	})
	if err != nil {
		return err
	}
	now := db.now().UnixNano()
	var released []sum
	if len(tree) <= copyBatch {
		err = db.update(ctx, func(tx *bolt.Tx) error {
			n, parent, name, rel, err := prepareTransfer(tx, userID, t, now)
			released = rel
			if err != nil {
				return err
			}
			if err := db.charge(tx, userID, n.size); err != nil {
				return err
			}
			props, err := copyTree(tx, n, parent.id, name)
			if err != nil {
				return err
			}
			if err := chargeProps(tx, userID, props); err != nil {
				return err
			}
			return addToTotals(tx, parent.id, n.size)
		})
	} else {
		released, err = db.copyInSteps(ctx, userID, t, tree)
	}
	db.release(released)
	db.reclaimNow()
	return err
}

// checkTransfer checks a move or copy as far as it can without writing,
// and returns the source node: Move and Copy call it in a read
// transaction first, and prepareTransfer in the write.
func checkTransfer(tx *bolt.Tx, userID uint64, t ferry.Transfer) (node, error) {
	src, dst := t.Src, t.Dst
	if len(src) == 0 {
		return node{}, ferry.Errorf(ferry.EBADREQUEST, "The root folder cannot be moved or copied.")
	}
	n, err := walk(tx, userID, src)
	if err != nil {
		return n, err
	}
	if n.dir && paths.IsWithin(dst, src) {
		return n, ferry.Errorf(ferry.EBADREQUEST, "A folder cannot go into itself.")
	}
	if len(dst) == 0 {
		return n, ferry.Errorf(ferry.EFILEEXISTS, "The destination is the root folder.")
	}
	if name := dst[len(dst)-1]; name != src[len(src)-1] {
		// A new name; one made before paths.CheckNew may keep its own.
		if err := paths.CheckNew(name); err != nil {
			return n, err
		}
	}
	// Down dst's parents, as far as they exist.
	noParent := func() error {
		return ferry.Errorf(ferry.EFILENOTFOUND, "No folder %q to hold %q.", paths.Join(dst[:len(dst)-1]), dst[len(dst)-1])
	}
	at, ok, err := rootOf(tx, userID, false)
	if err != nil {
		return n, err
	}
	for i := 0; ok && i < len(dst)-1; i++ {
		id := childID(tx, at.id, dst[i])
		if ok = id != 0; !ok {
			break
		}
		if at, err = getNode(tx, id); err != nil {
			return n, err
		}
		if !at.dir {
			if t.NoParents {
				return n, noParent()
			}
			return n, ferry.Errorf(ferry.EFILEEXISTS, "%q is a file.", paths.Join(dst[:i+1]))
		}
	}
	switch {
	case !ok && t.NoParents && len(dst) > 1:
		return n, noParent()
	case !ok || childID(tx, at.id, dst[len(dst)-1]) == 0:
		return n, nil
	case !t.Replace:
		return n, ferry.Errorf(ferry.EFILEEXISTS, "%q exists already.", paths.Join(dst))
	case paths.IsWithin(src, dst):
		return n, ferry.Errorf(ferry.EBADREQUEST, "%q holds the source.", paths.Join(dst))
	}
	return n, nil
}

// snapshotTree returns n and everything below it, each folder before what
// is in it; it stops at MaxCopyNodes+1 nodes with METHOD_BAD_REQUEST.
func snapshotTree(tx *bolt.Tx, n node) ([]node, error) {
	tree := []node{n}
	for i := 0; i < len(tree); i++ {
		if !tree[i].dir {
			continue
		}
		for _, id := range children(tx, tree[i].id) {
			c, err := getNode(tx, id)
			if err != nil {
				return nil, err
			}
			if tree = append(tree, c); len(tree) > MaxCopyNodes {
				return nil, ferry.Errorf(ferry.EBADREQUEST, "A copy may make at most %d files and folders; copy the folders inside it one by one.", MaxCopyNodes)
			}
		}
	}
	return tree, nil
}

// copyInSteps copies tree, a snapshot of the one at src, in transactions
// of copyBatch nodes, then links it at dst. The copy being built is in the
// trash until the link, so on any failure the caller's reclaim deletes it.
func (db *DB) copyInSteps(ctx context.Context, userID uint64, t ferry.Transfer, tree []node) ([]sum, error) {
	made := make(map[uint64]uint64, len(tree)) // source id -> copy id
	released, err := db.buildAndLink(ctx, userID, t, tree, made)
	if err == errCutOffForTest {
		return nil, err // as if the process had ended here
	}
	if top, ok := made[tree[0].id]; err != nil && ok {
		// What was built goes to the trash, for the caller's reclaim.
		if aerr := db.update(context.Background(), func(tx *bolt.Tx) error { return abandonCopy(tx, top) }); aerr != nil {
			db.log("abandoning a copy", aerr)
		}
	}
	return released, err
}

// buildAndLink is copyInSteps' work; made maps each source node to its
// copy as the copies are committed.
func (db *DB) buildAndLink(ctx context.Context, userID uint64, t ferry.Transfer, tree []node, made map[uint64]uint64) ([]sum, error) {
	var props int64
	for start := 0; start < len(tree); start += copyBatch {
		batch := tree[start:min(start+copyBatch, len(tree))]
		var local map[uint64]uint64 // made in this batch: source id -> copy id
		var batchProps int64
		err := db.update(ctx, func(tx *bolt.Tx) error {
			batchProps, local = 0, make(map[uint64]uint64, len(batch))
			propsB := tx.Bucket(bucketDeadProps)
			for i, n := range batch {
				c := n
				c.id = 0
				if i == 0 && start == 0 {
					// The top: a node of its own, not yet in any folder.
					id, err := tx.Bucket(bucketNodes).NextSequence()
					if err != nil {
						return err
					}
					c.id, c.parent = id, 0
					if err := putNode(tx, &c); err != nil {
						return err
					}
					if err := tx.Bucket(bucketCopying).Put(itob(c.id), itob(userID)); err != nil {
						return err
					}
				} else {
					if p, ok := local[n.parent]; ok {
						c.parent = p
					} else {
						c.parent = made[n.parent]
					}
					if err := addChild(tx, &c); err != nil {
						return err
					}
				}
				local[n.id] = c.id
				if v := propsB.Get(itob(n.id)); v != nil {
					batchProps += int64(len(v))
					if err := propsB.Put(itob(c.id), bytes.Clone(v)); err != nil {
						return err
					}
				}
				if !c.dir {
					if err := refStoredBlob(tx, c.sum, c.size); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for src, cp := range local {
			made[src] = cp
		}
		props += batchProps
		if db.cutCopiesForTest {
			return nil, errCutOffForTest
		}
	}
	var released []sum
	now := db.now().UnixNano()
	err := db.update(ctx, func(tx *bolt.Tx) error {
		_, parent, name, rel, err := prepareTransfer(tx, userID, t, now)
		released = rel
		if err != nil {
			return err
		}
		if err := db.charge(tx, userID, tree[0].size); err != nil {
			return err
		}
		if err := chargeProps(tx, userID, props); err != nil {
			return err
		}
		c, err := getNode(tx, made[tree[0].id])
		if err != nil {
			return err
		}
		c.parent, c.name = parent.id, name
		if err := saveNode(tx, &c); err != nil {
			return err
		}
		if err := tx.Bucket(bucketCopying).Delete(itob(c.id)); err != nil {
			return err
		}
		return addToTotals(tx, parent.id, c.size)
	})
	return released, err
}

// copyTree copies src and everything below it as the child name of parent,
// counting one more reference to each file's blob, with the WebDAV
// properties of each; it returns the bytes of properties it copied.
func copyTree(tx *bolt.Tx, src node, parent uint64, name string) (props int64, err error) {
	type job struct {
		src    node
		parent uint64
		name   string
	}
	propsB := tx.Bucket(bucketDeadProps)
	stack := []job{{src, parent, name}}
	for len(stack) > 0 {
		j := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		c := j.src
		c.id, c.parent, c.name = 0, j.parent, j.name
		if err := addChild(tx, &c); err != nil {
			return 0, err
		}
		if v := propsB.Get(itob(j.src.id)); v != nil {
			props += int64(len(v))
			if err := propsB.Put(itob(c.id), bytes.Clone(v)); err != nil {
				return 0, err
			}
		}
		if !c.dir {
			if err := refBlob(tx, c.sum, c.size); err != nil {
				return 0, err
			}
			continue
		}
		for _, id := range children(tx, j.src.id) {
			child, err := getNode(tx, id)
			if err != nil {
				return 0, err
			}
			stack = append(stack, job{child, c.id, child.name})
		}
	}
	return props, nil
}

// abandonCopy moves a copy being built into the trash.
func abandonCopy(tx *bolt.Tx, id uint64) error {
	building := tx.Bucket(bucketCopying)
	v := building.Get(itob(id))
	if v == nil {
		return nil
	}
	if err := tx.Bucket(bucketTrash).Put(itob(id), bytes.Clone(v)); err != nil {
		return err
	}
	return building.Delete(itob(id))
}

// abandonCopies moves every copy being built into the trash: at Open, they
// are what a process that ended left.
func abandonCopies(tx *bolt.Tx) error {
	var ids []uint64
	err := tx.Bucket(bucketCopying).ForEach(func(k, _ []byte) error {
		ids = append(ids, binary.BigEndian.Uint64(k))
		return nil
	})
	for _, id := range ids {
		if err == nil {
			err = abandonCopy(tx, id)
		}
	}
	return err
}
