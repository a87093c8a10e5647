package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
)

// DeleteUser deletes an account and everything it owns, in one
// transaction: its tokens and app password, links, contacts (and its
// place in others' contacts), notifications (and the requests it sent),
// photo, invitations, reset codes, uploads in progress, usage, and its
// folder, which goes to the trash and is reclaimed before DeleteUser
// returns. Pending sends from and to it are withdrawn: their other side
// sees them expired, and a sender hears so by a mail queued in the same
// transaction (as from an expiry sweep).
// Blob files go once nothing references them. The email is free again.
func (db *DB) DeleteUser(ctx context.Context, userID uint64) error {
	var released []sum
	var uploads []string
	err := db.update(ctx, func(tx *bolt.Tx) error {
		u, err := db.findUserByID(tx, userID)
		if err != nil {
			return err
		}
		if err := db.record(tx, ctx, userID, ferry.ActionAccountDeleted, u.Email, nil); err != nil {
			return err
		}
		released, uploads, err = db.deleteUserTx(tx, u, false)
		return err
	})
	if err != nil {
		return err
	}
	db.afterDelete(userID, released, uploads)
	return nil
}

// deleteUserTx is DeleteUser's transaction: it returns the blobs released
// and the uploads in progress to remove after the commit (afterDelete).
// Quiet, it ends no pending send (a move has handed them on already: the
// ones it finds are dropped as they are).
func (db *DB) deleteUserTx(tx *bolt.Tx, u *ferry.User, quiet bool) ([]sum, []string, error) {
	userID := u.ID
	var released []sum
	var uploads []string
	told := outcomes{} // queued with the deletion
	now := db.now()
	// Pending sends, both ways, end as expired.
	for _, index := range [][]byte{bucketOutbox, bucketInbox} {
		if quiet {
			break
		}
		for _, id := range idsOf(tx, index, userID) {
			m, ok, err := getMessage(tx, id)
			if err != nil {
				return nil, nil, err
			}
			if !ok || !m.waiting() {
				continue
			}
			rel, err := closeMessage(tx, id, &m, ferry.StatusExpired, now)
			if err != nil {
				return nil, nil, err
			}
			released = append(released, rel...)
			if m.Sender != userID {
				told.add(tx, db, &m)
			}
		}
	}
	if err := db.queueDecisionMails(tx, told); err != nil {
		return nil, nil, err
	}
	err := db.deleteUserRecords(tx, u, !quiet, &uploads)
	return released, uploads, err
}

// deleteUserRecords deletes everything of u but its pending sends, and
// but its invitations unless invites is set (those of an account moved
// away are still claimed on this node, where its sends to them wait).
func (db *DB) deleteUserRecords(tx *bolt.Tx, u *ferry.User, invites bool, uploads *[]string) error {
	userID := u.ID
	// The account's own keys, by prefix.
	for _, b := range [][]byte{bucketOutbox, bucketReceived, bucketSendPins, bucketContacts, bucketRemoteContacts} {
		if err := deletePrefix(tx.Bucket(b), itob(userID), nil); err != nil {
			return err
		}
	}
	if err := deletePrefix(tx.Bucket(bucketUserLinks), itob(userID), func(_, h []byte) error {
		return tx.Bucket(bucketLinks).Delete(h)
	}); err != nil {
		return err
	}
	if err := deletePrefix(tx.Bucket(bucketUserRequests), itob(userID), func(_, h []byte) error {
		return tx.Bucket(bucketRequests).Delete(h)
	}); err != nil {
		return err
	}
	if invites {
		if err := deletePrefix(tx.Bucket(bucketUserInvites), itob(userID), func(k, _ []byte) error {
			return tx.Bucket(bucketInvites).Delete(k[16:])
		}); err != nil {
			return err
		}
	}
	if err := revokeUserTokens(tx, userID, ""); err != nil {
		return err
	}
	if err := deleteResets(tx, func(user uint64, _ int64) bool { return user == userID }); err != nil {
		return err
	}
	// Others' contacts of it, and notifications to and from it.
	if err := deleteWhere(tx.Bucket(bucketContacts), func(k, _ []byte) bool {
		return binary.BigEndian.Uint64(k[8:]) == userID
	}); err != nil {
		return err
	}
	if err := deleteWhere(tx.Bucket(bucketNotifications), func(k, v []byte) bool {
		var n notificationRecord
		if json.Unmarshal(v, &n) != nil || (n.User != userID && n.From != userID) {
			return false
		}
		return tx.Bucket(bucketUserNotifications).Delete(pairKey(n.User, binary.BigEndian.Uint64(k))) == nil
	}); err != nil {
		return err
	}
	if err := deleteWhere(tx.Bucket(bucketUploads), func(k, v []byte) bool {
		rec, err := decodeUpload(v)
		if err != nil || rec.UserID != userID {
			return false
		}
		*uploads = append(*uploads, string(k))
		return true
	}); err != nil {
		return err
	}
	if err := deletePrefix(tx.Bucket(bucketPasskeys), itob(userID), func(k, _ []byte) error {
		return tx.Bucket(bucketPasskeyIDs).Delete(k[8:])
	}); err != nil {
		return err
	}
	if u.SSO != nil {
		if err := tx.Bucket(bucketSSO).Delete(ssoKey(*u.SSO)); err != nil {
			return err
		}
	}
	if u.PhotoToken != "" {
		if err := tx.Bucket(bucketPhotos).Delete([]byte(u.PhotoToken)); err != nil {
			return err
		}
	}
	// The folder goes to the trash, whose reclaim deletes it.
	if root := tx.Bucket(bucketRoots).Get(itob(userID)); root != nil {
		if err := tx.Bucket(bucketTrash).Put(root, itob(userID)); err != nil {
			return err
		}
	}
	for _, b := range [][]byte{bucketRoots, bucketUsage, bucketAppPasswords, bucketTwoFactor, bucketUsers} {
		if err := tx.Bucket(b).Delete(itob(userID)); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketUserEmails).Delete([]byte(u.Email))
}

// afterDelete does, after the commit, what deleting account userID left:
// its memo, its blobs' files, its uploads' files, its folder's reclaim.
func (db *DB) afterDelete(userID uint64, released []sum, uploads []string) {
	db.userMemo.Delete(userID)
	db.release(released)
	for _, key := range uploads {
		db.forgetUpload(key)
		if err := os.Remove(db.uploadFile(key)); err != nil && !errors.Is(err, os.ErrNotExist) {
			db.log("removing a deleted account's upload", err)
		}
	}
	db.reclaimNow()
}

// DeleteAccount deletes the user's own account, as DeleteUser does, once
// password is theirs: WRONG_CURRENT_PASSWORD otherwise.
func (db *DB) DeleteAccount(ctx context.Context, userID uint64, password string) error {
	u, err := db.UserByID(userID)
	if err != nil {
		return err
	}
	if password == "" || len(password) > ferry.MaxPasswordLen || !db.verifyPassword(u.PasswordHash, password) {
		return ferry.Errorf(ferry.EWRONGPASSWORD, "The current password is wrong.")
	}
	return db.DeleteUser(ctx, userID)
}

// idsOf returns the message ids of an index's entries for userID.
func idsOf(tx *bolt.Tx, index []byte, userID uint64) []uint64 {
	var ids []uint64
	prefix := itob(userID)
	c := tx.Bucket(index).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		ids = append(ids, binary.BigEndian.Uint64(k[8:]))
	}
	return ids
}

// deletePrefix deletes the keys of b that start with prefix, calling also
// (when not nil) with each key and value first.
func deletePrefix(b *bolt.Bucket, prefix []byte, also func(k, v []byte) error) error {
	var keys [][]byte
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if also != nil {
			if err := also(k, v); err != nil {
				return err
			}
		}
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// deleteWhere deletes the keys of b for which drop is true, reading the
// whole bucket.
func deleteWhere(b *bolt.Bucket, drop func(k, v []byte) bool) error {
	var keys [][]byte
	if err := b.ForEach(func(k, v []byte) error {
		if drop(k, v) {
			keys = append(keys, bytes.Clone(k))
		}
		return nil
	}); err != nil {
		return err
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
