package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
)

// mailState is the outbox's settings.
type mailState struct {
	queued func()        // told after a commit that queued mail
	keep   time.Duration // how long sent and failed mail is kept
}

// The durable outbox: mail is queued in the transaction of the action that
// causes it, so neither happens without the other, and delivered later by
// the mailer. Buckets: mail (id -> JSON ferry.QueuedMail) and mail_due
// (next attempt, Unix ns + id, for queued mail only). Attempt times are the
// mailer's clock, given by it.

// queueMail adds m to the outbox, due at once, and makes the transaction's
// commit wake the mailer.
func (db *DB) queueMail(tx *bolt.Tx, m ferry.Mail) error {
	id, err := tx.Bucket(bucketMail).NextSequence()
	if err != nil {
		return err
	}
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	q := ferry.QueuedMail{Mail: m, ID: id, MessageID: hex.EncodeToString(raw), Created: db.now().UTC(), Status: ferry.MailQueued}
	if err := putMail(tx, &q); err != nil {
		return err
	}
	tx.OnCommit(db.mail.queued)
	return tx.Bucket(bucketMailDue).Put(pairKey(0, id), nil)
}

func putMail(tx *bolt.Tx, q *ferry.QueuedMail) error {
	v, err := json.Marshal(q)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketMail).Put(itob(q.ID), v)
}

func getMail(tx *bolt.Tx, id uint64) (ferry.QueuedMail, error) {
	var q ferry.QueuedMail
	v := tx.Bucket(bucketMail).Get(itob(id))
	if v == nil {
		return q, fmt.Errorf("mail %d is missing", id)
	}
	return q, json.Unmarshal(v, &q)
}

func dueKey(q *ferry.QueuedMail) []byte {
	var at uint64
	if !q.NextAttempt.IsZero() {
		at = uint64(q.NextAttempt.UnixNano())
	}
	return pairKey(at, q.ID)
}

// DueMail returns up to max queued mails whose next attempt is at or before
// now, soonest first.
func (db *DB) DueMail(now time.Time, max int) ([]ferry.QueuedMail, error) {
	var list []ferry.QueuedMail
	err := db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketMailDue).Cursor()
		for k, _ := c.First(); k != nil && len(list) < max; k, _ = c.Next() {
			if int64(binary.BigEndian.Uint64(k)) > now.UnixNano() {
				break
			}
			q, err := getMail(tx, binary.BigEndian.Uint64(k[8:]))
			if err != nil {
				return err
			}
			list = append(list, q)
		}
		return nil
	})
	return list, err
}

// QueuedMailAfter returns up to max queued mails with ids above id, in
// order of id.
func (db *DB) QueuedMailAfter(id uint64, max int) ([]ferry.QueuedMail, error) {
	var list []ferry.QueuedMail
	err := db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketMail).Cursor()
		for k, v := c.Seek(itob(id + 1)); k != nil && len(list) < max; k, v = c.Next() {
			var q ferry.QueuedMail
			if err := json.Unmarshal(v, &q); err != nil {
				return err
			}
			if q.Status == ferry.MailQueued {
				list = append(list, q)
			}
		}
		return nil
	})
	return list, err
}

// NextMailDue returns when the soonest queued mail is due; ok is false
// when none is queued.
func (db *DB) NextMailDue() (at time.Time, ok bool, err error) {
	err = db.bolt.View(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bucketMailDue).Cursor().First()
		if k != nil {
			at, ok = time.Unix(0, int64(binary.BigEndian.Uint64(k))), true
		}
		return nil
	})
	return at, ok, err
}

// MailSent records that mail id was delivered.
func (db *DB) MailSent(id uint64) error {
	return db.updateMail(id, func(q *ferry.QueuedMail) {
		q.Status, q.Attempts, q.LastError = ferry.MailSent, q.Attempts+1, ""
	})
}

// MailRetry records a failed attempt of mail id and when to try again.
func (db *DB) MailRetry(id uint64, next time.Time, reason string) error {
	return db.updateMail(id, func(q *ferry.QueuedMail) {
		q.Attempts, q.NextAttempt, q.LastError = q.Attempts+1, next, reason
	})
}

// MailFailed records that mail id failed for good.
func (db *DB) MailFailed(id uint64, reason string) error {
	return db.updateMail(id, func(q *ferry.QueuedMail) {
		q.Status, q.Attempts, q.LastError = ferry.MailFailed, q.Attempts+1, reason
	})
}

// updateMail changes a queued mail and keeps mail_due in step: only queued
// mail is due.
func (db *DB) updateMail(id uint64, change func(*ferry.QueuedMail)) error {
	return db.update(context.Background(), func(tx *bolt.Tx) error {
		q, err := getMail(tx, id)
		if err != nil {
			return err
		}
		due := tx.Bucket(bucketMailDue)
		if err := due.Delete(dueKey(&q)); err != nil {
			return err
		}
		change(&q)
		if q.Status == ferry.MailQueued {
			if err := due.Put(dueKey(&q), nil); err != nil {
				return err
			}
		}
		return putMail(tx, &q)
	})
}

// DeleteOldMail deletes sent and failed mail queued more than
// Options.KeepMail ago, and returns how many; queued mail stays whatever
// its age. Mail ids grow with their queue time, so the scan stops at the
// first mail young enough to keep. A sweep that finds none writes
// nothing: it looks in a read transaction first.
func (db *DB) DeleteOldMail() (int, error) {
	cutoff := db.now().Add(-db.mail.keep)
	var any bool
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		keys, _, err := oldMail(tx, cutoff, 1)
		any = len(keys) > 0
		return err
	}); err != nil || !any {
		return 0, err
	}
	deleted := 0
	for {
		n, more := 0, false
		err := db.update(context.Background(), func(tx *bolt.Tx) error {
			keys, over, err := oldMail(tx, cutoff, 1000) // one transaction at a time of this size
			if err != nil {
				return err
			}
			n, more = len(keys), over
			for _, k := range keys {
				if err := tx.Bucket(bucketMail).Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		deleted += n
		if err != nil || !more {
			return deleted, err
		}
	}
}

// oldMail returns the keys of up to max sent or failed mails queued
// before cutoff, oldest first, and whether there are more.
func oldMail(tx *bolt.Tx, cutoff time.Time, max int) (keys [][]byte, more bool, err error) {
	c := tx.Bucket(bucketMail).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var q ferry.QueuedMail
		if err := json.Unmarshal(v, &q); err != nil {
			return nil, false, err
		}
		if !q.Created.Before(cutoff) {
			break
		}
		if q.Status == ferry.MailQueued {
			continue
		}
		if len(keys) == max {
			return keys, true, nil
		}
		keys = append(keys, bytes.Clone(k))
	}
	return keys, false, nil
}

// ListMail returns every mail in the outbox, oldest first.
func (db *DB) ListMail() ([]ferry.QueuedMail, error) {
	var list []ferry.QueuedMail
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMail).ForEach(func(_, v []byte) error {
			var q ferry.QueuedMail
			if err := json.Unmarshal(v, &q); err != nil {
				return err
			}
			list = append(list, q)
			return nil
		})
	})
	return list, err
}
