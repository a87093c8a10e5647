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
	"github.com/ferryhq/ferry/paths"
)

// File requests: an upload link for people without an account. The
// token is handed out once and kept as its SHA-256; user_requests lists an
// owner's requests by id.

// requestRecord is a request as the requests bucket keeps it.
type requestRecord struct {
	Owner    uint64    `json:"owner"`
	ID       uint64    `json:"id"`
	Title    string    `json:"title"`
	Message  string    `json:"message,omitempty"`
	Folder   string    `json:"folder"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires"`
	MaxFiles int       `json:"max_files,omitempty"`
	MaxSize  int64     `json:"max_size,omitempty"`
	Password string    `json:"password,omitempty"` // argon2id hash
	Uploads  int       `json:"uploads,omitempty"`  // finished deliveries
}

// Bounds of a request's texts, in characters.
const (
	maxRequestTitle   = 200
	maxRequestMessage = 2000
)

// CreateRequest makes a file request of the user's and returns its id and
// token.
func (db *DB) CreateRequest(ctx context.Context, userID uint64, nr ferry.NewFileRequest) (uint64, string, error) {
	title := strings.TrimSpace(nr.Title)
	switch {
	case title == "" || utf8.RuneCountInString(title) > maxRequestTitle || strings.IndexFunc(title, ferry.IsControl) >= 0:
		return 0, "", ferry.Errorf(ferry.EBADREQUEST, "A request needs a title of 1 to %d characters.", maxRequestTitle)
	case utf8.RuneCountInString(nr.Message) > maxRequestMessage || !utf8.ValidString(nr.Message):
		return 0, "", ferry.Errorf(ferry.EBADREQUEST, "A request's message is at most %d characters.", maxRequestMessage)
	case !nr.Expires.After(db.now()):
		return 0, "", ferry.Errorf(ferry.EBADREQUEST, "expires must be a number of seconds above 0.")
	case nr.MaxFiles < 0 || nr.MaxSize < 0:
		return 0, "", ferry.Errorf(ferry.EBADREQUEST, "max_files and max_size must not be negative (0: no limit).")
	case len(nr.Folder) == 0:
		return 0, "", ferry.Errorf(ferry.EBADREQUEST, "A request needs a folder for the files it gathers.")
	}
	var hash string
	if nr.Password != "" {
		var err error
		if hash, err = db.hashPassword(nr.Password); err != nil {
			return 0, "", err
		}
	}
	token := db.newSecret(32)
	h := hashToken(token)
	rec := requestRecord{Owner: userID, Title: title, Message: nr.Message, Folder: paths.Join(nr.Folder), Created: db.now().UTC(),
		Expires: nr.Expires.UTC(), MaxFiles: nr.MaxFiles, MaxSize: nr.MaxSize, Password: hash}
	err := db.update(ctx, func(tx *bolt.Tx) error {
		if _, err := db.findUserByID(tx, userID); err != nil {
			return err
		}
		index := tx.Bucket(bucketUserRequests)
		id, err := index.NextSequence()
		if err != nil {
			return err
		}
		rec.ID = id
		v, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		if err := index.Put(pairKey(userID, id), h[:]); err != nil {
			return err
		}
		if err := db.record(tx, ctx, userID, ferry.ActionRequestCreated, rec.Folder, map[string]any{"request": id, "title": title}); err != nil {
			return err
		}
		return tx.Bucket(bucketRequests).Put(h[:], v)
	})
	if err != nil {
		return 0, "", err
	}
	return rec.ID, token, nil
}

// Requests lists the user's requests, newest first (expired ones too,
// until revoked).
func (db *DB) Requests(ctx context.Context, userID uint64) ([]ferry.FileRequest, error) {
	var list []ferry.FileRequest
	err := db.bolt.View(func(tx *bolt.Tx) error {
		prefix := itob(userID)
		c := tx.Bucket(bucketUserRequests).Cursor()
		for k, h := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, h = c.Next() {
			var rec requestRecord
			if err := json.Unmarshal(tx.Bucket(bucketRequests).Get(h), &rec); err != nil {
				return err
			}
			list = append(list, ferry.FileRequest{ID: rec.ID, Title: rec.Title, Folder: rec.Folder, Created: rec.Created, Expires: rec.Expires,
				Uploads: rec.Uploads, MaxFiles: rec.MaxFiles, MaxSize: rec.MaxSize, Password: rec.Password != ""})
		}
		return nil
	})
	slices.Reverse(list)
	return list, err
}

// RevokeRequest ends the user's request id at once.
func (db *DB) RevokeRequest(ctx context.Context, userID, id uint64) error {
	return db.update(ctx, func(tx *bolt.Tx) error {
		index := tx.Bucket(bucketUserRequests)
		key := pairKey(userID, id)
		h := index.Get(key)
		if h == nil {
			return ferry.Errorf(ferry.EREQUESTNOTFOUND, "You have no file request %d.", id)
		}
		if err := tx.Bucket(bucketRequests).Delete(h); err != nil {
			return err
		}
		return index.Delete(key)
	})
}

// errRequestGone is the one answer for a request that does not work:
// unknown, expired, revoked, or its owner gone or disabled.
var errRequestGone = ferry.Errorf(ferry.ELINKEXPIRED, "This file request has expired or was withdrawn.")

// liveRequest is the request whose token hashes to h, and its owner, while
// it works: errRequestGone once it does not.
func (db *DB) liveRequest(tx *bolt.Tx, h []byte) (requestRecord, *ferry.User, error) {
	var rec requestRecord
	v := tx.Bucket(bucketRequests).Get(h)
	if v == nil || json.Unmarshal(v, &rec) != nil || !db.now().Before(rec.Expires) {
		return rec, nil, errRequestGone
	}
	u, err := db.findUserByID(tx, rec.Owner)
	if err != nil || u.Disabled {
		return rec, nil, errRequestGone
	}
	return rec, u, nil
}

// inboxFull reports whether the user's inbox takes no more messages
// (send.max_pending).
func (db *DB) inboxFull(tx *bolt.Tx, userID uint64) bool {
	limit := db.rules.send.MaxPending
	return limit > 0 && countPrefix(tx.Bucket(bucketInbox), itob(userID)) >= limit
}

// OpenRequest is what the request of token shows an outsider.
func (db *DB) OpenRequest(ctx context.Context, token, password string) (ferry.OpenedRequest, error) {
	h := hashToken(token)
	var (
		rec   requestRecord
		owner *ferry.User
	)
	full := false
	err := db.bolt.View(func(tx *bolt.Tx) (err error) {
		if rec, owner, err = db.liveRequest(tx, h[:]); err != nil {
			return err
		}
		full = db.inboxFull(tx, owner.ID)
		return nil
	})
	if err != nil {
		return ferry.OpenedRequest{}, err
	}
	opened := ferry.OpenedRequest{Title: rec.Title, Owner: owner.FullName, Expires: rec.Expires, MaxFiles: rec.MaxFiles,
		MaxSize: rec.MaxSize, Password: rec.Password != "", Message: rec.Message, Full: full}
	if rec.Password != "" {
		// Checked outside the transaction: argon2id takes tens of
		// milliseconds.
		if password == "" {
			opened.Message = ""
			return opened, nil
		}
		if !db.verifyPassword(rec.Password, password) {
			return ferry.OpenedRequest{Password: true}, ferry.Errorf(ferry.EAUTHFAILED, "That is not the request's password.")
		}
	}
	return opened, nil
}
