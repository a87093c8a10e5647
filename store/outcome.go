package store

import (
	"context"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
)

// outcomes collects, per sender, what became of their sends in one
// inbox/update call or one expiry sweep.
type outcomes map[uint64][]ferry.Outcome

// add records message m's new status.
func (o outcomes) add(tx *bolt.Tx, db *DB, m *messageRecord) {
	if m.Sender == 0 {
		return // a delivery's outsider is never mailed
	}
	receiver, err := db.findUserByID(tx, m.Receiver)
	to := m.RemoteTo // (another node's user)
	if err == nil {
		to = receiver.Email
	}
	o[m.Sender] = append(o[m.Sender], ferry.Outcome{To: to, Destination: m.Destination, Folder: m.Folder, Size: m.Size, Status: m.Status})
}

// merge adds what one committed transaction collected.
func (o outcomes) merge(from outcomes) {
	for sender, list := range from {
		o[sender] = append(o[sender], list...)
	}
}

// and returns o and more together in a map of its own (merge copies into
// new slices), leaving both as they are.
func (o outcomes) and(more outcomes) outcomes {
	all := outcomes{}
	all.merge(o)
	all.merge(more)
	return all
}

// tellSenders queues, in a transaction of its own, the mails of
// queueDecisionMails: for what was decided in transactions that could not
// queue them (a failure is logged, as the decisions stand).
func (db *DB) tellSenders(o outcomes) {
	if db.decisionNotice == nil || len(o) == 0 {
		return
	}
	err := db.update(context.Background(), func(tx *bolt.Tx) error { return db.queueDecisionMails(tx, o) })
	if err != nil {
		db.log("queueing the mails that tell senders what became of their sends", err)
	}
}

// queueDecisionMails queues one mail per sender of o, unless they turned
// mail_on_decision off or their account is gone or disabled.
func (db *DB) queueDecisionMails(tx *bolt.Tx, o outcomes) error {
	if db.decisionNotice == nil {
		return nil
	}
	for sender, list := range o {
		u, err := db.findUserByID(tx, sender)
		if err != nil || u.Disabled || u.NoDecisionMail {
			continue
		}
		if err := db.queueMail(tx, db.decisionNotice(u, list)); err != nil {
			return err
		}
	}
	return nil
}
