package store

import (
	"context"
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
	err := db.update(context.Background(), func(tx *bolt.Tx) error {
		fixes, dropped = fixes[:0], dropped[:0]
		fix := func(format string, args ...any) { fixes = append(fixes, fmt.Sprintf(format, args...)) }
		w := newTreeWalk(tx, true, fix)
		if err := w.users(); err != nil {
			return err
		}
		seen, refs := w.seen, w.refs
		pins, err := countPins(tx, refs)
		if err != nil {
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
		if err := checkLinks(tx, fix, true); err != nil {
			return err
		}
		return checkCharges(tx, fix, true, pins)
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
