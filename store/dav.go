package store

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/paths"
)

// What WebDAV (/dav/) needs of the store beyond the API's file calls: app
// passwords, strict folder creation, stat and listing of files and folders
// alike, and the properties clients set on them.

// An app password is derived, never stored: base64url of the first 18
// bytes of HMAC-SHA256(secret, user id | generation), where the secret is
// 32 random bytes made with the database and the generation is the user's
// count of resets. A reset raises the generation, so the old password
// stops working in the same commit.

// appSecret returns the database's app password secret, making it on
// first use. It never changes, so after the first call it is memory's.
func (db *DB) appSecret() ([]byte, error) {
	db.secretMu.Lock()
	defer db.secretMu.Unlock()
	if db.secret != nil {
		return db.secret, nil
	}
	secret, err := db.loadAppSecret()
	if err == nil {
		db.secret = secret
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
	err = db.update(func(tx *bolt.Tx) error {
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
func (db *DB) AppPassword(userID uint64) (string, error) {
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
func (db *DB) ResetAppPassword(userID uint64) (string, error) {
	secret, err := db.appSecret()
	if err != nil {
		return "", err
	}
	var gen uint64
	err = db.update(func(tx *bolt.Tx) error {
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
func (db *DB) CheckAppPassword(email, password string) (*ferry.User, error) {
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
	return u, nil
}

// Lookup returns the file or folder at names (the root is a folder with an
// empty name), or FILE_NOT_FOUND.
func (db *DB) Lookup(userID uint64, names []string) (ferry.FileInfo, error) {
	var info ferry.FileInfo
	err := db.bolt.View(func(tx *bolt.Tx) error {
		n, err := walk(tx, userID, names)
		if err != nil {
			return err
		}
		info = n.info(paths.Join(names))
		return nil
	})
	return info, err
}

// ReadDir returns the entries of the folder at names in name order:
// FILE_NOT_FOUND when nothing is there, METHOD_BAD_REQUEST for a file.
func (db *DB) ReadDir(userID uint64, names []string) ([]ferry.FileInfo, error) {
	var list []ferry.FileInfo
	err := db.bolt.View(func(tx *bolt.Tx) error {
		dir, err := walkDir(tx, userID, names)
		if err != nil || dir.id == 0 {
			return err
		}
		prefix := paths.Join(names)
		if prefix != "" {
			prefix += "/"
		}
		return eachChild(tx, dir.id, func(id uint64, _ []byte, _ bool, _ int64) error {
			n, err := getNode(tx, id)
			if err != nil {
				return err
			}
			list = append(list, n.info(prefix+n.name))
			return nil
		})
	})
	return list, err
}

// MakeFolder creates the folder at names, whose parent must exist:
// FILE_NOT_FOUND when it does not, FILE_EXISTS when something is at names
// or the parent is a file.
// With replace, what is at names is deleted first, in the same
// transaction.
func (db *DB) MakeFolder(userID uint64, names []string, replace bool) error {
	if len(names) == 0 {
		return ferry.Errorf(ferry.EFILEEXISTS, "The root exists.")
	}
	now := db.now().UnixNano()
	var released []sum
	err := db.update(func(tx *bolt.Tx) error {
		released = nil
		parentNames := names[:len(names)-1]
		parent, err := walk(tx, userID, parentNames)
		if err != nil {
			return err
		}
		if !parent.dir {
			return ferry.Errorf(ferry.EFILEEXISTS, "%q is a file.", paths.Join(parentNames))
		}
		if id := childID(tx, parent.id, names[len(names)-1]); parent.id != 0 && id != 0 {
			if !replace {
				return ferry.Errorf(ferry.EFILEEXISTS, "%q exists.", paths.Join(names))
			}
			old, err := getNode(tx, id)
			if err != nil {
				return err
			}
			if released, err = removeTree(tx, userID, old, nil); err != nil {
				return err
			}
		}
		_, err = mkdirAll(tx, userID, names, now)
		return err
	})
	if err == nil {
		db.release(released)
		db.reclaimNow()
	}
	return err
}

// maxDeadProps bounds the properties a client may keep on one file or
// folder, and maxUserProps those of all of one user's files and folders
// (Usage.Props): they live in the database, outside the storage quota.
const (
	maxDeadProps = 64 << 10
	maxUserProps = 1 << 20
)

// DeadProps returns what PatchDeadProps last stored for the file or folder
// at names (nil when nothing).
func (db *DB) DeadProps(userID uint64, names []string) ([]byte, error) {
	var out []byte
	err := db.bolt.View(func(tx *bolt.Tx) error {
		n, err := walk(tx, userID, names)
		if err != nil || n.id == 0 {
			return err
		}
		out = append(out, tx.Bucket(bucketDeadProps).Get(itob(n.id))...)
		return nil
	})
	return out, err
}

// PatchDeadProps replaces the properties of the file or folder at names
// with what patch makes of the stored ones, in one transaction. The
// properties go with the node: a move keeps them, a delete drops them.
func (db *DB) PatchDeadProps(userID uint64, names []string, patch func(old []byte) ([]byte, error)) error {
	now := db.now().UnixNano()
	return db.update(func(tx *bolt.Tx) error {
		n, err := walk(tx, userID, names)
		if err != nil {
			return err
		}
		if n.id == 0 { // a root not made yet
			if n, err = mkdirAll(tx, userID, nil, now); err != nil {
				return err
			}
		}
		props := tx.Bucket(bucketDeadProps)
		old := props.Get(itob(n.id))
		v, err := patch(old)
		if err != nil {
			return err
		}
		if len(v) > maxDeadProps {
			return ferry.Errorf(ferry.ETOOLARGE, "The properties are over %d bytes.", maxDeadProps)
		}
		if delta := int64(len(v) - len(old)); delta > 0 {
			if err := db.checkSpace(delta); err != nil {
				return err
			}
		}
		if err := chargeProps(tx, userID, int64(len(v)-len(old))); err != nil {
			return err
		}
		if len(v) == 0 {
			return props.Delete(itob(n.id))
		}
		return props.Put(itob(n.id), v)
	})
}

// chargeProps adds delta bytes to the user's WebDAV properties, or
// returns QUOTA_EXCEEDED when that would pass maxUserProps.
func chargeProps(tx *bolt.Tx, userID uint64, delta int64) error {
	if delta == 0 {
		return nil
	}
	u := usageOf(tx, userID)
	if delta > 0 && u.Props+delta > maxUserProps {
		return ferry.Errorf(ferry.EQUOTAEXCEEDED, "The WebDAV properties of your files would pass %d bytes in all.", maxUserProps)
	}
	u.Props += delta
	return putUsage(tx, userID, u)
}

// orphanDeadProps returns the keys of properties kept for nodes that no
// longer exist.
func orphanDeadProps(tx *bolt.Tx) [][]byte {
	nodes := tx.Bucket(bucketNodes)
	var gone [][]byte
	_ = tx.Bucket(bucketDeadProps).ForEach(func(k, _ []byte) error {
		if nodes.Get(k) == nil {
			gone = append(gone, append([]byte(nil), k...))
		}
		return nil
	})
	return gone
}

// checkDeadProps reports properties kept for nodes that no longer exist.
func checkDeadProps(tx *bolt.Tx) []string {
	var problems []string
	for _, k := range orphanDeadProps(tx) {
		problems = append(problems, fmt.Sprintf("dead properties of node %d, which does not exist", binary.BigEndian.Uint64(k)))
	}
	return problems
}

// dropDeadProps deletes the properties kept for nodes that no longer exist.
func dropDeadProps(tx *bolt.Tx, fix func(format string, args ...any)) error {
	props := tx.Bucket(bucketDeadProps)
	for _, k := range orphanDeadProps(tx) {
		fix("dead properties of node %d, which does not exist: deleted", binary.BigEndian.Uint64(k))
		if err := props.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
