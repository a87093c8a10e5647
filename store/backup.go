package store

import (
	"archive/tar"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Backup writes a consistent copy of the store to w as a tar file: the
// database as one read transaction sees it (ferry.db), and every blob file
// that copy refers to (blobs/xx/<sha256>). It may run while the service
// runs: writes go on, and blob files are not removed until it is done
// (then what was deferred is removed, if still unreferenced).
func (db *DB) Backup(w io.Writer) error {
	db.blobs.backups.Add(1)
	defer func() {
		if db.blobs.backups.Add(-1) == 0 {
			db.blobs.deferMu.Lock()
			deferred := db.blobs.deferred
			db.blobs.deferred = nil
			db.blobs.deferMu.Unlock()
			db.release(deferred)
		}
	}()
	tw := tar.NewWriter(w)
	err := db.bolt.View(func(tx *bolt.Tx) error {
		now := time.Now()
		if err := tw.WriteHeader(&tar.Header{Name: FileName, Mode: 0o600, Size: tx.Size(), ModTime: now}); err != nil {
			return err
		}
		if _, err := tx.WriteTo(tw); err != nil {
			return err
		}
		return tx.Bucket(bucketBlobs).ForEach(func(k, _ []byte) error {
			return db.backupBlob(tw, sum(k), now)
		})
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

func (db *DB) backupBlob(tw *tar.Writer, h sum, now time.Time) error {
	f, err := os.Open(db.blobPath(h))
	if err != nil {
		return fmt.Errorf("blob %x: %w", h, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	x := hex.EncodeToString(h[:])
	if err := tw.WriteHeader(&tar.Header{Name: blobsDir + "/" + x[:2] + "/" + x, Mode: 0o600, Size: info.Size(), ModTime: now}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

// Restore unpacks a backup made by Backup into dir, which must not exist
// or be empty. Every file is fsynced; names outside the layout are refused.
func Restore(r io.Reader, dir string) error {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("restore: %s is not empty", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tr := tar.NewReader(r)
	sawDB := false
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		name := filepath.ToSlash(filepath.Clean(hdr.Name))
		parts := strings.Split(name, "/")
		valid := name == FileName || (len(parts) == 3 && parts[0] == blobsDir && len(parts[1]) == 2 && strings.HasPrefix(parts[2], parts[1]) && len(parts[2]) == 64)
		if !valid || hdr.Typeflag != tar.TypeReg {
			return fmt.Errorf("restore: unexpected entry %q", hdr.Name)
		}
		sawDB = sawDB || name == FileName
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, tr)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("restore %s: %w", name, err)
		}
	}
	if !sawDB {
		return fmt.Errorf("restore: the backup has no %s", FileName)
	}
	return syncDir(dir)
}
