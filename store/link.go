package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/paths"
)

// A download link is a random token that names one file node until it
// expires. Only the token's SHA-256 is stored (bucket links), with the
// owner, the node, the expiry and the creation (Unix ns), the link's id,
// its downloads and its download limit (0: none), 8 bytes each, then the
// argon2id hash of its password (none: nothing). A record of 48 bytes,
// written before limits and passwords, has neither. The bucket user_links
// indexes them by owner and id (key: owner, id; value: the token's
// SHA-256), for the owner's list and revoke. The link follows the file
// when it is moved or replaced and stops working when it is deleted.

const (
	oldLinkRecordSize = 48
	linkRecordSize    = 56 // and the password's hash
)

type linkRecord struct {
	owner, node, id, downloads, maxDownloads uint64
	expires, created                         int64
	password                                 string // argon2id hash; "" for none
}

func (l *linkRecord) encode() []byte {
	v := make([]byte, linkRecordSize, linkRecordSize+len(l.password))
	binary.BigEndian.PutUint64(v[0:], l.owner)
	binary.BigEndian.PutUint64(v[8:], l.node)
	binary.BigEndian.PutUint64(v[16:], uint64(l.expires))
	binary.BigEndian.PutUint64(v[24:], l.id)
	binary.BigEndian.PutUint64(v[32:], uint64(l.created))
	binary.BigEndian.PutUint64(v[40:], l.downloads)
	binary.BigEndian.PutUint64(v[48:], l.maxDownloads)
	return append(v, l.password...)
}

// decodeLink reads a link record; ok is false for one of a size no
// version wrote.
func decodeLink(v []byte) (l linkRecord, ok bool) {
	if len(v) != oldLinkRecordSize && len(v) < linkRecordSize {
		return l, false
	}
	l = linkRecord{
		owner: binary.BigEndian.Uint64(v[0:]), node: binary.BigEndian.Uint64(v[8:]),
		expires: int64(binary.BigEndian.Uint64(v[16:])), id: binary.BigEndian.Uint64(v[24:]),
		created: int64(binary.BigEndian.Uint64(v[32:])), downloads: binary.BigEndian.Uint64(v[40:]),
	}
	if len(v) >= linkRecordSize {
		l.maxDownloads = binary.BigEndian.Uint64(v[48:])
		l.password = string(v[linkRecordSize:])
	}
	return l, true
}

// spent reports whether the link has had all the downloads it may.
func (l *linkRecord) spent() bool {
	return l.maxDownloads > 0 && l.downloads >= l.maxDownloads
}

// errLinkGone is the answer for a link that does not work: unknown,
// expired, revoked, spent, or its file or owner gone. They are one answer,
// so that a link's history is not told to whoever holds it.
var errLinkGone = ferry.Errorf(ferry.ELINKEXPIRED, "This link has expired, was revoked or used up, or its file is gone.")

// CreateLink makes a download link to the file at names, valid until
// expires, with opts' limit and password, and returns its token and id.
// It returns FILE_NOT_FOUND, and METHOD_BAD_REQUEST for a folder.
func (db *DB) CreateLink(ctx context.Context, userID uint64, names []string, expires time.Time, opts ferry.LinkOptions) (string, uint64, error) {
	token := db.newSecret(32)
	h := hashToken(token)
	var password string
	if opts.Password != "" {
		var err error
		if password, err = db.hashPassword(opts.Password); err != nil {
			return "", 0, err
		}
	}
	var id uint64
	err := db.update(ctx, func(tx *bolt.Tx) error {
		n, err := walk(tx, userID, names)
		if err != nil {
			return err
		}
		if n.dir {
			return ferry.Errorf(ferry.EBADREQUEST, "%q is a folder; links are for files.", paths.Join(names))
		}
		index := tx.Bucket(bucketUserLinks)
		if id, err = index.NextSequence(); err != nil {
			return err
		}
		l := linkRecord{owner: userID, node: n.id, id: id, expires: expires.UnixNano(), created: db.now().UnixNano(),
			maxDownloads: opts.MaxDownloads, password: password}
		if err := index.Put(pairKey(userID, id), h[:]); err != nil {
			return err
		}
		if err := db.record(tx, ctx, userID, ferry.ActionLinkCreated, paths.Join(names), map[string]any{"link": id, "expires": expires.UTC().Format(time.RFC3339)}); err != nil {
			return err
		}
		return tx.Bucket(bucketLinks).Put(h[:], l.encode())
	})
	if err != nil {
		return "", 0, err
	}
	return token, id, nil
}

// OpenLink returns what a link opens. It answers LINK_EXPIRED when the
// link is unknown, expired, revoked or used up, its file is gone, or its
// owner is disabled or gone; and AUTH_FAILED (with the OpenedLink's
// Password set) when the link has a password and password is not it.
func (db *DB) OpenLink(ctx context.Context, token, password string) (ferry.OpenedLink, error) {
	h := hashToken(token)
	var link ferry.OpenedLink
	var hash string
	err := db.bolt.View(func(tx *bolt.Tx) error {
		l, ok := decodeLink(tx.Bucket(bucketLinks).Get(h[:]))
		if !ok || db.now().UnixNano() >= l.expires || l.spent() {
			return errLinkGone
		}
		if owner, err := db.findUserByID(tx, l.owner); err != nil || owner.Disabled {
			return errLinkGone
		}
		// The file must still be in the tree: a file of a deleted folder
		// stays in the trash until the folder is reclaimed.
		if _, ok, err := nodePath(tx, l.node); err != nil {
			return err
		} else if !ok {
			return errLinkGone
		}
		n, err := getNode(tx, l.node)
		if err != nil {
			return err
		}
		link = ferry.OpenedLink{File: n.info(""), Expires: time.Unix(0, l.expires), Password: l.password != ""}
		hash = l.password
		return nil
	})
	if err != nil {
		return ferry.OpenedLink{}, err
	}
	if hash != "" {
		// Checked outside the transaction: argon2id takes tens of
		// milliseconds.
		if password == "" {
			return ferry.OpenedLink{Password: true}, ferry.Errorf(ferry.EAUTHFAILED, "This link needs its password.")
		}
		if !db.verifyPassword(hash, password) {
			return ferry.OpenedLink{Password: true}, ferry.Errorf(ferry.EAUTHFAILED, "That is not the link's password.")
		}
	}
	return link, nil
}

// CountDownload counts one whole download of a link. A link past its
// limit counts nothing and answers LINK_EXPIRED, so that one transaction
// decides which download was the last; a link gone meanwhile is no error.
func (db *DB) CountDownload(ctx context.Context, token string) error {
	h := hashToken(token)
	return db.update(ctx, func(tx *bolt.Tx) error {
		links := tx.Bucket(bucketLinks)
		l, ok := decodeLink(links.Get(h[:]))
		if !ok {
			return nil
		}
		if l.spent() {
			return errLinkGone
		}
		l.downloads++
		// A download receipt, in the owner's log.
		file, _, err := nodePath(tx, l.node)
		if err != nil {
			return err
		}
		if err := db.record(tx, ctx, l.owner, ferry.ActionLinkDownloaded, file, map[string]any{"link": l.id, "download": l.downloads}); err != nil {
			return err
		}
		if err := db.mailDownload(tx, ctx, h[:], l.owner, file); err != nil {
			return err
		}
		return links.Put(h[:], l.encode())
	})
}

// Links returns the user's links that have not expired, newest first,
// with the path of each one's file ("" when the file is gone: such a
// link no longer works, and can be revoked until it expires).
func (db *DB) Links(ctx context.Context, userID uint64) ([]ferry.Link, error) {
	var list []ferry.Link
	now := db.now().UnixNano()
	err := db.bolt.View(func(tx *bolt.Tx) error {
		list = list[:0]
		links := tx.Bucket(bucketLinks)
		prefix := itob(userID)
		c := tx.Bucket(bucketUserLinks).Cursor()
		for k, h := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, h = c.Next() {
			l, ok := decodeLink(links.Get(h))
			if !ok || now >= l.expires {
				continue
			}
			file, _, err := nodePath(tx, l.node)
			if err != nil {
				return err
			}
			list = append(list, ferry.Link{ID: l.id, File: file, Created: time.Unix(0, l.created), Expires: time.Unix(0, l.expires),
				Downloads: l.downloads, MaxDownloads: l.maxDownloads, Password: l.password != ""})
		}
		return nil
	})
	slices.Reverse(list)
	return list, err
}

// RevokeLink ends the user's link id at once: LINK_NOT_FOUND when the
// user has no such link (also when it is another user's).
func (db *DB) RevokeLink(ctx context.Context, userID, id uint64) error {
	return db.update(ctx, func(tx *bolt.Tx) error {
		index := tx.Bucket(bucketUserLinks)
		key := pairKey(userID, id)
		h := index.Get(key)
		if h == nil {
			return ferry.Errorf(ferry.ELINKNOTFOUND, "You have no link %d.", id)
		}
		file := ""
		if l, ok := decodeLink(tx.Bucket(bucketLinks).Get(h)); ok {
			file, _, _ = nodePath(tx, l.node)
		}
		if err := db.record(tx, ctx, userID, ferry.ActionLinkRevoked, file, map[string]any{"link": id}); err != nil {
			return err
		}
		if err := tx.Bucket(bucketLinks).Delete(h); err != nil {
			return err
		}
		return index.Delete(key)
	})
}

// nodePath returns the path of a node below its user's root, and ok
// false when the node is gone or detached (a deleted folder in the trash
// until it is reclaimed).
func nodePath(tx *bolt.Tx, id uint64) (string, bool, error) {
	var names []string
	for id != 0 {
		v := tx.Bucket(bucketNodes).Get(itob(id))
		if v == nil {
			return "", false, nil
		}
		n, err := decodeNode(id, v)
		if err != nil {
			return "", false, err
		}
		if n.parent == 0 {
			break // the root
		}
		if childID(tx, n.parent, n.name) != id {
			return "", false, nil
		}
		names = append(names, n.name)
		id = n.parent
	}
	slices.Reverse(names)
	return paths.Join(names), true, nil
}

// DeleteExpiredLinks removes the links past their expiry and returns how
// many it removed. With none due it writes nothing.
func (db *DB) DeleteExpiredLinks() (int, error) {
	now := db.now().UnixNano()
	var expired [][]byte
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketLinks).ForEach(func(k, v []byte) error {
			if l, ok := decodeLink(v); !ok || now >= l.expires {
				expired = append(expired, append([]byte(nil), k...))
			}
			return nil
		})
	})
	if err != nil || len(expired) == 0 {
		return 0, err
	}
	err = db.update(context.Background(), func(tx *bolt.Tx) error {
		links := tx.Bucket(bucketLinks)
		for _, k := range expired {
			if l, ok := decodeLink(links.Get(k)); ok {
				if err := tx.Bucket(bucketUserLinks).Delete(pairKey(l.owner, l.id)); err != nil {
					return err
				}
			}
			if err := links.Delete(k); err != nil {
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

// checkLinks reports (and with repair, fixes) links and user_links that
// do not match: an entry of either without its twin, or a record of the
// wrong size.
func checkLinks(tx *bolt.Tx, report func(string, ...any), repair bool) error {
	links, index := tx.Bucket(bucketLinks), tx.Bucket(bucketUserLinks)
	var badLinks, badIndex [][]byte
	err := links.ForEach(func(k, v []byte) error {
		l, ok := decodeLink(v)
		if !ok {
			report("link %x: a record of %d bytes", k, len(v))
			badLinks = append(badLinks, append([]byte(nil), k...))
		} else if h := index.Get(pairKey(l.owner, l.id)); !bytes.Equal(h, k) {
			report("link %d of user %d: not in user_links", l.id, l.owner)
			badLinks = append(badLinks, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = index.ForEach(func(k, h []byte) error {
		if l, ok := decodeLink(links.Get(h)); !ok || !bytes.Equal(pairKey(l.owner, l.id), k) {
			report("user_links %x: no link record of its own", k)
			badIndex = append(badIndex, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil || !repair {
		return err
	}
	for _, k := range badLinks {
		if err := links.Delete(k); err != nil {
			return err
		}
	}
	for _, k := range badIndex {
		if err := index.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// downloadMailEvery is how often a link's owner may be mailed of its
// downloads, at most.
const downloadMailEvery = time.Hour

// mailDownload queues the mail that tells a link's owner of a download,
// when they asked for it and the link has not mailed them this hour.
func (db *DB) mailDownload(tx *bolt.Tx, ctx context.Context, h []byte, owner uint64, file string) error {
	if db.downloadNotice == nil {
		return nil
	}
	u, err := db.findUserByID(tx, owner)
	if err != nil || !u.MailOnDownload {
		return nil
	}
	now := db.now()
	mailed := tx.Bucket(bucketLinkMailed)
	if v := mailed.Get(h); len(v) == 8 && now.Sub(time.Unix(0, int64(btoi(v)))) < downloadMailEvery {
		return nil
	}
	if err := mailed.Put(h, itob(uint64(now.UnixNano()))); err != nil {
		return err
	}
	return db.queueMail(tx, db.downloadNotice(u, file, now, ferry.ActorOf(ctx).IP))
}

// DeleteOldLinkMail forgets, an hour on, when links mailed their owners
// (what mailDownload keeps), and returns how many it forgot.
func (db *DB) DeleteOldLinkMail() (int, error) {
	cutoff := uint64(db.now().Add(-downloadMailEvery).UnixNano())
	old := func(tx *bolt.Tx) [][]byte {
		var keys [][]byte
		_ = tx.Bucket(bucketLinkMailed).ForEach(func(k, v []byte) error {
			if len(v) != 8 || btoi(v) < cutoff {
				keys = append(keys, bytes.Clone(k))
			}
			return nil
		})
		return keys
	}
	var keys [][]byte
	if err := db.bolt.View(func(tx *bolt.Tx) error { keys = old(tx); return nil }); err != nil || len(keys) == 0 {
		return 0, err
	}
	err := db.update(context.Background(), func(tx *bolt.Tx) error {
		keys = old(tx)
		for _, k := range keys {
			if err := tx.Bucket(bucketLinkMailed).Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	return len(keys), err
}
