package store

import (
	"bytes"
	"context"
	"errors"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/paths"
)

// Send sends the sources from sender to the user with email to and returns
// the new messages' ids: one per file of a plain entry, one per folder
// entry. The request is checked whole first; on any error nothing is sent.
// Errors: METHOD_BAD_REQUEST (unknown or disabled receiver, the sender
// themself, a folder named as a file, a file named as a folder, too many
// files), FILE_NOT_FOUND, QUOTA_EXCEEDED (the receiver's inbox is full).
// When the receiver has accept_all, each message is accepted at once if
// their quotas allow it.
//
// notice, when not nil, makes the mail that tells the receiver, given the
// messages' destinations and total size; it is queued in the same
// transaction.
//
// The sources are walked in a read transaction first, so that the one
// write transaction every writer waits on only records what was found
// (a send is a snapshot as of that read); if meanwhile the last reference
// to some content went, the send starts again.
func (db *DB) Send(ctx context.Context, senderID uint64, to string, sources []ferry.SendSource, notice func(receiver *ferry.User, destinations []string, total int64) ferry.Mail) ([]uint64, error) {
	for try := 1; ; try++ {
		ids, err := db.send(ctx, senderID, to, sources, notice)
		if err != errSnapshotStale || try == 3 {
			return ids, err
		}
	}
}

// errSnapshotStale says that content a send's snapshot found is no longer
// stored.
var errSnapshotStale = ferry.Errorf(ferry.EFILENOTFOUND, "A file changed while it was being sent; send it again.")

func (db *DB) send(ctx context.Context, senderID uint64, to string, sources []ferry.SendSource, notice func(receiver *ferry.User, destinations []string, total int64) ferry.Mail) ([]uint64, error) {
	now, lim := db.now(), db.rules.send
	msgs, err := db.snapshot(senderID, sources)
	if err != nil {
		return nil, err
	}
	hold, err := db.scanSent(ctx, senderID, msgs)
	if err != nil {
		return nil, err
	}
	var ids []uint64
	var released []sum
	err = db.update(ctx, func(tx *bolt.Tx) error {
		ids, released = ids[:0], released[:0]
		for _, h := range hold {
			if err := markScan(tx, h, scanHeld); err != nil {
				return err
			}
		}
		receiver, err := db.findUserByEmail(tx, to)
		if ferry.ErrorCode(err) == ferry.EUSERNOTFOUND || (err == nil && receiver.Disabled) {
			return errors.Join(ferry.Errorf(ferry.EBADREQUEST, "No user has the email %q.", to), ferry.ErrNoReceiver)
		} else if err != nil {
			return err
		}
		if receiver.ID == senderID {
			return ferry.Errorf(ferry.EBADREQUEST, "You cannot send files to yourself.")
		}
		if db.frozen(receiver.ID) {
			return ferry.ErrMoving
		}
		if pending := countPrefix(tx.Bucket(bucketInbox), itob(receiver.ID)); lim.MaxPending > 0 && pending+len(msgs) > lim.MaxPending {
			return ferry.Errorf(ferry.EQUOTAEXCEEDED, "The receiver's inbox is full (%d messages waiting; at most %d).", pending, lim.MaxPending)
		}
		var dests []string
		var total int64
		for _, m := range msgs {
			m.rec.Sender, m.rec.Receiver, m.rec.Created, m.rec.Status = senderID, receiver.ID, now.UnixNano(), ferry.StatusPending
			id, err := createMessage(tx, &m.rec, m.items)
			if err != nil {
				return err
			}
			if err := db.holdMessage(tx, id, &m.rec, m.items); err != nil {
				return err
			}
			ids = append(ids, id)
			dests, total = append(dests, m.rec.Destination), total+m.rec.Size
		}
		// In both logs: the sender's, and the receiver's, to whom it is done.
		if err := db.record(tx, ctx, senderID, ferry.ActionSend, receiver.Email, map[string]any{"messages": len(ids), "size": total}, receiver.ID); err != nil {
			return err
		}
		if notice != nil {
			if err := db.queueMail(tx, notice(receiver, dests, total)); err != nil {
				return err
			}
		}
		if !receiver.AcceptAll {
			return nil
		}
		for _, id := range ids {
			rel, err := db.acceptMessage(tx, receiver.ID, id, db.rules.packages.For(receiver), now, nil)
			switch ferry.ErrorCode(err) {
			case "":
				released = append(released, rel...)
				if err := db.record(tx, ctx, receiver.ID, ferry.ActionAccept, receiver.Email, map[string]any{"message": id, "accept_all": true}); err != nil {
					return err
				}
			case ferry.EQUOTAEXCEEDED, ferry.EFILENOTFOUND, ferry.ESCANPENDING:
				// It waits in the inbox like any other.
			default:
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	db.release(released)
	return ids, nil
}

// snapshot reads a send's sources in a read transaction of its own
// (snapshotSources).
func (db *DB) snapshot(senderID uint64, sources []ferry.SendSource) ([]pendingMessage, error) {
	var msgs []pendingMessage
	err := db.bolt.View(func(tx *bolt.Tx) (err error) {
		msgs, err = snapshotSources(tx, senderID, sources, db.rules.send.MaxFiles)
		return err
	})
	return msgs, err
}

// pendingMessage is a message being built by a send.
type pendingMessage struct {
	rec   messageRecord
	items []item
}

// snapshotSources turns a send's sources into messages, recording what
// every file holds now.
func snapshotSources(tx *bolt.Tx, userID uint64, sources []ferry.SendSource, maxFiles int) ([]pendingMessage, error) {
	listed := 0
	for _, src := range sources {
		if listed += len(src.Files); maxFiles > 0 && listed > maxFiles {
			return nil, ferry.Errorf(ferry.EBADREQUEST, "A send may name at most %d files and folders.", maxFiles)
		}
	}
	var msgs []pendingMessage
	total := 0
	count := func(n int) error {
		if total += n; maxFiles > 0 && total > maxFiles {
			return ferry.Errorf(ferry.EBADREQUEST, "A send may carry at most %d files and folders.", maxFiles)
		}
		return nil
	}
	for _, src := range sources {
		if src.Folder {
			m, err := snapshotFolder(tx, userID, src, count)
			if err != nil {
				return nil, err
			}
			msgs = append(msgs, m)
			continue
		}
		if len(src.Files) == 0 {
			return nil, ferry.Errorf(ferry.EBADREQUEST, "An entry without \"folder\" must list its files.")
		}
		for _, f := range src.Files {
			names := append(append([]string{}, src.Path...), f...)
			n, err := walk(tx, userID, names)
			if err != nil {
				return nil, err
			}
			if n.dir {
				return nil, ferry.Errorf(ferry.EBADREQUEST, "%q is a folder: send it with \"folder\": true.", paths.Join(names))
			}
			if err := count(1); err != nil {
				return nil, err
			}
			dest := names
			if src.Bare {
				dest = f
			}
			msgs = append(msgs, pendingMessage{
				rec:   messageRecord{Destination: paths.Join(dest), Size: n.size},
				items: []item{{size: n.size, sum: n.sum}},
			})
		}
	}
	return msgs, nil
}

// snapshotFolder makes the message of a folder entry: the listed files and
// folders (everything below, for a folder), or the whole folder when none
// are listed.
func snapshotFolder(tx *bolt.Tx, userID uint64, src ferry.SendSource, count func(int) error) (pendingMessage, error) {
	if len(src.Path) == 0 {
		return pendingMessage{}, ferry.Errorf(ferry.EBADREQUEST, "The root cannot be sent as a folder; name a folder in it.")
	}
	top, err := walk(tx, userID, src.Path)
	if err != nil {
		return pendingMessage{}, err
	}
	if !top.dir {
		return pendingMessage{}, ferry.Errorf(ferry.EBADREQUEST, "%q is a file, not a folder.", paths.Join(src.Path))
	}
	dest := src.Path
	if src.Bare {
		dest = src.Path[len(src.Path)-1:]
	}
	m := pendingMessage{rec: messageRecord{Destination: paths.Join(dest), Folder: true}}
	listed := collapseNames(src.Files)
	seen := map[string]bool{}
	add := func(it item) error {
		if seen[it.path] {
			return nil
		}
		seen[it.path] = true
		m.items = append(m.items, it)
		m.rec.Size += it.size
		return count(1)
	}
	// addTree adds n, at rel, and everything below it.
	addTree := func(n node, rel string) error {
		type job struct {
			n   node
			rel string
		}
		stack := []job{{n, rel}}
		for len(stack) > 0 {
			j := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if !j.n.dir {
				if err := add(item{size: j.n.size, sum: j.n.sum, path: j.rel}); err != nil {
					return err
				}
				continue
			}
			if j.rel != "" {
				if err := add(item{dir: true, path: j.rel}); err != nil {
					return err
				}
			}
			kids := children(tx, j.n.id)
			for i := len(kids) - 1; i >= 0; i-- { // so that the stack pops them in name order
				c, err := getNode(tx, kids[i])
				if err != nil {
					return err
				}
				stack = append(stack, job{c, joinRel(j.rel, c.name)})
			}
		}
		return nil
	}
	if len(src.Files) == 0 {
		return m, addTree(top, "")
	}
	for _, f := range listed {
		n, err := walk(tx, userID, append(append([]string{}, src.Path...), f...))
		if err != nil {
			return m, err
		}
		if err := addTree(n, paths.Join(f)); err != nil {
			return m, err
		}
	}
	return m, nil
}

// collapseNames returns the names a folder entry lists, in order, without
// repeats and without names below another listed one (which its tree
// carries anyway), so that each tree is walked once however often it is
// named.
func collapseNames(list [][]string) [][]string {
	set := make(map[string]bool, len(list))
	for _, f := range list {
		set[paths.Join(f)] = true
	}
	done := make(map[string]bool, len(set))
	var out [][]string
	for _, f := range list {
		p := paths.Join(f)
		if done[p] {
			continue
		}
		done[p] = true
		covered := false
		for i := 0; i < len(p) && !covered; i++ {
			covered = p[i] == '/' && set[p[:i]]
		}
		if !covered {
			out = append(out, f)
		}
	}
	return out
}

func joinRel(rel, name string) string {
	if rel == "" {
		return name
	}
	return rel + "/" + name
}

// createMessage stores a new pending message with its items, pinning
// their blobs, and indexes it.
func createMessage(tx *bolt.Tx, rec *messageRecord, items []item) (uint64, error) {
	id, err := tx.Bucket(bucketMessages).NextSequence()
	if err != nil {
		return 0, err
	}
	rec.Items = len(items)
	if err := writeMessage(tx, id, rec, encodeItems(items)); err != nil {
		return 0, err
	}
	for i := range items {
		if !items[i].dir && !rec.inbound() { // (an inbound message holds no blob here: remote.go)
			if err := refStoredBlob(tx, items[i].sum, items[i].size); err != nil {
				return 0, err
			}
			if rec.Sender == 0 {
				continue // a delivery: nobody's files pin it
			}
			if err := pinSend(tx, rec.Sender, items[i].sum); err != nil {
				return 0, err
			}
		}
	}
	type put struct{ bucket, key []byte }
	puts := []put{}
	if rec.Sender != 0 {
		puts = append(puts, put{bucketOutbox, pairKey(rec.Sender, id)})
	}
	switch {
	case rec.RemoteNode != "" && rec.Receiver == 0: // for another node's user: its node decides, and expires it
		puts = append(puts, put{bucketRemoteSent, pairKey(uint64(rec.Created), id)})
	case rec.Receiver == 0: // waiting for the invitee's account
		puts = append(puts, put{bucketPending, pairKey(uint64(rec.Created), id)})
		puts = append(puts, put{bucketInvited, invitedKey(rec.Invitee, id)})
	default:
		puts = append(puts, put{bucketPending, pairKey(uint64(rec.Created), id)},
			put{bucketInbox, pairKey(rec.Receiver, id)}, put{bucketReceived, pairKey(rec.Receiver, id)})
	}
	for _, put := range puts {
		if err := tx.Bucket(put.bucket).Put(put.key, nil); err != nil {
			return 0, err
		}
	}
	return id, nil
}

func countPrefix(b *bolt.Bucket, prefix []byte) int {
	n := 0
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		n++
	}
	return n
}
