package store

import (
	"context"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/paths"
)

// What WebDAV (/dav/) needs of the tree beyond the API's file calls: stat
// and listing of files and folders alike, and strict folder creation.

// Lookup returns the file or folder at names (the root is a folder with an
// empty name), or FILE_NOT_FOUND.
func (db *DB) Lookup(ctx context.Context, userID uint64, names []string) (ferry.FileInfo, error) {
	var info ferry.FileInfo
	err := db.bolt.View(func(tx *bolt.Tx) error {
		n, err := walk(tx, userID, names)
		if err != nil {
			return err
		}
		info = n.info(paths.Join(names))
		return nil
	})
	return info, err
}

// ReadDir returns the entries of the folder at names in name order:
// FILE_NOT_FOUND when nothing is there, METHOD_BAD_REQUEST for a file.
func (db *DB) ReadDir(ctx context.Context, userID uint64, names []string) ([]ferry.FileInfo, error) {
	var list []ferry.FileInfo
	err := db.bolt.View(func(tx *bolt.Tx) error {
		dir, err := walkDir(tx, userID, names)
		if err != nil || dir.id == 0 {
			return err
		}
		prefix := paths.Join(names)
		if prefix != "" {
			prefix += "/"
		}
		return eachChild(tx, dir.id, func(id uint64, _ []byte, _ bool, _ int64) error {
			n, err := getNode(tx, id)
			if err != nil {
				return err
			}
			list = append(list, n.info(prefix+n.name))
			return nil
		})
	})
	return list, err
}

// MakeFolder creates the folder at names, whose parent must exist:
// FILE_NOT_FOUND when it does not, FILE_EXISTS when something is at names
// or the parent is a file.
// With replace, what is at names is deleted first, in the same
// transaction.
func (db *DB) MakeFolder(ctx context.Context, userID uint64, names []string, replace bool) error {
	if len(names) == 0 {
		return ferry.Errorf(ferry.EFILEEXISTS, "The root exists.")
	}
	now := db.now().UnixNano()
	var released []sum
	err := db.update(ctx, func(tx *bolt.Tx) error {
		released = nil
		parentNames := names[:len(names)-1]
		parent, err := walk(tx, userID, parentNames)
		if err != nil {
			return err
		}
		if !parent.dir {
			return ferry.Errorf(ferry.EFILEEXISTS, "%q is a file.", paths.Join(parentNames))
		}
		if id := childID(tx, parent.id, names[len(names)-1]); parent.id != 0 && id != 0 {
			if !replace {
				return ferry.Errorf(ferry.EFILEEXISTS, "%q exists.", paths.Join(names))
			}
			old, err := getNode(tx, id)
			if err != nil {
				return err
			}
			if released, err = removeTree(tx, userID, old, nil); err != nil {
				return err
			}
		}
		_, err = mkdirAll(tx, userID, names, now)
		return err
	})
	if err == nil {
		db.release(released)
		db.reclaimNow()
	}
	return err
}
