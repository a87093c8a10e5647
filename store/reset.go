package store

import (
	"context"
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
)

// A password reset code is random; only its SHA-256 is stored (bucket
// resets), with the user's id and its expiry (Unix ns), 8 bytes each. A
// successful reset uses it up, and every other code of the user with it.

// ForgotPassword makes a reset code, valid for life, for the account with
// email and queues mail(user, code) to it, in one transaction. For an
// email without an account (or a disabled one) it does nothing and says
// nothing: the caller answers the same either way.
func (db *DB) ForgotPassword(ctx context.Context, email string, life time.Duration, mail func(u *ferry.User, code string) ferry.Mail) error {
	code := db.newSecret(32)
	h := hashToken(code)
	return db.update(ctx, func(tx *bolt.Tx) error {
		u, err := db.findUserByEmail(tx, email)
		if ferry.ErrorCode(err) == ferry.EUSERNOTFOUND || (err == nil && u.Disabled) {
			return nil
		} else if err != nil {
			return err
		}
		v := binary.BigEndian.AppendUint64(itob(u.ID), uint64(db.now().Add(life).UnixNano()))
		if err := tx.Bucket(bucketResets).Put(h[:], v); err != nil {
			return err
		}
		return db.queueMail(tx, mail(u, code))
	})
}

// ResetPassword sets the password of the account a reset code names and
// ends every token and the app password of it; the code, and every other
// code of the account, is used up. An unknown, used or expired code is
// NO_PERMISSION; a password that the rules refuse is INVALID_NEW_PASSWORD
// and leaves the code as it was.
func (db *DB) ResetPassword(ctx context.Context, code, password, otp string) (*ferry.User, error) {
	if err := ferry.ValidPassword(password); err != nil {
		return nil, err
	}
	h := hashToken(code)
	refused := ferry.Errorf(ferry.ENOPERMISSION, "This reset link is unknown, used or expired: ask for a new one.")
	valid := func(tx *bolt.Tx) (uint64, bool) {
		v := tx.Bucket(bucketResets).Get(h[:])
		if len(v) != 16 || db.now().UnixNano() >= int64(binary.BigEndian.Uint64(v[8:])) {
			return 0, false
		}
		return binary.BigEndian.Uint64(v), true
	}
	var ok bool
	if err := db.bolt.View(func(tx *bolt.Tx) error { _, ok = valid(tx); return nil }); err != nil {
		return nil, err
	}
	if !ok {
		return nil, refused
	}
	hash, err := db.hashPassword(password) // outside the write: tens of milliseconds
	if err != nil {
		return nil, err
	}
	var u *ferry.User
	err = db.update(ctx, func(tx *bolt.Tx) error {
		id, ok := valid(tx)
		if !ok {
			return refused // used meanwhile
		}
		if u, err = db.findUserByID(tx, id); err != nil {
			return refused // the account went meanwhile
		}
		if u.TwoFactor {
			// A mailbox alone does not get past the second factor.
			if err := checkSecondFactor(tx, u.ID, otp, db.now()); err != nil {
				return err
			}
		}
		if err := deleteResets(tx, func(user uint64, _ int64) bool { return user == id }); err != nil {
			return err
		}
		if err := db.record(tx, ctx, u.ID, ferry.ActionPasswordReset, u.Email, nil); err != nil {
			return err
		}
		return setPasswordHash(tx, u, hash)
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// SetPassword sets a user's password, as the admin does, and ends every
// token and the app password of the account.
func (db *DB) SetPassword(ctx context.Context, userID uint64, password string) error {
	if err := ferry.ValidPassword(password); err != nil {
		return err
	}
	hash, err := db.hashPassword(password)
	if err != nil {
		return err
	}
	return db.update(ctx, func(tx *bolt.Tx) error {
		u, err := db.findUserByID(tx, userID)
		if err != nil {
			return err
		}
		if err := db.record(tx, ctx, u.ID, ferry.ActionPasswordChanged, u.Email, map[string]any{"set_by": "admin"}); err != nil {
			return err
		}
		return setPasswordHash(tx, u, hash)
	})
}

// setPasswordHash gives u a new password (its hash) and ends every token
// and the app password of the account: a password set for someone, not
// changed by them in a session.
func setPasswordHash(tx *bolt.Tx, u *ferry.User, hash string) error {
	u.PasswordHash = hash
	if err := endCredentials(tx, u.ID, ""); err != nil {
		return err
	}
	return putUser(tx, u)
}

// DeleteExpiredResets removes the reset codes past their expiry and
// returns how many; with none due it writes nothing.
func (db *DB) DeleteExpiredResets() (int, error) {
	now := db.now().UnixNano()
	expired := func(_ uint64, expires int64) bool { return now >= expires }
	n := 0
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketResets).ForEach(func(_, v []byte) error {
			if len(v) != 16 || expired(0, int64(binary.BigEndian.Uint64(v[8:]))) {
				n++
			}
			return nil
		})
	})
	if err != nil || n == 0 {
		return 0, err
	}
	return n, db.update(context.Background(), func(tx *bolt.Tx) error { return deleteResets(tx, expired) })
}

// deleteResets deletes the reset codes (and any malformed record) for
// which drop(user, expires) is true.
func deleteResets(tx *bolt.Tx, drop func(user uint64, expires int64) bool) error {
	return deleteWhere(tx.Bucket(bucketResets), func(_, v []byte) bool {
		return len(v) != 16 || drop(binary.BigEndian.Uint64(v), int64(binary.BigEndian.Uint64(v[8:])))
	})
}
