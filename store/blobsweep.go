package store

import (
	"context"
	"errors"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry/store/blobs"
)

// RemoveOrphanBlobs deletes what the blob store holds that no record
// refers to (left by a crash between placing a blob and committing its
// record, or by a failed removal) once it is older than the grace period,
// and returns how many it removed. It is safe while the service runs.
func (db *DB) RemoveOrphanBlobs() (int, error) {
	removed := 0
	ctx := context.Background()
	var others []blobs.Stored
	err := db.blobs.store.Each(ctx, func(b blobs.Stored) error {
		if !db.pastGrace(b.Modified) {
			return nil // maybe an upload between its put and its commit
		}
		if !b.Named {
			// An upload staged here and not yet committed is skipped;
			// what else is left is looked up once the listing is done.
			if _, staging := db.blobs.staging.Load(b.Name); !staging {
				others = append(others, b)
			}
			return nil
		}
		unlock := db.lockBlob(b.Sum)
		defer unlock()
		if ref, err := db.blobRefOf(b.Sum); err != nil {
			return err
		} else if ref.Key != "" {
			// The blob is at its staged key: this copy under its own name
			// is left over (from before a failed removal).
			if err := db.blobs.store.RemoveStray(ctx, b.Name); err != nil {
				return err
			}
			removed++
			return nil
		}
		gone, err := db.removeBlobIfUnreferenced(b.Sum)
		if gone {
			removed++
		}
		return err
	})
	if err != nil || len(others) == 0 {
		return removed, err
	}
	// This read begins after every staging check above: an upload that
	// had ended by then has its key in blob_keys, or has none.
	var staged map[string]sum
	err = db.bolt.View(func(tx *bolt.Tx) error {
		staged, err = stagedKeys(tx)
		return err
	})
	if err != nil {
		return removed, err
	}
	var errs []error
	for _, b := range others {
		h, ok := staged[b.Name]
		if !ok {
			if err := db.blobs.store.RemoveStray(ctx, b.Name); err == nil {
				removed++
			} else {
				errs = append(errs, err)
			}
			continue
		}
		unlock := db.lockBlob(h) // a staged blob whose removal failed
		gone, err := db.removeBlobIfUnreferenced(h)
		unlock()
		if gone {
			removed++
		}
		errs = append(errs, err)
	}
	return removed, errors.Join(errs...)
}
