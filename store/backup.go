package store

import (
	"archive/tar"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry/store/blobs"
)

// Backup writes a consistent copy of the store to w as a tar file: the
// database as one read transaction sees it (ferry.db), then, for local
// blobs, every blob file that copy refers to (blobs/xx/<sha256>), or, for
// blobs in S3, a manifest of the objects it refers to (ManifestName: one
// line "<sha256> <size> <key>" each), which stay in the bucket. It may run
// while the service runs: writes go on, and no blob is removed until it is
// done (then what was deferred is removed, if still unreferenced).
func (db *DB) Backup(w io.Writer) error {
	defer db.holdBlobs()()
	tw := tar.NewWriter(w)
	err := db.bolt.View(func(tx *bolt.Tx) error {
		now := time.Now()
		if err := tw.WriteHeader(&tar.Header{Name: FileName, Mode: 0o600, Size: tx.Size(), ModTime: now}); err != nil {
			return err
		}
		if _, err := tx.WriteTo(tw); err != nil {
			return err
		}
		if !db.blobs.store.Local() {
			return writeManifest(tw, tx, db.blobs.store, now)
		}
		return tx.Bucket(bucketBlobs).ForEach(func(k, v []byte) error {
			return db.backupBlob(tw, refOf(tx, sum(k)), blobSize(v), now)
		})
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// ManifestName is the backup's list of the objects its database refers to,
// when blobs are in S3.
const ManifestName = "blobs.manifest"

func writeManifest(tw *tar.Writer, tx *bolt.Tx, bs blobs.Store, now time.Time) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# ferry blobs in %s: sha256 size key\n", bs.Where())
	err := tx.Bucket(bucketBlobs).ForEach(func(k, v []byte) error {
		fmt.Fprintf(&b, "%x %d %s\n", k, blobSize(v), bs.Name(refOf(tx, sum(k))))
		return nil
	})
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: ManifestName, Mode: 0o600, Size: int64(b.Len()), ModTime: now}); err != nil {
		return err
	}
	_, err = io.WriteString(tw, b.String())
	return err
}

// blobSize is the size a blob record holds.
func blobSize(v []byte) int64 {
	if len(v) != 16 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v[8:]))
}

func (db *DB) backupBlob(tw *tar.Writer, ref blobs.Ref, size int64, now time.Time) error {
	h := ref.Sum
	f, err := db.blobs.store.Open(context.Background(), ref, size)
	if err != nil {
		return fmt.Errorf("blob %x: %w", h, err)
	}
	defer f.Close()
	if err := tw.WriteHeader(&tar.Header{Name: blobsDir + "/" + blobs.NameOf(h), Mode: 0o600, Size: size, ModTime: now}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	if err != nil {
		err = fmt.Errorf("blob %x: %w", h, err)
	}
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
		valid := name == FileName || name == ManifestName || (len(parts) == 3 && parts[0] == blobsDir && len(parts[1]) == 2 && strings.HasPrefix(parts[2], parts[1]) && len(parts[2]) == 64)
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
