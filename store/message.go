package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/paths"
	"github.com/ferryhq/ferry/quota"
)

// A send is a message per file or folder, with the items it carries: each
// item's path relative to the message's destination, size and SHA-256. A
// pending message pins its blobs (one reference per file item), so the
// receiver gets what was sent whatever the sender does later; accepting
// makes the receiver's nodes over the same blobs, declining or expiry drops
// the pins. No bytes are copied.
//
// Buckets: messages (id -> JSON header), message_items (id + seq -> item),
// inbox (receiver + id, pending only), outbox (sender + id), pending (created
// time + id, pending only, for the expiry sweep).

type messageRecord struct {
	Sender      uint64 `json:"sender"`
	Receiver    uint64 `json:"receiver"`
	Destination string `json:"destination"`
	Folder      bool   `json:"folder,omitempty"`
	Size        int64  `json:"size"`
	Items       int    `json:"items"`
	Created     int64  `json:"created"`
	Status      string `json:"status"`
	Closed      int64  `json:"closed,omitempty"`
}

// item is one file or folder of a message. Record: flags 1 | size 8 |
// sha256 32 | path relative to the destination ("" for a single file).
type item struct {
	dir  bool
	size int64
	sum  sum
	path string
}

func (it *item) encode() []byte {
	b := make([]byte, 41+len(it.path))
	if it.dir {
		b[0] = 1
	}
	binary.BigEndian.PutUint64(b[1:], uint64(it.size))
	copy(b[9:41], it.sum[:])
	copy(b[41:], it.path)
	return b
}

func decodeItem(v []byte) (item, error) {
	if len(v) < 41 {
		return item{}, fmt.Errorf("message item of %d bytes", len(v))
	}
	return item{dir: v[0] == 1, size: int64(binary.BigEndian.Uint64(v[1:])), sum: sum(v[9:41]), path: string(v[41:])}, nil
}

func pairKey(a, b uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, a)
	binary.BigEndian.PutUint64(k[8:], b)
	return k
}

func itemKey(msg uint64, seq int) []byte {
	k := make([]byte, 12)
	binary.BigEndian.PutUint64(k, msg)
	binary.BigEndian.PutUint32(k[8:], uint32(seq))
	return k
}

func getMessage(tx *bolt.Tx, id uint64) (messageRecord, bool, error) {
	var m messageRecord
	v := tx.Bucket(bucketMessages).Get(itob(id))
	if v == nil {
		return m, false, nil
	}
	return m, true, json.Unmarshal(v, &m)
}

func putMessage(tx *bolt.Tx, id uint64, m *messageRecord) error {
	v, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketMessages).Put(itob(id), v)
}

// messageItems returns the items of message id, in order.
func messageItems(tx *bolt.Tx, id uint64) ([]item, error) {
	var items []item
	prefix := itob(id)
	c := tx.Bucket(bucketMessageItems).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		it, err := decodeItem(v)
		if err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	return items, nil
}

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
func (db *DB) Send(senderID uint64, to string, sources []ferry.SendSource, notice func(receiver *ferry.User, destinations []string, total int64) ferry.Mail) ([]uint64, error) {
	for try := 1; ; try++ {
		ids, err := db.send(senderID, to, sources, notice)
		if err != errSnapshotStale || try == 3 {
			return ids, err
		}
	}
}

// errSnapshotStale says that content a send's snapshot found is no longer
// stored.
var errSnapshotStale = ferry.Errorf(ferry.EFILENOTFOUND, "A file changed while it was being sent; send it again.")

func (db *DB) send(senderID uint64, to string, sources []ferry.SendSource, notice func(receiver *ferry.User, destinations []string, total int64) ferry.Mail) ([]uint64, error) {
	now, lim := db.now(), db.rules.send
	var msgs []pendingMessage
	err := db.bolt.View(func(tx *bolt.Tx) (err error) {
		msgs, err = snapshotSources(tx, senderID, sources, lim.MaxFiles)
		return err
	})
	if err != nil {
		return nil, err
	}
	var ids []uint64
	var released []sum
	err = db.update(func(tx *bolt.Tx) error {
		ids, released = ids[:0], released[:0]
		receiver, err := db.findUserByEmail(tx, to)
		if ferry.ErrorCode(err) == ferry.EUSERNOTFOUND || (err == nil && receiver.Disabled) {
			return ferry.Errorf(ferry.EBADREQUEST, "No user has the email %q.", to)
		} else if err != nil {
			return err
		}
		if receiver.ID == senderID {
			return ferry.Errorf(ferry.EBADREQUEST, "You cannot send files to yourself.")
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
			ids = append(ids, id)
			dests, total = append(dests, m.rec.Destination), total+m.rec.Size
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
			case ferry.EQUOTAEXCEEDED, ferry.EFILENOTFOUND:
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
			msgs = append(msgs, pendingMessage{
				rec:   messageRecord{Destination: paths.Join(names), Size: n.size},
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
	m := pendingMessage{rec: messageRecord{Destination: paths.Join(src.Path), Folder: true}}
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
	if err := putMessage(tx, id, rec); err != nil {
		return 0, err
	}
	b := tx.Bucket(bucketMessageItems)
	for i := range items {
		if err := b.Put(itemKey(id, i), items[i].encode()); err != nil {
			return 0, err
		}
		if !items[i].dir {
			if tx.Bucket(bucketBlobs).Get(items[i].sum[:]) == nil {
				return 0, errSnapshotStale // its last reference went since the snapshot
			}
			if err := refBlob(tx, items[i].sum, items[i].size); err != nil {
				return 0, err
			}
			if err := pinSend(tx, rec.Sender, items[i].sum); err != nil {
				return 0, err
			}
		}
	}
	for _, put := range []struct {
		bucket []byte
		key    []byte
	}{
		{bucketInbox, pairKey(rec.Receiver, id)},
		{bucketOutbox, pairKey(rec.Sender, id)},
		{bucketPending, pairKey(uint64(rec.Created), id)},
	} {
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

// expired reports whether a pending message is past its expiry at now.
func (db *DB) expired(m *messageRecord, now time.Time) bool {
	return m.Status == ferry.StatusPending && now.UnixNano()-m.Created >= int64(db.sendExpire)
}

// closeMessage ends a pending message with status: it drops the pins and
// the pending indexes, and returns the blobs whose last reference went.
func closeMessage(tx *bolt.Tx, id uint64, m *messageRecord, status string, now time.Time) ([]sum, error) {
	items, err := messageItems(tx, id)
	if err != nil {
		return nil, err
	}
	var released []sum
	for _, it := range items {
		if it.dir {
			continue
		}
		last, err := unrefBlob(tx, it.sum)
		if err != nil {
			return nil, err
		}
		if last {
			released = append(released, it.sum)
		}
		if err := unpinSend(tx, m.Sender, it.sum); err != nil {
			return nil, err
		}
	}
	if err := tx.Bucket(bucketInbox).Delete(pairKey(m.Receiver, id)); err != nil {
		return nil, err
	}
	if err := tx.Bucket(bucketPending).Delete(pairKey(uint64(m.Created), id)); err != nil {
		return nil, err
	}
	m.Status, m.Closed = status, now.UnixNano()
	return released, putMessage(tx, id, m)
}

// acceptMessage accepts message id for receiver: everything is checked
// before anything changes, so an error leaves the transaction as it was.
// It returns MESSAGE_NOT_FOUND, MESSAGE_ALREADY_READ, QUOTA_EXCEEDED or
// FILE_NOT_FOUND (a blob file is missing), and the blobs released.
// present says which blob files were found before the transaction (see
// UpdateInbox); a blob it does not know of is looked for here.
func (db *DB) acceptMessage(tx *bolt.Tx, receiverID, id uint64, limits quota.Limits, now time.Time, present map[sum]bool) ([]sum, error) {
	m, err := openMessage(tx, receiverID, id)
	if err != nil {
		return nil, err
	}
	usage := usageOf(tx, receiverID)
	if err := limits.CheckStorage(usage, m.Size); err != nil {
		return nil, err
	}
	if err := limits.CheckReceive(usage, now, m.Size); err != nil {
		return nil, err
	}
	items, err := messageItems(tx, id)
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		if it.dir {
			continue
		}
		ok, known := present[it.sum]
		if !known {
			ok = db.blobFileExists(it.sum)
		}
		if !ok {
			return nil, ferry.Errorf(ferry.EFILENOTFOUND, "The content of %q is missing.", joinRel(m.Destination, it.path))
		}
	}
	dest, err := paths.Parse(m.Destination)
	if err != nil {
		return nil, err
	}
	if err := db.placeItems(tx, receiverID, dest, m.Folder, items, now.UnixNano()); err != nil {
		return nil, err
	}
	usage.Normal += m.Size
	usage = quota.AddReceived(usage, now, m.Size)
	if err := putUsage(tx, receiverID, usage); err != nil {
		return nil, err
	}
	return closeMessage(tx, id, &m, ferry.StatusAccepted, now)
}

// openMessage returns a message still waiting in receiver's inbox:
// MESSAGE_NOT_FOUND for an unknown id, another user's message or an expired
// one, MESSAGE_ALREADY_READ for one accepted or declined.
func openMessage(tx *bolt.Tx, receiverID, id uint64) (messageRecord, error) {
	m, ok, err := getMessage(tx, id)
	switch {
	case err != nil:
		return m, err
	case !ok || m.Receiver != receiverID || m.Status == ferry.StatusExpired:
		return m, ferry.Errorf(ferry.EMESSAGENOTFOUND, "No message %d in your inbox.", id)
	case m.Status != ferry.StatusPending:
		return m, ferry.Errorf(ferry.EMESSAGEREAD, "Message %d was %s already.", id, m.Status)
	}
	return m, nil
}

// placeItems makes a message's items the receiver's: at dest, creating
// parents; a name that is taken (a parent's too) becomes "name (n).ext".
func (db *DB) placeItems(tx *bolt.Tx, userID uint64, dest []string, folder bool, items []item, now int64) error {
	parent, _, err := rootOf(tx, userID, true)
	if err != nil {
		return err
	}
	for _, seg := range dest[:len(dest)-1] {
		if id := childID(tx, parent.id, seg); id != 0 {
			c, err := getNode(tx, id)
			if err != nil {
				return err
			}
			if c.dir {
				parent = c
				continue
			}
			seg = db.freeName(tx, parent.id, seg) // a file is in the way
		}
		c := node{parent: parent.id, dir: true, name: seg, modified: now}
		if err := addChild(tx, &c); err != nil {
			return err
		}
		parent = c
	}
	top := node{parent: parent.id, dir: folder, name: db.freeName(tx, parent.id, dest[len(dest)-1]), modified: now}
	if !folder {
		top.size, top.sum = items[0].size, items[0].sum
		if err := refBlob(tx, top.sum, top.size); err != nil {
			return err
		}
	}
	if err := addChild(tx, &top); err != nil {
		return err
	}
	var total int64
	if folder {
		if total, err = placeTree(tx, top, items, now); err != nil {
			return err
		}
	} else {
		total = top.size
	}
	return addToTotals(tx, parent.id, total)
}

// placeTree creates a folder message's items below the new folder top and
// returns their total size. Folder sizes are summed in memory and written
// once each.
func placeTree(tx *bolt.Tx, top node, items []item, now int64) (int64, error) {
	dirs := map[uint64]*node{top.id: &top}
	// dirFor returns the folder at rel below top, creating it.
	dirFor := func(rel []string) (*node, error) {
		d := dirs[top.id]
		for _, name := range rel {
			if id := childID(tx, d.id, name); id != 0 {
				d = dirs[id]
				if d == nil {
					return nil, fmt.Errorf("message item under a file at %q", name)
				}
				continue
			}
			c := &node{parent: d.id, dir: true, name: name, modified: now}
			if err := addChild(tx, c); err != nil {
				return nil, err
			}
			dirs[c.id] = c
			d = c
		}
		return d, nil
	}
	var total int64
	for _, it := range items {
		rel, err := paths.Parse(it.path)
		if err != nil || len(rel) == 0 {
			return 0, fmt.Errorf("message item with path %q", it.path)
		}
		if it.dir {
			if _, err := dirFor(rel); err != nil {
				return 0, err
			}
			continue
		}
		d, err := dirFor(rel[:len(rel)-1])
		if err != nil {
			return 0, err
		}
		f := node{parent: d.id, name: rel[len(rel)-1], size: it.size, sum: it.sum, modified: now}
		if err := addChild(tx, &f); err != nil {
			return 0, err
		}
		if err := refBlob(tx, f.sum, f.size); err != nil {
			return 0, err
		}
		for p := d; p != nil; p = dirs[p.parent] {
			p.size += it.size
			if p.id == top.id {
				break
			}
		}
		total += it.size
	}
	for _, d := range dirs {
		if err := saveNode(tx, d); err != nil {
			return 0, err
		}
	}
	return total, nil
}

// UpdateInbox accepts or declines messages of receiver, in order, and
// returns one error per decision: nil, MESSAGE_NOT_FOUND,
// MESSAGE_ALREADY_READ, QUOTA_EXCEEDED or FILE_NOT_FOUND. Each is done
// whole or not at all; the second result is an error that stopped the
// rest (those before it stand).
func (db *DB) UpdateInbox(receiverID uint64, decisions []ferry.Decision) ([]error, error) {
	now := db.now()
	results := make([]error, len(decisions))
	var released []sum
	present, weights := db.acceptedBlobsPresent(receiverID, decisions)
	// Decisions go in order, in transactions of about reclaimBatch items
	// (a message is always decided whole, in one), so that accepting a
	// thousand large sends never holds the write for long.
	for start := 0; start < len(decisions); {
		end, items := start, 0
		for end < len(decisions) && (end == start || items+weights[end] <= reclaimBatch) {
			items += weights[end]
			end++
		}
		err := db.update(func(tx *bolt.Tx) error {
			released = released[:0]
			limits, err := db.limitsOf(tx, receiverID)
			if err != nil {
				return err
			}
			for i := start; i < end; i++ {
				rel, err := db.decide(tx, receiverID, decisions[i], limits, now, present)
				if code := ferry.ErrorCode(err); code == ferry.EUNKNOWN {
					return err
				}
				results[i] = err
				released = append(released, rel...)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		db.release(released)
		start = end
	}
	return results, nil
}

// acceptedBlobsPresent looks, before the write transaction, for the blob
// files of the messages to be accepted, so that the transaction every
// writer waits for makes no file system calls (a message of 10,000 files
// made 10,000 stats in it). A pending message pins its blobs and its items
// never change, so what is found here still holds in the transaction. It
// also returns each decision's weight: 1 and the message's items.
func (db *DB) acceptedBlobsPresent(receiverID uint64, decisions []ferry.Decision) (map[sum]bool, []int) {
	weights := make([]int, len(decisions))
	var sums []sum
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		for i, d := range decisions {
			weights[i] = 1
			m, err := openMessage(tx, receiverID, d.ID)
			if err != nil {
				continue // the transaction answers it
			}
			weights[i] += m.Items
			if !d.Accept {
				continue
			}
			items, err := messageItems(tx, d.ID)
			if err != nil {
				continue
			}
			for _, it := range items {
				if !it.dir {
					sums = append(sums, it.sum)
				}
			}
		}
		return nil
	})
	present := make(map[sum]bool, len(sums))
	for _, h := range sums {
		if _, seen := present[h]; !seen {
			present[h] = db.blobFileExists(h)
		}
	}
	return present, weights
}

// decide carries out one decision. A pending message past its expiry
// expires here and is MESSAGE_NOT_FOUND.
func (db *DB) decide(tx *bolt.Tx, receiverID uint64, d ferry.Decision, limits quota.Limits, now time.Time, present map[sum]bool) ([]sum, error) {
	m, err := openMessage(tx, receiverID, d.ID)
	if err != nil {
		return nil, err
	}
	if db.expired(&m, now) {
		rel, err := closeMessage(tx, d.ID, &m, ferry.StatusExpired, now)
		if err != nil {
			return nil, err
		}
		return rel, ferry.Errorf(ferry.EMESSAGENOTFOUND, "Message %d expired.", d.ID)
	}
	if d.Accept {
		return db.acceptMessage(tx, receiverID, d.ID, limits, now, present)
	}
	return closeMessage(tx, d.ID, &m, ferry.StatusDeclined, now)
}

// release removes the files of released blobs, logging failures: the
// change has committed, and start-up removes what is left.
func (db *DB) release(released []sum) {
	if err := db.releaseBlobs(released); err != nil {
		db.log("removing released blobs", err)
	}
}

// Inbox returns the messages waiting for receiver, oldest first.
func (db *DB) Inbox(receiverID uint64) ([]ferry.Message, error) {
	return db.listMessages(bucketInbox, receiverID, true)
}

// Outbox returns every message sender has sent, oldest first.
func (db *DB) Outbox(senderID uint64) ([]ferry.Message, error) {
	return db.listMessages(bucketOutbox, senderID, false)
}

func (db *DB) listMessages(index []byte, userID uint64, pendingOnly bool) ([]ferry.Message, error) {
	now := db.now()
	list := []ferry.Message{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		names := map[uint64]*ferry.User{}
		user := func(id uint64) (*ferry.User, error) {
			if u, ok := names[id]; ok {
				return u, nil
			}
			u, err := db.findUserByID(tx, id)
			names[id] = u
			return u, err
		}
		prefix := itob(userID)
		c := tx.Bucket(index).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			id := binary.BigEndian.Uint64(k[8:])
			m, ok, err := getMessage(tx, id)
			if err != nil {
				return err
			} else if !ok {
				return fmt.Errorf("message %d is indexed but missing", id)
			}
			status := m.Status
			if db.expired(&m, now) {
				if pendingOnly {
					continue
				}
				status = ferry.StatusExpired
			}
			sender, err := user(m.Sender)
			if err != nil {
				return err
			}
			receiver, err := user(m.Receiver)
			if err != nil {
				return err
			}
			list = append(list, ferry.Message{
				ID:          id,
				Destination: m.Destination,
				Folder:      m.Folder,
				Size:        m.Size,
				Created:     time.Unix(0, m.Created).UTC(),
				Status:      status,
				SenderName:  sender.FullName,
				SenderEmail: sender.Email,
				To:          receiver.Email,
			})
		}
		return nil
	})
	return list, err
}

// ExpireMessages ends the pending messages past their expiry, releasing
// their pins, and returns how many it ended. With none due it writes
// nothing.
func (db *DB) ExpireMessages() (int, error) {
	now := db.now()
	// due lists the pending index's keys past expiry; the index is in order
	// of creation.
	due := func(tx *bolt.Tx, max int) [][]byte {
		var keys [][]byte
		c := tx.Bucket(bucketPending).Cursor()
		for k, _ := c.First(); k != nil && len(keys) < max && now.UnixNano()-int64(binary.BigEndian.Uint64(k)) >= int64(db.sendExpire); k, _ = c.Next() {
			keys = append(keys, append([]byte(nil), k...))
		}
		return keys
	}
	var any bool
	if err := db.bolt.View(func(tx *bolt.Tx) error { any = len(due(tx, 1)) > 0; return nil }); err != nil || !any {
		return 0, err
	}
	// Messages are closed in transactions of about reclaimBatch items, so
	// that many sends expiring at once never hold the write for long.
	total := 0
	for more := true; more; {
		n := 0
		var released []sum
		err := db.update(func(tx *bolt.Tx) error {
			n, released, more = 0, released[:0], false
			items := 0
			keys := due(tx, reclaimBatch+1)
			more = len(keys) > reclaimBatch
			for _, k := range keys {
				if items >= reclaimBatch {
					more = true
					break
				}
				id := binary.BigEndian.Uint64(k[8:])
				m, ok, err := getMessage(tx, id)
				if err != nil {
					return err
				}
				if !ok || m.Status != ferry.StatusPending {
					if err := tx.Bucket(bucketPending).Delete(k); err != nil {
						return err
					}
					continue
				}
				rel, err := closeMessage(tx, id, &m, ferry.StatusExpired, now)
				if err != nil {
					return err
				}
				released = append(released, rel...)
				items += 1 + m.Items
				n++
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		db.release(released)
		total += n
	}
	return total, nil
}
