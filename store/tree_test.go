package store_test

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
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

// CheckTree finds what it promises to: a wrong folder total, a wrong
// normal, a wrong reference count, a missing blob file.
func TestCheckTree_FindsProblems(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{})
	require.NoError(t, err)
	u := newUser(t, db, "a@example.com")
	_, err = db.PutFile(ctx, ferry.PutRequest{UserID: u.ID, Names: []string{"d", "f.txt"}, Body: strings.NewReader("hello"), Size: 5})
	require.NoError(t, err)
	problems, err := db.CheckTree()
	require.NoError(t, err)
	require.Empty(t, problems)
	require.NoError(t, db.Close())

	// Corrupt the counts behind the store's back.
	editFile(t, dir, func(tx *bolt.Tx) error {
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
	})
	require.NoError(t, os.RemoveAll(filepath.Join(dir, "blobs")))

	db2, err := store.Open(dir, store.Options{})
	require.NoError(t, err)
	defer db2.Close()
	problems, err = db2.CheckTree()
	require.NoError(t, err)
	joined := strings.Join(problems, "\n")
	assert.Contains(t, joined, "has normal 99, but their files total 5")
	assert.Contains(t, joined, "has reference count 3, but 1 records refer to it")
	assert.Contains(t, joined, "the blob store does not hold it")
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
		info, err := db.PutFile(ctx, ferry.PutRequest{UserID: u.ID, Names: []string{"d", "report.pdf"}, Resolve: true, Body: strings.NewReader("x"), Size: 1})
		require.NoError(t, err)
		names = append(names, info.Path)
	}
	assert.Equal(t, "d/report.pdf", names[0])
	for i := 1; i < 70; i++ {
		assert.Equal(t, fmt.Sprintf("d/report (%d).pdf", i), names[i])
	}
	results, err := db.Delete(ctx, u.ID, [][]string{{"d", "report (5).pdf"}})
	require.NoError(t, err)
	require.NoError(t, results[0])
	info, err := db.PutFile(ctx, ferry.PutRequest{UserID: u.ID, Names: []string{"d", "report.pdf"}, Resolve: true, Body: strings.NewReader("x"), Size: 1})
	require.NoError(t, err)
	count := 0
	require.NoError(t, db.List(ctx, u.ID, []string{"d"}, func([]byte, bool, int64) { count++ }))
	assert.Equal(t, 70, count)
	assert.Contains(t, []string{"d/report (5).pdf", "d/report (70).pdf"}, info.Path, "a free name, with or without the gap")

	// freeName first tries the n after the one it gave last; a guess gone
	// stale never hands out a taken name.
	split := func(p string) []string { names, err := paths.Parse(p); require.NoError(t, err); return names }
	put := func(content string) string {
		info, err := db.PutFile(ctx, ferry.PutRequest{UserID: u.ID, Names: []string{"e", "r.pdf"}, Resolve: true, Body: strings.NewReader(content), Size: int64(len(content))})
		require.NoError(t, err)
		return info.Path
	}
	for i := range 10 {
		put(fmt.Sprint("copy ", i))
	}
	_, err = db.PutFile(ctx, ferry.PutRequest{UserID: u.ID, Names: []string{"x.pdf"}, Body: strings.NewReader("moved"), Size: 5})
	require.NoError(t, err)
	require.NoError(t, db.Move(ctx, u.ID, ferry.Transfer{Src: []string{"x.pdf"}, Dst: []string{"e", "r (10).pdf"}})) // the guess is taken
	afterMove := put("after the move")
	assert.Equal(t, "e/r (11).pdf", afterMove)
	results, err = db.Delete(ctx, u.ID, [][]string{split(afterMove)}) // the last answer is gone
	require.NoError(t, err)
	require.NoError(t, results[0])
	afterDelete := put("after the delete")
	assert.Equal(t, "e/r (11).pdf", afterDelete)
	want := map[string]string{"e/r (10).pdf": "moved", afterDelete: "after the delete", "e/r.pdf": "copy 0", "e/r (9).pdf": "copy 9"}
	for p, content := range want {
		info, err := db.Stat(ctx, u.ID, split(p))
		require.NoError(t, err, p)
		assert.Equal(t, fmt.Sprintf("%x", sha256.Sum256([]byte(content))), info.SHA256, p)
	}
	count = 0
	require.NoError(t, db.List(ctx, u.ID, []string{"e"}, func([]byte, bool, int64) { count++ }))
	assert.Equal(t, 12, count)
}

// Repair derives folder totals, children entries and reachability again.
func TestRepairTree(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{})
	require.NoError(t, err)
	u := newUser(t, db, "a@example.com")
	for _, p := range []string{"a/b/one.txt", "a/two.txt"} {
		_, err := db.PutFile(ctx, ferry.PutRequest{UserID: u.ID, Names: strings.Split(p, "/"), Body: strings.NewReader(p), Size: int64(len(p))})
		require.NoError(t, err)
	}
	require.NoError(t, db.Close())

	editFile(t, dir, func(tx *bolt.Tx) error {
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
	})

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

// NoParents (WebDAV's rule for PUT, MOVE and COPY) is checked in the
// write's own transaction: nothing is made, nothing is kept.
func TestNoParents_CheckedInTheWrite(t *testing.T) {
	c := &clock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	db, dir := openDB(t, c)
	u := newUser(t, db, "a@example.com")
	_, err := db.PutFile(ctx, ferry.PutRequest{UserID: u.ID, Names: []string{"a.txt"}, Body: strings.NewReader("a"), Size: 1})
	require.NoError(t, err)

	_, err = db.PutFile(ctx, ferry.PutRequest{UserID: u.ID, Names: []string{"no", "b.txt"}, Body: strings.NewReader("b"), Size: 1, NoParents: true})
	assert.Equal(t, ferry.EFILENOTFOUND, ferry.ErrorCode(err))
	err = db.Move(ctx, u.ID, ferry.Transfer{Src: []string{"a.txt"}, Dst: []string{"no", "a.txt"}, NoParents: true})
	assert.Equal(t, ferry.EFILENOTFOUND, ferry.ErrorCode(err))
	err = db.Copy(ctx, u.ID, ferry.Transfer{Src: []string{"a.txt"}, Dst: []string{"a.txt", "x"}, NoParents: true})
	assert.Equal(t, ferry.EFILENOTFOUND, ferry.ErrorCode(err), "a file is no parent")
	sizes, err := db.Sizes(ctx, u.ID, [][]string{{"no"}, {"a.txt"}})
	require.NoError(t, err)
	assert.Equal(t, []int64{-1, 1}, sizes, "no folder was made, nothing moved")
	assert.Equal(t, 1, countBlobFiles(t, dir), "the refused file's content is gone")

	require.NoError(t, db.Move(ctx, u.ID, ferry.Transfer{Src: []string{"a.txt"}, Dst: []string{"made", "a.txt"}}))
	sizes, err = db.Sizes(ctx, u.ID, [][]string{{"made"}})
	require.NoError(t, err)
	assert.Equal(t, []int64{1}, sizes, "without NoParents, parents are made")
}
