package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
)

// UpdateUsageForTest changes a user's usage record as it is, to break it
// for fsck's tests.
func (db *DB) UpdateUsageForTest(userID uint64, change func(*ferry.Usage)) (ferry.Usage, error) {
	var u ferry.Usage
	err := db.update(context.Background(), func(tx *bolt.Tx) error {
		u = usageOf(tx, userID)
		change(&u)
		return putUsage(tx, userID, u)
	})
	return u, err
}

// LeaveTrashForTest makes deletes leave their folders in the trash, as a
// crash right after the delete's commit would.
func (db *DB) LeaveTrashForTest(leave bool) {
	db.leaveTrash = leave
}

// Commits returns how many write transactions ran.
func (db *DB) Commits() uint64 {
	db.commits.mu.Lock()
	defer db.commits.mu.Unlock()
	return db.commits.commits
}

// CutCopiesForTest makes large copies end after their first step without
// cleaning up, as a crash there would.
func (db *DB) CutCopiesForTest(cut bool) {
	db.cutCopiesForTest = cut
}

// DropLinkRecordForTest deletes a link's record and leaves its user_links
// entry, to break the index for fsck's tests.
func (db *DB) DropLinkRecordForTest(token string) error {
	h := hashToken(token)
	return db.update(context.Background(), func(tx *bolt.Tx) error { return tx.Bucket(bucketLinks).Delete(h[:]) })
}

// UsedPagesForTest returns how many pages of the database file hold data:
// the file's pages less the free and pending ones.
func (db *DB) UsedPagesForTest() int {
	var used int
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		st := db.bolt.Stats()
		used = int(tx.Size()/int64(db.bolt.Info().PageSize)) - st.FreePageN - st.PendingPageN
		return nil
	})
	return used
}

// UploadRecordForTest reads an upload's record as it is committed, without
// waiting for a chunk under way: the bytes it counts, and the SHA-256 of
// those bytes from its saved hash state.
func (db *DB) UploadRecordForTest(key string) (received int64, sum string, err error) {
	var rec uploadRecord
	err = db.bolt.View(func(tx *bolt.Tx) error {
		rec, err = decodeUpload(tx.Bucket(bucketUploads).Get([]byte(key)))
		return err
	})
	if err != nil {
		return 0, "", err
	}
	h := sha256.New().(hashState)
	if err := h.UnmarshalBinary(rec.State); err != nil {
		return 0, "", err
	}
	return rec.Received, hex.EncodeToString(h.Sum(nil)), nil
}

// SetDecisionNotice sets Options.DecisionNotice on a store already open,
// for tests. Call it before the store is used: it is read without a lock.
func (db *DB) SetDecisionNotice(notice func(sender *ferry.User, outcomes []ferry.Outcome) ferry.Mail) {
	db.decisionNotice = notice
}

// RecordEventsForTest writes n events of user (a link's download each), in
// transactions of ten thousand, as the actions that make them would.
func (db *DB) RecordEventsForTest(user uint64, n int) error {
	ctx := ferry.WithActor(context.Background(), ferry.Actor{Email: ferry.ActorOutsider, IP: "203.0.113.7"})
	for done := 0; done < n; {
		step := min(10000, n-done)
		if err := db.update(ctx, func(tx *bolt.Tx) error {
			for i := range step {
				if err := db.record(tx, ctx, user, ferry.ActionLinkDownloaded, "reports/2026/q4.pdf", map[string]any{"link": 17, "download": done + i}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
		done += step
	}
	return nil
}

// AddUsersForTest makes n accounts (email prefix-i@example.com) straight
// in the database, with one password hash for all: what a benchmark of
// listing them needs, without n argon2 hashes.
func (db *DB) AddUsersForTest(prefix string, n int) error {
	hash, err := hashPassword("bench password")
	if err != nil {
		return err
	}
	for done := 0; done < n; {
		step := min(1000, n-done)
		if err := db.update(context.Background(), func(tx *bolt.Tx) error {
			for i := range step {
				id, err := tx.Bucket(bucketUsers).NextSequence()
				if err != nil {
					return err
				}
				email := fmt.Sprintf("%s-%d@example.com", prefix, done+i)
				u := &ferry.User{ID: id, Email: email, FullName: fmt.Sprintf("Person %d", done+i), PasswordHash: hash, Package: "free", Created: db.now().UTC()}
				if err := tx.Bucket(bucketUserEmails).Put([]byte(email), itob(id)); err != nil {
					return err
				}
				if err := putUser(tx, u); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
		done += step
	}
	return nil
}
