package store

import (
	"bytes"
	"cmp"
	"context"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
)

// Personal access tokens are tokens of the tokens bucket whose record says
// so (tokenRecord.personal): a name, an id for the owner's list and for
// revoking, an expiry or none, and no idle timeout. They end as login
// tokens do on a password change or reset, a disable or a deletion, but
// not on "sign out everywhere else" nor on a change of two-factor sign-in.

// maxTokenName bounds a personal token's name, in characters.
const maxTokenName = 100

// personalPrefix starts every personal token, so that a person who finds
// one in a script can tell what it is.
const personalPrefix = "fpat_"

// CreatePersonalToken makes a personal access token named name for the
// user, ending after life (0: never), and returns its id and the token,
// which is not kept.
func (db *DB) CreatePersonalToken(ctx context.Context, userID uint64, name string, life time.Duration) (uint64, string, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > maxTokenName || !utf8.ValidString(name) {
		return 0, "", ferry.Errorf(ferry.EBADREQUEST, "A token needs a name of 1 to %d characters.", maxTokenName)
	}
	if life < 0 {
		return 0, "", ferry.Errorf(ferry.EBADREQUEST, "A token's life cannot be negative.")
	}
	token := personalPrefix + db.newSecret(32)
	h := hashToken(token)
	now := db.now()
	rec := tokenRecord{userID: userID, created: now.UnixNano(), personal: true, name: name}
	if life > 0 {
		rec.expires = now.Add(life).UnixNano()
	}
	err := db.update(ctx, func(tx *bolt.Tx) error {
		if _, err := db.findUserByID(tx, userID); err != nil {
			return err
		}
		id, err := tx.Bucket(bucketTokens).NextSequence()
		if err != nil {
			return err
		}
		rec.id = id
		if err := db.record(tx, ctx, userID, ferry.ActionTokenCreated, name, map[string]any{"token": id}); err != nil {
			return err
		}
		if err := tx.Bucket(bucketTokens).Put(h[:], rec.encode()); err != nil {
			return err
		}
		return tx.Bucket(bucketUserTokens).Put(userTokenKey(userID, h[:]), nil)
	})
	if err != nil {
		return 0, "", err
	}
	return rec.id, token, nil
}

// PersonalTokens lists the user's personal access tokens, newest first.
func (db *DB) PersonalTokens(ctx context.Context, userID uint64) ([]ferry.PersonalToken, error) {
	var list []ferry.PersonalToken
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return eachPersonalToken(tx, userID, func(h []byte, rec tokenRecord) bool {
			t := ferry.PersonalToken{ID: rec.id, Name: rec.name, Created: time.Unix(0, rec.created).UTC()}
			if rec.expires != 0 {
				t.Expires = time.Unix(0, rec.expires).UTC()
			}
			if last := max(rec.lastUse, db.memLastUse([32]byte(h))); last != 0 {
				t.LastUsed = time.Unix(0, last).UTC()
			}
			list = append(list, t)
			return true
		})
	})
	slices.SortFunc(list, func(a, b ferry.PersonalToken) int { return cmp.Compare(b.ID, a.ID) })
	return list, err
}

// RevokePersonalToken ends the user's personal token id: NOT_FOUND for an
// id that is not one of theirs.
func (db *DB) RevokePersonalToken(ctx context.Context, userID, id uint64) error {
	return db.update(ctx, func(tx *bolt.Tx) error {
		var found []byte
		var name string
		err := eachPersonalToken(tx, userID, func(h []byte, rec tokenRecord) bool {
			if rec.id == id {
				found, name = bytes.Clone(h), rec.name
				return false
			}
			return true
		})
		if err != nil {
			return err
		}
		if found == nil {
			return ferry.Errorf(ferry.ENOTFOUND, "You have no token %d.", id)
		}
		if err := db.record(tx, ctx, userID, ferry.ActionTokenRevoked, name, map[string]any{"token": id}); err != nil {
			return err
		}
		return deleteToken(tx, found)
	})
}

// eachPersonalToken calls f with each personal token of the user (its
// hash and record) until f returns false.
func eachPersonalToken(tx *bolt.Tx, userID uint64, f func(h []byte, rec tokenRecord) bool) error {
	prefix := itob(userID)
	tokens := tx.Bucket(bucketTokens)
	c := tx.Bucket(bucketUserTokens).Cursor()
	for key, _ := c.Seek(prefix); key != nil && bytes.HasPrefix(key, prefix); key, _ = c.Next() {
		h := key[len(prefix):]
		if rec, ok := decodeToken(tokens.Get(h)); ok && rec.personal && !f(h, rec) {
			return nil
		}
	}
	return nil
}
