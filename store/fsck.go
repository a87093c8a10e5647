package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry/store/blobs"
)

// FsckReport is what Fsck found: damage (Problems), and debris that a
// write cut off before its commit left (Debris: blob files no record
// refers to), which is no damage: the next start of ferry serve sweeps it,
// and Repair removes it now. One line each.
type FsckReport struct {
	Problems []string
	Debris   []string
}

// Fsck checks everything CheckTree checks, and the blob store: that each
// referenced blob holds the content its name says (read back and hashed,
// skipped when quick), and what it holds that no record refers to (but
// what is younger than the orphan grace period, which may be an upload
// between its put and its commit), as debris.
func (db *DB) Fsck(quick bool) (FsckReport, error) {
	return db.fsck(quick, true)
}

// CheckRestored is a full Fsck of a store just restored from a backup,
// but for what the blob store holds that no record refers to: with blobs
// in S3 the bucket also holds what the store the backup was taken from
// stored since, which is not the restored store's problem (its sweep
// removes it once the restored store runs in the original's place).
func (db *DB) CheckRestored() ([]string, error) {
	rep, err := db.fsck(false, false)
	return rep.Problems, err
}

func (db *DB) fsck(quick, orphans bool) (FsckReport, error) {
	defer db.holdBlobs()()
	var problems, debris []string
	type blob struct {
		ref  blobs.Ref
		size int64
	}
	var referenced []blob
	err := db.bolt.View(func(tx *bolt.Tx) error {
		stored, strays, err := db.listBlobs(tx)
		if err != nil {
			return err
		}
		if problems, err = db.checkTree(tx, stored); err != nil {
			return err
		}
		err = tx.Bucket(bucketBlobs).ForEach(func(k, v []byte) error {
			if _, ok := stored[sum(k)]; ok && len(v) == 16 {
				referenced = append(referenced, blob{refOf(tx, sum(k)), int64(binary.BigEndian.Uint64(v[8:]))})
			}
			return nil
		})
		if !orphans {
			return err
		}
		for h, modified := range stored {
			if !hasRefs(tx, h) && db.pastGrace(modified) {
				debris = append(debris, fmt.Sprintf("blob %x: no record refers to it", h))
			}
		}
		for _, b := range strays {
			if db.pastGrace(b.Modified) {
				debris = append(debris, fmt.Sprintf("%s: no record refers to it", b.Name))
			}
		}
		return err
	})
	if err != nil || quick {
		return FsckReport{problems, debris}, err
	}
	for _, b := range referenced {
		h := b.ref.Sum
		got, err := blobs.HashOf(context.Background(), db.blobs.store, b.ref, b.size)
		if err != nil {
			problems = append(problems, fmt.Sprintf("blob %x: reading it back failed: %v", h, err))
		} else if got != h {
			problems = append(problems, fmt.Sprintf("blob %x: its content hashes to %x", h, got))
		}
	}
	return FsckReport{problems, debris}, nil
}

// pastGrace reports whether something in the blob store last modified at
// t is older than the orphan grace period: no upload can still be about
// to commit a record that refers to it.
func (db *DB) pastGrace(t time.Time) bool {
	return db.blobs.grace == 0 || t.Before(time.Now().Add(-db.blobs.grace))
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
