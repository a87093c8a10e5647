package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/paths"
	"github.com/ferryhq/ferry/quota"
)

// Deliveries: an outsider's visit to a file request. StartDelivery gives
// a key; each file put is spooled, scanned and then committed to the
// delivery's record, which holds a reference to its blob; finishing makes
// the record one message (type REQUEST, sender 0: the outsider has no
// account) in the request owner's inbox, over the same blobs, which lands
// in a folder of its own below the request's folder when accepted. An
// unfinished delivery is dropped after deliveryLife, its blobs released.
//
// deliveries: sha256(key) -> JSON deliveryRecord; delivery_files:
// sha256(key) + the file's path -> size 8 | sha256 32, one key a file so
// that each file put writes one small key, in path order; delivery_times:
// started (Unix ns) + sha256(key), for the sweep.

// deliveryLife is how long a delivery may stay unfinished.
const deliveryLife = 24 * time.Hour

// Bounds of a delivery whatever its request says: its files, and the name
// its outsider gives, in characters.
const (
	maxDeliveryFiles = 10000
	maxOutsiderName  = 100
)

type deliveryRecord struct {
	Owner   uint64 `json:"owner"`
	Request uint64 `json:"request"`
	Name    string `json:"name,omitempty"`
	Email   string `json:"email"`
	Started int64  `json:"started"`
	// Proof is the SHA-256 of the key and the request's password, for a
	// request that has one: each later call proves the password without
	// another argon2id.
	Proof string `json:"proof,omitempty"`
	Files int    `json:"files,omitempty"`
	Size  int64  `json:"size"`
}

// deliveryFileKey is a file's key in delivery_files.
func deliveryFileKey(kh []byte, path string) []byte {
	return append(append(make([]byte, 0, len(kh)+len(path)), kh...), path...)
}

func encodeDeliveryFile(size int64, h sum) []byte {
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, 40), uint64(size)), h[:]...)
}

// eachDeliveryFile calls f with each file of the delivery whose key hashes
// to kh, in path order.
func eachDeliveryFile(tx *bolt.Tx, kh []byte, f func(path string, size int64, h sum) error) error {
	c := tx.Bucket(bucketDeliveryFiles).Cursor()
	for k, v := c.Seek(kh); k != nil && bytes.HasPrefix(k, kh); k, v = c.Next() {
		if len(v) != 40 {
			return fmt.Errorf("delivery file %q: a record of %d bytes", k[len(kh):], len(v))
		}
		if err := f(string(k[len(kh):]), int64(binary.BigEndian.Uint64(v)), sum(v[8:])); err != nil {
			return err
		}
	}
	return nil
}

// dropDelivery deletes the delivery whose key hashes to kh, started at
// started, with its files, unreferencing their blobs unless keep; it
// returns the blobs released.
func dropDelivery(tx *bolt.Tx, kh []byte, started int64, keep bool) ([]sum, error) {
	var released []sum
	var keys [][]byte
	err := eachDeliveryFile(tx, kh, func(path string, _ int64, h sum) error {
		keys = append(keys, deliveryFileKey(kh, path))
		if keep {
			return nil
		}
		last, err := unrefBlob(tx, h)
		if last {
			released = append(released, h)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	files := tx.Bucket(bucketDeliveryFiles)
	for _, k := range keys {
		if err := files.Delete(k); err != nil {
			return nil, err
		}
	}
	if err := tx.Bucket(bucketDeliveryTimes).Delete(deliveryTimeKey(started, kh)); err != nil {
		return nil, err
	}
	return released, tx.Bucket(bucketDeliveries).Delete(kh)
}

// passwordProof is a delivery's Proof of password.
func passwordProof(key, password string) string {
	h := sha256.Sum256([]byte(key + "\x00" + password))
	return hex.EncodeToString(h[:])
}

// errInboxFull refuses a delivery to owner (their full name), whose inbox
// is full.
func errInboxFull(owner string) error {
	return ferry.Errorf(ferry.EQUOTAEXCEEDED, "%s cannot take more files now: too many wait in their inbox. Try again later.", owner)
}

var errRequestPassword = ferry.Errorf(ferry.EAUTHFAILED, "This request needs its password.")

// StartDelivery begins an outsider's delivery to the request of token.
func (db *DB) StartDelivery(ctx context.Context, token, password, name, email string) (string, error) {
	email, err := ferry.NormalizeEmail(email)
	if err != nil {
		return "", err
	}
	name = strings.TrimSpace(name)
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxOutsiderName || strings.IndexFunc(name, ferry.IsControl) >= 0 {
		return "", ferry.Errorf(ferry.EBADREQUEST, "A name is at most %d characters.", maxOutsiderName)
	}
	opened, err := db.OpenRequest(ctx, token, password)
	if err != nil {
		return "", err
	}
	if opened.Password && password == "" {
		return "", errRequestPassword
	}
	if opened.Full {
		return "", errInboxFull(opened.Owner)
	}
	key := randomText(24) // (its request's token names the node)
	kh := hashToken(key)
	rec := deliveryRecord{Name: name, Email: email, Started: db.now().UnixNano()}
	if opened.Password {
		rec.Proof = passwordProof(key, password)
	}
	th := hashToken(token)
	err = db.update(ctx, func(tx *bolt.Tx) error {
		rq, _, err := db.liveRequest(tx, th[:])
		if err != nil {
			return err
		}
		rec.Owner, rec.Request = rq.Owner, rq.ID
		if err := putDelivery(tx, kh[:], &rec); err != nil {
			return err
		}
		return tx.Bucket(bucketDeliveryTimes).Put(deliveryTimeKey(rec.Started, kh[:]), nil)
	})
	if err != nil {
		return "", err
	}
	return key, nil
}

func deliveryTimeKey(started int64, kh []byte) []byte {
	return append(itob(uint64(started)), kh...)
}

func putDelivery(tx *bolt.Tx, kh []byte, rec *deliveryRecord) error {
	v, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketDeliveries).Put(kh, v)
}

// openDelivery reads delivery d of a request that works, and checks the
// password it gives: UPLOAD_NOT_FOUND for an unknown, finished or dropped
// delivery, AUTH_FAILED, or liveRequest's error.
func (db *DB) openDelivery(tx *bolt.Tx, d ferry.Delivery) (deliveryRecord, requestRecord, *ferry.User, error) {
	th, kh := hashToken(d.Token), hashToken(d.Key)
	rq, owner, err := db.liveRequest(tx, th[:])
	if err != nil {
		return deliveryRecord{}, rq, nil, err
	}
	var rec deliveryRecord
	v := tx.Bucket(bucketDeliveries).Get(kh[:])
	if v == nil || json.Unmarshal(v, &rec) != nil || rec.Owner != rq.Owner || rec.Request != rq.ID ||
		db.now().UnixNano()-rec.Started >= int64(deliveryLife) {
		return rec, rq, nil, ferry.Errorf(ferry.EUPLOADNOTFOUND, "This upload has ended: it was finished, or left unfinished for a day. Start again from the request's page.")
	}
	if rq.Password != "" && subtle.ConstantTimeCompare([]byte(rec.Proof), []byte(passwordProof(d.Key, d.Password))) != 1 {
		if d.Password == "" {
			return rec, rq, nil, errRequestPassword
		}
		return rec, rq, nil, ferry.Errorf(ferry.EAUTHFAILED, "That is not the request's password.")
	}
	return rec, rq, owner, nil
}

// deliveryRoom is how large the next file of a delivery may be (-1: no
// limit) and the error past it; an error when no file fits at all.
func (db *DB) deliveryRoom(rq *requestRecord, rec *deliveryRecord) (int64, error, error) {
	files := maxDeliveryFiles
	if rq.MaxFiles > 0 {
		files = min(files, rq.MaxFiles)
	}
	if rec.Files >= files {
		return 0, nil, ferry.Errorf(ferry.ETOOLARGE, "This request takes at most %d files at a time.", files)
	}
	limit, over := int64(-1), error(nil)
	if rq.MaxSize > 0 {
		limit = max(rq.MaxSize-rec.Size, 0)
		over = ferry.Errorf(ferry.ETOOLARGE, "This request takes at most %s at a time, and %s of it is left.",
			quota.FormatSize(rq.MaxSize), quota.FormatSize(limit))
	}
	if fl := db.rules.fileLimit(); fl >= 0 && (limit < 0 || fl < limit) {
		limit, over = fl, ferry.Errorf(ferry.ETOOLARGE, "A file may be at most %s on this server.", quota.FormatSize(fl))
	}
	return limit, over, nil
}

// Deliver adds a file to delivery d.
func (db *DB) Deliver(ctx context.Context, d ferry.Delivery, name string, body io.Reader, size int64) (ferry.Delivered, error) {
	names, err := paths.Parse(name)
	if err == nil && len(names) == 0 {
		err = ferry.Errorf(ferry.EBADREQUEST, "name must be the file's name.")
	}
	for _, n := range names {
		if err == nil {
			err = paths.CheckNew(n)
		}
	}
	if err != nil {
		return ferry.Delivered{}, err
	}
	var (
		rec deliveryRecord
		rq  requestRecord
	)
	limit, over := int64(-1), error(nil)
	err = db.bolt.View(func(tx *bolt.Tx) (err error) {
		if rec, rq, _, err = db.openDelivery(tx, d); err != nil {
			return err
		}
		limit, over, err = db.deliveryRoom(&rq, &rec)
		return err
	})
	if err != nil {
		return ferry.Delivered{}, err
	}
	if limit >= 0 && size > limit {
		return ferry.Delivered{}, over
	}
	sp, err := db.spool(ctx, body, size, limit, over)
	if err != nil {
		return ferry.Delivered{}, err
	}
	verdict, signature, err := db.scanSpooled(ctx, sp, true)
	if err != nil {
		db.discardSpool(sp)
		if signature != "" {
			db.recordInfected(ctx, rec.Owner, joinRel(rq.Folder, paths.Join(names)), signature, sp.Sum)
		}
		return ferry.Delivered{}, err
	}
	var path string
	err = db.commitBlob(ctx, sp, func(tx *bolt.Tx) error {
		rec, rq, _, err := db.openDelivery(tx, d)
		if err != nil {
			return err
		}
		if limit, over, err := db.deliveryRoom(&rq, &rec); err != nil {
			return err
		} else if limit >= 0 && sp.Size > limit {
			return over
		}
		kh := hashToken(d.Key)
		if path, err = deliveryPath(tx, kh[:], names); err != nil {
			return err
		}
		if err := tx.Bucket(bucketDeliveryFiles).Put(deliveryFileKey(kh[:], path), encodeDeliveryFile(sp.Size, sp.Sum)); err != nil {
			return err
		}
		rec.Files, rec.Size = rec.Files+1, rec.Size+sp.Size
		if err := putDelivery(tx, kh[:], &rec); err != nil {
			return err
		}
		return markScan(tx, sp.Sum, verdict)
	})
	if err != nil {
		return ferry.Delivered{}, err
	}
	return ferry.Delivered{Name: path, Size: sp.Size, SHA256: hex.EncodeToString(sp.Sum[:])}, nil
}

// deliveryPath is where a file put as names goes in the delivery whose
// key hashes to kh: at names, or under a free last name when a file or
// folder of the delivery has that; FILE_EXISTS when a folder it needs is
// one of its files. An outsider never replaces anything.
func deliveryPath(tx *bolt.Tx, kh []byte, names []string) (string, error) {
	files := tx.Bucket(bucketDeliveryFiles)
	for i := 1; i < len(names); i++ {
		if p := paths.Join(names[:i]); files.Get(deliveryFileKey(kh, p)) != nil {
			return "", ferry.Errorf(ferry.EFILEEXISTS, "%q is a file of this upload, so it cannot hold other files.", p)
		}
	}
	taken := func(p string) bool {
		if files.Get(deliveryFileKey(kh, p)) != nil {
			return true
		}
		below := deliveryFileKey(kh, p+"/") // a folder of the delivery's
		k, _ := files.Cursor().Seek(below)
		return k != nil && bytes.HasPrefix(k, below)
	}
	dir, last := paths.Join(names[:len(names)-1]), names[len(names)-1]
	p := paths.Join(names)
	for n := 1; taken(p); n++ {
		p = joinRel(dir, paths.ConflictName(last, n))
	}
	return p, nil
}

// FinishDelivery makes delivery d a message in the request owner's inbox.
func (db *DB) FinishDelivery(ctx context.Context, d ferry.Delivery, notice func(owner *ferry.User, title string, m ferry.Message) ferry.Mail) (int, int64, error) {
	var (
		files    int
		size     int64
		released []sum
	)
	now := db.now()
	err := db.update(ctx, func(tx *bolt.Tx) error {
		released = released[:0]
		rec, rq, owner, err := db.openDelivery(tx, d)
		if err != nil {
			return err
		}
		if rec.Files == 0 {
			return ferry.Errorf(ferry.EBADREQUEST, "Add at least one file before finishing.")
		}
		if db.inboxFull(tx, owner.ID) {
			return errInboxFull(owner.FullName)
		}
		folder, err := paths.Parse(rq.Folder)
		if err != nil {
			return err
		}
		kh := hashToken(d.Key)
		items := make([]item, 0, rec.Files)
		err = eachDeliveryFile(tx, kh[:], func(path string, size int64, h sum) error {
			items = append(items, item{size: size, sum: h, path: path})
			return nil
		})
		if err != nil {
			return err
		}
		m := messageRecord{Receiver: owner.ID, Destination: paths.Join(append(folder, deliveryFolder(&rec))), Folder: true,
			Size: rec.Size, Created: now.UnixNano(), Status: ferry.StatusPending, Request: rq.ID, OutsiderName: rec.Name, OutsiderEmail: rec.Email}
		id, err := createMessage(tx, &m, items)
		if err != nil {
			return err
		}
		if err := db.holdMessage(tx, id, &m, items); err != nil {
			return err
		}
		// The message refers to the blobs now, in the delivery's stead.
		for _, it := range items {
			if _, err := unrefBlob(tx, it.sum); err != nil {
				return err
			}
		}
		if _, err := dropDelivery(tx, kh[:], rec.Started, true); err != nil {
			return err
		}
		rq.Uploads++
		v, err := json.Marshal(rq)
		if err != nil {
			return err
		}
		th := hashToken(d.Token)
		if err := tx.Bucket(bucketRequests).Put(th[:], v); err != nil {
			return err
		}
		files, size = len(items), rec.Size
		if err := db.record(tx, ctx, owner.ID, ferry.ActionRequestUpload, rq.Title, map[string]any{"request": rq.ID, "message": id,
			"files": files, "size": size, "name": rec.Name, "email": rec.Email}); err != nil {
			return err
		}
		if notice != nil {
			msg := ferry.Message{ID: id, Destination: m.Destination, Folder: true, Size: m.Size, Created: now, Status: m.Status,
				SenderName: rec.Name, SenderEmail: rec.Email, Items: len(items), Request: rq.ID, ScanPending: m.Held}
			if err := db.queueMail(tx, notice(owner, rq.Title, msg)); err != nil {
				return err
			}
		}
		if !owner.AcceptAll {
			return nil
		}
		rel, err := db.acceptMessage(tx, owner.ID, id, db.rules.packages.For(owner), now, nil)
		switch ferry.ErrorCode(err) {
		case "":
			released = rel
			return db.record(tx, ctx, owner.ID, ferry.ActionAccept, m.Destination, map[string]any{"message": id, "accept_all": true})
		case ferry.EQUOTAEXCEEDED, ferry.EFILENOTFOUND, ferry.ESCANPENDING:
			return nil // it waits in the inbox like any other
		}
		return err
	})
	if err != nil {
		return 0, 0, err
	}
	db.release(released)
	return files, size, nil
}

// deliveryFolder names the folder a delivery lands in, below its
// request's: the name its outsider gave, else their email, as a name a
// folder can have.
func deliveryFolder(rec *deliveryRecord) string {
	name := rec.Name
	if name == "" {
		name = rec.Email
	}
	name = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || ferry.IsControl(r) {
			return '-'
		}
		return r
	}, name)
	name = strings.Trim(name, " .")
	if paths.CheckNew(name) != nil {
		return "Upload"
	}
	return name
}

// DropStaleDeliveries drops the deliveries left unfinished for a day,
// releasing their files, and returns how many it dropped.
func (db *DB) DropStaleDeliveries(ctx context.Context) (int, error) {
	cutoff := db.now().Add(-deliveryLife).UnixNano()
	due := false
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bucketDeliveryTimes).Cursor().First()
		due = k != nil && int64(binary.BigEndian.Uint64(k)) <= cutoff
		return nil
	})
	if !due {
		return 0, nil // (no write when none is: the sweep runs every minute)
	}
	dropped := 0
	for {
		var released []sum
		n := 0
		err := db.update(ctx, func(tx *bolt.Tx) error {
			released, n = released[:0], 0
			c := tx.Bucket(bucketDeliveryTimes).Cursor()
			for k, _ := c.First(); k != nil && n < reclaimBatch; k, _ = c.First() {
				if int64(binary.BigEndian.Uint64(k)) > cutoff {
					break
				}
				rel, err := dropDelivery(tx, bytes.Clone(k[8:]), int64(binary.BigEndian.Uint64(k)), false)
				if err != nil {
					return err
				}
				released = append(released, rel...)
				n++
			}
			return nil
		})
		if err != nil {
			return dropped, err
		}
		db.release(released)
		dropped += n
		if n < reclaimBatch {
			return dropped, nil
		}
	}
}

// countDeliveryRefs adds to refs the blob references of unfinished
// deliveries' files.
func countDeliveryRefs(tx *bolt.Tx, refs map[sum]uint64) error {
	return tx.Bucket(bucketDeliveryFiles).ForEach(func(k, v []byte) error {
		if len(v) != 40 {
			return fmt.Errorf("delivery file %x: a record of %d bytes", k, len(v))
		}
		refs[sum(v[8:])]++
		return nil
	})
}
