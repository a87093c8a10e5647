package store_test

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/paths"
	"github.com/ferryhq/ferry/store"
)

type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

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

	b, err := bolt.Open(dir+"/"+store.FileName, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, b.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), []byte{0, 0, 0, 0, 0, 0, 0, 99})
	}))
	require.NoError(t, b.Close())

	_, err = store.Open(dir, store.Options{})
	assert.ErrorContains(t, err, "schema version 99 is newer")
}

func newUser(t *testing.T, db *store.DB, email string) *ferry.User {
	t.Helper()
	u, err := db.CreateUser(ferry.NewUser{Email: email, Password: "password1", Package: "free"})
	require.NoError(t, err)
	return u
}

func TestTokens_SweepAndRevokeAll(t *testing.T) {
	c := &clock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	db, _ := openDB(t, c)
	u := newUser(t, db, "a@example.com")
	other := newUser(t, db, "b@example.com")
	old, err := db.CreateToken(u.ID)
	require.NoError(t, err)
	c.now = c.now.Add(10 * time.Minute)
	keep, err := db.CreateToken(u.ID)
	require.NoError(t, err)
	third, err := db.CreateToken(u.ID)
	require.NoError(t, err)
	others, err := db.CreateToken(other.ID)
	require.NoError(t, err)

	c.now = c.now.Add(6 * time.Minute) // old is 16 minutes idle, the rest 6
	n, err := db.DeleteExpiredTokens()
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	_, err = db.Authenticate(old)
	assert.Equal(t, ferry.ENOPERMISSION, ferry.ErrorCode(err))

	require.NoError(t, db.RevokeUserTokens(u.ID, keep))
	_, err = db.Authenticate(third)
	assert.Equal(t, ferry.ENOPERMISSION, ferry.ErrorCode(err))
	got, err := db.Authenticate(keep)
	require.NoError(t, err)
	assert.Equal(t, u.ID, got.ID)
	_, err = db.Authenticate(others)
	assert.NoError(t, err, "another user's tokens stay")

	n, err = db.DeleteExpiredTokens()
	require.NoError(t, err)
	assert.Equal(t, 0, n, "nothing else is expired")
}

func TestUsers_EmailIsUnique(t *testing.T) {
	db, _ := openDB(t, &clock{now: time.Now()})
	newUser(t, db, "Same@Example.com")
	_, err := db.CreateUser(ferry.NewUser{Email: " same@example.COM", Password: "password1"})
	assert.Equal(t, ferry.EEMAILEXISTS, ferry.ErrorCode(err))
	list, err := db.ListUsers()
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "same@example.com", list[0].Email)
}

// CheckTree finds what it promises to: a wrong folder total, a wrong
// normal, a wrong reference count, a missing blob file.
func TestCheckTree_FindsProblems(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{})
	require.NoError(t, err)
	u := newUser(t, db, "a@example.com")
	_, err = db.PutFile(ferry.PutRequest{UserID: u.ID, Names: []string{"d", "f.txt"}, Body: strings.NewReader("hello"), Size: 5})
	require.NoError(t, err)
	problems, err := db.CheckTree()
	require.NoError(t, err)
	require.Empty(t, problems)
	require.NoError(t, db.Close())

	// Corrupt the counts behind the store's back.
	b, err := bolt.Open(filepath.Join(dir, store.FileName), 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, b.Update(func(tx *bolt.Tx) error {
		usage := make([]byte, 24)
		usage[7] = 99 // normal = 99
		if err := tx.Bucket([]byte("usage")).Put(itob(u.ID), usage); err != nil {
			return err
		}
		return tx.Bucket([]byte("blobs")).ForEach(func(k, v []byte) error {
			nv := append([]byte(nil), v...)
			nv[7] = 3 // three references
			return tx.Bucket([]byte("blobs")).Put(k, nv)
		})
	}))
	require.NoError(t, b.Close())
	require.NoError(t, os.RemoveAll(filepath.Join(dir, "blobs")))

	db2, err := store.Open(dir, store.Options{})
	require.NoError(t, err)
	defer db2.Close()
	problems, err = db2.CheckTree()
	require.NoError(t, err)
	joined := strings.Join(problems, "\n")
	assert.Contains(t, joined, "has normal 99, but their files total 5")
	assert.Contains(t, joined, "has reference count 3, but 1 records refer to it")
	assert.Contains(t, joined, "its file is missing")
}

func itob(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

// freeName finds the first free "name (n)" after a run of taken ones in a
// few lookups, and a free one whatever the gaps.
func TestFreeNameManyCopies(t *testing.T) {
	db, _ := openDB(t, &clock{now: time.Now()})
	u := newUser(t, db, "a@example.com")
	names := []string{}
	for range 70 {
		info, err := db.PutFile(ferry.PutRequest{UserID: u.ID, Names: []string{"d", "report.pdf"}, Resolve: true, Body: strings.NewReader("x"), Size: 1})
		require.NoError(t, err)
		names = append(names, info.Path)
	}
	assert.Equal(t, "d/report.pdf", names[0])
	for i := 1; i < 70; i++ {
		assert.Equal(t, fmt.Sprintf("d/report (%d).pdf", i), names[i])
	}
	results, err := db.Delete(u.ID, [][]string{{"d", "report (5).pdf"}})
	require.NoError(t, err)
	require.NoError(t, results[0])
	info, err := db.PutFile(ferry.PutRequest{UserID: u.ID, Names: []string{"d", "report.pdf"}, Resolve: true, Body: strings.NewReader("x"), Size: 1})
	require.NoError(t, err)
	count := 0
	require.NoError(t, db.List(u.ID, []string{"d"}, func([]byte, bool, int64) { count++ }))
	assert.Equal(t, 70, count)
	assert.Contains(t, []string{"d/report (5).pdf", "d/report (70).pdf"}, info.Path, "a free name, with or without the gap")

	// freeName first tries the n after the one it gave last; a guess gone
	// stale never hands out a taken name.
	split := func(p string) []string { names, err := paths.Parse(p); require.NoError(t, err); return names }
	put := func(content string) string {
		info, err := db.PutFile(ferry.PutRequest{UserID: u.ID, Names: []string{"e", "r.pdf"}, Resolve: true, Body: strings.NewReader(content), Size: int64(len(content))})
		require.NoError(t, err)
		return info.Path
	}
	for i := range 10 {
		put(fmt.Sprint("copy ", i))
	}
	_, err = db.PutFile(ferry.PutRequest{UserID: u.ID, Names: []string{"x.pdf"}, Body: strings.NewReader("moved"), Size: 5})
	require.NoError(t, err)
	require.NoError(t, db.Move(u.ID, []string{"x.pdf"}, []string{"e", "r (10).pdf"}, false)) // the guess is taken
	afterMove := put("after the move")
	assert.Equal(t, "e/r (11).pdf", afterMove)
	results, err = db.Delete(u.ID, [][]string{split(afterMove)}) // the last answer is gone
	require.NoError(t, err)
	require.NoError(t, results[0])
	afterDelete := put("after the delete")
	assert.Equal(t, "e/r (11).pdf", afterDelete)
	want := map[string]string{"e/r (10).pdf": "moved", afterDelete: "after the delete", "e/r.pdf": "copy 0", "e/r (9).pdf": "copy 9"}
	for p, content := range want {
		info, err := db.Stat(u.ID, split(p))
		require.NoError(t, err, p)
		assert.Equal(t, fmt.Sprintf("%x", sha256.Sum256([]byte(content))), info.SHA256, p)
	}
	count = 0
	require.NoError(t, db.List(u.ID, []string{"e"}, func([]byte, bool, int64) { count++ }))
	assert.Equal(t, 12, count)
}

// A pending message past its expiry that no sweep has reached is expired
// by the decision that finds it: MESSAGE_NOT_FOUND, and its pins go.
func TestDecideExpires(t *testing.T) {
	c := &clock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{Now: c.Now, SendExpireAfter: time.Hour})
	require.NoError(t, err)
	defer db.Close()
	s, r := newUser(t, db, "s@example.com"), newUser(t, db, "r@example.com")
	_, err = db.PutFile(ferry.PutRequest{UserID: s.ID, Names: []string{"x.bin"}, Body: strings.NewReader("pinned"), Size: 6})
	require.NoError(t, err)
	ids, err := db.Send(s.ID, "r@example.com", []ferry.SendSource{{Files: [][]string{{"x.bin"}}}}, nil)
	require.NoError(t, err)
	results, err := db.Delete(s.ID, [][]string{{"x.bin"}})
	require.NoError(t, err)
	require.NoError(t, results[0])

	c.now = c.now.Add(time.Hour)
	results, err = db.UpdateInbox(r.ID, []ferry.Decision{{ID: ids[0], Accept: true}})
	require.NoError(t, err)
	assert.Equal(t, ferry.EMESSAGENOTFOUND, ferry.ErrorCode(results[0]))
	out, err := db.Outbox(s.ID)
	require.NoError(t, err)
	assert.Equal(t, ferry.StatusExpired, out[0].Status)
	problems, err := db.CheckTree()
	require.NoError(t, err)
	assert.Empty(t, problems)
	assert.Equal(t, 0, countBlobFiles(t, dir), "the pin went with the message")
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

// Repair derives folder totals, children entries and reachability again.
func TestRepairTree(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{})
	require.NoError(t, err)
	u := newUser(t, db, "a@example.com")
	for _, p := range []string{"a/b/one.txt", "a/two.txt"} {
		_, err := db.PutFile(ferry.PutRequest{UserID: u.ID, Names: strings.Split(p, "/"), Body: strings.NewReader(p), Size: int64(len(p))})
		require.NoError(t, err)
	}
	require.NoError(t, db.Close())

	b, err := bolt.Open(filepath.Join(dir, store.FileName), 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, b.Update(func(tx *bolt.Tx) error {
		nodes := tx.Bucket([]byte("nodes"))
		// Every folder's size in its node record (bytes 9..17) becomes 5;
		// a node nobody lists is added.
		var folders [][]byte
		err := nodes.ForEach(func(k, v []byte) error {
			if v[8] == 1 {
				folders = append(folders, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range folders {
			v := append([]byte(nil), nodes.Get(k)...)
			binary.BigEndian.PutUint64(v[9:], 5)
			if err := nodes.Put(k, v); err != nil {
				return err
			}
		}
		// Properties of a node that does not exist.
		if err := tx.Bucket([]byte("dead_props")).Put(itob(8888), []byte("[]")); err != nil {
			return err
		}
		return nodes.Put(itob(9999), make([]byte, 57))
	}))
	require.NoError(t, b.Close())

	db, err = store.Open(dir, store.Options{})
	require.NoError(t, err)
	defer db.Close()
	problems, err := db.CheckTree()
	require.NoError(t, err)
	require.NotEmpty(t, problems)
	assert.Contains(t, strings.Join(problems, "\n"), "dead properties of node 8888, which does not exist")
	fixes, err := db.Repair()
	require.NoError(t, err)
	joined := strings.Join(fixes, "\n")
	assert.Contains(t, joined, "node 9999: not reachable from any root, deleted")
	assert.Contains(t, joined, `("a"): size 5 -> 20`)
	assert.Contains(t, joined, "dead properties of node 8888, which does not exist: deleted")
	problems, err = db.CheckTree()
	require.NoError(t, err)
	assert.Empty(t, problems)
	fixes, err = db.Repair()
	require.NoError(t, err)
	assert.Empty(t, fixes, "nothing left to fix")
}

// A blob whose last reference goes while a backup runs is still in the
// backup, and is removed from the store when the backup ends.
func TestBackupDefersRemoval(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{})
	require.NoError(t, err)
	defer db.Close()
	u := newUser(t, db, "a@example.com")
	for _, p := range []string{"keep.txt", "gone.txt"} {
		_, err := db.PutFile(ferry.PutRequest{UserID: u.ID, Names: []string{p}, Body: strings.NewReader("content of " + p), Size: int64(len("content of " + p))})
		require.NoError(t, err)
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- db.Backup(pw); pw.Close() }()
	tr := tar.NewReader(pr)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	copyEntry := func() bool {
		hdr, err := tr.Next()
		if err == io.EOF {
			return false
		}
		require.NoError(t, err)
		require.NoError(t, tw.WriteHeader(hdr))
		_, err = io.Copy(tw, tr)
		require.NoError(t, err)
		return true
	}
	require.True(t, copyEntry()) // ferry.db: the snapshot is taken
	results, err := db.Delete(u.ID, [][]string{{"gone.txt"}})
	require.NoError(t, err)
	require.NoError(t, results[0])
	assert.Equal(t, 2, countBlobFiles(t, dir), "removal waits for the backup")
	for copyEntry() {
	}
	require.NoError(t, <-done)
	require.NoError(t, tw.Close())
	assert.Equal(t, 1, countBlobFiles(t, dir), "removed when the backup ended")

	restored := filepath.Join(t.TempDir(), "restored")
	require.NoError(t, store.Restore(&buf, restored))
	rdb, err := store.Open(restored, store.Options{})
	require.NoError(t, err)
	defer rdb.Close()
	problems, err := rdb.Fsck(false)
	require.NoError(t, err)
	assert.Empty(t, problems)
	info, err := rdb.Stat(u.ID, []string{"gone.txt"})
	require.NoError(t, err, "the backup has the file as it was")
	assert.Equal(t, int64(len("content of gone.txt")), info.Size)
}

// With the collector running lazily, as ferry serve runs it, the memory of
// a password hash goes back to the OS when the hash is done instead of
// staying in the heap until a collection that may be far off.
func TestPasswordHashMemoryIsReturned(t *testing.T) {
	old := debug.SetGCPercent(400)
	defer debug.SetGCPercent(old)
	db, _ := openDB(t, &clock{now: time.Now()})
	retained := func() uint64 { // heap mapped and not returned to the OS
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}, {Name: "/memory/classes/heap/free:bytes"}}
		metrics.Read(s)
		return s[0].Value.Uint64() + s[1].Value.Uint64() + s[2].Value.Uint64()
	}
	debug.FreeOSMemory()
	before := retained()
	newUser(t, db, "hash@example.com") // one argon2id hash of 7 MiB
	after := retained()
	t.Logf("heap retained: %.1f MiB before, %.1f MiB after", float64(before)/(1<<20), float64(after)/(1<<20))
	assert.Less(t, after, before+3<<20, "the hash's 7 MiB went back")
}
