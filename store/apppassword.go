package store

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
)

// secretState is the app password secret, once read.
type secretState struct {
	mu    sync.Mutex
	value []byte
}

// An app password is derived, never stored: base64url of the first 18
// bytes of HMAC-SHA256(secret, user id | generation), where the secret is
// 32 random bytes made with the database and the generation is the user's
// count of resets. A reset raises the generation, so the old password
// stops working in the same commit.

// appSecret returns the database's app password secret, making it on
// first use. It never changes, so after the first call it is memory's.
func (db *DB) appSecret() ([]byte, error) {
	db.secret.mu.Lock()
	defer db.secret.mu.Unlock()
	if db.secret.value != nil {
		return db.secret.value, nil
	}
	secret, err := db.loadAppSecret()
	if err == nil {
		db.secret.value = secret
	}
	return secret, err
}

func (db *DB) loadAppSecret() ([]byte, error) {
	var secret []byte
	err := db.bolt.View(func(tx *bolt.Tx) error {
		secret = append(secret, tx.Bucket(bucketMeta).Get(keyAppSecret)...)
		return nil
	})
	if err != nil || len(secret) == 32 {
		return secret, err
	}
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, ferry.Errorf(ferry.ETOKENCANNOTBEGENERATED, "Unable to generate a secret.")
	}
	err = db.update(context.Background(), func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(keyAppSecret); len(v) == 32 {
			secret = append(secret[:0], v...) // made meanwhile
			return nil
		}
		secret = fresh
		return meta.Put(keyAppSecret, fresh)
	})
	return secret, err
}

func appGeneration(tx *bolt.Tx, userID uint64) uint64 {
	if v := tx.Bucket(bucketAppPasswords).Get(itob(userID)); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func deriveAppPassword(secret []byte, userID, gen uint64) string {
	m := hmac.New(sha256.New, secret)
	var b [16]byte
	binary.BigEndian.PutUint64(b[:], userID)
	binary.BigEndian.PutUint64(b[8:], gen)
	m.Write(b[:])
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// AppPassword returns the user's current WebDAV app password.
func (db *DB) AppPassword(ctx context.Context, userID uint64) (string, error) {
	secret, err := db.appSecret()
	if err != nil {
		return "", err
	}
	var gen uint64
	err = db.bolt.View(func(tx *bolt.Tx) error {
		if _, err := db.findUserByID(tx, userID); err != nil {
			return err
		}
		gen = appGeneration(tx, userID)
		return nil
	})
	if err != nil {
		return "", err
	}
	return deriveAppPassword(secret, userID, gen), nil
}

// endCredentials ends every way the user had in: each token but keep,
// and the app password (a new generation, which nobody has been told). A
// password change and a disable call it in their own transaction.
func endCredentials(tx *bolt.Tx, userID uint64, keep string) error {
	if err := revokeUserTokens(tx, userID, keep); err != nil {
		return err
	}
	return tx.Bucket(bucketAppPasswords).Put(itob(userID), itob(appGeneration(tx, userID)+1))
}

// ResetAppPassword gives the user a new app password and returns it; the
// old one no longer works once this returns.
func (db *DB) ResetAppPassword(ctx context.Context, userID uint64) (string, error) {
	secret, err := db.appSecret()
	if err != nil {
		return "", err
	}
	var gen uint64
	err = db.update(ctx, func(tx *bolt.Tx) error {
		if _, err := db.findUserByID(tx, userID); err != nil {
			return err
		}
		gen = appGeneration(tx, userID) + 1
		return tx.Bucket(bucketAppPasswords).Put(itob(userID), itob(gen))
	})
	if err != nil {
		return "", err
	}
	return deriveAppPassword(secret, userID, gen), nil
}

// CheckAppPassword returns the user whose email and app password these
// are: AUTH_FAILED when they are not, ACCOUNT_DISABLED for a disabled user.
func (db *DB) CheckAppPassword(ctx context.Context, email, password string) (*ferry.User, error) {
	failed := ferry.Errorf(ferry.EAUTHFAILED, "Wrong login or app password.")
	secret, err := db.appSecret()
	if err != nil {
		return nil, err
	}
	var u *ferry.User
	var gen uint64
	err = db.bolt.View(func(tx *bolt.Tx) (err error) {
		if u, err = db.findUserByEmail(tx, email); err != nil {
			return err
		}
		gen = appGeneration(tx, u.ID)
		return nil
	})
	if ferry.ErrorCode(err) == ferry.EUSERNOTFOUND {
		return nil, failed
	} else if err != nil {
		return nil, err
	}
	want := deriveAppPassword(secret, u.ID, gen)
	if subtle.ConstantTimeCompare([]byte(password), []byte(want)) != 1 {
		return nil, failed
	}
	if u.Disabled {
		return nil, ferry.Errorf(ferry.EACCOUNTDISABLED, "This account is disabled.")
	}
	return u, db.hold(ctx, u.ID)
}
