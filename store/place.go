package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry/paths"
)

// Placement: what an accepted message carries becomes nodes of the
// receiver's tree, over the same blobs, under a free name at its
// destination.

// placeItems makes a message's items the receiver's: at dest, creating
// parents; a name that is taken (a parent's too) becomes "name (n).ext".
// It returns the path they landed at.
func (db *DB) placeItems(tx *bolt.Tx, userID uint64, dest []string, folder bool, items []item, now int64) ([]string, error) {
	parent, _, err := rootOf(tx, userID, true)
	if err != nil {
		return nil, err
	}
	landed := make([]string, 0, len(dest))
	for _, seg := range dest[:len(dest)-1] {
		if id := childID(tx, parent.id, seg); id != 0 {
			c, err := getNode(tx, id)
			if err != nil {
				return nil, err
			}
			if c.dir {
				parent = c
				landed = append(landed, seg)
				continue
			}
			seg = db.freeName(tx, parent.id, seg) // a file is in the way
		}
		c := node{parent: parent.id, dir: true, name: seg, modified: now}
		if err := addChild(tx, &c); err != nil {
			return nil, err
		}
		parent = c
		landed = append(landed, seg)
	}
	top := node{parent: parent.id, dir: folder, name: db.freeName(tx, parent.id, dest[len(dest)-1]), modified: now}
	if !folder {
		top.size, top.sum = items[0].size, items[0].sum
		if err := refBlob(tx, top.sum, top.size); err != nil {
			return nil, err
		}
	}
	if err := addChild(tx, &top); err != nil {
		return nil, err
	}
	var total int64
	if folder {
		if total, err = placeTree(tx, top, items, now); err != nil {
			return nil, err
		}
	} else {
		total = top.size
	}
	return append(landed, top.name), addToTotals(tx, parent.id, total)
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
