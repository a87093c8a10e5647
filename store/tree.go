package store

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/paths"
)

// A user's files are a tree of nodes keyed by id. The children bucket maps
// parent id + name to the child's id, so renaming or moving a folder is one
// re-link whatever lies below it, and a listing is one prefix scan. Every
// folder keeps the total size of the files below it, updated along the
// ancestor chain in the same transaction as the change.

// node is a file or a folder. Its record: parent id 8 | flags 1 | size 8 |
// modified (Unix ns) 8 | sha256 32 | name.
type node struct {
	id       uint64
	parent   uint64
	dir      bool
	size     int64
	modified int64
	sum      sum
	name     string
}

const nodeHeader = 8 + 1 + 8 + 8 + 32

func (n *node) encode() []byte {
	b := make([]byte, nodeHeader+len(n.name))
	binary.BigEndian.PutUint64(b[0:], n.parent)
	if n.dir {
		b[8] = 1
	}
	binary.BigEndian.PutUint64(b[9:], uint64(n.size))
	binary.BigEndian.PutUint64(b[17:], uint64(n.modified))
	copy(b[25:57], n.sum[:])
	copy(b[nodeHeader:], n.name)
	return b
}

func decodeNode(id uint64, v []byte) (node, error) {
	if len(v) < nodeHeader {
		return node{}, fmt.Errorf("node %d: record of %d bytes", id, len(v))
	}
	return node{
		id:       id,
		parent:   binary.BigEndian.Uint64(v[0:]),
		dir:      v[8] == 1,
		size:     int64(binary.BigEndian.Uint64(v[9:])),
		modified: int64(binary.BigEndian.Uint64(v[17:])),
		sum:      sum(v[25:57]),
		name:     string(v[nodeHeader:]),
	}, nil
}

func (n *node) info(path string) ferry.FileInfo {
	info := ferry.FileInfo{
		Path:     path,
		Name:     n.name,
		Dir:      n.dir,
		Size:     n.size,
		Modified: time.Unix(0, n.modified).UTC(),
	}
	if !n.dir {
		info.SHA256 = hex.EncodeToString(n.sum[:])
	}
	return info
}

func getNode(tx *bolt.Tx, id uint64) (node, error) {
	v := tx.Bucket(bucketNodes).Get(itob(id))
	if v == nil {
		return node{}, fmt.Errorf("node %d is missing", id)
	}
	return decodeNode(id, v)
}

func putNode(tx *bolt.Tx, n *node) error {
	return tx.Bucket(bucketNodes).Put(itob(n.id), n.encode())
}

// saveNode stores n and, unless it is a root, its entry in its parent's
// children: the entry repeats the type and size, so that a listing is one
// scan of the children and needs no node lookups. Every change of a node's
// size goes through here (or addChild).
func saveNode(tx *bolt.Tx, n *node) error {
	if err := putNode(tx, n); err != nil {
		return err
	}
	if n.parent == 0 {
		return nil
	}
	return tx.Bucket(bucketChildren).Put(childKey(n.parent, n.name), n.childValue())
}

func childKey(parent uint64, name string) []byte {
	return append(itob(parent), name...)
}

// childValue is n's entry in its parent's children: id 8 | dir 1 | size 8.
func (n *node) childValue() []byte {
	v := make([]byte, 17)
	binary.BigEndian.PutUint64(v, n.id)
	if n.dir {
		v[8] = 1
	}
	binary.BigEndian.PutUint64(v[9:], uint64(n.size))
	return v
}

// childID returns the id of parent's child of that name, or 0.
func childID(tx *bolt.Tx, parent uint64, name string) uint64 {
	v := tx.Bucket(bucketChildren).Get(childKey(parent, name))
	if len(v) < 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// addChild stores n as a new node under parent (n.parent and n.name set),
// or stores n again under its (new) parent and name.
func addChild(tx *bolt.Tx, n *node) error {
	if n.id == 0 {
		id, err := tx.Bucket(bucketNodes).NextSequence()
		if err != nil {
			return err
		}
		n.id = id
	}
	return saveNode(tx, n)
}

// addToTotals adds delta to the size of folder id and of every folder above.
func addToTotals(tx *bolt.Tx, id uint64, delta int64) error {
	for id != 0 && delta != 0 {
		n, err := getNode(tx, id)
		if err != nil {
			return err
		}
		n.size += delta
		if err := saveNode(tx, &n); err != nil {
			return err
		}
		id = n.parent
	}
	return nil
}

// rootOf returns the user's root folder, creating it when create is set;
// without it, a user with no root yet gets ok == false.
func rootOf(tx *bolt.Tx, userID uint64, create bool) (n node, ok bool, err error) {
	roots := tx.Bucket(bucketRoots)
	if v := roots.Get(itob(userID)); len(v) == 8 {
		n, err = getNode(tx, binary.BigEndian.Uint64(v))
		return n, err == nil, err
	}
	if !create {
		return node{}, false, nil
	}
	n = node{dir: true}
	id, err := tx.Bucket(bucketNodes).NextSequence()
	if err != nil {
		return node{}, false, err
	}
	n.id = id
	if err := putNode(tx, &n); err != nil {
		return node{}, false, err
	}
	return n, true, roots.Put(itob(userID), itob(id))
}

func notFound(names []string) error {
	return ferry.Errorf(ferry.EFILENOTFOUND, "Nothing exists at %q.", paths.Join(names))
}

// walk returns the node at names below the user's root, or FILE_NOT_FOUND.
func walk(tx *bolt.Tx, userID uint64, names []string) (node, error) {
	n, ok, err := rootOf(tx, userID, false)
	if err != nil {
		return node{}, err
	}
	if !ok {
		if len(names) == 0 {
			return node{dir: true}, nil // an empty root
		}
		return node{}, notFound(names)
	}
	for _, name := range names {
		id := uint64(0)
		if n.dir {
			id = childID(tx, n.id, name)
		}
		if id == 0 {
			return node{}, notFound(names)
		}
		if n, err = getNode(tx, id); err != nil {
			return node{}, err
		}
	}
	return n, nil
}

// walkDir is walk for a folder: METHOD_BAD_REQUEST when names is a file.
// The root of a user who has nothing yet has id 0.
func walkDir(tx *bolt.Tx, userID uint64, names []string) (node, error) {
	n, err := walk(tx, userID, names)
	if err == nil && !n.dir {
		return node{}, ferry.Errorf(ferry.EBADREQUEST, "%q is a file, not a folder.", paths.Join(names))
	}
	return n, err
}

// mkdirAll returns the folder at names, creating what is missing; a file in
// the way is FILE_EXISTS.
func mkdirAll(tx *bolt.Tx, userID uint64, names []string, now int64) (node, error) {
	n, _, err := rootOf(tx, userID, true)
	if err != nil {
		return node{}, err
	}
	for i, name := range names {
		if id := childID(tx, n.id, name); id != 0 {
			if n, err = getNode(tx, id); err != nil {
				return node{}, err
			}
			if !n.dir {
				return node{}, ferry.Errorf(ferry.EFILEEXISTS, "%q is a file.", paths.Join(names[:i+1]))
			}
			continue
		}
		if err := paths.CheckNew(name); err != nil {
			return node{}, err
		}
		child := node{parent: n.id, dir: true, name: name, modified: now}
		if err := addChild(tx, &child); err != nil {
			return node{}, err
		}
		n = child
	}
	return n, nil
}

// checkNewChild applies paths.CheckNew to name, unless parent has a child
// of that name already (made before the rule, which may still be replaced).
func checkNewChild(tx *bolt.Tx, parent uint64, name string) error {
	if childID(tx, parent, name) != 0 {
		return nil
	}
	return paths.CheckNew(name)
}

// parentOf returns the folder that holds names: made with what is missing
// when create is set, and otherwise FILE_NOT_FOUND unless it is a folder
// already (the root is always there).
func parentOf(tx *bolt.Tx, userID uint64, names []string, create bool, now int64) (node, error) {
	dir := names[:len(names)-1]
	if create || len(dir) == 0 {
		return mkdirAll(tx, userID, dir, now)
	}
	n, err := walk(tx, userID, dir)
	if err != nil || !n.dir {
		return node{}, ferry.Errorf(ferry.EFILENOTFOUND, "No folder %q to hold %q.", paths.Join(dir), names[len(names)-1])
	}
	return n, nil
}

// freeName returns name when parent has no child of that name, else a
// free "name (n).ext": it doubles n until one is free, then bisects back to
// a free n whose n-1 is taken, so a folder with a thousand copies of a name
// costs a few lookups, not a thousand. While the taken numbers run without
// gaps from 1, that is the first free one.
//
// The n it returned last for the same folder and name is tried first: when
// that is taken and the next is free, the next is the answer, for two
// lookups instead of twenty with thousands of copies (a name received again
// and again). The hint is only a guess, checked in tx like any other.
func (db *DB) freeName(tx *bolt.Tx, parent uint64, name string) string {
	if childID(tx, parent, name) == 0 {
		return name
	}
	taken := func(n int) bool { return childID(tx, parent, paths.ConflictName(name, n)) != 0 }
	key := nameHintKey{parent, name}
	if h := db.nameHints.get(key); h > 0 && taken(h) && !taken(h+1) {
		db.nameHints.set(key, h+1)
		return paths.ConflictName(name, h+1)
	}
	lo, hi := 0, 1 // lo is taken (0 stands for name itself), hi is to be tried
	for taken(hi) {
		lo, hi = hi, hi*2
	}
	for hi-lo > 1 {
		if mid := (lo + hi) / 2; taken(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	db.nameHints.set(key, hi)
	return paths.ConflictName(name, hi)
}

// nameHints holds the last n that freeName returned, by folder and name.
// It forgets everything when it reaches maxNameHints entries.
type nameHints struct {
	mu sync.Mutex
	m  map[nameHintKey]int
}

type nameHintKey struct {
	parent uint64
	name   string
}

const maxNameHints = 4096

func (h *nameHints) get(k nameHintKey) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.m[k]
}

func (h *nameHints) set(k nameHintKey, n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil || len(h.m) >= maxNameHints {
		h.m = make(map[nameHintKey]int)
	}
	h.m[k] = n
}

// eachChild calls f with the id, name, type and size of each of parent's
// children, in name order, from the children entries alone. name is valid
// only during the call.
func eachChild(tx *bolt.Tx, parent uint64, f func(id uint64, name []byte, dir bool, size int64) error) error {
	prefix := itob(parent)
	c := tx.Bucket(bucketChildren).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(v) != 17 {
			return fmt.Errorf("child entry %q of %d has %d bytes", k[8:], parent, len(v))
		}
		if err := f(binary.BigEndian.Uint64(v), k[8:], v[8] == 1, int64(binary.BigEndian.Uint64(v[9:]))); err != nil {
			return err
		}
	}
	return nil
}

// children returns the ids of parent's children in name order.
func children(tx *bolt.Tx, parent uint64) []uint64 {
	return firstChildren(tx, parent, -1)
}

// firstChildren returns the ids of parent's first max children in name
// order (all of them when max < 0).
func firstChildren(tx *bolt.Tx, parent uint64, max int) []uint64 {
	var ids []uint64
	prefix := itob(parent)
	c := tx.Bucket(bucketChildren).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(ids) != max; k, v = c.Next() {
		ids = append(ids, binary.BigEndian.Uint64(v))
	}
	return ids
}
