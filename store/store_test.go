package store_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/store"
)

type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

// ctx is the context of the tests' calls: nothing cancels it.
var ctx = context.Background()

// openDB opens a store in a fresh directory; cleanup checks the file with
// bbolt's consistency check and closes it.
func openDB(t *testing.T, c *clock) (*store.DB, string) {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{Now: c.Now, TokenIdleTimeout: 15 * time.Minute})
	require.NoError(t, err)
	t.Cleanup(func() {
		assert.NoError(t, db.Check())
		db.Close()
	})
	return db, dir
}

func TestOpen_LockedFailsFast(t *testing.T) {
	_, dir := openDB(t, &clock{now: time.Now()})
	start := time.Now()
	_, err := store.Open(dir, store.Options{LockTimeout: 200 * time.Millisecond})
	require.Error(t, err)
	assert.True(t, errors.Is(err, store.ErrLocked), "%v", err)
	assert.Contains(t, err.Error(), "is ferry serve running")
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestOpen_RefusesNewerSchema(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{})
	require.NoError(t, err)
	require.NoError(t, db.Close())

	editFile(t, dir, func(tx *bolt.Tx) error {
		return setSchema(tx, 99)
	})

	_, err = store.Open(dir, store.Options{})
	assert.ErrorContains(t, err, "schema version 99 is newer")
}

func newUser(t *testing.T, db *store.DB, email string) *ferry.User {
	t.Helper()
	u, err := db.CreateUser(ctx, ferry.NewUser{Email: email, Password: "password1", Package: "free"})
	require.NoError(t, err)
	return u
}

func countBlobFiles(t *testing.T, dir string) int {
	n := 0
	require.NoError(t, filepath.WalkDir(filepath.Join(dir, "blobs"), func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return err
	}))
	return n
}

// editFile changes the database in dir behind the store's back (the store
// closed), as an older version or a damaged disk would have left it.
func editFile(t *testing.T, dir string, edit func(tx *bolt.Tx) error) {
	t.Helper()
	b, err := bolt.Open(filepath.Join(dir, store.FileName), 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, b.Update(edit))
	require.NoError(t, b.Close())
}

// schemaOf returns the schema version a store says it has.
func schemaOf(tx *bolt.Tx) uint64 {
	return binary.BigEndian.Uint64(tx.Bucket([]byte("meta")).Get([]byte("schema_version")))
}

// setSchema writes the schema version a store says it has.
func setSchema(tx *bolt.Tx, version uint64) error {
	return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), binary.BigEndian.AppendUint64(nil, version))
}
