package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/paths"
	"github.com/ferryhq/ferry/store/blobs"
)

// uploadState is what the store keeps of uploads in memory.
type uploadState struct {
	idle       time.Duration // an upload's life without a chunk
	checkpoint int64         // bytes of one chunk between two checkpoints
	locks      sync.Map      // upload key -> *sync.Mutex
}

// DefaultUploadCheckpoint is Options.UploadCheckpoint's default. A
// checkpoint costs an fsync and a commit, about 2 ms here: at 64 MiB that
// is under 1% of a chunk's time at the disk's pace, and a crash during a
// browser's one-request upload of a big file loses at most 64 MiB of it.
const DefaultUploadCheckpoint = 64 << 20

// A resumable upload (docs/api.md, as Quatrix) keeps its bytes in uploads/<key>
// and its record in the uploads bucket: owner, target path, declared size,
// bytes received and the SHA-256 state after them, so that finalizing needs
// no second read. Received bytes are fsynced before the record that counts
// them commits: at the end of each chunk, and every checkpoint bytes
// during a long one (the web app sends a whole file as one chunk). A file
// longer than the record says (a crash between the two) is cut back before
// the next chunk.

const uploadsDir = "uploads"

type uploadRecord struct {
	UserID   uint64 `json:"user"`
	Path     string `json:"path"`
	Size     int64  `json:"size"`
	Received int64  `json:"received"`
	Resolve  bool   `json:"resolve,omitempty"`
	State    []byte `json:"sha256_state"`
	Touched  int64  `json:"touched"` // Unix ns of the last chunk (or creation)
	// Reserved is the room the upload holds in its owner's Usage.Reserved:
	// its size less the size of the file it would replace when created.
	Reserved int64 `json:"reserved,omitempty"`
}

func decodeUpload(v []byte) (uploadRecord, error) {
	var rec uploadRecord
	err := json.Unmarshal(v, &rec)
	return rec, err
}

func (db *DB) uploadFile(key string) string {
	return filepath.Join(db.dir, uploadsDir, key)
}

// lockUpload serialises the calls on one upload key.
func (db *DB) lockUpload(key string) func() {
	v, _ := db.uploads.locks.LoadOrStore(key, new(sync.Mutex))
	mu := v.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

func uploadNotFound() error {
	return ferry.Errorf(ferry.EUPLOADNOTFOUND, "No such upload, or it expired.")
}

// CreateUpload starts a resumable upload of size bytes to names and returns
// its key and the path the file will take (with resolve, a free name as of
// now). It returns PAYLOAD_TOO_LARGE (over max_file_size),
// QUOTA_EXCEEDED (the declared size does not fit) and FILE_EXISTS (a
// folder is there without resolve, or a file is in the way).
func (db *DB) CreateUpload(ctx context.Context, userID uint64, names []string, size int64, resolve bool) (key, path string, err error) {
	limit := db.rules.fileLimit()
	if len(names) == 0 {
		return "", "", ferry.Errorf(ferry.EFILEEXISTS, "The root is a folder.")
	}
	if size < 0 {
		return "", "", ferry.Errorf(ferry.EBADREQUEST, "size must be a number of bytes.")
	}
	if limit >= 0 && size > limit {
		return "", "", tooLarge(limit)
	}
	if _, err := db.precheckPut(userID, names, resolve, size); err != nil {
		return "", "", err
	}
	path = paths.Join(names)
	if resolve {
		path = db.freePath(userID, names)
	}
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return "", "", err
	}
	key = db.tokenPrefix + hex.EncodeToString(raw)
	defer db.lockUpload(key)() // against the sweep of files without a record
	f, err := os.OpenFile(db.uploadFile(key), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", "", err
	}
	if err := f.Close(); err != nil {
		return "", "", err
	}
	state, err := sha256.New().(hashState).MarshalBinary()
	if err != nil {
		return "", "", err
	}
	rec := uploadRecord{UserID: userID, Path: paths.Join(names), Size: size, Resolve: resolve, State: state, Touched: db.now().UnixNano()}
	err = db.update(ctx, func(tx *bolt.Tx) error {
		// The upload's room is taken now, in the transaction that checks
		// it, so that uploads in progress can never hold more than the
		// quota between them.
		rec.Reserved = size
		if !resolve {
			if n, err := walk(tx, userID, names); err == nil && !n.dir {
				rec.Reserved = max(0, size-n.size)
			}
		}
		limits, err := db.limitsOf(tx, userID)
		if err != nil {
			return err
		}
		if err := reserve(tx, userID, limits, rec.Reserved); err != nil {
			return err
		}
		return putUpload(tx, key, &rec)
	})
	if err != nil {
		os.Remove(db.uploadFile(key))
		return "", "", err
	}
	return key, path, nil
}

// freePath returns the path a resolved upload would take now.
func (db *DB) freePath(userID uint64, names []string) string {
	name := names[len(names)-1]
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		if parent, err := walk(tx, userID, names[:len(names)-1]); err == nil && parent.dir && parent.id != 0 {
			name = db.freeName(tx, parent.id, name)
		}
		return nil
	})
	return paths.Join(append(names[:len(names)-1:len(names)-1], name))
}

// loadUpload returns the user's upload of that key. An expired one is
// deleted on the spot. The key's lock is held.
func (db *DB) loadUpload(userID uint64, key string) (uploadRecord, error) {
	var rec uploadRecord
	var found bool
	err := db.bolt.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketUploads).Get([]byte(key))
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &rec)
	})
	if err != nil {
		return rec, err
	}
	if !found || rec.UserID != userID {
		return rec, uploadNotFound()
	}
	_, statErr := os.Stat(db.uploadFile(key))
	if db.now().UnixNano()-rec.Touched > int64(db.uploads.idle) || errors.Is(statErr, os.ErrNotExist) {
		// Expired, or its bytes are gone (a store restored from a backup,
		// which does not carry uploads in progress).
		if err := db.deleteUpload(key); err != nil {
			return rec, err
		}
		return rec, uploadNotFound()
	}
	return rec, nil
}

func putUpload(tx *bolt.Tx, key string, rec *uploadRecord) error {
	v, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketUploads).Put([]byte(key), v)
}

// deleteUpload removes an upload's record, giving back its room, and then
// its bytes. The key's lock is held.
func (db *DB) deleteUpload(key string) error {
	if err := db.update(context.Background(), func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketUploads).Get([]byte(key))
		if v == nil {
			return nil
		}
		rec, err := decodeUpload(v)
		if err != nil {
			return err
		}
		if err := unreserve(tx, rec.UserID, rec.Reserved); err != nil {
			return err
		}
		return tx.Bucket(bucketUploads).Delete([]byte(key))
	}); err != nil {
		return err
	}
	db.forgetUpload(key)
	if err := os.Remove(db.uploadFile(key)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// forgetUpload drops the lock of an upload whose record is gone. Anyone
// still waiting on the old lock finds no record, as anyone after them does.
func (db *DB) forgetUpload(key string) {
	db.uploads.locks.Delete(key)
}

// UploadStatus returns how many bytes an upload has and its declared size,
// or UPLOAD_NOT_FOUND.
func (db *DB) UploadStatus(ctx context.Context, userID uint64, key string) (received, size int64, err error) {
	defer db.lockUpload(key)()
	rec, err := db.loadUpload(userID, key)
	return rec.Received, rec.Size, err
}

// WriteChunk appends the bytes [Start, End] of a file of Total bytes, read
// from Body, to an upload and returns how many bytes the upload now has. A
// chunk must start at that count (else a *ferry.OffsetError); total must be the
// declared size and end below it (else METHOD_BAD_REQUEST). If body ends
// early or fails, the bytes that did arrive are kept, and the error says
// so.
func (db *DB) WriteChunk(ctx context.Context, c ferry.Chunk) (int64, error) {
	userID, key, start, end, total, body := c.UserID, c.Key, c.Start, c.End, c.Total, c.Body
	defer db.lockUpload(key)()
	rec, err := db.loadUpload(userID, key)
	if err != nil {
		return 0, err
	}
	if total != rec.Size || start < 0 || end < start || end >= rec.Size {
		return rec.Received, ferry.Errorf(ferry.EBADREQUEST, "Content-Range must be bytes a-b/%d with a <= b < %d.", rec.Size, rec.Size)
	}
	if start != rec.Received {
		return rec.Received, &ferry.OffsetError{Received: rec.Received}
	}
	h := sha256.New().(hashState)
	if err := h.UnmarshalBinary(rec.State); err != nil {
		return rec.Received, err
	}
	f, err := os.OpenFile(db.uploadFile(key), os.O_WRONLY, 0)
	if err != nil {
		return rec.Received, err
	}
	defer f.Close()
	if err := f.Truncate(rec.Received); err != nil {
		return rec.Received, err
	}
	want := end - start + 1
	if err := db.checkSpace(want); err != nil {
		return rec.Received, err
	}
	dst := blobs.NewFileWriter(f, nil)
	defer dst.Close()
	// The chunk goes in steps of at most a checkpoint; each step's bytes
	// are made durable and recorded before the next is read.
	for left := want; left > 0; {
		step := min(left, db.uploads.checkpoint)
		n, readErr, writeErr := blobs.Copy(dst, rec.Received, io.LimitReader(body, step), h, step)
		if writeErr != nil {
			// Nothing of this step counts: the hash may have taken bytes
			// that never reached the file. Give their space back at once.
			_ = f.Truncate(rec.Received)
			return rec.Received, writeErr
		}
		if readErr == nil && n < step {
			readErr = ferry.Errorf(ferry.EBADREQUEST, "The body has %d bytes; Content-Range says %d.", want-left+n, want)
		}
		if n > 0 {
			if err := db.checkpointUpload(ctx, key, &rec, f, h, n); err != nil {
				return rec.Received, err
			}
		}
		if readErr != nil {
			return rec.Received, readErr // wrapped in ferry.ErrBodyRead by blobs.Copy, or the short body's BAD_REQUEST
		}
		left -= n
	}
	return rec.Received, nil
}

// checkpointUpload makes the n bytes just written to f durable and then
// records them, with the hash state after them, in rec's record. On an
// error rec is as it was. The key's lock is held.
func (db *DB) checkpointUpload(ctx context.Context, key string, rec *uploadRecord, f *os.File, h hashState, n int64) error {
	if err := f.Sync(); err != nil {
		return err
	}
	state, err := h.MarshalBinary()
	if err != nil {
		return err
	}
	next := *rec
	next.State, next.Received, next.Touched = state, rec.Received+n, db.now().UnixNano()
	// The bytes are on disk whether or not the client is still there (a
	// dropped connection is how a chunk usually ends early): the record
	// says so even if its request was given up.
	if err := db.update(context.WithoutCancel(ctx), func(tx *bolt.Tx) error { return putUpload(tx, key, &next) }); err != nil {
		return err
	}
	*rec = next
	return nil
}

// FinalizeUpload makes a complete upload the file at its path, where it
// appears only now. It returns METHOD_BAD_REQUEST while bytes are missing,
// and otherwise PutFile's errors; an upload refused for the quota, or for a
// folder now in its place, is deleted.
func (db *DB) FinalizeUpload(ctx context.Context, userID uint64, key string) (ferry.FileInfo, error) {
	defer db.lockUpload(key)()
	rec, err := db.loadUpload(userID, key)
	if err != nil {
		return ferry.FileInfo{}, err
	}
	if rec.Received < rec.Size {
		return ferry.FileInfo{}, ferry.Errorf(ferry.EBADREQUEST, "The upload has %d of %d bytes.", rec.Received, rec.Size)
	}
	names, err := paths.Parse(rec.Path)
	if err != nil {
		return ferry.FileInfo{}, err
	}
	h := sha256.New().(hashState)
	if err := h.UnmarshalBinary(rec.State); err != nil {
		return ferry.FileInfo{}, err
	}
	refuse := func(err error) (ferry.FileInfo, error) {
		if ferry.ErrorCode(err) != ferry.EUNKNOWN {
			if derr := db.deleteUpload(key); derr != nil {
				return ferry.FileInfo{}, derr
			}
		}
		return ferry.FileInfo{}, err
	}
	if _, err := db.precheckPut(userID, names, rec.Resolve, rec.Size-rec.Reserved); err != nil {
		return refuse(err)
	}
	sp := spooled{Path: db.uploadFile(key), Size: rec.Size, Sum: sum(h.Sum(nil)), Keep: true}
	target := ferry.PutRequest{UserID: userID, Names: names, Resolve: rec.Resolve}
	info, err := db.commitFile(ctx, target, sp, rec.Reserved, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketUploads).Delete([]byte(key))
	})
	if err != nil {
		return refuse(err)
	}
	// The upload's own name for the bytes goes only now; after a crash
	// the sweep removes it, as a file without a record.
	if err := os.Remove(db.uploadFile(key)); err != nil && !errors.Is(err, os.ErrNotExist) {
		db.log("removing a finalized upload's file", err)
	}
	db.forgetUpload(key)
	return info, nil
}

// DeleteExpiredUploads deletes the uploads without a chunk for longer than
// the idle timeout, and upload files no record refers to. It returns how
// many uploads it deleted.
func (db *DB) DeleteExpiredUploads() (int, error) {
	now := db.now().UnixNano()
	var expired []string
	known := map[string]bool{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketUploads).ForEach(func(k, v []byte) error {
			var rec uploadRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			known[string(k)] = true
			if now-rec.Touched > int64(db.uploads.idle) {
				expired = append(expired, string(k))
			}
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, key := range expired {
		unlock := db.lockUpload(key)
		// Look again under the lock: a chunk may have arrived.
		_, err := db.loadUpload(db.uploadOwner(key), key)
		unlock()
		if ferry.ErrorCode(err) == ferry.EUPLOADNOTFOUND {
			n++
		} else if err != nil {
			return n, err
		}
	}
	// Files without a record: left by a crash after the file was made.
	entries, err := os.ReadDir(filepath.Join(db.dir, uploadsDir))
	if err != nil {
		return n, err
	}
	for _, e := range entries {
		if !known[e.Name()] {
			unlock := db.lockUpload(e.Name())
			if db.uploadOwner(e.Name()) == 0 {
				os.Remove(db.uploadFile(e.Name()))
			}
			unlock()
		}
	}
	return n, nil
}

// uploadOwner returns the user id of an upload, 0 if there is none.
func (db *DB) uploadOwner(key string) uint64 {
	var rec uploadRecord
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketUploads).Get([]byte(key)); v != nil {
			return json.Unmarshal(v, &rec)
		}
		return nil
	})
	return rec.UserID
}
