package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
)

// SendInvited sends sources to an email that has no account, with an
// invitation: the messages wait (status invited, pinning what they carry
// as any pending send does) for the account that email makes, and one
// mail, mail(code, destinations, total, expires), invites the person, in
// the same transaction. It counts as one invitation toward the sender's
// daily limit (TOO_MANY_REQUESTS). An email that has an account by the
// time it runs is METHOD_BAD_REQUEST: the caller sends as usual instead.
// Unclaimed, the messages expire as any send does.
func (db *DB) SendInvited(ctx context.Context, senderID uint64, email string, sources []ferry.SendSource,
	mail func(code string, destinations []string, total int64, expires time.Time) ferry.Mail) ([]uint64, error) {
	email, err := ferry.NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	msgs, err := db.snapshot(senderID, sources)
	if err != nil {
		return nil, err
	}
	hold, err := db.scanSent(ctx, senderID, msgs)
	if err != nil {
		return nil, err
	}
	now := db.now()
	var ids []uint64
	err = db.update(ctx, func(tx *bolt.Tx) error {
		ids = ids[:0]
		for _, h := range hold {
			if err := markScan(tx, h, scanHeld); err != nil {
				return err
			}
		}
		if tx.Bucket(bucketUserEmails).Get([]byte(email)) != nil {
			return ferry.Errorf(ferry.EBADREQUEST, "%s has an account now: send to it as to anyone.", email)
		}
		if err := db.underInviteLimit(tx, senderID, 1, now); err != nil {
			return err
		}
		code, err := db.newInvite(tx, senderID, email, now)
		if err != nil {
			return err
		}
		var dests []string
		var total int64
		for _, m := range msgs {
			m.rec.Sender, m.rec.Invitee, m.rec.Created, m.rec.Status = senderID, email, now.UnixNano(), ferry.StatusInvited
			id, err := createMessage(tx, &m.rec, m.items)
			if err != nil {
				return err
			}
			if err := db.holdMessage(tx, id, &m.rec, m.items); err != nil {
				return err
			}
			ids = append(ids, id)
			dests, total = append(dests, m.rec.Destination), total+m.rec.Size
		}
		return db.queueMail(tx, mail(code, dests, total, now.Add(db.rules.sendExpire)))
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// Invitation returns what an invitation code stands for: NO_PERMISSION
// for a code that is wrong, used or expired.
func (db *DB) Invitation(ctx context.Context, code string) (ferry.Invitation, error) {
	now := db.now()
	var inv ferry.Invitation
	err := db.bolt.View(func(tx *bolt.Tx) error {
		rec, err := openInvite(tx, code, now)
		if err != nil {
			return err
		}
		inv.Email = rec.Email
		if inviter, err := db.findUserByID(tx, rec.Inviter); err == nil {
			inv.InviterName, inv.InviterEmail = inviter.FullName, inviter.Email
		}
		prefix := append([]byte(rec.Email), 0)
		c := tx.Bucket(bucketInvited).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			m, ok, err := getMessage(tx, binary.BigEndian.Uint64(k[len(prefix):]))
			if err != nil {
				return err
			}
			if !ok || m.Status != ferry.StatusInvited || m.Sender != rec.Inviter {
				continue
			}
			until := time.Unix(0, m.Created).Add(db.rules.sendExpire)
			if inv.Items == 0 || until.Before(inv.Until) {
				inv.Until = until
			}
			inv.Items++
			inv.Size += m.Size
		}
		return nil
	})
	return inv, err
}

// claimInvitedSends gives a new account the sends that wait for email
// (its own, or the one its invitation was for): they become pending in
// its inbox, expiring when they would have.
func claimInvitedSends(tx *bolt.Tx, u *ferry.User, email string) error {
	prefix := append([]byte(email), 0)
	var keys [][]byte
	c := tx.Bucket(bucketInvited).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		id := binary.BigEndian.Uint64(k[len(prefix):])
		m, ok, err := getMessage(tx, id)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketInvited).Delete(k); err != nil {
			return err
		}
		if !ok || m.Status != ferry.StatusInvited {
			continue
		}
		m.Receiver, m.Invitee, m.Status = u.ID, "", ferry.StatusPending
		if err := putMessage(tx, id, &m); err != nil {
			return err
		}
		for _, b := range [][]byte{bucketInbox, bucketReceived} {
			if err := tx.Bucket(b).Put(pairKey(u.ID, id), nil); err != nil {
				return err
			}
		}
	}
	return nil
}
