package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"runtime/metrics"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
)

// passwordState bounds concurrent argon2id computations.
type passwordState struct {
	sem chan struct{}
}

// CreateUser creates an account. It returns INVALID_EMAIL, METHOD_BAD_REQUEST
// (full name), INVALID_NEW_PASSWORD or EMAIL_ALREADY_EXIST errors.
func (db *DB) CreateUser(ctx context.Context, nu ferry.NewUser) (*ferry.User, error) {
	return db.createUser(ctx, nu, nil, nil)
}

// CreateInvitedUser is CreateUser for a signup with an invitation code,
// which it uses up in the same transaction: NO_PERMISSION for a code that
// is unknown, used or expired. The code is checked before anything else,
// so that without one nothing is told of which emails have accounts.
func (db *DB) CreateInvitedUser(ctx context.Context, nu ferry.NewUser, code string) (*ferry.User, error) {
	now := db.now()
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		_, err := openInvite(tx, code, now)
		return err
	}); err != nil {
		return nil, err
	}
	return db.createUser(ctx, nu, func(tx *bolt.Tx) (string, error) { return claimInvite(tx, code, now) }, nil)
}

// createUser makes the account nu in one transaction with claim, when not
// nil, which uses up an invitation and returns the email it was for. The
// sends waiting for the new account's email, or for that one, are the
// account's. An account bound to a provider's identity (link) has no
// password.
func (db *DB) createUser(ctx context.Context, nu ferry.NewUser, claim func(*bolt.Tx) (string, error), link *ferry.SSOLink) (*ferry.User, error) {
	if nu.Package == "" {
		nu.Package = db.rules.packages.Default
	}
	email, err := ferry.NormalizeEmail(nu.Email)
	if err != nil {
		return nil, err
	}
	name, err := ferry.ValidFullName(nu.FullName)
	if err != nil {
		return nil, err
	}
	if link == nil {
		if err := ferry.ValidPassword(nu.Password); err != nil {
			return nil, err
		}
	}
	if db.emailTaken(email) { // cheap early answer; checked again below
		return nil, ferry.Errorf(ferry.EEMAILEXISTS, "An account with the email %s exists already.", email)
	}
	var hash string
	if link == nil {
		if hash, err = db.hashPassword(nu.Password); err != nil {
			return nil, err
		}
	}
	u := &ferry.User{
		Email:        email,
		FullName:     name,
		PasswordHash: hash,
		Package:      nu.Package,
		Created:      db.now().UTC(),
		SSO:          link,
	}
	err = db.update(ctx, func(tx *bolt.Tx) error {
		var invited string
		if claim != nil {
			if invited, err = claim(tx); err != nil {
				return err
			}
		}
		emails := tx.Bucket(bucketUserEmails)
		if emails.Get([]byte(email)) != nil {
			return ferry.Errorf(ferry.EEMAILEXISTS, "An account with the email %s exists already.", email)
		}
		id, err := tx.Bucket(bucketUsers).NextSequence()
		if err != nil {
			return err
		}
		u.ID = id
		if err := emails.Put([]byte(email), itob(id)); err != nil {
			return err
		}
		if err := putUser(tx, u); err != nil {
			return err
		}
		if err := db.record(tx, ctx, id, ferry.ActionAccountCreated, email, nil); err != nil {
			return err
		}
		if link != nil {
			if err := bindSSO(tx, *link, id); err != nil {
				return err
			}
		}
		if err := claimInvitedSends(tx, u, u.Email); err != nil {
			return err
		}
		if invited != "" && invited != u.Email {
			return claimInvitedSends(tx, u, invited)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

func (db *DB) emailTaken(email string) bool {
	var taken bool
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		taken = tx.Bucket(bucketUserEmails).Get([]byte(email)) != nil
		return nil
	})
	return taken
}

// UserByID returns the user with that id, or a USER_NOT_FOUND error.
func (db *DB) UserByID(id uint64) (*ferry.User, error) {
	var u *ferry.User
	err := db.bolt.View(func(tx *bolt.Tx) (err error) {
		u, err = db.findUserByID(tx, id)
		return err
	})
	return u, err
}

// UserByEmail returns the user with that email (normalised first), or a
// USER_NOT_FOUND error.
func (db *DB) UserByEmail(email string) (*ferry.User, error) {
	var u *ferry.User
	err := db.bolt.View(func(tx *bolt.Tx) (err error) {
		u, err = db.findUserByEmail(tx, email)
		return err
	})
	return u, err
}

// UpdateUser loads the user, lets fn change it and stores the result, all in
// one transaction, with an admin_update event of what changed (by ctx's
// actor: an administrator, or the admin CLI). An error from fn aborts the
// change and is returned as it is. fn must not change ID or Email.
// Disabling the user ends every credential they had (endCredentials) in
// the same transaction.
func (db *DB) UpdateUser(ctx context.Context, id uint64, fn func(*ferry.User) error) (*ferry.User, error) {
	var u *ferry.User
	err := db.update(ctx, func(tx *bolt.Tx) (err error) {
		if u, err = db.findUserByID(tx, id); err != nil {
			return err
		}
		before := *u
		if err := fn(u); err != nil {
			return err
		}
		if u.Disabled && !before.Disabled {
			if err := endCredentials(tx, id, ""); err != nil {
				return err
			}
		}
		if changed := userChanges(before, *u); len(changed) > 0 {
			if err := db.record(tx, ctx, id, ferry.ActionAdminUpdate, u.Email, changed); err != nil {
				return err
			}
		}
		return putUser(tx, u)
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// UserUsage is a user with their usage, as ListUsers returns them.
type UserUsage struct {
	*ferry.User
	Usage ferry.Usage
}

// ListUsers returns every user, ordered by email, with their usage.
func (db *DB) ListUsers() ([]UserUsage, error) {
	var list []UserUsage
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketUserEmails).ForEach(func(_, id []byte) error {
			u, err := db.findUserByID(tx, binary.BigEndian.Uint64(id))
			if err != nil {
				return err
			}
			list = append(list, UserUsage{User: u, Usage: usageOf(tx, u.ID)})
			return nil
		})
	})
	return list, err
}

// Usage returns what the user has spent of their quotas.
func (db *DB) Usage(id uint64) (ferry.Usage, error) {
	var us ferry.Usage
	err := db.bolt.View(func(tx *bolt.Tx) error {
		us = usageOf(tx, id)
		return nil
	})
	return us, err
}

// CheckPassword returns the user whose email and password these are. It
// returns AUTH_FAILED when either is wrong, taking as long for an unknown
// email as for a wrong password, and ACCOUNT_DISABLED for a disabled
// account with the right password.
func (db *DB) CheckPassword(ctx context.Context, email, password string) (*ferry.User, error) {
	failed := ferry.Errorf(ferry.EAUTHFAILED, "Wrong email or password.")
	if len(password) > ferry.MaxPasswordLen {
		password = "" // never hash an over-long input; it cannot match
	}
	// One hash on every path, whether the email is known or not and
	// whatever the password, so that the time taken tells nothing.
	u, err := db.UserByEmail(email)
	hash := dummyHash()
	if err == nil && u.PasswordHash != "" {
		hash = u.PasswordHash
	} else if err == nil {
		u = nil // an account made through the provider: no password yet
	} else if ferry.ErrorCode(err) != ferry.EUSERNOTFOUND {
		return nil, err
	}
	if !db.verifyPassword(hash, password) || u == nil || password == "" {
		return nil, failed
	}
	if u.Disabled {
		return nil, ferry.Errorf(ferry.EACCOUNTDISABLED, "This account is disabled.")
	}
	return u, db.hold(ctx, u.ID)
}

// hashPassword and verifyPassword bound how many argon2id computations run
// at once, so a burst of logins cannot take all memory.
func (db *DB) hashPassword(p string) (string, error) {
	db.passwords.sem <- struct{}{}
	defer db.hashDone()
	return hashPassword(p)
}

func (db *DB) verifyPassword(hash, p string) bool {
	db.passwords.sem <- struct{}{}
	defer db.hashDone()
	return verifyPassword(hash, p)
}

// hashDone ends an argon2id computation. Each allocates argonMemory (7 MiB)
// that is garbage once it returns. At Go's default GOGC the next collection
// comes soon; ferry serve runs the collector lazily (GOGC=400, whose
// smallest heap goal is 16 MiB), and there those megabytes stayed in RSS
// long after a login. So when the collector is lazy, the last computation
// of a burst collects and hands the memory back to the OS at once: about a
// millisecond beside the hash's tens.
func (db *DB) hashDone() {
	last := len(db.passwords.sem) == 1
	<-db.passwords.sem
	if last && lazyGC() {
		debug.FreeOSMemory()
	}
}

// lazyGC reports whether the collector runs at a GOGC above Go's default.
func lazyGC() bool {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Kind() == metrics.KindUint64 && s[0].Value.Uint64() > 100
}

func (db *DB) findUserByID(tx *bolt.Tx, id uint64) (*ferry.User, error) {
	v := tx.Bucket(bucketUsers).Get(itob(id))
	if v == nil {
		return nil, ferry.Errorf(ferry.EUSERNOTFOUND, "No such user.")
	}
	return db.decodeUser(id, v)
}

// decodedUser is a user record's bytes and what they decode to.
type decodedUser struct {
	raw  []byte
	user ferry.User
}

// decodeUser decodes a user record, or copies the decoding in db.userMemo:
// every authenticated request reads its user, and JSON decoding was a
// tenth of such a request's time. A memo is used only when the stored bytes
// are the very bytes it was decoded from, so it can never be stale.
func (db *DB) decodeUser(id uint64, v []byte) (*ferry.User, error) {
	if e, ok := db.userMemo.Load(id); ok {
		if d := e.(*decodedUser); bytes.Equal(d.raw, v) {
			u := d.user // a copy; the override pointers are never written through
			return &u, nil
		}
	}
	d := &decodedUser{raw: bytes.Clone(v)}
	if err := json.Unmarshal(d.raw, &d.user); err != nil {
		return nil, fmt.Errorf("decode user %d: %w", id, err)
	}
	db.userMemo.Store(id, d)
	u := d.user
	return &u, nil
}

func (db *DB) findUserByEmail(tx *bolt.Tx, email string) (*ferry.User, error) {
	e, err := ferry.NormalizeEmail(email)
	if err != nil {
		return nil, ferry.Errorf(ferry.EUSERNOTFOUND, "No user has the email %q.", email)
	}
	id := tx.Bucket(bucketUserEmails).Get([]byte(e))
	if id == nil {
		return nil, ferry.Errorf(ferry.EUSERNOTFOUND, "No user has the email %s.", e)
	}
	return db.findUserByID(tx, binary.BigEndian.Uint64(id))
}

func putUser(tx *bolt.Tx, u *ferry.User) error {
	v, err := json.Marshal(u)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketUsers).Put(itob(u.ID), v)
}

// ChangeSettings applies a /settings/update to the user. A new password
// needs the right current one (else WRONG_CURRENT_PASSWORD) and must be
// valid (else INVALID_NEW_PASSWORD); it revokes every token of the user but
// keep, in the same transaction. A bad full name is METHOD_BAD_REQUEST.
func (db *DB) ChangeSettings(ctx context.Context, userID uint64, keep string, ch ferry.SettingsChange) error {
	var name, hash string
	if ch.FullName != nil {
		var err error
		if name, err = ferry.ValidFullName(*ch.FullName); err != nil {
			return err
		}
	}
	if ch.NewPassword != nil {
		u, err := db.UserByID(userID)
		if err != nil {
			return err
		}
		if ch.CurrentPassword == "" || len(ch.CurrentPassword) > ferry.MaxPasswordLen || !db.verifyPassword(u.PasswordHash, ch.CurrentPassword) {
			return ferry.Errorf(ferry.EWRONGPASSWORD, "The current password is wrong.")
		}
		if err := ferry.ValidPassword(*ch.NewPassword); err != nil {
			return err
		}
		if hash, err = db.hashPassword(*ch.NewPassword); err != nil {
			return err
		}
	}
	return db.update(ctx, func(tx *bolt.Tx) error {
		u, err := db.findUserByID(tx, userID)
		if err != nil {
			return err
		}
		if ch.FullName != nil {
			u.FullName = name
		}
		if ch.AcceptAll != nil {
			u.AcceptAll = *ch.AcceptAll
		}
		if ch.MailOnDecision != nil {
			u.NoDecisionMail = !*ch.MailOnDecision
		}
		if ch.MailOnDownload != nil {
			u.MailOnDownload = *ch.MailOnDownload
		}
		if ch.NewPassword != nil {
			u.PasswordHash = hash
			if err := endCredentials(tx, userID, keep); err != nil {
				return err
			}
			if err := db.record(tx, ctx, userID, ferry.ActionPasswordChanged, u.Email, nil); err != nil {
				return err
			}
		}
		return putUser(tx, u)
	})
}

// userChanges is what an administrator's change did, for its event.
func userChanges(a, b ferry.User) map[string]any {
	changed := map[string]any{}
	if a.Package != b.Package {
		changed["package"] = b.Package
	}
	limit := func(p *int64) any {
		if p == nil {
			return "package"
		}
		return *p
	}
	if !equalLimit(a.StorageOverride, b.StorageOverride) {
		changed["storage"] = limit(b.StorageOverride)
	}
	if !equalLimit(a.ReceiveOverride, b.ReceiveOverride) {
		changed["receive"] = limit(b.ReceiveOverride)
	}
	if a.Disabled != b.Disabled {
		changed["disabled"] = b.Disabled
	}
	if a.Admin != b.Admin {
		changed["admin"] = b.Admin
	}
	return changed
}

func equalLimit(a, b *int64) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}
