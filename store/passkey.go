package store

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
)

// Passkeys: the web app's WebAuthn credentials of an account. The store
// keeps each one's record as the front end made it, its name and times,
// and its signature counter, which it checks: a sign-in whose counter did
// not move on is refused in the transaction that records it.

// passkeyRecord is a passkey as the passkeys bucket keeps it.
type passkeyRecord struct {
	Name       string    `json:"name"`
	Created    time.Time `json:"created"`
	LastUsed   time.Time `json:"last_used,omitzero"`
	SignCount  uint32    `json:"sign_count,omitempty"`
	Credential []byte    `json:"credential"`
}

// maxPasskeyID bounds a credential id (WebAuthn's limit is 1023 bytes).
const maxPasskeyID = 1023

func passkeyKey(userID uint64, id []byte) []byte {
	return append(itob(userID), id...)
}

func (r passkeyRecord) passkey(id []byte) ferry.Passkey {
	return ferry.Passkey{ID: bytes.Clone(id), Name: r.Name, Created: r.Created, LastUsed: r.LastUsed, SignCount: r.SignCount, Credential: r.Credential}
}

// AddPasskey keeps a new passkey of the user.
func (db *DB) AddPasskey(ctx context.Context, userID uint64, p ferry.Passkey) error {
	name := strings.TrimSpace(p.Name)
	if name == "" || utf8.RuneCountInString(name) > 100 || !utf8.ValidString(name) {
		return ferry.Errorf(ferry.EBADREQUEST, "A passkey needs a name of 1 to 100 characters.")
	}
	if len(p.ID) == 0 || len(p.ID) > maxPasskeyID {
		return ferry.Errorf(ferry.EBADREQUEST, "That is not a passkey's id.")
	}
	rec := passkeyRecord{Name: name, Created: db.now().UTC(), SignCount: p.SignCount, Credential: p.Credential}
	v, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return db.update(ctx, func(tx *bolt.Tx) error {
		if _, err := db.findUserByID(tx, userID); err != nil {
			return err
		}
		ids := tx.Bucket(bucketPasskeyIDs)
		if ids.Get(p.ID) != nil {
			return ferry.Errorf(ferry.EBADREQUEST, "This passkey is kept already.")
		}
		if err := ids.Put(p.ID, itob(userID)); err != nil {
			return err
		}
		return tx.Bucket(bucketPasskeys).Put(passkeyKey(userID, p.ID), v)
	})
}

// Passkeys lists the user's passkeys, oldest first.
func (db *DB) Passkeys(ctx context.Context, userID uint64) ([]ferry.Passkey, error) {
	var list []ferry.Passkey
	err := db.bolt.View(func(tx *bolt.Tx) error {
		prefix := itob(userID)
		c := tx.Bucket(bucketPasskeys).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var rec passkeyRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			list = append(list, rec.passkey(k[8:]))
		}
		return nil
	})
	slices.SortStableFunc(list, func(a, b ferry.Passkey) int { return a.Created.Compare(b.Created) })
	return list, err
}

// RemovePasskey deletes one of the user's passkeys: NOT_FOUND.
func (db *DB) RemovePasskey(ctx context.Context, userID uint64, id []byte) error {
	return db.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPasskeys)
		if b.Get(passkeyKey(userID, id)) == nil {
			return ferry.Errorf(ferry.ENOTFOUND, "You have no such passkey.")
		}
		if err := tx.Bucket(bucketPasskeyIDs).Delete(id); err != nil {
			return err
		}
		return b.Delete(passkeyKey(userID, id))
	})
}

func errNoPasskey() error {
	return ferry.Errorf(ferry.EAUTHFAILED, "This passkey is not known here.")
}

// PasskeyOwner is the account of a credential id, with the passkey.
func (db *DB) PasskeyOwner(ctx context.Context, id []byte) (*ferry.User, ferry.Passkey, error) {
	var (
		u *ferry.User
		p ferry.Passkey
	)
	err := db.bolt.View(func(tx *bolt.Tx) error {
		owner := tx.Bucket(bucketPasskeyIDs).Get(id)
		if owner == nil {
			return errNoPasskey()
		}
		var rec passkeyRecord
		v := tx.Bucket(bucketPasskeys).Get(passkeyKey(btoi(owner), id))
		if v == nil || json.Unmarshal(v, &rec) != nil {
			return errNoPasskey()
		}
		var err error
		if u, err = db.findUserByID(tx, btoi(owner)); err != nil {
			return errNoPasskey()
		}
		p = rec.passkey(id)
		return nil
	})
	if err == nil {
		err = db.hold(ctx, u.ID)
	}
	return u, p, err
}

// UsePasskey records a sign-in with the passkey: its new counter must be
// above the one kept, unless the authenticator keeps none (both 0).
func (db *DB) UsePasskey(ctx context.Context, userID uint64, id []byte, signCount uint32) error {
	return db.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPasskeys)
		v := b.Get(passkeyKey(userID, id))
		var rec passkeyRecord
		if v == nil || json.Unmarshal(v, &rec) != nil {
			return errNoPasskey()
		}
		if signCount <= rec.SignCount && (signCount != 0 || rec.SignCount != 0) {
			return ferry.Errorf(ferry.EAUTHFAILED, "This passkey's counter went back: it may have been copied, so it was refused.")
		}
		rec.SignCount, rec.LastUsed = signCount, db.now().UTC()
		nv, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		return b.Put(passkeyKey(userID, id), nv)
	})
}
