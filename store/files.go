package store

import (
	"context"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/paths"
	"github.com/ferryhq/ferry/quota"
)

// List calls each with the name (valid only during the call), type and
// size (a folder's total) of every entry of the folder at names, in name
// order, inside one read transaction: a listing of 100,000 entries
// allocates nothing per entry. It
// returns FILE_NOT_FOUND when nothing is there and METHOD_BAD_REQUEST when
// a file is.
func (db *DB) List(ctx context.Context, userID uint64, names []string, each func(name []byte, dir bool, size int64)) error {
	return db.bolt.View(func(tx *bolt.Tx) error {
		dir, err := walkDir(tx, userID, names)
		if err != nil || dir.id == 0 {
			return err
		}
		return eachChild(tx, dir.id, func(_ uint64, name []byte, isDir bool, size int64) error {
			each(name, isDir, size)
			return nil
		})
	})
}

// Mkdir creates the folder at names and any missing parents; an existing
// folder is fine, a file in the way is FILE_EXISTS.
func (db *DB) Mkdir(ctx context.Context, userID uint64, names []string) error {
	now := db.now().UnixNano()
	return db.update(ctx, func(tx *bolt.Tx) error {
		_, err := mkdirAll(tx, userID, names, now)
		return err
	})
}

// Sizes returns the size of each path (a folder's total), -1 where nothing
// exists.
func (db *DB) Sizes(ctx context.Context, userID uint64, list [][]string) ([]int64, error) {
	sizes := make([]int64, len(list))
	err := db.bolt.View(func(tx *bolt.Tx) error {
		for i, names := range list {
			n, err := walk(tx, userID, names)
			switch {
			case ferry.ErrorCode(err) == ferry.EFILENOTFOUND:
				sizes[i] = -1
			case err != nil:
				return err
			default:
				sizes[i] = n.size
			}
		}
		return nil
	})
	return sizes, err
}

// Stat returns the file at names: FILE_NOT_FOUND when nothing is there,
// METHOD_BAD_REQUEST when it is a folder.
func (db *DB) Stat(ctx context.Context, userID uint64, names []string) (ferry.FileInfo, error) {
	info, err := db.Lookup(ctx, userID, names)
	if err == nil && info.Dir {
		return ferry.FileInfo{}, ferry.Errorf(ferry.EBADREQUEST, "%q is a folder.", paths.Join(names))
	}
	return info, err
}

// Move moves the file or folder at src to the full path dst, creating
// dst's missing parents. It returns FILE_NOT_FOUND (src), FILE_EXISTS (dst
// is taken, or a file is in the way of its parents) and METHOD_BAD_REQUEST
// (moving the root, or a folder into itself). With replace, what is at dst
// is deleted first, in the same transaction (WebDAV's Overwrite: T).
func (db *DB) Move(ctx context.Context, userID uint64, t ferry.Transfer) error {
	// What can be refused is refused before the write transaction, which
	// every writer waits on; the write checks again.
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		_, err := checkTransfer(tx, userID, t)
		return err
	}); err != nil {
		return err
	}
	now := db.now().UnixNano()
	var released []sum
	err := db.update(ctx, func(tx *bolt.Tx) error {
		n, parent, name, rel, err := prepareTransfer(tx, userID, t, now)
		released = rel
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketChildren).Delete(childKey(n.parent, n.name)); err != nil {
			return err
		}
		if err := addToTotals(tx, n.parent, -n.size); err != nil {
			return err
		}
		n.parent, n.name = parent.id, name
		if err := addChild(tx, &n); err != nil {
			return err
		}
		return addToTotals(tx, parent.id, n.size)
	})
	if err == nil {
		db.release(released)
		db.reclaimNow()
	}
	return err
}

// prepareTransfer checks a move or copy (checkTransfer) and returns the
// source node, the destination's parent folder (made if missing, unless
// NoParents) and name. With Replace, it deletes what is at the destination
// and returns the blobs that released.
func prepareTransfer(tx *bolt.Tx, userID uint64, t ferry.Transfer, now int64) (n, parent node, name string, released []sum, err error) {
	if n, err = checkTransfer(tx, userID, t); err != nil {
		return n, parent, "", nil, err
	}
	if parent, err = parentOf(tx, userID, t.Dst, !t.NoParents, now); err != nil {
		return n, parent, "", nil, err
	}
	name = t.Dst[len(t.Dst)-1]
	if id := childID(tx, parent.id, name); id != 0 { // checkTransfer allowed replacing it
		old, err := getNode(tx, id)
		if err != nil {
			return n, parent, "", nil, err
		}
		if released, err = removeTree(tx, userID, old, nil); err != nil {
			return n, parent, "", nil, err
		}
		// The totals above changed: read the parents again.
		if parent, err = getNode(tx, parent.id); err != nil {
			return n, parent, "", nil, err
		}
		if n, err = getNode(tx, n.id); err != nil {
			return n, parent, "", nil, err
		}
	}
	return n, parent, name, released, nil
}

// Delete deletes each path, folders with everything below them, and returns
// one error per path: nil, FILE_NOT_FOUND, or METHOD_BAD_REQUEST for the
// root. The second result is an error that stopped them all (then nothing
// was deleted).
func (db *DB) Delete(ctx context.Context, userID uint64, list [][]string) ([]error, error) {
	results := make([]error, len(list))
	// When nothing listed is there, the answer needs no write.
	found := false
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		for _, names := range list {
			if _, err := walk(tx, userID, names); len(names) > 0 && err == nil {
				found = true
				return nil
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if !found {
		for i, names := range list {
			if len(names) == 0 {
				results[i] = ferry.Errorf(ferry.EBADREQUEST, "The root folder cannot be deleted.")
			} else {
				results[i] = notFound(names)
			}
		}
		return results, nil
	}
	var released []sum
	err := db.update(ctx, func(tx *bolt.Tx) error {
		released = released[:0]
		for i, names := range list {
			if len(names) == 0 {
				results[i] = ferry.Errorf(ferry.EBADREQUEST, "The root folder cannot be deleted.")
				continue
			}
			n, err := walk(tx, userID, names)
			if ferry.ErrorCode(err) == ferry.EFILENOTFOUND {
				results[i] = err
				continue
			} else if err != nil {
				return err
			}
			results[i] = nil
			if released, err = removeTree(tx, userID, n, released); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	db.release(released)
	db.reclaimNow()
	return results, nil
}

// PutFile stores the content of r as the file at names, creating parents.
// An existing file is replaced, or with resolve the new one takes the name
// "name (1).ext", ... . size is the declared length (-1 if unknown), checked
// against limit (-1: none) and the quota before anything is read. It
// returns FILE_EXISTS (a folder is there, or a file is in the way of the
// parents), QUOTA_EXCEEDED, PAYLOAD_TOO_LARGE, or an error wrapping
// ferry.ErrBodyRead; on any error nothing of r is kept.
func (db *DB) PutFile(ctx context.Context, p ferry.PutRequest) (ferry.FileInfo, error) {
	userID, names, resolve, size, limit := p.UserID, p.Names, p.Resolve, p.Size, db.rules.fileLimit()
	if len(names) == 0 {
		return ferry.FileInfo{}, ferry.Errorf(ferry.EFILEEXISTS, "The root is a folder.")
	}
	if limit >= 0 && size > limit {
		return ferry.FileInfo{}, tooLarge(limit)
	}
	room, err := db.precheckPut(userID, names, resolve, max(size, 0))
	if err != nil {
		return ferry.FileInfo{}, err
	}
	// Reading stops the moment the body passes the file limit or the room
	// the quota leaves, whatever length was declared (or none).
	over := tooLarge(limit)
	if room >= 0 && (limit < 0 || room < limit) {
		limit = room
		over = ferry.Errorf(ferry.EQUOTAEXCEEDED, "Not enough storage: the file is larger than the %s left.", quota.FormatSize(room))
	}
	sp, err := db.spool(ctx, p.Body, p.Size, limit, over)
	if err != nil {
		return ferry.FileInfo{}, err
	}
	return db.commitFile(ctx, p, sp, 0, nil)
}

// precheckPut answers early what commitFile would refuse, before a body is
// read: a folder at names (without resolve), a file in the way, or a
// declared size over the quota. commitFile checks again. It returns how
// large a file the quota has room for now (-1: no limit), counting the
// file it would replace.
func (db *DB) precheckPut(userID uint64, names []string, resolve bool, size int64) (room int64, err error) {
	err = db.bolt.View(func(tx *bolt.Tx) error {
		limits, err := db.limitsOf(tx, userID)
		if err != nil {
			return err
		}
		parent, err := walk(tx, userID, names[:len(names)-1])
		if ferry.ErrorCode(err) == ferry.EFILENOTFOUND {
			// Parents will be created, unless a file is in the way.
			for i := len(names) - 2; i >= 0; i-- {
				if n, err := walk(tx, userID, names[:i]); err == nil {
					if !n.dir {
						return ferry.Errorf(ferry.EFILEEXISTS, "%q is a file.", paths.Join(names[:i]))
					}
					for _, name := range names[i:] { // each of them new
						if err := paths.CheckNew(name); err != nil {
							return err
						}
					}
					break
				}
			}
			u := usageOf(tx, userID)
			room = limits.Room(u)
			return limits.CheckStorage(u, size)
		} else if err != nil {
			return err
		}
		if !parent.dir {
			return ferry.Errorf(ferry.EFILEEXISTS, "%q is a file.", paths.Join(names[:len(names)-1]))
		}
		if err := checkNewChild(tx, parent.id, names[len(names)-1]); err != nil {
			return err
		}
		var replaced int64
		if id := childID(tx, parent.id, names[len(names)-1]); id != 0 && !resolve {
			n, err := getNode(tx, id)
			if err != nil {
				return err
			}
			if n.dir {
				return ferry.Errorf(ferry.EFILEEXISTS, "%q is a folder.", paths.Join(names))
			}
			replaced = n.size
		}
		u := usageOf(tx, userID)
		if room = limits.Room(u); room >= 0 {
			room += replaced
		}
		return limits.CheckStorage(u, size-replaced)
	})
	return room, err
}

// commitFile makes spooled content the file p names (its Body is not
// read; with NoParents the parent folder must exist): with scan.all it
// scans it first, then in commitBlob's transaction it checks the quota, links or updates the node and runs
// also (if not nil).
//
// release is room the file held as a reservation (a resumable upload's),
// given back in the same transaction before the quota is checked.
func (db *DB) commitFile(ctx context.Context, p ferry.PutRequest, sp spooled, release int64, also func(*bolt.Tx) error) (ferry.FileInfo, error) {
	userID, names, resolve := p.UserID, p.Names, p.Resolve
	now := db.now().UnixNano()
	var info ferry.FileInfo
	var released []sum
	verdict, signature, err := db.scanSpooled(ctx, sp, false)
	if err != nil {
		db.discardSpool(sp)
		if signature != "" {
			db.recordInfected(ctx, userID, paths.Join(names), signature, sp.Sum)
		}
		return info, err
	}
	err = db.commitBlob(ctx, sp, func(tx *bolt.Tx) error {
		released = released[:0]
		if err := markScan(tx, sp.Sum, verdict); err != nil {
			return err
		}
		if err := unreserve(tx, userID, release); err != nil {
			return err
		}
		parent, err := parentOf(tx, userID, names, !p.NoParents, now)
		if err != nil {
			return err
		}
		name := names[len(names)-1]
		if err := checkNewChild(tx, parent.id, name); err != nil {
			return err
		}
		if resolve {
			name = db.freeName(tx, parent.id, name)
		}
		n := node{parent: parent.id, name: name}
		if id := childID(tx, parent.id, name); id != 0 {
			if n, err = getNode(tx, id); err != nil {
				return err
			}
			if n.dir {
				return ferry.Errorf(ferry.EFILEEXISTS, "%q is a folder.", paths.Join(names))
			}
		}
		delta := sp.Size - n.size
		if err := db.charge(tx, userID, delta); err != nil {
			return err
		}
		if n.id != 0 {
			last, err := unrefBlob(tx, n.sum)
			if err != nil {
				return err
			}
			if last {
				released = append(released, n.sum)
			}
			held, err := holdIfSent(tx, userID, n.sum, n.size)
			if err != nil {
				return err
			}
			if err := addHeld(tx, userID, held); err != nil {
				return err
			}
		}
		n.size, n.sum, n.modified = sp.Size, sp.Sum, now
		if err := addChild(tx, &n); err != nil {
			return err
		}
		if err := addToTotals(tx, parent.id, delta); err != nil {
			return err
		}
		info = n.info(paths.Join(append(names[:len(names)-1:len(names)-1], name)))
		if also != nil {
			return also(tx)
		}
		return nil
	})
	if err != nil {
		return ferry.FileInfo{}, err
	}
	db.release(released)
	return info, nil
}

// commitBlob places spooled content in the blob store, then in one
// transaction counts a reference to it (saying where a staged upload put
// it, for its first) and runs fn, which records what refers to it. On
// failure the blob is removed unless something else refers to it. The
// blob's lock is held throughout.
func (db *DB) commitBlob(ctx context.Context, sp spooled, fn func(*bolt.Tx) error) error {
	unlock := db.lockBlob(sp.Sum)
	defer unlock()
	placed, err := db.placeBlob(ctx, sp)
	if err != nil {
		return err
	}
	err = db.update(ctx, func(tx *bolt.Tx) error {
		if placed && !hasRefs(tx, sp.Sum) {
			if err := recordBlobKey(tx, sp.Sum, sp.Key); err != nil {
				return err
			}
		}
		if err := refBlob(tx, sp.Sum, sp.Size); err != nil {
			return err
		}
		return fn(tx)
	})
	if err != nil {
		if inUse, _ := db.referenced(sp.Sum); placed && sp.Key != "" && !inUse {
			db.dropStaged(sp.Key) // not in blob_keys: nothing else would find it
		} else if _, rmErr := db.removeBlobIfUnreferenced(sp.Sum); rmErr != nil {
			db.log("removing an unreferenced blob", rmErr)
		}
		return err
	}
	db.blobs.staging.Delete(sp.Key) // committed: blob_keys names it
	return nil
}
