package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
)

// Contacts, notifications, photos and invitations.
//
// Buckets: contacts (owner + contact -> nothing), notifications (id -> JSON
// notificationRecord), user_notifications (user + id -> nothing), photos
// (token -> content type 1 byte length | type | data), invites
// (sha256(code) -> JSON inviteRecord), user_invites (inviter + created Unix
// ns + sha256(code) -> nothing, for the daily limit).

type notificationRecord struct {
	User    uint64 `json:"user"`
	Type    string `json:"type"`
	From    uint64 `json:"from"`
	Created int64  `json:"created"`
	Read    bool   `json:"read,omitempty"`
	// FromEmail and FromName name a sender of another node (From 0:
	// remotecontact.go).
	FromEmail string `json:"from_email,omitempty"`
	FromName  string `json:"from_name,omitempty"`
}

// requester is who a contact request is from: an account here (id), or
// one of another node (email).
type requester struct {
	id    uint64
	email string
}

func (n *notificationRecord) isFrom(r requester) bool {
	if r.id != 0 {
		return n.From == r.id
	}
	return n.From == 0 && n.FromEmail == r.email
}

// AddContacts adds each email to owner's contacts and returns one error per
// email: nil, USER_NOT_FOUND (no such user, or disabled), ALREADY_CONTACT,
// or METHOD_BAD_REQUEST (the owner's own email). Each added user gets a
// CONTACT_REQUEST notification unless an unread one from owner waits.
func (db *DB) AddContacts(ctx context.Context, ownerID uint64, emails []string, notice ferry.ContactNotice) ([]error, error) {
	results := make([]error, len(emails))
	now := db.now().UnixNano()
	err := db.update(ctx, func(tx *bolt.Tx) error {
		contacts := tx.Bucket(bucketContacts)
		owner, err := db.findUserByID(tx, ownerID)
		if err != nil {
			return err
		}
		for i, email := range emails {
			u, err := db.findUserByEmail(tx, email)
			if ferry.ErrorCode(err) == ferry.EUSERNOTFOUND || (err == nil && u.Disabled) {
				results[i] = ferry.Errorf(ferry.EUSERNOTFOUND, "No user has the email %q.", email)
				continue
			} else if err != nil {
				return err
			}
			if db.frozen(u.ID) {
				return ferry.ErrMoving
			}
			key := pairKey(ownerID, u.ID)
			switch {
			case u.ID == ownerID:
				results[i] = ferry.Errorf(ferry.EBADREQUEST, "You cannot add yourself.")
				continue
			case contacts.Get(key) != nil:
				results[i] = ferry.Errorf(ferry.EALREADYCONTACT, "%s is a contact already.", u.Email)
				continue
			}
			results[i] = nil
			if err := contacts.Put(key, nil); err != nil {
				return err
			}
			if contacts.Get(pairKey(u.ID, ownerID)) != nil {
				// Added back: the pair is complete. u's request to the
				// owner is answered, and u hears of it by mail, with no
				// request (and no badge) of their own to dismiss. Only an
				// answer is mailed: removing and adding again mails no one.
				answered, err := answerRequests(tx, ownerID, requester{id: u.ID})
				if err != nil {
					return err
				}
				if notice != nil && answered {
					if err := db.queueMail(tx, notice(owner, u, true)); err != nil {
						return err
					}
				}
				continue
			}
			if hasUnreadRequest(tx, u.ID, requester{id: ownerID}) {
				continue
			}
			// At most one mail a day for requests of the same person, so
			// that removing and adding again cannot flood a mailbox.
			mailed := requestedSince(tx, u.ID, requester{id: ownerID}, now-int64(requestMailGap))
			if err := addNotification(tx, notificationRecord{User: u.ID, Type: ferry.NotificationContactRequest, From: ownerID, Created: now}); err != nil {
				return err
			}
			if notice != nil && !mailed {
				if err := db.queueMail(tx, notice(owner, u, false)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// requestMailGap is the least time between two contact-request mails
// from one person to another.
const requestMailGap = 24 * time.Hour

// requestedSince reports whether from sent userID a contact request at or
// after since (Unix ns), read or not.
func requestedSince(tx *bolt.Tx, userID uint64, from requester, since int64) bool {
	found := false
	eachNotification(tx, userID, func(_ uint64, n notificationRecord) bool {
		found = n.isFrom(from) && n.Type == ferry.NotificationContactRequest && n.Created >= since
		return !found
	})
	return found
}

// answerRequests marks userID's unread contact requests from from read,
// and reports whether there were any.
func answerRequests(tx *bolt.Tx, userID uint64, from requester) (bool, error) {
	var answered []uint64
	var records []notificationRecord
	eachNotification(tx, userID, func(id uint64, n notificationRecord) bool {
		if n.isFrom(from) && n.Type == ferry.NotificationContactRequest && !n.Read {
			n.Read = true
			answered, records = append(answered, id), append(records, n)
		}
		return true
	})
	for i, id := range answered {
		v, err := json.Marshal(records[i])
		if err != nil {
			return false, err
		}
		if err := tx.Bucket(bucketNotifications).Put(itob(id), v); err != nil {
			return false, err
		}
	}
	return len(answered) > 0, nil
}

func hasUnreadRequest(tx *bolt.Tx, userID uint64, from requester) bool {
	found := false
	eachNotification(tx, userID, func(_ uint64, n notificationRecord) bool {
		found = n.isFrom(from) && n.Type == ferry.NotificationContactRequest && !n.Read
		return !found
	})
	return found
}

func addNotification(tx *bolt.Tx, n notificationRecord) error {
	id, err := tx.Bucket(bucketNotifications).NextSequence()
	if err != nil {
		return err
	}
	v, err := json.Marshal(n)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketNotifications).Put(itob(id), v); err != nil {
		return err
	}
	return tx.Bucket(bucketUserNotifications).Put(pairKey(n.User, id), nil)
}

// eachNotification calls f for the user's notifications, oldest first,
// until it returns false.
func eachNotification(tx *bolt.Tx, userID uint64, f func(id uint64, n notificationRecord) bool) {
	prefix := itob(userID)
	c := tx.Bucket(bucketUserNotifications).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		id := binary.BigEndian.Uint64(k[8:])
		var n notificationRecord
		if json.Unmarshal(tx.Bucket(bucketNotifications).Get(itob(id)), &n) != nil {
			continue
		}
		if !f(id, n) {
			return
		}
	}
}

// Contacts returns owner's contacts whose name or email contains filter
// (any case; "" for all), ordered by name then email.
func (db *DB) Contacts(ctx context.Context, ownerID uint64, filter string) ([]ferry.Contact, error) {
	list := []ferry.Contact{}
	filter = strings.ToLower(filter)
	err := db.bolt.View(func(tx *bolt.Tx) error {
		prefix := itob(ownerID)
		c := tx.Bucket(bucketContacts).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			u, err := db.findUserByID(tx, binary.BigEndian.Uint64(k[8:]))
			if err != nil {
				return err
			}
			if filter != "" && !strings.Contains(strings.ToLower(u.FullName), filter) && !strings.Contains(u.Email, filter) {
				continue
			}
			list = append(list, ferry.Contact{FullName: u.FullName, Email: u.Email, PhotoToken: u.PhotoToken})
		}
		for _, rc := range remoteContacts(tx, ownerID) { // of other nodes: by the name they had when added
			if filter == "" || strings.Contains(strings.ToLower(rc.FullName), filter) || strings.Contains(rc.Email, filter) {
				list = append(list, rc)
			}
		}
		return nil
	})
	sort.Slice(list, func(i, j int) bool {
		a, b := strings.ToLower(list[i].FullName), strings.ToLower(list[j].FullName)
		return a < b || (a == b && list[i].Email < list[j].Email)
	})
	return list, err
}

// RemoveContact removes email from owner's contacts, or returns
// CONTACT_NOT_FOUND.
func (db *DB) RemoveContact(ctx context.Context, ownerID uint64, email string) error {
	return db.update(ctx, func(tx *bolt.Tx) error {
		notFound := ferry.Errorf(ferry.ECONTACTNOTFOUND, "%q is not one of your contacts.", email)
		u, err := db.findUserByEmail(tx, email)
		if ferry.ErrorCode(err) == ferry.EUSERNOTFOUND {
			if e, nerr := ferry.NormalizeEmail(email); nerr == nil && tx.Bucket(bucketRemoteContacts).Get(remoteContactKey(ownerID, e)) != nil {
				return tx.Bucket(bucketRemoteContacts).Delete(remoteContactKey(ownerID, e)) // another node's
			}
			return notFound
		} else if err != nil {
			return err
		}
		contacts := tx.Bucket(bucketContacts)
		if contacts.Get(pairKey(ownerID, u.ID)) == nil {
			return notFound
		}
		return contacts.Delete(pairKey(ownerID, u.ID))
	})
}

// Notifications returns the user's notifications, oldest first.
func (db *DB) Notifications(ctx context.Context, userID uint64) ([]ferry.Notification, error) {
	list := []ferry.Notification{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var failed error
		eachNotification(tx, userID, func(id uint64, n notificationRecord) bool {
			email := n.FromEmail // another node's account
			if n.From != 0 {
				from, err := db.findUserByID(tx, n.From)
				if err != nil {
					failed = err
					return false
				}
				email = from.Email
			}
			list = append(list, ferry.Notification{ID: id, Type: n.Type, Email: email, Created: time.Unix(0, n.Created).UTC(), Read: n.Read})
			return true
		})
		return failed
	})
	return list, err
}

// MarkNotificationsRead marks each notification read and returns one error
// per id: nil, NOTIFICATION_NOT_FOUND (also for another user's) or
// NOTIFICATION_ALREADY_READ.
func (db *DB) MarkNotificationsRead(ctx context.Context, userID uint64, ids []uint64) ([]error, error) {
	results := make([]error, len(ids))
	err := db.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketNotifications)
		for i, id := range ids {
			var n notificationRecord
			v := b.Get(itob(id))
			if v == nil || json.Unmarshal(v, &n) != nil || n.User != userID {
				results[i] = ferry.Errorf(ferry.ENOTIFICATIONNOTFOUND, "No notification %d.", id)
				continue
			}
			if n.Read {
				results[i] = ferry.Errorf(ferry.ENOTIFICATIONREAD, "Notification %d is read already.", id)
				continue
			}
			results[i] = nil
			n.Read = true
			nv, err := json.Marshal(n)
			if err != nil {
				return err
			}
			if err := b.Put(itob(id), nv); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// SetPhoto makes p the user's photo under a new token, which it returns;
// the old photo is deleted.
func (db *DB) SetPhoto(ctx context.Context, userID uint64, p ferry.Photo) (string, error) {
	token := db.newSecret(24)
	v := append([]byte{byte(len(p.ContentType))}, p.ContentType...)
	v = append(v, p.Data...)
	err := db.update(ctx, func(tx *bolt.Tx) error {
		u, err := db.findUserByID(tx, userID)
		if err != nil {
			return err
		}
		photos := tx.Bucket(bucketPhotos)
		if u.PhotoToken != "" {
			if err := photos.Delete([]byte(u.PhotoToken)); err != nil {
				return err
			}
		}
		u.PhotoToken = token
		if err := photos.Put([]byte(token), v); err != nil {
			return err
		}
		return putUser(tx, u)
	})
	return token, err
}

// RemovePhoto deletes the user's photo, if any.
func (db *DB) RemovePhoto(ctx context.Context, userID uint64) error {
	return db.update(ctx, func(tx *bolt.Tx) error {
		u, err := db.findUserByID(tx, userID)
		if err != nil || u.PhotoToken == "" {
			return err
		}
		if err := tx.Bucket(bucketPhotos).Delete([]byte(u.PhotoToken)); err != nil {
			return err
		}
		u.PhotoToken = ""
		return putUser(tx, u)
	})
}

// PhotoByToken returns the photo of that token, or FILE_NOT_FOUND.
func (db *DB) PhotoByToken(ctx context.Context, token string) (ferry.Photo, error) {
	var p ferry.Photo
	err := db.bolt.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketPhotos).Get([]byte(token))
		if len(v) < 1 || len(v) < 1+int(v[0]) {
			return ferry.Errorf(ferry.EFILENOTFOUND, "No such photo.")
		}
		p.ContentType = string(v[1 : 1+v[0]])
		p.Data = append([]byte(nil), v[1+v[0]:]...)
		return nil
	})
	return p, err
}

type inviteRecord struct {
	Inviter uint64 `json:"inviter"`
	Email   string `json:"email"`
	Created int64  `json:"created"`
	Expires int64  `json:"expires"`
	Used    bool   `json:"used,omitempty"`
}

// Invite makes an invitation for each email and queues its mail (from
// mail, given the address and the signup code) in the same transaction.
// It returns one error per email: nil, INVALID_EMAIL or
// EMAIL_ALREADY_EXIST; and TOO_MANY_REQUESTS for the whole call when the
// valid ones would pass the inviter's daily limit (then nothing is sent).
func (db *DB) Invite(ctx context.Context, inviterID uint64, emails []string, mail func(email, code string) ferry.Mail) ([]error, error) {
	now := db.now()
	results := make([]error, len(emails))
	err := db.update(ctx, func(tx *bolt.Tx) error {
		var valid []int
		normalized := make([]string, len(emails))
		for i, e := range emails {
			email, err := ferry.NormalizeEmail(e)
			if err != nil {
				results[i] = err
				continue
			}
			if tx.Bucket(bucketUserEmails).Get([]byte(email)) != nil {
				results[i] = ferry.Errorf(ferry.EEMAILEXISTS, "%s has an account already.", email)
				continue
			}
			results[i], normalized[i] = nil, email
			valid = append(valid, i)
		}
		if err := db.underInviteLimit(tx, inviterID, len(valid), now); err != nil {
			return err
		}
		for _, i := range valid {
			code, err := db.newInvite(tx, inviterID, normalized[i], now)
			if err != nil {
				return err
			}
			if err := db.queueMail(tx, mail(normalized[i], code)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// underInviteLimit returns TOO_MANY_REQUESTS when n more invitations
// would pass the inviter's daily limit (a UTC day).
func (db *DB) underInviteLimit(tx *bolt.Tx, inviterID uint64, n int, now time.Time) error {
	lim := db.rules.invite
	dayStart := time.Date(now.UTC().Year(), now.UTC().Month(), now.UTC().Day(), 0, 0, 0, 0, time.UTC)
	if sent := countSince(tx.Bucket(bucketUserInvites), inviterID, dayStart.UnixNano()); lim.PerDay > 0 && sent+n > lim.PerDay {
		return ferry.Errorf(ferry.ETOOMANYREQUESTS, "You may send %d invitations a day; %d were sent today.", lim.PerDay, sent)
	}
	return nil
}

// newInvite stores an invitation of email by inviter and returns its
// code (only the code's SHA-256 is stored).
func (db *DB) newInvite(tx *bolt.Tx, inviterID uint64, email string, now time.Time) (string, error) {
	code := db.newSecret(32)
	h := hashToken(code)
	rec := inviteRecord{Inviter: inviterID, Email: email, Created: now.UnixNano(), Expires: now.Add(db.rules.invite.ExpireIn).UnixNano()}
	v, err := json.Marshal(rec)
	if err != nil {
		return "", err
	}
	if err := tx.Bucket(bucketInvites).Put(h[:], v); err != nil {
		return "", err
	}
	return code, tx.Bucket(bucketUserInvites).Put(append(pairKey(inviterID, uint64(rec.Created)), h[:]...), nil)
}

// countSince counts the keys user + time ... with time at or after since.
func countSince(b *bolt.Bucket, userID uint64, since int64) int {
	n := 0
	prefix := itob(userID)
	c := b.Cursor()
	for k, _ := c.Seek(pairKey(userID, uint64(since))); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		n++
	}
	return n
}

// claimInvite marks an invitation's code used and returns the email it
// was for, or returns NO_PERMISSION for a code that is unknown, used or
// expired.
func claimInvite(tx *bolt.Tx, code string, now time.Time) (string, error) {
	rec, err := openInvite(tx, code, now)
	if err != nil {
		return "", err
	}
	rec.Used = true
	v, err := json.Marshal(rec)
	if err != nil {
		return "", err
	}
	h := hashToken(code)
	return rec.Email, tx.Bucket(bucketInvites).Put(h[:], v)
}

// openInvite returns the invitation of a code that can still be used, or
// NO_PERMISSION.
func openInvite(tx *bolt.Tx, code string, now time.Time) (inviteRecord, error) {
	var rec inviteRecord
	refused := ferry.Errorf(ferry.ENOPERMISSION, "The invitation code is wrong, used or expired.")
	if code == "" {
		return rec, refused
	}
	h := hashToken(code)
	if v := tx.Bucket(bucketInvites).Get(h[:]); v == nil || json.Unmarshal(v, &rec) != nil || rec.Used || now.UnixNano() >= rec.Expires {
		return rec, refused
	}
	return rec, nil
}
