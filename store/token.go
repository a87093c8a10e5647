package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
)

// tokenCache is what the store keeps of tokens in memory.
type tokenCache struct {
	idle       time.Duration
	touch      time.Duration // how stale a token's stored last use may get before it is rewritten
	lastUse    sync.Map      // [sha256.Size]byte -> *atomic.Int64: last use in Unix nanoseconds, newer than stored
	authCache  sync.Map      // [sha256.Size]byte -> *authEntry
	authCached atomic.Int64  // entries added to authCache since it was last cleared
}

// A token is 32 random bytes, base64url without padding, handed to the
// client once. The store keeps only its SHA-256, with the user id and the
// time of creation and of last use.

// tokenRecord is the value of a token's hash: user id, created and last use
// in Unix nanoseconds, 8 bytes each; a personal access token's (pat.go)
// goes on with its expiry (0: never) and id, 8 bytes each, and its name.
type tokenRecord struct {
	userID  uint64
	created int64
	lastUse int64

	personal bool
	expires  int64
	id       uint64
	name     string
}

func (r tokenRecord) encode() []byte {
	n := 24
	if r.personal {
		n = 40 + len(r.name)
	}
	b := make([]byte, n)
	binary.BigEndian.PutUint64(b[0:], r.userID)
	binary.BigEndian.PutUint64(b[8:], uint64(r.created))
	binary.BigEndian.PutUint64(b[16:], uint64(r.lastUse))
	if r.personal {
		binary.BigEndian.PutUint64(b[24:], uint64(r.expires))
		binary.BigEndian.PutUint64(b[32:], r.id)
		copy(b[40:], r.name)
	}
	return b
}

func decodeToken(v []byte) (tokenRecord, bool) {
	if len(v) != 24 && len(v) < 40 {
		return tokenRecord{}, false
	}
	r := tokenRecord{
		userID:  binary.BigEndian.Uint64(v[0:]),
		created: int64(binary.BigEndian.Uint64(v[8:])),
		lastUse: int64(binary.BigEndian.Uint64(v[16:])),
	}
	if len(v) >= 40 {
		r.personal = true
		r.expires = int64(binary.BigEndian.Uint64(v[24:]))
		r.id = binary.BigEndian.Uint64(v[32:])
		r.name = string(v[40:])
	}
	return r, true
}

// expired reports whether the token no longer works at now, last used at
// lastUse: a login token idle for longer than idle, a personal one past
// its expiry.
func (r tokenRecord) expired(now, lastUse int64, idle time.Duration) bool {
	if r.personal {
		return r.expires != 0 && now >= r.expires
	}
	return now-lastUse > int64(idle)
}

func hashToken(token string) [sha256.Size]byte {
	return sha256.Sum256([]byte(token))
}

func userTokenKey(userID uint64, h []byte) []byte {
	return append(itob(userID), h...)
}

// CreateToken makes a new token for the user and returns it. Each call makes
// a different token; it returns TOKEN_CANNOT_BE_GENERATED when no random
// bytes can be had.
func (db *DB) CreateToken(ctx context.Context, userID uint64) (string, error) {
	token := db.newSecret(32)
	h := hashToken(token)
	now := db.now().UnixNano()
	err := db.update(ctx, func(tx *bolt.Tx) error {
		u, err := db.findUserByID(tx, userID)
		if err != nil {
			return err
		}
		// A login token is a sign-in: the account's last.
		u.LastLogin = time.Unix(0, now).UTC()
		if err := putUser(tx, u); err != nil {
			return err
		}
		if err := db.record(tx, ctx, userID, ferry.ActionLogin, u.Email, nil); err != nil {
			return err
		}
		rec := tokenRecord{userID: userID, created: now, lastUse: now}
		if err := tx.Bucket(bucketTokens).Put(h[:], rec.encode()); err != nil {
			return err
		}
		return tx.Bucket(bucketUserTokens).Put(userTokenKey(userID, h[:]), nil)
	})
	if err != nil {
		return "", err
	}
	return token, nil
}

// Authenticate returns the user a token belongs to and counts this as a use
// of the token. It returns NO_PERMISSION for an unknown, revoked or expired
// token and ACCOUNT_DISABLED when the user is disabled.
//
// The last use is kept in memory and written to the database only when the
// stored one is older than 1/16 of the idle timeout (at most a minute), so
// that an authenticated read costs no disk write; after a restart a token
// may therefore expire that much early.
func (db *DB) Authenticate(ctx context.Context, token string) (*ferry.User, error) {
	if token == "" {
		return nil, errDenied()
	}
	h := hashToken(token)
	now := db.now().UnixNano()
	// The generation is read before the transaction: an entry made from
	// it is used only while no write has committed since (authCache).
	gen := db.commits.gen.Load()
	var (
		u      *ferry.User
		stored int64
		rec    tokenRecord
	)
	if e, ok := db.tokens.authCache.Load(h); ok && e.(*authEntry).gen == gen {
		e := e.(*authEntry)
		user := *e.user
		u, stored, rec = &user, e.stored, e.rec
	} else {
		err := db.bolt.View(func(tx *bolt.Tx) (err error) {
			var ok bool
			rec, ok = decodeToken(tx.Bucket(bucketTokens).Get(h[:]))
			if !ok {
				return errDenied()
			}
			stored = rec.lastUse
			if u, err = db.findUserByID(tx, rec.userID); err != nil {
				return errDenied() // the user is gone
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		cached := *u
		db.cacheAuth(h, &authEntry{gen: gen, user: &cached, stored: stored, rec: rec})
	}
	if rec.expired(now, max(stored, db.memLastUse(h)), db.tokens.idle) {
		return nil, errDenied()
	}
	if u.Disabled {
		return nil, ferry.Errorf(ferry.EACCOUNTDISABLED, "This account is disabled.")
	}
	if err := db.hold(ctx, u.ID); err != nil {
		return nil, err
	}
	db.noteUse(h, now)
	if now-stored >= int64(db.tokens.touch) {
		if err := db.touchToken(h, now); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// authEntry is what Authenticate read of a token in a transaction that
// began after commitGen was gen: the token's user and its stored last use.
// It holds for as long as no write commits (commitGen stays gen), so that
// a read-only load authenticates without a transaction, while any change
// (a revocation, a password change, a disabled user) takes effect with
// the very commit that makes it: commitGroup raises commitGen before it
// tells the writer its change is done.
type authEntry struct {
	gen    uint64
	user   *ferry.User // never written through; Authenticate hands out copies
	stored int64
	rec    tokenRecord // the token's kind and expiry
}

// maxAuthCache bounds the cache; past it the cache starts again empty.
const maxAuthCache = 10000

func (db *DB) cacheAuth(h [sha256.Size]byte, e *authEntry) {
	if _, loaded := db.tokens.authCache.Swap(h, e); !loaded && db.tokens.authCached.Add(1) > maxAuthCache {
		db.tokens.authCache.Clear()
		db.tokens.authCached.Store(0)
	}
}

func errDenied() error {
	return ferry.Errorf(ferry.ENOPERMISSION, "Missing, unknown or expired token.")
}

func (db *DB) memLastUse(h [sha256.Size]byte) int64 {
	if v, ok := db.tokens.lastUse.Load(h); ok {
		return v.(*atomic.Int64).Load()
	}
	return 0
}

// noteUse raises the in-memory last use of a token to t.
func (db *DB) noteUse(h [sha256.Size]byte, t int64) {
	v, ok := db.tokens.lastUse.Load(h)
	if !ok {
		v, _ = db.tokens.lastUse.LoadOrStore(h, new(atomic.Int64))
	}
	last := v.(*atomic.Int64)
	for {
		old := last.Load()
		if old >= t || last.CompareAndSwap(old, t) {
			return
		}
	}
}

// touchToken stores t as the token's last use, unless it was revoked
// meanwhile. Concurrent touches share a commit.
func (db *DB) touchToken(h [sha256.Size]byte, t int64) error {
	return db.update(context.Background(), func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		rec, ok := decodeToken(b.Get(h[:]))
		if !ok || rec.lastUse >= t {
			return nil
		}
		rec.lastUse = t
		return b.Put(h[:], rec.encode())
	})
}

// RevokeToken makes a token stop working. An unknown token is not an error.
func (db *DB) RevokeToken(ctx context.Context, token string) error {
	h := hashToken(token)
	err := db.update(ctx, func(tx *bolt.Tx) error {
		if rec, ok := decodeToken(tx.Bucket(bucketTokens).Get(h[:])); ok && !rec.personal {
			if err := db.record(tx, ctx, rec.userID, ferry.ActionLogout, "", nil); err != nil {
				return err
			}
		}
		return deleteToken(tx, h[:])
	})
	db.tokens.lastUse.Delete(h)
	return err
}

// RevokeUserTokens revokes every login token of the user except keep
// (which may be empty): "sign out everywhere else". Personal access tokens
// stay: they are scripts', not sessions.
func (db *DB) RevokeUserTokens(ctx context.Context, userID uint64, keep string) error {
	return db.update(ctx, func(tx *bolt.Tx) error {
		return revokeLoginTokens(tx, userID, keep)
	})
}

// revokeUserTokens deletes every token of the user but keep, personal
// ones too (a password change or reset, a disable, a deletion). The
// in-memory last uses of deleted tokens are left to the expiry sweep: a
// token without a record is refused whatever its last use.
func revokeUserTokens(tx *bolt.Tx, userID uint64, keep string) error {
	return revokeTokens(tx, userID, keep, true)
}

// revokeLoginTokens deletes the user's login tokens but keep.
func revokeLoginTokens(tx *bolt.Tx, userID uint64, keep string) error {
	return revokeTokens(tx, userID, keep, false)
}

func revokeTokens(tx *bolt.Tx, userID uint64, keep string, personal bool) error {
	k := hashToken(keep)
	var gone [][sha256.Size]byte
	prefix := itob(userID)
	tokens := tx.Bucket(bucketTokens)
	c := tx.Bucket(bucketUserTokens).Cursor()
	for key, _ := c.Seek(prefix); key != nil && bytes.HasPrefix(key, prefix); key, _ = c.Next() {
		h := key[len(prefix):]
		if bytes.Equal(h, k[:]) {
			continue
		}
		if rec, ok := decodeToken(tokens.Get(h)); ok && rec.personal && !personal {
			continue
		}
		gone = append(gone, [sha256.Size]byte(h))
	}
	for _, h := range gone {
		if err := deleteToken(tx, h[:]); err != nil {
			return err
		}
	}
	return nil
}

// DeleteExpiredTokens removes the tokens unused for longer than the idle
// timeout and returns how many it removed. With none due it writes nothing.
func (db *DB) DeleteExpiredTokens() (int, error) {
	now := db.now().UnixNano()
	expired := func(tx *bolt.Tx) [][sha256.Size]byte {
		var gone [][sha256.Size]byte
		c := tx.Bucket(bucketTokens).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			rec, ok := decodeToken(v)
			h := [sha256.Size]byte(k)
			if !ok || rec.expired(now, max(rec.lastUse, db.memLastUse(h)), db.tokens.idle) {
				gone = append(gone, h)
			}
		}
		return gone
	}
	var gone [][sha256.Size]byte
	if err := db.bolt.View(func(tx *bolt.Tx) error { gone = expired(tx); return nil }); err != nil {
		return 0, err
	}
	if len(gone) > 0 {
		err := db.update(context.Background(), func(tx *bolt.Tx) error {
			gone = expired(tx) // again: a token may have been used meanwhile
			for _, h := range gone {
				if err := deleteToken(tx, h[:]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	for _, h := range gone {
		db.tokens.lastUse.Delete(h)
	}
	// Last uses of tokens revoked meanwhile, once they are as old as that.
	db.tokens.lastUse.Range(func(k, v any) bool {
		if now-v.(*atomic.Int64).Load() > int64(db.tokens.idle) {
			db.tokens.lastUse.Delete(k)
		}
		return true
	})
	return len(gone), nil
}

func deleteToken(tx *bolt.Tx, h []byte) error {
	b := tx.Bucket(bucketTokens)
	rec, ok := decodeToken(b.Get(h))
	if !ok {
		return b.Delete(h)
	}
	if err := tx.Bucket(bucketUserTokens).Delete(userTokenKey(rec.userID, h)); err != nil {
		return err
	}
	return b.Delete(h)
}

// newSecret is a token, code or key of n random bytes in base64url, after
// the store's TokenPrefix (its node, in cluster mode).
func (db *DB) newSecret(n int) string {
	return db.tokenPrefix + randomText(n)
}

// randomText is n random bytes in base64url (crypto/rand never fails).
func randomText(n int) string {
	raw := make([]byte, n)
	rand.Read(raw)
	return base64.RawURLEncoding.EncodeToString(raw)
}
