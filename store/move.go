package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
)

// Moving an account to another node (cluster mode, docs/cluster.md).
//
// The old node freezes the account (Freeze: its requests answer
// ferry.ErrMoving, those under way finish first), reads it whole
// (ExportUser) and hands it to the new node, which makes it in one
// transaction (ImportUser) under new ids, its content copied in the bucket
// to objects of its own. The app then switches the directory, fenced by
// the revision the move began at, and the old node ends its copy in one
// transaction (FinishMoveOut):
//
//   - its tokens, photo and links answer from the new node: the old node
//     keeps each one's hash in moved_secrets, and forwards what names it;
//   - a pending send to it from this node becomes a send to another
//     node's user, which the new node holds as an inbound message; one
//     from a third node is the new node's now, and a withdrawal that still
//     comes here is passed on (moved_sends);
//   - a pending send from it stays here, as an outsider's would (its pins
//     dropped, its blobs held by the message alone), and its decision is
//     passed to the new node (RelayNode, RelayID), which shows it in the
//     account's sent list (a mirror: items, no blobs);
//   - envelopes for it that still come here go on to the new node
//     (moved_users);
//   - then the account is deleted here, as DeleteUser deletes, but quietly.
//
// Not carried: file requests (a move waits for them to end), uploads in
// progress (they start over), contact requests not yet answered, WebDAV
// properties, the app password (made again on the new node) and the
// account's history of decided sends.
//
// moving_out: email -> JSON movingOut, from before the switch until the
// end here; moved_secrets: sha256(token, photo or link token) -> node;
// moved_users: email -> node; moved_sends: node, 0, its message id ->
// node; moved_in: email -> JSON movedIn, the last move that made an
// account here.

var (
	bucketMovingOut    = []byte("moving_out")
	bucketMovedSecrets = []byte("moved_secrets")
	bucketMovedUsers   = []byte("moved_users")
	bucketMovedSends   = []byte("moved_sends")
	bucketMovedIn      = []byte("moved_in")
)

// Move is an account as one node hands it to another.
type Move struct {
	From  string `json:"from"`
	Fence int64  `json:"fence"` // the directory's revision of the email when the move began
	// User is its record; its ID is the old node's.
	User      ferry.User      `json:"user"`
	Usage     ferry.Usage     `json:"usage"`
	TwoFactor json.RawMessage `json:"two_factor,omitempty"`
	Photo     []byte          `json:"photo,omitempty"`
	Tokens    []movedToken    `json:"tokens,omitempty"`
	Passkeys  []movedPasskey  `json:"passkeys,omitempty"`
	Files     []movedFile     `json:"files,omitempty"`
	Links     []movedLink     `json:"links,omitempty"`
	Contacts  []movedContact  `json:"contacts,omitempty"`
	Inbox     []sendBody      `json:"inbox,omitempty"` // pending sends to it, as envelopes would carry them
	Sent      []movedSent     `json:"sent,omitempty"`  // its pending sends
}

type movedToken struct {
	Hash    []byte `json:"hash"`
	Created int64  `json:"created"`
	LastUse int64  `json:"last_use"`
	Name    string `json:"name,omitempty"`
	Expires int64  `json:"expires,omitempty"`
	Person  bool   `json:"personal,omitempty"`
}

type movedPasskey struct {
	ID     []byte          `json:"id"`
	Record json.RawMessage `json:"record"`
}

// movedFile is a node of the folder: Parent is the index of its folder
// in Files, -1 for the root.
type movedFile struct {
	Parent   int    `json:"parent"`
	Name     string `json:"name"`
	Dir      bool   `json:"dir,omitempty"`
	Size     int64  `json:"size"`
	Modified int64  `json:"modified"`
	SHA256   string `json:"sha256,omitempty"`
	Object   string `json:"object,omitempty"` // the old node's
}

type movedLink struct {
	Hash         []byte `json:"hash"`
	File         int    `json:"file"` // its index in Files
	Expires      int64  `json:"expires"`
	Created      int64  `json:"created"`
	Downloads    uint64 `json:"downloads"`
	MaxDownloads uint64 `json:"max_downloads"`
	Password     string `json:"password,omitempty"`
}

type movedContact struct {
	Email string `json:"email"`
	Node  string `json:"node"`
	Name  string `json:"name,omitempty"`
}

// movedSent is one of its pending sends, which stays on the old node.
type movedSent struct {
	ID          uint64       `json:"id"` // on the old node
	To          string       `json:"to"`
	Invited     bool         `json:"invited,omitempty"`
	Destination string       `json:"destination"`
	Folder      bool         `json:"folder,omitempty"`
	Size        int64        `json:"size"`
	Created     int64        `json:"created"`
	Items       []remoteItem `json:"items"`
}

type movingOut struct {
	To    string            `json:"to"`
	Fence int64             `json:"fence"`
	User  uint64            `json:"user"`
	IDs   map[uint64]uint64 `json:"ids"` // its pending sends: id here -> id there
}

type movedIn struct {
	From  string `json:"from"`
	Fence int64  `json:"fence"`
	At    int64  `json:"at"` // when it was made (Unix ns)
	// Confirmed says that the directory gave the account to this node:
	// it is no move's leftover (Imports).
	Confirmed bool `json:"confirmed,omitempty"`
}

// ErrHasRequests is a move of an account with file requests.
var ErrHasRequests = errors.New("the account has file requests, which a move does not carry: move it once they are closed and their deliveries decided")

// gate is the accounts being moved (frozen) and the requests under way
// of each account (holds), in memory: a frozen account's requests answer
// ferry.ErrMoving.
type gate struct {
	mu     sync.Mutex
	holds  map[uint64]int
	frozen map[uint64]bool
	idle   *sync.Cond
	moved  atomic.Bool // moved_secrets has entries
}

func (g *gate) init() {
	g.holds, g.frozen = map[uint64]int{}, map[uint64]bool{}
	g.idle = sync.NewCond(&g.mu)
}

type holdsKey struct{}

// holdBag is the accounts a request holds (Hold).
type holdBag struct {
	mu  sync.Mutex
	ids []uint64
}

// WithHolds returns a context under which authenticating holds the account
// until release: a move waits for what a request began.
func (db *DB) WithHolds(ctx context.Context) (context.Context, func()) {
	bag := &holdBag{}
	return context.WithValue(ctx, holdsKey{}, bag), func() {
		bag.mu.Lock()
		ids := bag.ids
		bag.ids = nil
		bag.mu.Unlock()
		if len(ids) == 0 {
			return
		}
		db.gate.mu.Lock()
		for _, id := range ids {
			if db.gate.holds[id]--; db.gate.holds[id] <= 0 {
				delete(db.gate.holds, id)
			}
		}
		db.gate.mu.Unlock()
		db.gate.idle.Broadcast()
	}
}

// hold holds account id for ctx's request: ErrMoving while it is frozen.
func (db *DB) hold(ctx context.Context, id uint64) error {
	db.gate.mu.Lock()
	defer db.gate.mu.Unlock()
	if db.gate.frozen[id] {
		return ferry.ErrMoving
	}
	if bag, ok := ctx.Value(holdsKey{}).(*holdBag); ok {
		bag.mu.Lock()
		if !slices.Contains(bag.ids, id) {
			bag.ids = append(bag.ids, id)
			db.gate.holds[id]++
		}
		bag.mu.Unlock()
	}
	return nil
}

// frozen reports whether account id is being moved (never for 0).
func (db *DB) frozen(id uint64) bool {
	if id == 0 {
		return false
	}
	db.gate.mu.Lock()
	defer db.gate.mu.Unlock()
	return db.gate.frozen[id]
}

// Freeze stops account email's requests (ErrMoving) and waits, up to
// ctx's end, for those under way; thaw lets them in again.
func (db *DB) Freeze(ctx context.Context, email string) (thaw func(), err error) {
	u, err := db.UserByEmail(email)
	if err != nil {
		return nil, err
	}
	db.gate.mu.Lock()
	if db.gate.frozen[u.ID] {
		db.gate.mu.Unlock()
		return nil, ferry.ErrMoving
	}
	db.gate.frozen[u.ID] = true
	db.gate.mu.Unlock()
	thaw = func() {
		db.gate.mu.Lock()
		delete(db.gate.frozen, u.ID)
		db.gate.mu.Unlock()
	}
	// A write that looked before the freeze has committed once a write
	// that begins after it has.
	if err := db.update(ctx, func(*bolt.Tx) error { return nil }); err != nil {
		thaw()
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() {
		db.gate.mu.Lock()
		db.gate.idle.Broadcast()
		db.gate.mu.Unlock()
	})
	defer stop()
	db.gate.mu.Lock()
	for db.gate.holds[u.ID] > 0 && ctx.Err() == nil {
		db.gate.idle.Wait()
	}
	db.gate.mu.Unlock()
	if ctx.Err() != nil {
		thaw()
		return nil, fmt.Errorf("waiting for the account's requests under way: %w", ctx.Err())
	}
	return thaw, nil
}

// ExportUser reads account email whole, for a move from node self.
func (db *DB) ExportUser(email, self string, fence int64) (*Move, error) {
	mv := &Move{From: self, Fence: fence}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		u, err := db.findUserByEmail(tx, email)
		if err != nil {
			return err
		}
		if countPrefix(tx.Bucket(bucketUserRequests), itob(u.ID)) > 0 {
			return ErrHasRequests
		}
		mv.User, mv.Usage = *u, usageOf(tx, u.ID)
		if countPrefix(tx.Bucket(bucketPasskeys), itob(u.ID)) > 0 && len(mv.User.PasskeyHandle) == 0 {
			mv.User.PasskeyHandle = u.PasskeyID() // (its passkeys carry its id here, which it does not keep)
		}
		mv.TwoFactor = bytes.Clone(tx.Bucket(bucketTwoFactor).Get(itob(u.ID)))
		if u.PhotoToken != "" {
			mv.Photo = bytes.Clone(tx.Bucket(bucketPhotos).Get([]byte(u.PhotoToken)))
		}
		prefix := itob(u.ID)
		c := tx.Bucket(bucketUserTokens).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			h := k[8:]
			if rec, ok := decodeToken(tx.Bucket(bucketTokens).Get(h)); ok {
				mv.Tokens = append(mv.Tokens, movedToken{Hash: bytes.Clone(h), Created: rec.created, LastUse: max(rec.lastUse, db.memLastUse([sha256.Size]byte(h))),
					Name: rec.name, Expires: rec.expires, Person: rec.personal})
			}
		}
		c = tx.Bucket(bucketPasskeys).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			mv.Passkeys = append(mv.Passkeys, movedPasskey{ID: bytes.Clone(k[8:]), Record: bytes.Clone(v)})
		}
		at, err := db.exportFiles(tx, u.ID, mv)
		if err != nil {
			return err
		}
		c = tx.Bucket(bucketUserLinks).Cursor()
		for k, h := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, h = c.Next() {
			l, ok := decodeLink(tx.Bucket(bucketLinks).Get(h))
			i, found := at[l.node]
			if !ok || !found {
				continue // a link to a file gone: it answers nothing anyway
			}
			mv.Links = append(mv.Links, movedLink{Hash: bytes.Clone(h), File: i, Expires: l.expires, Created: l.created,
				Downloads: l.downloads, MaxDownloads: l.maxDownloads, Password: l.password})
		}
		c = tx.Bucket(bucketContacts).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if other, err := db.findUserByID(tx, binary.BigEndian.Uint64(k[8:])); err == nil {
				mv.Contacts = append(mv.Contacts, movedContact{Email: other.Email, Node: self, Name: other.FullName})
			}
		}
		c = tx.Bucket(bucketRemoteContacts).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var rc remoteContact
			if json.Unmarshal(v, &rc) == nil {
				mv.Contacts = append(mv.Contacts, movedContact{Email: string(k[8:]), Node: rc.Node, Name: rc.Name})
			}
		}
		return db.exportSends(tx, u, self, mv)
	})
	if err != nil {
		return nil, err
	}
	return mv, nil
}

// exportFiles lists the folder, folders before what they hold, and
// returns each node's index in the list.
func (db *DB) exportFiles(tx *bolt.Tx, userID uint64, mv *Move) (map[uint64]int, error) {
	at := map[uint64]int{}
	root, ok, err := rootOf(tx, userID, false)
	if err != nil || !ok {
		return at, err
	}
	var walk func(id uint64, parent int) error
	walk = func(id uint64, parent int) error {
		return eachChild(tx, id, func(child uint64, _ []byte, _ bool, _ int64) error {
			n, err := getNode(tx, child)
			if err != nil {
				return err
			}
			f := movedFile{Parent: parent, Name: n.name, Dir: n.dir, Size: n.size, Modified: n.modified}
			if !n.dir {
				f.SHA256, f.Object = hex.EncodeToString(n.sum[:]), db.blobs.store.Name(refOf(tx, n.sum))
			}
			at[child] = len(mv.Files)
			mv.Files = append(mv.Files, f)
			if n.dir {
				return walk(child, at[child])
			}
			return nil
		})
	}
	return at, walk(root.id, -1)
}

// exportSends lists the account's pending sends, both ways.
func (db *DB) exportSends(tx *bolt.Tx, u *ferry.User, self string, mv *Move) error {
	for _, id := range idsOf(tx, bucketInbox, u.ID) {
		m, ok, err := getMessage(tx, id)
		if err != nil || !ok || !m.waiting() {
			if err != nil {
				return err
			}
			continue
		}
		if m.Held {
			continue // (it goes to the new node once its content is found clean: FinishMoveOut, sendHeld)
		}
		items, err := messageItems(tx, id)
		if err != nil {
			return err
		}
		b := sendBody{ID: id, Origin: self, To: u.Email, Destination: m.Destination, Folder: m.Folder, Size: m.Size, Created: m.Created,
			SenderName: m.OutsiderName, SenderEmail: m.OutsiderEmail}
		if m.inbound() { // from a third node: the new node's to answer
			b.ID, b.Origin = m.RemoteID, m.RemoteNode
		} else if m.Sender != 0 {
			sender, err := db.findUserByID(tx, m.Sender)
			if err != nil {
				return err
			}
			b.SenderName, b.SenderEmail = sender.FullName, sender.Email
		}
		for _, it := range items {
			ri := remoteItem{Path: it.path, Dir: it.dir, Size: it.size}
			if !it.dir {
				ri.SHA256 = hex.EncodeToString(it.sum[:])
				if m.inbound() {
					ri.Object = m.RemoteObjects[ri.SHA256]
				} else {
					ri.Object = db.blobs.store.Name(refOf(tx, it.sum))
				}
			}
			b.Items = append(b.Items, ri)
		}
		mv.Inbox = append(mv.Inbox, b)
	}
	for _, id := range idsOf(tx, bucketOutbox, u.ID) {
		m, ok, err := getMessage(tx, id)
		if err != nil || !ok || !m.waiting() {
			if err != nil {
				return err
			}
			continue
		}
		items, err := messageItems(tx, id)
		if err != nil {
			return err
		}
		s := movedSent{ID: id, To: m.RemoteTo, Invited: m.Receiver == 0 && m.RemoteNode == "", Destination: m.Destination,
			Folder: m.Folder, Size: m.Size, Created: m.Created}
		switch {
		case s.Invited:
			s.To = m.Invitee
		case m.RemoteNode == "":
			receiver, err := db.findUserByID(tx, m.Receiver)
			if err != nil {
				return err
			}
			s.To = receiver.Email
		}
		for _, it := range items {
			ri := remoteItem{Path: it.path, Dir: it.dir, Size: it.size}
			if !it.dir {
				ri.SHA256 = hex.EncodeToString(it.sum[:])
			}
			s.Items = append(s.Items, ri)
		}
		mv.Sent = append(mv.Sent, s)
	}
	return nil
}

// ImportUser makes the account mv carries on this node (self): its
// content is copied in the bucket first, then everything in one
// transaction. It returns the ids here of its pending sends, by their ids
// on the node it came from. With replace, it takes the place of a copy an
// earlier move that did not switch made here (DropImported): the caller
// knows that the directory does not give the account to this node.
func (db *DB) ImportUser(ctx context.Context, mv *Move, self string, replace bool) (map[uint64]uint64, error) {
	email := mv.User.Email
	if replace {
		if err := db.DropImported(ctx, email); err != nil {
			return nil, err
		}
	}
	want := map[sum]string{}
	for _, f := range mv.Files {
		if !f.Dir {
			h, err := parseSum(f.SHA256)
			if err != nil {
				return nil, err
			}
			want[h] = f.Object
		}
	}
	present := map[sum]bool{}
	unlock, err := db.copyInbound(ctx, want, present)
	if err != nil {
		return nil, err
	}
	defer unlock()
	for h := range want {
		if !present[h] {
			return nil, fmt.Errorf("the content %x of the account's folder is missing in the bucket", h[:])
		}
	}
	ids := map[uint64]uint64{}
	err = db.update(ctx, func(tx *bolt.Tx) error {
		clear(ids)
		emails := tx.Bucket(bucketUserEmails)
		if emails.Get([]byte(email)) != nil {
			return ferry.Errorf(ferry.EEMAILEXISTS, "An account with the email %s exists on this node already.", email)
		}
		id, err := tx.Bucket(bucketUsers).NextSequence()
		if err != nil {
			return err
		}
		u := mv.User
		u.ID = id
		if err := emails.Put([]byte(email), itob(id)); err != nil {
			return err
		}
		if err := putUser(tx, &u); err != nil {
			return err
		}
		if err := tx.Bucket(bucketMovedUsers).Delete([]byte(email)); err != nil {
			return err
		}
		if len(mv.TwoFactor) > 0 {
			if err := tx.Bucket(bucketTwoFactor).Put(itob(id), mv.TwoFactor); err != nil {
				return err
			}
		}
		if u.SSO != nil {
			if err := bindSSO(tx, *u.SSO, id); err != nil {
				return err
			}
		}
		if u.PhotoToken != "" && mv.Photo != nil {
			if err := tx.Bucket(bucketPhotos).Put([]byte(u.PhotoToken), mv.Photo); err != nil {
				return err
			}
			if err := tx.Bucket(bucketMovedSecrets).Delete(photoKey(u.PhotoToken)); err != nil {
				return err
			}
		}
		for _, t := range mv.Tokens {
			rec := tokenRecord{userID: id, created: t.Created, lastUse: t.LastUse, personal: t.Person, expires: t.Expires, name: t.Name}
			if t.Person {
				if rec.id, err = tx.Bucket(bucketTokens).NextSequence(); err != nil {
					return err
				}
			}
			if err := putToken(tx, t.Hash, rec); err != nil {
				return err
			}
			if err := tx.Bucket(bucketMovedSecrets).Delete(t.Hash); err != nil {
				return err
			}
		}
		for _, p := range mv.Passkeys {
			if err := tx.Bucket(bucketPasskeys).Put(append(itob(id), p.ID...), p.Record); err != nil {
				return err
			}
			if err := tx.Bucket(bucketPasskeyIDs).Put(p.ID, itob(id)); err != nil {
				return err
			}
		}
		nodes, total, err := importFiles(tx, id, mv.Files)
		if err != nil {
			return err
		}
		usage := mv.Usage
		usage.Normal, usage.Reserved, usage.Held, usage.Props = total, 0, 0, 0
		if err := putUsage(tx, id, usage); err != nil {
			return err
		}
		for _, l := range mv.Links {
			if l.File < 0 || l.File >= len(nodes) {
				continue
			}
			linkID, err := tx.Bucket(bucketLinks).NextSequence()
			if err != nil {
				return err
			}
			rec := linkRecord{owner: id, node: nodes[l.File], id: linkID, downloads: l.Downloads, maxDownloads: l.MaxDownloads,
				expires: l.Expires, created: l.Created, password: l.Password}
			if err := tx.Bucket(bucketLinks).Put(l.Hash, rec.encode()); err != nil {
				return err
			}
			if err := tx.Bucket(bucketUserLinks).Put(pairKey(id, linkID), l.Hash); err != nil {
				return err
			}
			if err := tx.Bucket(bucketMovedSecrets).Delete(l.Hash); err != nil {
				return err
			}
		}
		if err := importContacts(tx, &u, mv.Contacts, self); err != nil {
			return err
		}
		for _, b := range mv.Inbox {
			if _, err := db.inboundMessage(tx, &u, b, b.Origin, viaOf(b.Origin, mv.From)); err != nil {
				return err
			}
		}
		for _, s := range mv.Sent {
			mid, err := mirrorSent(tx, id, mv.From, s)
			if err != nil {
				return err
			}
			ids[s.ID] = mid
		}
		in, err := json.Marshal(movedIn{From: mv.From, Fence: mv.Fence, At: db.now().UnixNano()})
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketMovedIn).Put([]byte(email), in); err != nil {
			return err
		}
		return db.record(tx, ctx, id, ferry.ActionAdminUpdate, email, map[string]any{"moved_from": mv.From, "node": self})
	})
	if err != nil {
		return nil, err
	}
	db.userMemo.Clear()
	return ids, nil
}

// photoKey is a photo token's key in moved_secrets: its hash, as a
// token's.
func photoKey(token string) []byte {
	h := hashToken(token)
	return h[:]
}

// importFiles makes the folder files lists as account userID's, and
// returns each one's node id and the files' total size.
func importFiles(tx *bolt.Tx, userID uint64, files []movedFile) ([]uint64, int64, error) {
	root, _, err := rootOf(tx, userID, true)
	if err != nil {
		return nil, 0, err
	}
	ids := make([]uint64, len(files))
	var total int64
	for i, f := range files {
		parent := root.id
		if f.Parent >= 0 {
			if f.Parent >= i || !files[f.Parent].Dir {
				return nil, 0, fmt.Errorf("a moved file's folder is not before it")
			}
			parent = ids[f.Parent]
		}
		n := node{parent: parent, dir: f.Dir, size: f.Size, modified: f.Modified, name: f.Name}
		if !f.Dir {
			if n.sum, err = parseSum(f.SHA256); err != nil {
				return nil, 0, err
			}
			if !hasRefs(tx, n.sum) { // copied in under its own name
				if err := recordBlobKey(tx, n.sum, ""); err != nil {
					return nil, 0, err
				}
			}
			if err := refBlob(tx, n.sum, n.size); err != nil {
				return nil, 0, err
			}
			total += n.size
		}
		if err := addChild(tx, &n); err != nil {
			return nil, 0, err
		}
		ids[i] = n.id
	}
	root.size = total
	return ids, total, saveNode(tx, &root)
}

// importContacts makes u's contacts: this node's accounts as contacts
// here, others by email; and this node's accounts that had u as another
// node's contact have it here now.
func importContacts(tx *bolt.Tx, u *ferry.User, contacts []movedContact, self string) error {
	for _, c := range contacts {
		if v := tx.Bucket(bucketUserEmails).Get([]byte(c.Email)); v != nil {
			if err := tx.Bucket(bucketContacts).Put(pairKey(u.ID, btoi(v)), nil); err != nil {
				return err
			}
			continue
		}
		if c.Node == self {
			continue // an account this node no longer has
		}
		v, err := json.Marshal(remoteContact{Node: c.Node, Name: c.Name})
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketRemoteContacts).Put(remoteContactKey(u.ID, c.Email), v); err != nil {
			return err
		}
	}
	var theirs [][]byte
	_ = tx.Bucket(bucketRemoteContacts).ForEach(func(k, _ []byte) error {
		if len(k) > 8 && string(k[8:]) == u.Email {
			theirs = append(theirs, bytes.Clone(k))
		}
		return nil
	})
	for _, k := range theirs {
		if err := tx.Bucket(bucketRemoteContacts).Delete(k); err != nil {
			return err
		}
		if err := tx.Bucket(bucketContacts).Put(pairKey(binary.BigEndian.Uint64(k), u.ID), nil); err != nil {
			return err
		}
	}
	return nil
}

// mirrorSent records one of a moved account's pending sends, which stays
// on node from and whose decision comes from there: it holds no blob.
func mirrorSent(tx *bolt.Tx, senderID uint64, from string, s movedSent) (uint64, error) {
	id, err := tx.Bucket(bucketMessages).NextSequence()
	if err != nil {
		return 0, err
	}
	items := make([]item, 0, len(s.Items))
	for _, ri := range s.Items {
		it := item{path: ri.Path, dir: ri.Dir, size: ri.Size}
		if !ri.Dir {
			if it.sum, err = parseSum(ri.SHA256); err != nil {
				return 0, err
			}
		}
		items = append(items, it)
	}
	m := messageRecord{Sender: senderID, Destination: s.Destination, Folder: s.Folder, Size: s.Size, Items: len(items), Created: s.Created,
		Status: ferry.StatusPending, RemoteNode: from, RemoteTo: s.To, Mirror: true}
	if s.Invited {
		m.Status = ferry.StatusInvited // (until decided: the claim on the old node is not told here)
	}
	if err := writeMessage(tx, id, &m, encodeItems(items)); err != nil {
		return 0, err
	}
	for _, put := range []struct{ bucket, key []byte }{{bucketOutbox, pairKey(senderID, id)}, {bucketRemoteSent, pairKey(uint64(s.Created), id)}} {
		if err := tx.Bucket(put.bucket).Put(put.key, nil); err != nil {
			return 0, err
		}
	}
	return id, nil
}

// BeginMoveOut records, before the account is handed over, that account
// email moves to node to: until FinishMoveOut or AbortMoveOut it stays
// frozen, also across a restart (MovesOut).
func (db *DB) BeginMoveOut(ctx context.Context, email, to string, fence int64) error {
	return db.update(ctx, func(tx *bolt.Tx) error {
		u, err := db.findUserByEmail(tx, email)
		if err != nil {
			return err
		}
		v, err := json.Marshal(movingOut{To: to, Fence: fence, User: u.ID})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketMovingOut).Put([]byte(email), v)
	})
}

// MoveIDs records, before the directory switches, the ids the new node
// gave the account's pending sends (ImportUser).
func (db *DB) MoveIDs(ctx context.Context, email string, ids map[uint64]uint64) error {
	return db.update(ctx, func(tx *bolt.Tx) error {
		var mo movingOut
		v := tx.Bucket(bucketMovingOut).Get([]byte(email))
		if v == nil {
			return fmt.Errorf("no move of %s under way", email)
		}
		if err := json.Unmarshal(v, &mo); err != nil {
			return err
		}
		mo.IDs = ids
		v, err := json.Marshal(mo)
		if err != nil {
			return err
		}
		return tx.Bucket(bucketMovingOut).Put([]byte(email), v)
	})
}

// MoveOut is a move begun here and not ended: the email, its node, the
// fence.
type MoveOut struct {
	Email, To string
	Fence     int64
}

// MovesOut lists the moves begun and not ended, and freezes their
// accounts (at start-up, before any request).
func (db *DB) MovesOut() ([]MoveOut, error) {
	var list []MoveOut
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMovingOut).ForEach(func(k, v []byte) error {
			var mo movingOut
			if err := json.Unmarshal(v, &mo); err != nil {
				return err
			}
			db.gate.mu.Lock()
			db.gate.frozen[mo.User] = true
			db.gate.mu.Unlock()
			list = append(list, MoveOut{Email: string(k), To: mo.To, Fence: mo.Fence})
			return nil
		})
	})
	return list, err
}

// AbortMoveOut forgets a move whose switch did not happen (and cannot
// happen any more: the caller fenced the entry again), tells the new node
// to forget its copy (an envelope), and thaws the account.
func (db *DB) AbortMoveOut(ctx context.Context, email string) error {
	var user uint64
	err := db.update(ctx, func(tx *bolt.Tx) error {
		var mo movingOut
		v := tx.Bucket(bucketMovingOut).Get([]byte(email))
		if v == nil {
			return nil
		}
		if err := json.Unmarshal(v, &mo); err != nil {
			return err
		}
		user = mo.User
		// The new node forgets its copy, however long it is down.
		self := string(tx.Bucket(bucketMeta).Get(keyNode))
		if err := queueEnvelope(tx, self, mo.To, KindDrop, dropBody{Email: email, Fence: mo.Fence}); err != nil {
			return err
		}
		return tx.Bucket(bucketMovingOut).Delete([]byte(email))
	})
	if err == nil && user != 0 {
		db.gate.mu.Lock()
		delete(db.gate.frozen, user)
		db.gate.mu.Unlock()
	}
	return err
}

// FinishMoveOut ends, after the directory switched, the copy here of the
// account BeginMoveOut recorded, in one transaction (see the top of this
// file).
func (db *DB) FinishMoveOut(ctx context.Context, email string) error {
	db.gate.moved.Store(true) // (before the commit: a router that sees it gone looks for where it went)
	var released []sum
	var uploads []string
	var user uint64
	err := db.update(ctx, func(tx *bolt.Tx) error {
		released, uploads = released[:0], uploads[:0]
		v := tx.Bucket(bucketMovingOut).Get([]byte(email))
		if v == nil {
			return nil // ended already
		}
		var mo movingOut
		if err := json.Unmarshal(v, &mo); err != nil {
			return err
		}
		user = mo.User
		u, err := db.findUserByID(tx, mo.User)
		if err != nil {
			return err
		}
		if err := db.moveSendsOut(tx, u, mo); err != nil {
			return err
		}
		// What names it answers from its new node.
		moved := tx.Bucket(bucketMovedSecrets)
		to := []byte(mo.To)
		prefix := itob(u.ID)
		for _, index := range [][]byte{bucketUserTokens, bucketUserLinks} {
			c := tx.Bucket(index).Cursor()
			for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
				h := k[8:]
				if bytes.Equal(index, bucketUserLinks) {
					h = v
				}
				if err := moved.Put(h, to); err != nil {
					return err
				}
			}
		}
		if u.PhotoToken != "" {
			if err := moved.Put(photoKey(u.PhotoToken), to); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketMovedUsers).Put([]byte(u.Email), to); err != nil {
			return err
		}
		// This node's accounts that have it as a contact have it as
		// another node's.
		var theirs []uint64
		_ = tx.Bucket(bucketContacts).ForEach(func(k, _ []byte) error {
			if len(k) == 16 && binary.BigEndian.Uint64(k[8:]) == u.ID {
				theirs = append(theirs, binary.BigEndian.Uint64(k))
			}
			return nil
		})
		rc, err := json.Marshal(remoteContact{Node: mo.To, Name: u.FullName})
		if err != nil {
			return err
		}
		for _, owner := range theirs {
			if err := tx.Bucket(bucketRemoteContacts).Put(remoteContactKey(owner, u.Email), rc); err != nil {
				return err
			}
		}
		if err := db.record(tx, ctx, u.ID, ferry.ActionAdminUpdate, u.Email, map[string]any{"moved_to": mo.To}); err != nil {
			return err
		}
		rel, up, err := db.deleteUserTx(tx, u, true)
		released, uploads = rel, up
		if err != nil {
			return err
		}
		return tx.Bucket(bucketMovingOut).Delete([]byte(email))
	})
	if err != nil {
		return err
	}
	// It stays frozen: a request that read the account in a transaction
	// begun before this one committed answers ErrMoving, and its retry
	// finds the account moved (MovedSecret). Ids are never used again.
	db.afterDelete(user, released, uploads)
	return nil
}

// moveSendsOut hands account u's pending sends to its new node: those to
// it go there; those from it stay here, their decision passed on.
func (db *DB) moveSendsOut(tx *bolt.Tx, u *ferry.User, mo movingOut) error {
	for _, id := range idsOf(tx, bucketInbox, u.ID) {
		m, ok, err := getMessage(tx, id)
		if err != nil {
			return err
		}
		if !ok || !m.waiting() {
			continue
		}
		for _, k := range [][]byte{pairKey(u.ID, id)} {
			if err := tx.Bucket(bucketInbox).Delete(k); err != nil {
				return err
			}
			if err := tx.Bucket(bucketReceived).Delete(k); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketPending).Delete(pairKey(uint64(m.Created), id)); err != nil {
			return err
		}
		if m.inbound() { // from a third node: the new node's now
			if err := tx.Bucket(bucketRemoteIn).Delete(remoteInKey(m.RemoteNode, m.RemoteID)); err != nil {
				return err
			}
			if err := tx.Bucket(bucketMovedSends).Put(remoteInKey(m.RemoteNode, m.RemoteID), []byte(mo.To)); err != nil {
				return err
			}
			if err := tx.Bucket(bucketMessages).Delete(itob(id)); err != nil {
				return err
			}
			continue
		}
		// From this node: a send to another node's user now, whose
		// node holds it as its own (ImportUser); one whose content waits
		// for the scanner is sent there once it is found clean
		// (sendHeld).
		m.Receiver, m.RemoteNode, m.RemoteTo = 0, mo.To, u.Email
		if err := putMessage(tx, id, &m); err != nil {
			return err
		}
		if err := tx.Bucket(bucketRemoteSent).Put(pairKey(uint64(m.Created), id), nil); err != nil {
			return err
		}
	}
	for _, id := range idsOf(tx, bucketOutbox, u.ID) {
		m, ok, err := getMessage(tx, id)
		if err != nil {
			return err
		}
		if !ok || !m.waiting() {
			continue
		}
		items, err := messageItems(tx, id)
		if err != nil {
			return err
		}
		for _, it := range items {
			if !it.dir {
				if err := unpinSend(tx, u.ID, it.sum); err != nil {
					return err
				}
			}
		}
		relay, ok := mo.IDs[id]
		if !ok {
			return fmt.Errorf("the new node has no send for message %d", id)
		}
		m.Sender, m.OutsiderName, m.OutsiderEmail, m.RelayNode, m.RelayID = 0, u.FullName, u.Email, mo.To, relay
		if err := putMessage(tx, id, &m); err != nil {
			return err
		}
		if err := tx.Bucket(bucketOutbox).Delete(pairKey(u.ID, id)); err != nil {
			return err
		}
	}
	return nil
}

// DropImported deletes, quietly, an account an earlier move made here
// whose directory never named this node: nothing of it is told to any
// other node. Nothing when email has no account that a move made.
func (db *DB) DropImported(ctx context.Context, email string) error {
	var released []sum
	var uploads []string
	var user uint64
	err := db.update(ctx, func(tx *bolt.Tx) error {
		var err error
		user, released, uploads, err = db.dropImported(tx, email, func(movedIn) bool { return true })
		return err
	})
	if err != nil {
		return err
	}
	db.afterDelete(user, released, uploads)
	return nil
}

// dropImported is DropImported in tx, of a copy whose record match
// accepts.
func (db *DB) dropImported(tx *bolt.Tx, email string, match func(movedIn) bool) (uint64, []sum, []string, error) {
	var in movedIn
	if v := tx.Bucket(bucketMovedIn).Get([]byte(email)); v == nil || json.Unmarshal(v, &in) != nil || !match(in) {
		return 0, nil, nil, nil
	}
	u, err := db.findUserByEmail(tx, email)
	if ferry.ErrorCode(err) == ferry.EUSERNOTFOUND {
		return 0, nil, nil, tx.Bucket(bucketMovedIn).Delete([]byte(email))
	} else if err != nil {
		return 0, nil, nil, err
	}
	for _, index := range [][]byte{bucketInbox, bucketOutbox} {
		for _, id := range idsOf(tx, index, u.ID) {
			m, ok, err := getMessage(tx, id)
			if err != nil {
				return 0, nil, nil, err
			}
			if !ok {
				continue
			}
			for _, del := range []struct{ bucket, key []byte }{
				{bucketInbox, pairKey(u.ID, id)}, {bucketReceived, pairKey(u.ID, id)}, {bucketOutbox, pairKey(u.ID, id)},
				{bucketPending, pairKey(uint64(m.Created), id)}, {bucketRemoteSent, pairKey(uint64(m.Created), id)},
				{bucketMessages, itob(id)},
			} {
				if err := tx.Bucket(del.bucket).Delete(del.key); err != nil {
					return 0, nil, nil, err
				}
			}
			if m.inbound() {
				if err := tx.Bucket(bucketRemoteIn).Delete(remoteInKey(m.RemoteNode, m.RemoteID)); err != nil {
					return 0, nil, nil, err
				}
			}
		}
	}
	released, uploads, err := db.deleteUserTx(tx, u, true)
	if err != nil {
		return 0, nil, nil, err
	}
	return u.ID, released, uploads, tx.Bucket(bucketMovedIn).Delete([]byte(email))
}

// dropBody is a KindDrop envelope's body: the move whose copy to forget.
type dropBody struct {
	Email string `json:"email"`
	Fence int64  `json:"fence"`
}

// Import is an account a move made here that the directory has not been
// seen to give this node: From and Fence are the move's.
type Import struct {
	Email, From string
	Fence       int64
}

// Imports lists the accounts moves made here longer than age ago that no
// look at the directory confirmed yet (ConfirmImport): a move that did not
// switch, whose old node did not undo it, leaves one (DropImported).
func (db *DB) Imports(age time.Duration) ([]Import, error) {
	cutoff := db.now().Add(-age).UnixNano()
	var list []Import
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMovedIn).ForEach(func(k, v []byte) error {
			var in movedIn
			if err := json.Unmarshal(v, &in); err != nil {
				return err
			}
			if !in.Confirmed && in.At < cutoff && tx.Bucket(bucketUserEmails).Get(k) != nil {
				list = append(list, Import{Email: string(k), From: in.From, Fence: in.Fence})
			}
			return nil
		})
	})
	return list, err
}

// ConfirmImport records that the directory gives email, which a move made
// here, to this node.
func (db *DB) ConfirmImport(ctx context.Context, email string) error {
	return db.update(ctx, func(tx *bolt.Tx) error {
		var in movedIn
		v := tx.Bucket(bucketMovedIn).Get([]byte(email))
		if v == nil || json.Unmarshal(v, &in) != nil {
			return nil
		}
		in.Confirmed = true
		v, err := json.Marshal(in)
		if err != nil {
			return err
		}
		return tx.Bucket(bucketMovedIn).Put([]byte(email), v)
	})
}

// MovedSecret is the node that a token, photo or link token of an
// account moved away from here answers from now: "" for none.
func (db *DB) MovedSecret(secret string) string {
	if !db.gate.moved.Load() || secret == "" {
		return ""
	}
	var node string
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		h := hashToken(secret)
		node = string(tx.Bucket(bucketMovedSecrets).Get(h[:]))
		return nil
	})
	return node
}

// MovedUser is the node account email moved to from here: "" for none
// (or one made here again since).
func (db *DB) MovedUser(email string) string {
	if !db.gate.moved.Load() {
		return ""
	}
	var node string
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketUserEmails).Get([]byte(email)) == nil {
			node = string(tx.Bucket(bucketMovedUsers).Get([]byte(email)))
		}
		return nil
	})
	return node
}

// loadMoved notes at start-up whether accounts moved away from here.
func (db *DB) loadMoved() {
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bucketMovedSecrets).Cursor().First()
		u, _ := tx.Bucket(bucketMovedUsers).Cursor().First()
		db.gate.moved.Store(k != nil || u != nil)
		return nil
	})
}

// relayEnvelope passes an envelope for an account that moved away from
// here on to its node, in tx; false when it is for no moved account.
func relayEnvelope(tx *bolt.Tx, e Envelope, email string, body any) (bool, error) {
	to := tx.Bucket(bucketMovedUsers).Get([]byte(email))
	if to == nil || tx.Bucket(bucketUserEmails).Get([]byte(email)) != nil {
		return false, nil
	}
	return true, queueEnvelope(tx, e.To, string(to), e.Kind, body)
}

// putToken stores token record rec under its hash h.
func putToken(tx *bolt.Tx, h []byte, rec tokenRecord) error {
	if err := tx.Bucket(bucketTokens).Put(h, rec.encode()); err != nil {
		return err
	}
	return tx.Bucket(bucketUserTokens).Put(userTokenKey(rec.userID, h), nil)
}
