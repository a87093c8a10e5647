package store

import (
	"context"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
)

// Accounts bound to an OpenID Connect provider: the sso bucket maps the
// provider's (issuer, subject) to the account, and the account's record
// names them (ferry.User.SSO). An identity is bound to one account at
// most, and an account to one identity; an email never binds anything.

func ssoKey(l ferry.SSOLink) []byte {
	return append(append([]byte(l.Issuer), 0), l.Subject...)
}

// bindSSO binds identity l to the account id: METHOD_BAD_REQUEST when it
// is another account's.
func bindSSO(tx *bolt.Tx, l ferry.SSOLink, id uint64) error {
	b := tx.Bucket(bucketSSO)
	if v := b.Get(ssoKey(l)); v != nil && btoi(v) != id {
		return ferry.Errorf(ferry.EBADREQUEST, "This account of the identity provider is linked to another ferry account already.")
	}
	return b.Put(ssoKey(l), itob(id))
}

// UserBySSO returns the account bound to the provider's identity:
// USER_NOT_FOUND for none.
func (db *DB) UserBySSO(ctx context.Context, l ferry.SSOLink) (*ferry.User, error) {
	var u *ferry.User
	err := db.bolt.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSSO).Get(ssoKey(l))
		if v == nil {
			return ferry.Errorf(ferry.EUSERNOTFOUND, "No account is linked to this identity.")
		}
		var err error
		u, err = db.findUserByID(tx, btoi(v))
		return err
	})
	if err == nil {
		err = db.hold(ctx, u.ID)
	}
	return u, err
}

// CreateSSOUser makes an account bound to the provider's identity l,
// without a password (a reset sets one): EMAIL_ALREADY_EXIST when the
// email has an account, which is never linked here.
func (db *DB) CreateSSOUser(ctx context.Context, nu ferry.NewUser, l ferry.SSOLink) (*ferry.User, error) {
	return db.createUser(ctx, nu, nil, &l)
}

// LinkSSO binds the user's account to the provider's identity l, from
// inside the account's session: METHOD_BAD_REQUEST when l is another
// account's or the account is linked to another identity.
func (db *DB) LinkSSO(ctx context.Context, userID uint64, l ferry.SSOLink) error {
	return db.update(ctx, func(tx *bolt.Tx) error {
		u, err := db.findUserByID(tx, userID)
		if err != nil {
			return err
		}
		if u.SSO != nil && *u.SSO != l {
			return ferry.Errorf(ferry.EBADREQUEST, "This account is linked to another identity already: unlink it first.")
		}
		if err := bindSSO(tx, l, userID); err != nil {
			return err
		}
		u.SSO = &l
		return putUser(tx, u)
	})
}

// UnlinkSSO unbinds the user's account from its identity:
// METHOD_BAD_REQUEST when it has no password, which would leave no way in.
func (db *DB) UnlinkSSO(ctx context.Context, userID uint64) error {
	return db.update(ctx, func(tx *bolt.Tx) error {
		u, err := db.findUserByID(tx, userID)
		if err != nil {
			return err
		}
		if u.SSO == nil {
			return ferry.Errorf(ferry.EBADREQUEST, "This account is not linked to an identity provider.")
		}
		if u.PasswordHash == "" {
			return ferry.Errorf(ferry.EBADREQUEST, "Set a password first (ask for a reset link on the sign-in page): without the provider it is the only way in.")
		}
		if err := tx.Bucket(bucketSSO).Delete(ssoKey(*u.SSO)); err != nil {
			return err
		}
		u.SSO = nil
		return putUser(tx, u)
	})
}

// SetPackage moves the user to package pkg (a provider's claim named it).
func (db *DB) SetPackage(ctx context.Context, userID uint64, pkg string) error {
	if !db.rules.packages.Has(pkg) {
		return ferry.Errorf(ferry.EBADREQUEST, "There is no package %q.", pkg)
	}
	return db.update(ctx, func(tx *bolt.Tx) error {
		u, err := db.findUserByID(tx, userID)
		if err != nil || u.Package == pkg {
			return err
		}
		u.Package = pkg
		return putUser(tx, u)
	})
}
