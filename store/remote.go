package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/store/blobs"
)

// Sends across slices (cluster mode, docs/cluster.md). The sender's node
// keeps an outbound message: its items pinned as any pending send's, the
// receiver's email and node instead of a receiver, and, in the same
// transaction, an envelope in cluster_outbox. The node's deliverer posts
// each envelope to the node it is for, at least once, until it answers;
// that node applies it once (cluster_applied remembers each envelope's
// node and number). There the send is an inbound message in the
// receiver's inbox that holds no blob: accepted, each blob is first copied
// in the bucket from the sender's object to the receiver's node's own
// name (CopyIn), so that each node's sweep reasons only about its own
// objects. Whatever ends an inbound message (a decision, its expiry, the
// receiver's account deleted) sends a decision back, in the transaction
// that ends it; whatever ends an outbound one but a decision (the
// sender's account deleted, its late expiry) withdraws it.
//
// cluster_outbox: sequence -> JSON envelope; cluster_applied: node, 0,
// sequence -> when; remote_sent: created (Unix ns) + message id, the
// outbound messages, for the late expiry; remote_in: node, 0, its message
// id -> the inbound message's id here, while it waits.

// Envelope is a change for another node.
type Envelope struct {
	Seq  uint64          `json:"seq"`
	From string          `json:"from"`
	To   string          `json:"to"`
	Kind string          `json:"kind"`
	Body json.RawMessage `json:"body"`
}

// Kinds of envelope.
const (
	KindSend     = "send"     // a new send, for the receiver's node
	KindDecision = "decision" // what became of it, for the sender's node
	KindWithdraw = "withdraw" // the sender's node ended it, for the receiver's
	KindContact  = "contact"  // a contact request, or its answer (remotecontact.go)
	KindDrop     = "drop"     // forget the copy of a move that did not switch (move.go)
)

// remoteGrace is how long past send.expire_after an outbound message
// waits for its decision before the sender's node expires it itself.
const remoteGrace = 24 * time.Hour

// sendBody is a KindSend envelope's body.
type sendBody struct {
	ID          uint64       `json:"id"` // on the sender's node
	SenderName  string       `json:"sender_name"`
	SenderEmail string       `json:"sender_email"`
	To          string       `json:"to"`
	Destination string       `json:"destination"`
	Folder      bool         `json:"folder,omitempty"`
	Size        int64        `json:"size"`
	Created     int64        `json:"created"`
	Items       []remoteItem `json:"items"`
	// Origin is the node whose message ID is, when another node passes
	// the send on (the receiver's account moved: move.go); its decision
	// goes there.
	Origin string `json:"origin,omitempty"`
}

type remoteItem struct {
	Path   string `json:"path,omitempty"`
	Dir    bool   `json:"dir,omitempty"`
	Size   int64  `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Object string `json:"object,omitempty"` // the sender's node's object
}

// decisionBody is a KindDecision or KindWithdraw envelope's body: the
// message's id on the node it goes to, and its new status.
type decisionBody struct {
	ID     uint64 `json:"id"`
	Status string `json:"status"`
	// Origin is the node whose message ID is, for a withdrawal passed on
	// by another node; Via the node the sender's node sent the message
	// to, for a decision from the node its receiver moved to (move.go).
	Origin string `json:"origin,omitempty"`
	Via    string `json:"via,omitempty"`
}

// queueEnvelope writes an envelope for node in tx.
func queueEnvelope(tx *bolt.Tx, from, to, kind string, body any) error {
	b := tx.Bucket(bucketClusterOutbox)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	v, err := json.Marshal(Envelope{Seq: seq, From: from, To: to, Kind: kind, Body: raw})
	if err != nil {
		return err
	}
	return b.Put(itob(seq), v)
}

// Envelopes lists up to n envelopes waiting to be delivered, oldest
// first.
func (db *DB) Envelopes(n int) ([]Envelope, error) {
	var list []Envelope
	err := db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketClusterOutbox).Cursor()
		for k, v := c.First(); k != nil && len(list) < n; k, v = c.Next() {
			var e Envelope
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			list = append(list, e)
		}
		return nil
	})
	return list, err
}

// Backlog counts the envelopes waiting, by the node they are for.
func (db *DB) Backlog() (map[string]int, error) {
	backlog := map[string]int{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketClusterOutbox).ForEach(func(_, v []byte) error {
			var e Envelope
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			backlog[e.To]++
			return nil
		})
	})
	return backlog, err
}

// EnvelopeDelivered drops an envelope its node has applied.
func (db *DB) EnvelopeDelivered(ctx context.Context, seq uint64) error {
	return db.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketClusterOutbox).Delete(itob(seq))
	})
}

// SendRemote sends sources to to, an email whose account is on node, from
// this node (self): the outbound messages and their envelope, in one
// transaction. It returns the messages' ids on this node. Its errors are
// Send's, but for the receiver, whom this node cannot see.
func (db *DB) SendRemote(ctx context.Context, senderID uint64, to, self, node string, sources []ferry.SendSource) ([]uint64, error) {
	to, err := ferry.NormalizeEmail(to)
	if err != nil {
		return nil, err
	}
	msgs, err := db.snapshot(senderID, sources)
	if err != nil {
		return nil, err
	}
	now := db.now()
	var ids []uint64
	err = db.update(ctx, func(tx *bolt.Tx) error {
		ids = ids[:0]
		sender, err := db.findUserByID(tx, senderID)
		if err != nil {
			return err
		}
		var total int64
		for _, m := range msgs {
			m.rec.Sender, m.rec.Created, m.rec.Status = senderID, now.UnixNano(), ferry.StatusPending
			m.rec.RemoteNode, m.rec.RemoteTo = node, to
			id, err := createMessage(tx, &m.rec, m.items)
			if err != nil {
				return err
			}
			ids = append(ids, id)
			total += m.rec.Size
			if err := db.holdMessage(tx, id, &m.rec, m.items); err != nil {
				return err
			}
			if m.rec.Held {
				continue // its envelope goes once a rescan finds its content clean (settleHeld)
			}
			if err := db.queueSend(tx, self, id, &m.rec, m.items, sender.FullName, sender.Email); err != nil {
				return err
			}
		}
		return db.record(tx, ctx, senderID, ferry.ActionSend, to, map[string]any{"messages": len(ids), "size": total, "node": node})
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// queueSend writes the envelope of outbound message id, from a sender so
// named, for its receiver's node: what the receiving node never has
// before the content is scanned here, as [scan] says.
func (db *DB) queueSend(tx *bolt.Tx, self string, id uint64, m *messageRecord, items []item, senderName, senderEmail string) error {
	body := sendBody{ID: id, SenderName: senderName, SenderEmail: senderEmail, To: m.RemoteTo, Destination: m.Destination,
		Folder: m.Folder, Size: m.Size, Created: m.Created}
	for _, it := range items {
		ri := remoteItem{Path: it.path, Dir: it.dir, Size: it.size}
		if !it.dir {
			ri.SHA256, ri.Object = hex.EncodeToString(it.sum[:]), db.blobs.store.Name(refOf(tx, it.sum))
		}
		body.Items = append(body.Items, ri)
	}
	return queueEnvelope(tx, self, m.RemoteNode, KindSend, body)
}

// Arrived is a send an envelope made a message of, for a receiver with
// accept_all: the caller accepts it (UpdateInbox), which copies its
// content, as a send on one node is accepted at once.
type Arrived struct {
	Receiver, Message uint64
}

// Apply applies an envelope from another node, once: a second delivery of
// it changes nothing. notice makes the mail that tells a send's receiver;
// contactNotice a contact request's.
func (db *DB) Apply(ctx context.Context, e Envelope, notice func(receiver *ferry.User, senderName, senderEmail string, destinations []string, total int64) ferry.Mail, contactNotice ferry.ContactNotice) (*Arrived, error) {
	var released []sum
	var arrived *Arrived
	var dropped uint64
	var dropUploads []string
	err := db.update(ctx, func(tx *bolt.Tx) error {
		released, arrived, dropped, dropUploads = released[:0], nil, 0, nil
		applied := tx.Bucket(bucketClusterApplied)
		key := append(append([]byte(e.From), 0), itob(e.Seq)...)
		if applied.Get(key) != nil {
			return nil
		}
		if err := applied.Put(key, itob(uint64(db.now().UnixNano()))); err != nil {
			return err
		}
		switch e.Kind {
		case KindSend:
			var b sendBody
			if err := json.Unmarshal(e.Body, &b); err != nil {
				return err
			}
			var err error
			arrived, err = db.applySend(tx, ctx, e, b, notice)
			return err
		case KindContact:
			var b contactBody
			if err := json.Unmarshal(e.Body, &b); err != nil {
				return err
			}
			if relayed, err := relayEnvelope(tx, e, b.To, b); relayed || err != nil {
				return err // (its account moved: passed on to its node)
			}
			if u, err := db.findUserByEmail(tx, b.To); err == nil && db.frozen(u.ID) {
				return ferry.ErrMoving // (delivered again once it moved)
			}
			return db.applyContact(tx, b, contactNotice)
		case KindDrop:
			var b dropBody
			if err := json.Unmarshal(e.Body, &b); err != nil {
				return err
			}
			var err error
			dropped, released, dropUploads, err = db.dropImported(tx, b.Email, func(in movedIn) bool {
				return in.From == e.From && in.Fence == b.Fence && !in.Confirmed
			})
			return err
		case KindDecision, KindWithdraw:
			var b decisionBody
			if err := json.Unmarshal(e.Body, &b); err != nil {
				return err
			}
			rel, err := db.applyDecision(tx, ctx, e, b)
			released = rel
			return err
		}
		return fmt.Errorf("an envelope of kind %q", e.Kind)
	})
	if err != nil {
		return nil, err
	}
	if dropped != 0 {
		db.afterDelete(dropped, released, dropUploads)
	} else {
		db.release(released)
	}
	return arrived, nil
}

// applySend makes a send from another node an inbound message in its
// receiver's inbox; one for no account here is declined back at once. It
// returns the message when its receiver accepts all.
func (db *DB) applySend(tx *bolt.Tx, ctx context.Context, e Envelope, b sendBody, notice func(*ferry.User, string, string, []string, int64) ferry.Mail) (*Arrived, error) {
	origin := e.From
	if b.Origin != "" {
		origin = b.Origin
	}
	receiver, err := db.findUserByEmail(tx, b.To)
	if err != nil {
		b.Origin = origin
		if relayed, err := relayEnvelope(tx, e, b.To, b); relayed || err != nil {
			if err == nil {
				err = tx.Bucket(bucketMovedSends).Put(remoteInKey(origin, b.ID), tx.Bucket(bucketMovedUsers).Get([]byte(b.To)))
			}
			return nil, err // (its account moved: passed on to its node)
		}
	}
	if err != nil || receiver.Disabled {
		return nil, queueEnvelope(tx, e.To, origin, KindDecision, decisionBody{ID: b.ID, Status: ferry.StatusDeclined, Via: viaOf(origin, e.From)})
	}
	if db.frozen(receiver.ID) {
		return nil, ferry.ErrMoving // (delivered again once it moved)
	}
	id, err := db.inboundMessage(tx, receiver, b, origin, viaOf(origin, e.From))
	if err != nil {
		return nil, err
	}
	ctx = ferry.WithActor(ctx, ferry.Actor{Email: b.SenderEmail})
	if err := db.record(tx, ctx, receiver.ID, ferry.ActionSend, receiver.Email, map[string]any{"messages": 1, "size": b.Size, "message": id, "node": origin}); err != nil {
		return nil, err
	}
	if notice != nil {
		if err := db.queueMail(tx, notice(receiver, b.SenderName, b.SenderEmail, []string{b.Destination}, b.Size)); err != nil {
			return nil, err
		}
	}
	if receiver.AcceptAll {
		return &Arrived{Receiver: receiver.ID, Message: id}, nil
	}
	return nil, nil
}

// viaOf is a decision's Via: the node that passed the send on, when it is
// not its origin.
func viaOf(origin, from string) string {
	if origin == from {
		return ""
	}
	return from
}

// inboundMessage makes send b, message b.ID of node origin, an inbound
// message in receiver's inbox, and returns its id. via is the node that
// origin sent it to, when that is not this one (its receiver moved).
func (db *DB) inboundMessage(tx *bolt.Tx, receiver *ferry.User, b sendBody, origin, via string) (uint64, error) {
	items := make([]item, 0, len(b.Items))
	objects := map[string]string{}
	for _, ri := range b.Items {
		it := item{path: ri.Path, dir: ri.Dir, size: ri.Size}
		if !ri.Dir {
			var err error
			if it.sum, err = parseSum(ri.SHA256); err != nil {
				return 0, fmt.Errorf("an envelope's item %q: %w", ri.Path, err)
			}
			objects[ri.SHA256] = ri.Object
		}
		items = append(items, it)
	}
	m := messageRecord{Receiver: receiver.ID, Destination: b.Destination, Folder: b.Folder, Size: b.Size, Created: b.Created,
		Status: ferry.StatusPending, RemoteNode: origin, RemoteID: b.ID, OutsiderName: b.SenderName, OutsiderEmail: b.SenderEmail,
		RemoteObjects: objects, RemoteVia: via}
	id, err := createMessage(tx, &m, items)
	if err != nil {
		return 0, err
	}
	return id, tx.Bucket(bucketRemoteIn).Put(remoteInKey(origin, b.ID), itob(id))
}

// applyDecision ends an outbound message as its receiver's node decided,
// or an inbound one its sender's node withdrew.
func (db *DB) applyDecision(tx *bolt.Tx, ctx context.Context, e Envelope, b decisionBody) ([]sum, error) {
	if e.Kind == KindWithdraw { // its id is the sending node's
		origin := e.From
		if b.Origin != "" {
			origin = b.Origin
		}
		v := tx.Bucket(bucketRemoteIn).Get(remoteInKey(origin, b.ID))
		if v == nil {
			if to := tx.Bucket(bucketMovedSends).Get(remoteInKey(origin, b.ID)); to != nil { // its receiver moved
				b.Origin = origin
				return nil, queueEnvelope(tx, e.To, string(to), KindWithdraw, b)
			}
			return nil, nil // ended here already
		}
		b.ID, e.From = btoi(v), origin
	}
	m, ok, err := getMessage(tx, b.ID)
	if err != nil || !ok || !m.waiting() || (m.RemoteNode != e.From && (b.Via == "" || m.RemoteNode != b.Via)) {
		return nil, err // ended here already (a withdrawal crossed a decision): nothing to do
	}
	if db.frozen(m.Sender) || db.frozen(m.Receiver) {
		return nil, ferry.ErrMoving // (its account is being moved: delivered again after)
	}
	m.fromRemote = true
	rel, err := closeMessage(tx, b.ID, &m, b.Status, db.now())
	if err != nil {
		return nil, err
	}
	if e.Kind == KindWithdraw {
		return rel, nil
	}
	told := outcomes{}
	told.add(tx, db, &m)
	return rel, db.queueDecisionMails(tx, told)
}

// closeRemote sends what ending message id means to the other node: a
// decision for an inbound one, a withdrawal for an outbound one that no
// decision ended. closeWithItems calls it.
func closeRemote(tx *bolt.Tx, id uint64, m *messageRecord, status string) error {
	self := string(tx.Bucket(bucketMeta).Get(keyNode))
	if m.RelayNode != "" { // its sender moved: the decision is theirs to hear of there
		if err := queueEnvelope(tx, self, m.RelayNode, KindDecision, decisionBody{ID: m.RelayID, Status: status}); err != nil {
			return err
		}
	}
	if m.RemoteNode == "" {
		return nil
	}
	index, key, kind, body := bucketRemoteSent, pairKey(uint64(m.Created), id), KindWithdraw, decisionBody{ID: id, Status: ferry.StatusExpired}
	if m.inbound() {
		index, key, kind, body = bucketRemoteIn, remoteInKey(m.RemoteNode, m.RemoteID), KindDecision, decisionBody{ID: m.RemoteID, Status: status, Via: m.RemoteVia}
	}
	if err := tx.Bucket(index).Delete(key); err != nil {
		return err
	}
	if m.fromRemote {
		return nil // the other node ended it
	}
	return queueEnvelope(tx, self, m.RemoteNode, kind, body)
}

func remoteInKey(node string, id uint64) []byte {
	return append(append([]byte(node), 0), itob(id)...)
}

// inbound reports whether m is a send from another node, which holds no
// blob here.
func (m *messageRecord) inbound() bool { return m.RemoteNode != "" && m.Receiver != 0 }

// blobless reports whether m holds no blob here: an inbound message, or a
// moved account's mirror of a send that stays on its old node.
func (m *messageRecord) blobless() bool { return m.inbound() || m.Mirror }

// copyInbound copies, before an accept's transactions, the blobs of
// inbound messages that this node does not hold (want: from the sending
// node's objects, acceptedBlobsPresent's), and records them in present. It
// takes the blobs' locks (their stripes, in order), so that no removal
// takes a copy away before the accept refers to it, and returns their
// release, for after the transactions, which also removes each copy no
// record refers to by then; nothing may be released (db.release)
// meanwhile.
func (db *DB) copyInbound(ctx context.Context, want map[sum]string, present map[sum]bool) (func(), error) {
	if len(want) == 0 {
		return func() {}, nil
	}
	var stripes [256]bool
	for h := range want {
		stripes[h[0]] = true
	}
	var unlocks []func()
	for i, locked := range stripes {
		if locked {
			unlocks = append(unlocks, db.lockBlob(sum{byte(i)}))
		}
	}
	var copied []sum
	unlock := func() {
		// A copy that no record came to refer to (the accept was
		// refused: over the quota, say) goes, before anything else can
		// take the blob.
		for _, h := range copied {
			if _, err := db.removeBlobIfUnreferenced(h); err != nil {
				db.log("removing a copy no accept took", err)
			}
		}
		for _, u := range unlocks {
			u()
		}
	}
	for h, object := range want {
		ok, err := db.blobExists(ctx, h) // under its lock: a release cannot take it away now
		if err != nil {
			unlock()
			return nil, err
		}
		if !ok {
			if object == "" {
				continue // the accept answers FILE_NOT_FOUND
			}
			if err := db.blobs.store.CopyIn(ctx, object, blobs.Ref{Sum: h}); err != nil {
				if errors.Is(err, blobs.ErrNoObject) {
					continue
				}
				unlock()
				return nil, err
			}
			copied = append(copied, h)
		}
		present[h] = true
	}
	return unlock, nil
}

// ExpireRemoteSends ends the outbound messages past send.expire_after and
// a grace for their receiver's node to answer, and returns how many.
func (db *DB) ExpireRemoteSends() (int, error) {
	cutoff := db.now().Add(-db.rules.sendExpire - remoteGrace).UnixNano()
	var keys [][]byte
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRemoteSent).Cursor()
		for k, _ := c.First(); k != nil && len(keys) < reclaimBatch && int64(binary.BigEndian.Uint64(k)) <= cutoff; k, _ = c.Next() {
			keys = append(keys, bytes.Clone(k))
		}
		return nil
	})
	if len(keys) == 0 {
		return 0, nil
	}
	var released []sum
	n := 0
	err := db.update(context.Background(), func(tx *bolt.Tx) error {
		released, n = released[:0], 0
		told := outcomes{}
		for _, k := range keys {
			id := binary.BigEndian.Uint64(k[8:])
			m, ok, err := getMessage(tx, id)
			if err != nil {
				return err
			}
			if !ok || !m.waiting() {
				if err := tx.Bucket(bucketRemoteSent).Delete(k); err != nil {
					return err
				}
				continue
			}
			rel, err := closeMessage(tx, id, &m, ferry.StatusExpired, db.now())
			if err != nil {
				return err
			}
			released = append(released, rel...)
			told.add(tx, db, &m)
			n++
		}
		return db.queueDecisionMails(tx, told)
	})
	if err != nil {
		return 0, err
	}
	db.release(released)
	return n, nil
}

// keepApplied is how long a node remembers the envelopes it applied: far
// longer than any redelivery waits.
const keepApplied = 30 * 24 * time.Hour

// DeleteOldApplied forgets the envelopes applied longer than keepApplied
// ago, and returns how many. With none due it writes nothing.
func (db *DB) DeleteOldApplied() (int, error) {
	cutoff := uint64(db.now().Add(-keepApplied).UnixNano())
	var keys [][]byte
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketClusterApplied).ForEach(func(k, v []byte) error {
			if len(v) == 8 && btoi(v) < cutoff && len(keys) < reclaimBatch {
				keys = append(keys, bytes.Clone(k))
			}
			return nil
		})
	})
	if len(keys) == 0 {
		return 0, nil
	}
	return len(keys), db.update(context.Background(), func(tx *bolt.Tx) error {
		for _, k := range keys {
			if err := tx.Bucket(bucketClusterApplied).Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}
