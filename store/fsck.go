package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"os"

	bolt "go.etcd.io/bbolt"
)

// Fsck checks everything CheckTree checks, and the blob files: that each
// referenced one holds the content its name says (skipped when quick), and
// that no file is in blobs/ without a record. It returns one line per
// problem.
func (db *DB) Fsck(quick bool) ([]string, error) {
	problems, err := db.CheckTree()
	if err != nil {
		return nil, err
	}
	var referenced []sum
	err = db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketBlobs).ForEach(func(k, _ []byte) error {
			referenced = append(referenced, sum(k))
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	known := make(map[sum]bool, len(referenced))
	for _, h := range referenced {
		known[h] = true
		if quick {
			continue
		}
		got, err := hashFile(db.blobPath(h))
		if err != nil {
			continue // a missing file is reported by CheckTree
		}
		if got != h {
			problems = append(problems, fmt.Sprintf("blob %x: its file's content hashes to %x", h, got))
		}
	}
	err = db.eachBlobFile(func(rel string, h sum, named bool) error {
		if !named || !known[h] {
			problems = append(problems, fmt.Sprintf("file %s: no record refers to it", rel))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return problems, nil
}

func hashFile(path string) (sum, error) {
	f, err := os.Open(path)
	if err != nil {
		return sum{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum{}, err
	}
	return sum(h.Sum(nil)), nil
}

// Repair fixes what can be derived from the tree, in one transaction:
// folder totals and children entries, each user's normal, every blob's
// reference count (dropping records nothing refers to), and nodes no root
// reaches (deleted). Then it removes blob files no record refers to. It
// returns one line per fix. What it cannot derive (a missing or damaged
// blob file) it leaves for Fsck to report.
func (db *DB) Repair() ([]string, error) {
	var fixes []string
	var dropped []sum
	err := db.update(func(tx *bolt.Tx) error {
		fixes, dropped = fixes[:0], dropped[:0]
		fix := func(format string, args ...any) { fixes = append(fixes, fmt.Sprintf(format, args...)) }
		seen := map[uint64]bool{}
		refs := map[sum]uint64{}
		kids := tx.Bucket(bucketChildren)
		var props int64 // the size of the properties of the nodes walked
		var walkFix func(n node) (int64, error)
		walkFix = func(n node) (int64, error) {
			seen[n.id] = true
			props += int64(len(tx.Bucket(bucketDeadProps).Get(itob(n.id))))
			total, changed := n.size, false
			if !n.dir {
				refs[n.sum]++
			} else {
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
				total = 0
				for _, k := range list {
					child, err := getNode(tx, k.id)
					if err != nil {
						fix("folder %d lists %q as node %d, which is missing: entry deleted", n.id, k.name, k.id)
						if err := kids.Delete(childKey(n.id, k.name)); err != nil {
							return 0, err
						}
						continue
					}
					if child.parent != n.id || child.name != k.name {
						fix("node %d: parent and name set to %d, %q", child.id, n.id, k.name)
						child.parent, child.name = n.id, k.name
						if err := putNode(tx, &child); err != nil {
							return 0, err
						}
					}
					s, err := walkFix(child)
					if err != nil {
						return 0, err
					}
					total += s
				}
				if total != n.size {
					fix("folder %d (%q): size %d -> %d", n.id, n.name, n.size, total)
					n.size, changed = total, true
				}
			}
			if changed || (n.parent != 0 && !bytes.Equal(kids.Get(childKey(n.parent, n.name)), n.childValue())) {
				if !changed {
					fix("node %d (%q): its entry under %d rewritten", n.id, n.name, n.parent)
				}
				if err := saveNode(tx, &n); err != nil {
					return 0, err
				}
			}
			return total, nil
		}
		trashProps, err := walkTrash(tx, seen, refs)
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketUsers).ForEach(func(k, _ []byte) error {
			userID := binary.BigEndian.Uint64(k)
			var total int64
			props = trashProps[userID]
			if root, ok, err := rootOf(tx, userID, false); err != nil {
				return err
			} else if ok {
				if total, err = walkFix(root); err != nil {
					return err
				}
			}
			if u := usageOf(tx, userID); u.Normal != total || u.Props != props {
				fix("user %d: normal %d -> %d, props %d -> %d", userID, u.Normal, total, u.Props, props)
				u.Normal, u.Props = total, props
				return putUsage(tx, userID, u)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := countPins(tx, refs); err != nil {
			return err
		}
		var orphans [][]byte
		err = tx.Bucket(bucketNodes).ForEach(func(k, _ []byte) error {
			if !seen[binary.BigEndian.Uint64(k)] {
				orphans = append(orphans, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range orphans {
			fix("node %d: not reachable from any root, deleted", binary.BigEndian.Uint64(k))
			if err := tx.Bucket(bucketNodes).Delete(k); err != nil {
				return err
			}
			if err := tx.Bucket(bucketDeadProps).Delete(k); err != nil {
				return err
			}
		}
		blobs := tx.Bucket(bucketBlobs)
		var records [][]byte
		if err := blobs.ForEach(func(k, _ []byte) error { records = append(records, append([]byte(nil), k...)); return nil }); err != nil {
			return err
		}
		for _, k := range records {
			h := sum(k)
			v := blobs.Get(k)
			n, want := binary.BigEndian.Uint64(v), refs[h]
			delete(refs, h)
			switch {
			case want == 0:
				fix("blob %x: no record refers to it, reference count %d dropped", h, n)
				dropped = append(dropped, h)
				if err := blobs.Delete(k); err != nil {
					return err
				}
			case n != want:
				fix("blob %x: reference count %d -> %d", h, n, want)
				nv := append([]byte(nil), v...)
				binary.BigEndian.PutUint64(nv, want)
				if err := blobs.Put(k, nv); err != nil {
					return err
				}
			}
		}
		for h, n := range refs {
			fix("blob %x: reference count set to %d (it had none)", h, n)
			v := make([]byte, 16)
			binary.BigEndian.PutUint64(v, n)
			if err := blobs.Put(h[:], v); err != nil {
				return err
			}
		}
		if err := dropDeadProps(tx, fix); err != nil {
			return err
		}
		return checkCharges(tx, fix, true)
	})
	if err != nil {
		return nil, err
	}
	db.release(dropped)
	removed, err := db.RemoveOrphanBlobs()
	if removed > 0 {
		fixes = append(fixes, fmt.Sprintf("removed %d blob files no record refers to", removed))
	}
	return fixes, err
}
