package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/paths"
)

// A download link is a random token that names one file node until it
// expires. Only the token's SHA-256 is stored, with the owner, the node and
// the expiry (Unix ns), 8 bytes each. The link follows the file when it is
// moved or replaced and stops working when it is deleted.

// CreateLink makes a download link to the file at names, valid until
// expires, and returns its token. It returns FILE_NOT_FOUND, and
// METHOD_BAD_REQUEST for a folder.
func (db *DB) CreateLink(ctx context.Context, userID uint64, names []string, expires time.Time) (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	h := hashToken(token)
	err := db.update(ctx, func(tx *bolt.Tx) error {
		n, err := walk(tx, userID, names)
		if err != nil {
			return err
		}
		if n.dir {
			return ferry.Errorf(ferry.EBADREQUEST, "%q is a folder; links are for files.", paths.Join(names))
		}
		v := make([]byte, 24)
		binary.BigEndian.PutUint64(v[0:], userID)
		binary.BigEndian.PutUint64(v[8:], n.id)
		binary.BigEndian.PutUint64(v[16:], uint64(expires.UnixNano()))
		return tx.Bucket(bucketLinks).Put(h[:], v)
	})
	if err != nil {
		return "", err
	}
	return token, nil
}

// OpenLink returns the file a link names and when the link expires, or
// FILE_NOT_FOUND when the link is unknown, expired, its file is gone, or
// its owner is disabled or gone.
func (db *DB) OpenLink(ctx context.Context, token string) (ferry.FileInfo, time.Time, error) {
	h := hashToken(token)
	var info ferry.FileInfo
	var expires time.Time
	gone := ferry.Errorf(ferry.EFILENOTFOUND, "No such link, or it expired.")
	err := db.bolt.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketLinks).Get(h[:])
		if len(v) != 24 || db.now().UnixNano() >= int64(binary.BigEndian.Uint64(v[16:])) {
			return gone
		}
		expires = time.Unix(0, int64(binary.BigEndian.Uint64(v[16:])))
		if owner, err := db.findUserByID(tx, binary.BigEndian.Uint64(v[0:8])); err != nil || owner.Disabled {
			return gone
		}
		nv := tx.Bucket(bucketNodes).Get(v[8:16])
		if nv == nil {
			return gone
		}
		n, err := decodeNode(binary.BigEndian.Uint64(v[8:16]), nv)
		if err != nil {
			return err
		}
		info = n.info("")
		return nil
	})
	return info, expires, err
}

// DeleteExpiredLinks removes the links past their expiry and returns how
// many it removed. With none due it writes nothing.
func (db *DB) DeleteExpiredLinks() (int, error) {
	now := db.now().UnixNano()
	var expired [][]byte
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketLinks).ForEach(func(k, v []byte) error {
			if len(v) != 24 || now >= int64(binary.BigEndian.Uint64(v[16:])) {
				expired = append(expired, append([]byte(nil), k...))
			}
			return nil
		})
	})
	if err != nil || len(expired) == 0 {
		return 0, err
	}
	err = db.update(context.Background(), func(tx *bolt.Tx) error {
		for _, k := range expired {
			if err := tx.Bucket(bucketLinks).Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(expired), nil
}
