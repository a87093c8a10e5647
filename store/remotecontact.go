package store

import (
	"bytes"
	"context"
	"encoding/json"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
)

// Contacts across nodes (cluster mode, docs/cluster.md). A contact on
// another node is kept by email in remote_contacts, and adding one sends
// a KindContact envelope to its node, in the same transaction; there it is
// a contact request notification that names its sender by email, or,
// when the contact had asked first, the pair complete and its mail.
//
// remote_contacts: owner id + email -> JSON remoteContact.

type remoteContact struct {
	Node string `json:"node"`
	// Name is the contact's full name as its node said when it was added
	// ("" when that node did not answer).
	Name string `json:"name,omitempty"`
}

// contactBody is a KindContact envelope's body.
type contactBody struct {
	FromEmail string `json:"from_email"`
	FromName  string `json:"from_name"`
	To        string `json:"to"`
	// Back says that the sender answers the receiver's own request: the
	// pair is complete.
	Back bool `json:"back,omitempty"`
}

func remoteContactKey(ownerID uint64, email string) []byte {
	return append(itob(ownerID), email...)
}

// AddRemoteContact adds email, an account of node named name, to owner's
// contacts, from this node (self): ALREADY_CONTACT when it is one. Its
// envelope asks the contact, or, when the contact asked first, answers
// them.
func (db *DB) AddRemoteContact(ctx context.Context, ownerID uint64, email, name, self, node string) error {
	email, err := ferry.NormalizeEmail(email)
	if err != nil {
		return err
	}
	return db.update(ctx, func(tx *bolt.Tx) error {
		owner, err := db.findUserByID(tx, ownerID)
		if err != nil {
			return err
		}
		b := tx.Bucket(bucketRemoteContacts)
		key := remoteContactKey(ownerID, email)
		if b.Get(key) != nil {
			return ferry.Errorf(ferry.EALREADYCONTACT, "%s is a contact already.", email)
		}
		v, err := json.Marshal(remoteContact{Node: node, Name: name})
		if err != nil {
			return err
		}
		if err := b.Put(key, v); err != nil {
			return err
		}
		back, err := answerRequests(tx, ownerID, requester{email: email})
		if err != nil {
			return err
		}
		return queueEnvelope(tx, self, node, KindContact, contactBody{FromEmail: owner.Email, FromName: owner.FullName, To: email, Back: back})
	})
}

// applyContact makes a contact envelope a request to its receiver, or
// tells them the pair is complete; nothing for no account here.
func (db *DB) applyContact(tx *bolt.Tx, b contactBody, notice ferry.ContactNotice) error {
	receiver, err := db.findUserByEmail(tx, b.To)
	if err != nil || receiver.Disabled {
		return nil
	}
	from := &ferry.User{Email: b.FromEmail, FullName: b.FromName}
	if b.Back {
		if notice != nil {
			return db.queueMail(tx, notice(from, receiver, true))
		}
		return nil
	}
	if tx.Bucket(bucketRemoteContacts).Get(remoteContactKey(receiver.ID, b.FromEmail)) != nil {
		return nil // in each other's contacts already (added again): nothing to ask, as on one node
	}
	r := requester{email: b.FromEmail}
	if hasUnreadRequest(tx, receiver.ID, r) {
		return nil
	}
	now := db.now().UnixNano()
	mailed := requestedSince(tx, receiver.ID, r, now-int64(requestMailGap))
	if err := addNotification(tx, notificationRecord{User: receiver.ID, Type: ferry.NotificationContactRequest,
		FromEmail: b.FromEmail, FromName: b.FromName, Created: now}); err != nil {
		return err
	}
	if notice != nil && !mailed {
		return db.queueMail(tx, notice(from, receiver, false))
	}
	return nil
}

// remoteContacts lists owner's contacts on other nodes.
func remoteContacts(tx *bolt.Tx, ownerID uint64) []ferry.Contact {
	var list []ferry.Contact
	prefix := itob(ownerID)
	c := tx.Bucket(bucketRemoteContacts).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var rc remoteContact
		_ = json.Unmarshal(v, &rc) // (an unreadable one is listed by its email)
		list = append(list, ferry.Contact{Email: string(k[8:]), FullName: rc.Name})
	}
	return list
}
