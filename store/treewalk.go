package store

import (
	"bytes"
	"encoding/binary"

	bolt "go.etcd.io/bbolt"
)

// treeWalk is the walk of every user's tree that fsck's check and its
// repair share. It totals each folder from what is below it, counts the
// references the files hold and the size of the properties kept, and
// reports what disagrees with what is stored; with repair set it also
// makes the store agree, in the walk's write transaction, and reports
// each fix instead.
type treeWalk struct {
	tx     *bolt.Tx
	repair bool
	report func(format string, args ...any)
	seen   map[uint64]bool // nodes reached
	refs   map[sum]uint64  // references counted, by blob
	props  int64           // properties' bytes of the current user's nodes
}

func newTreeWalk(tx *bolt.Tx, repair bool, report func(format string, args ...any)) *treeWalk {
	return &treeWalk{tx: tx, repair: repair, report: report, seen: map[uint64]bool{}, refs: map[sum]uint64{}}
}

// users walks every user's tree (after the trash, whose nodes hold
// references and properties until reclaimed) and checks, or sets, each
// user's normal and props.
func (w *treeWalk) users() error {
	trashProps, err := walkTrash(w.tx, w.seen, w.refs)
	if err != nil {
		return err
	}
	return w.tx.Bucket(bucketUsers).ForEach(func(k, _ []byte) error {
		userID := binary.BigEndian.Uint64(k)
		w.props = trashProps[userID]
		var total int64
		if root, ok, err := rootOf(w.tx, userID, false); err != nil {
			return err
		} else if ok {
			if total, err = w.total(root); err != nil {
				return err
			}
		}
		u := usageOf(w.tx, userID)
		if u.Normal == total && u.Props == w.props {
			return nil
		}
		if !w.repair {
			if u.Normal != total {
				w.report("user %d has normal %d, but their files total %d", userID, u.Normal, total)
			}
			if u.Props != w.props {
				w.report("user %d has props %d, but their files' WebDAV properties total %d", userID, u.Props, w.props)
			}
			return nil
		}
		w.report("user %d: normal %d -> %d, props %d -> %d", userID, u.Normal, total, u.Props, w.props)
		u.Normal, u.Props = total, w.props
		return putUsage(w.tx, userID, u)
	})
}

// total walks the tree below n and returns the size of its files.
func (w *treeWalk) total(n node) (int64, error) {
	tx := w.tx
	w.seen[n.id] = true
	w.props += int64(len(tx.Bucket(bucketDeadProps).Get(itob(n.id))))
	if !n.dir {
		w.refs[n.sum]++
		return n.size, nil
	}
	kids := tx.Bucket(bucketChildren)
	type kid struct {
		id   uint64
		name string
	}
	var list []kid
	prefix := itob(n.id)
	c := kids.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var id uint64
		if len(v) >= 8 {
			id = binary.BigEndian.Uint64(v)
		}
		list = append(list, kid{id, string(k[8:])})
	}
	var total int64
	for _, k := range list {
		child, err := getNode(tx, k.id)
		if err != nil {
			if !w.repair {
				w.report("folder %d lists child %d, which is missing", n.id, k.id)
				continue
			}
			w.report("folder %d lists %q as node %d, which is missing: entry deleted", n.id, k.name, k.id)
			if err := kids.Delete(childKey(n.id, k.name)); err != nil {
				return 0, err
			}
			continue
		}
		if child.parent != n.id || child.name != k.name {
			if !w.repair {
				w.report("node %d (%q) is listed under %d but names parent %d", child.id, child.name, n.id, child.parent)
			} else {
				w.report("node %d: parent and name set to %d, %q", child.id, n.id, k.name)
				child.parent, child.name = n.id, k.name
				if err := putNode(tx, &child); err != nil {
					return 0, err
				}
			}
		}
		s, err := w.total(child)
		if err != nil {
			return 0, err
		}
		total += s
	}
	changed := false
	if total != n.size {
		if !w.repair {
			w.report("folder %d (%q) has size %d, but its contents total %d", n.id, n.name, n.size, total)
		} else {
			w.report("folder %d (%q): size %d -> %d", n.id, n.name, n.size, total)
			n.size, changed = total, true
		}
	}
	if n.parent == 0 && !changed {
		return total, nil
	}
	if entry := kids.Get(childKey(n.parent, n.name)); n.parent != 0 && !bytes.Equal(entry, n.childValue()) && !changed {
		if !w.repair {
			w.report("node %d (%q): its entry under %d says %x, the node %x", n.id, n.name, n.parent, entry, n.childValue())
			return total, nil
		}
		w.report("node %d (%q): its entry under %d rewritten", n.id, n.name, n.parent)
		changed = true
	}
	if changed {
		return total, saveNode(tx, &n)
	}
	return total, nil
}
