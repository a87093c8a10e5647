package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/store/blobs"
)

// CheckTree verifies the invariants of the file tree and returns one line
// per problem found: every folder's size is the total of what is below it;
// every user's normal is the total of their files; every blob's reference
// count is the number of records that refer to it (files, and the items of
// pending messages), and the blob store holds it;
// every node is reachable from a root, and every child entry names a node
// that names it back.
func (db *DB) CheckTree() ([]string, error) {
	defer db.holdBlobs()()
	var problems []string
	err := db.bolt.View(func(tx *bolt.Tx) error {
		stored, _, err := db.listBlobs(tx)
		if err != nil {
			return err
		}
		problems, err = db.checkTree(tx, stored)
		return err
	})
	return problems, err
}

// listBlobs lists the blob store: the blobs in it, by their own names or
// by the staged keys blob_keys gives them in tx, and what else is there
// (an object under a blob's own name while blob_keys puts the blob
// elsewhere is such a stray). Called within a hold (holdBlobs) and a
// read transaction begun before it, every blob tx refers to is listed.
func (db *DB) listBlobs(tx *bolt.Tx) (map[sum]time.Time, []blobs.Stored, error) {
	staged, err := stagedKeys(tx)
	if err != nil {
		return nil, nil, err
	}
	keys := tx.Bucket(bucketBlobKeys)
	stored := map[sum]time.Time{}
	var strays []blobs.Stored
	err = db.blobs.store.Each(context.Background(), func(b blobs.Stored) error {
		if h, ok := staged[b.Name]; ok {
			stored[h] = b.Modified
		} else if b.Named && keys.Get(b.Sum[:]) == nil {
			stored[b.Sum] = b.Modified
		} else if _, staging := db.blobs.staging.Load(b.Name); !staging {
			strays = append(strays, b) // (an upload of this process's in flight is not)
		}
		return nil
	})
	return stored, strays, err
}

// checkTree is CheckTree in tx, given what the blob store holds.
func (db *DB) checkTree(tx *bolt.Tx, stored map[sum]time.Time) ([]string, error) {
	var problems []string
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	w := newTreeWalk(tx, false, report)
	if err := w.users(); err != nil {
		return nil, err
	}
	seen, refs := w.seen, w.refs
	pins, err := countPins(tx, refs)
	if err != nil {
		return nil, err
	}
	err = tx.Bucket(bucketNodes).ForEach(func(k, _ []byte) error {
		if id := binary.BigEndian.Uint64(k); !seen[id] {
			report("node %d is not reachable from any root", id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = tx.Bucket(bucketBlobs).ForEach(func(k, v []byte) error {
		h := sum(k)
		if n := binary.BigEndian.Uint64(v); n != refs[h] {
			report("blob %x has reference count %d, but %d records refer to it", h, n, refs[h])
		}
		delete(refs, h)
		if _, ok := stored[h]; !ok {
			report("blob %x is referenced, but the blob store does not hold it", h)
		}
		return nil
	})
	for h, n := range refs {
		report("blob %x is referred to %d times, but has no reference count", h, n)
	}
	if err != nil {
		return nil, err
	}
	problems = append(problems, checkDeadProps(tx)...)
	if err := checkMessages(tx, report); err != nil {
		return nil, err
	}
	if err := checkLinks(tx, report, false); err != nil {
		return nil, err
	}
	err = checkCharges(tx, report, false, pins)
	return problems, err
}

// walkTrash marks the nodes in the trash seen and counts their files'
// references in refs, and returns the size of their properties by owner:
// until reclaimed they hold both.
func walkTrash(tx *bolt.Tx, seen map[uint64]bool, refs map[sum]uint64) (map[uint64]int64, error) {
	props := map[uint64]int64{}
	err := eachTrashed(tx, func(userID uint64, n node) error {
		seen[n.id] = true
		props[userID] += int64(len(tx.Bucket(bucketDeadProps).Get(itob(n.id))))
		if !n.dir {
			refs[n.sum]++
		}
		return nil
	})
	return props, err
}

// Stats are figures for monitoring.
type Stats struct {
	QueuedMail      int   // mails waiting to be delivered
	SentMail        int   // mails delivered, kept for smtp.keep_sent
	FailedMail      int   // mails failed for good, kept as long
	PendingMessages int   // sends waiting to be accepted or declined
	Blobs           int   // distinct contents stored
	BlobBytes       int64 // their total size
	DBBytes         int64 // the size of ferry.db
}

// Stats reads the monitoring figures in one read transaction (it scans the
// blob records, so it is for a scrape now and then, not for every request).
func (db *DB) Stats() (Stats, error) {
	var s Stats
	err := db.bolt.View(func(tx *bolt.Tx) error {
		s.QueuedMail = countPrefix(tx.Bucket(bucketMailDue), nil)
		if err := tx.Bucket(bucketMail).ForEach(func(_, v []byte) error {
			var q struct {
				Status string `json:"status"`
			}
			if json.Unmarshal(v, &q) == nil {
				switch q.Status {
				case ferry.MailSent:
					s.SentMail++
				case ferry.MailFailed:
					s.FailedMail++
				}
			}
			return nil
		}); err != nil {
			return err
		}
		s.PendingMessages = countPrefix(tx.Bucket(bucketPending), nil)
		s.DBBytes = tx.Size()
		return tx.Bucket(bucketBlobs).ForEach(func(_, v []byte) error {
			s.Blobs++
			if len(v) == 16 {
				s.BlobBytes += int64(binary.BigEndian.Uint64(v[8:]))
			}
			return nil
		})
	})
	return s, err
}

// checkMessages reports each message whose record does not read back
// whole: its header, and as many items as the header counts.
func checkMessages(tx *bolt.Tx, report func(string, ...any)) error {
	return tx.Bucket(bucketMessages).ForEach(func(k, v []byte) error {
		id := binary.BigEndian.Uint64(k)
		m, err := decodeMessage(v)
		if err != nil {
			report("message %d: its header does not read: %v", id, err)
			return nil
		}
		_, raw := splitMessage(v)
		items, err := decodeItems(id, raw, 0, -1)
		if err != nil {
			report("%v", err)
		} else if len(items) != m.Items {
			report("message %d has %d items, but its header says %d", id, len(items), m.Items)
		}
		return nil
	})
}
