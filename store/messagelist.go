package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
)

// The listings of messages: a sender's outbox, a receiver's received
// history, and one message with its items, each as the viewer sees it.

// Outbox returns every message sender has sent, oldest first.
func (db *DB) Outbox(ctx context.Context, senderID uint64) ([]ferry.Message, error) {
	return db.listMessages(bucketOutbox, senderID, false)
}

// listMessages returns the messages of userID's entries in index, oldest
// first; pendingOnly leaves out those past their expiry.
func (db *DB) listMessages(index []byte, userID uint64, pendingOnly bool) ([]ferry.Message, error) {
	now := db.now()
	list := []ferry.Message{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		users := userCache(tx, db)
		prefix := itob(userID)
		c := tx.Bucket(index).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			msg, err := db.message(tx, binary.BigEndian.Uint64(k[8:]), userID, now, users)
			if err != nil {
				return err
			}
			if pendingOnly && msg.Status != ferry.StatusPending {
				continue
			}
			list = append(list, msg)
		}
		return nil
	})
	return list, err
}

// Received returns up to limit of the messages receiver has accepted,
// declined or let expire, newest first.
func (db *DB) Received(ctx context.Context, receiverID uint64, limit int) ([]ferry.Message, error) {
	now := db.now()
	list := []ferry.Message{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		users := userCache(tx, db)
		prefix := itob(receiverID)
		c := tx.Bucket(bucketReceived).Cursor()
		k, _ := c.Seek(itob(receiverID + 1))
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && len(list) < limit; k, _ = c.Prev() {
			msg, err := db.message(tx, binary.BigEndian.Uint64(k[8:]), receiverID, now, users)
			if err != nil {
				return err
			}
			if msg.Status != ferry.StatusPending {
				list = append(list, msg)
			}
		}
		return nil
	})
	return list, err
}

// userCache returns a lookup of users by id that reads each once. A
// deleted account (the other side of a send) reads as deletedAccount.
func userCache(tx *bolt.Tx, db *DB) func(uint64) (*ferry.User, error) {
	users := map[uint64]*ferry.User{}
	return func(id uint64) (*ferry.User, error) {
		if u, ok := users[id]; ok {
			return u, nil
		}
		u, err := db.findUserByID(tx, id)
		if ferry.ErrorCode(err) == ferry.EUSERNOTFOUND {
			u, err = &deletedAccount, nil
		}
		users[id] = u
		return u, err
	}
}

// deletedAccount stands for the other side of a send whose account was
// deleted.
var deletedAccount = ferry.User{Email: "(deleted account)", FullName: "A deleted account"}

// message returns message id as viewer sees it at now: expired once past
// its expiry, and with where it landed only for its receiver.
func (db *DB) message(tx *bolt.Tx, id, viewer uint64, now time.Time, user func(uint64) (*ferry.User, error)) (ferry.Message, error) {
	m, ok, err := getMessage(tx, id)
	if err != nil {
		return ferry.Message{}, err
	} else if !ok {
		return ferry.Message{}, fmt.Errorf("message %d is indexed but missing", id)
	}
	status := m.Status
	if db.expired(&m, now) {
		status = ferry.StatusExpired
	}
	sender, err := user(m.Sender)
	if err != nil {
		return ferry.Message{}, err
	}
	receiver := &deletedAccount
	if m.Receiver != 0 {
		if receiver, err = user(m.Receiver); err != nil {
			return ferry.Message{}, err
		}
	}
	msg := ferry.Message{
		ID:          id,
		Destination: m.Destination,
		Folder:      m.Folder,
		Size:        m.Size,
		Created:     time.Unix(0, m.Created).UTC(),
		Status:      status,
		SenderName:  sender.FullName,
		SenderEmail: sender.Email,
		SenderPhoto: sender.PhotoToken,
		To:          receiver.Email,
		ToName:      receiver.FullName,
		Items:       m.Items,
	}
	if m.Receiver == 0 { // an invitee without an account yet: no name
		msg.To, msg.ToName = m.Invitee, ""
	}
	if m.Sender == 0 { // an outsider's delivery, or a send from another node
		msg.Request, msg.SenderName, msg.SenderEmail, msg.SenderPhoto = m.Request, m.OutsiderName, m.OutsiderEmail, ""
	}
	if m.RemoteTo != "" { // another node's user, whose name this node does not know
		msg.To = m.RemoteTo
	}
	msg.ScanPending = m.Held
	if viewer == m.Receiver {
		msg.Landed = m.Landed
	}
	return msg, nil
}

// Contents returns message id with up to limit of the items it carries,
// in order from the offset-th, to its sender or receiver;
// MESSAGE_NOT_FOUND to anyone else.
func (db *DB) Contents(ctx context.Context, userID, id uint64, offset, limit int) (ferry.Message, []ferry.SentItem, error) {
	var msg ferry.Message
	list := []ferry.SentItem{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		m, ok, err := getMessage(tx, id)
		if err != nil {
			return err
		}
		if !ok || (m.Sender != userID && m.Receiver != userID) {
			return ferry.Errorf(ferry.EMESSAGENOTFOUND, "No message %d.", id)
		}
		if msg, err = db.message(tx, id, userID, db.now(), userCache(tx, db)); err != nil {
			return err
		}
		items, err := itemsOf(tx, id, offset, max(limit, 0))
		for _, it := range items {
			list = append(list, ferry.SentItem{Path: it.path, Dir: it.dir, Size: it.size})
		}
		return err
	})
	return msg, list, err
}
