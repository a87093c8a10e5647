package store_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/store"
)

// Microbenchmarks of the store's hot paths. CI runs them once each
// (-benchtime=1x) so they keep compiling and working; go run ./bench
// measures the service as a whole.

func benchDB(b *testing.B) *store.DB {
	b.Helper()
	db, err := store.Open(b.TempDir(), store.Options{})
	require.NoError(b, err)
	b.Cleanup(func() { db.Close() })
	return db
}

func benchUser(b *testing.B, db *store.DB, email string) *ferry.User {
	b.Helper()
	u, err := db.CreateUser(ctx, ferry.NewUser{Email: email, Password: "bench password", Package: "free"})
	require.NoError(b, err)
	return u
}

func put(b *testing.B, db *store.DB, userID uint64, path, content string) {
	b.Helper()
	names := strings.Split(path, "/")
	_, err := db.PutFile(ctx, ferry.PutRequest{UserID: userID, Names: names, Body: strings.NewReader(content), Size: int64(len(content))})
	require.NoError(b, err)
}

func BenchmarkAuthenticate(b *testing.B) {
	db := benchDB(b)
	u := benchUser(b, db, "a@example.com")
	token, err := db.CreateToken(ctx, u.ID)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := db.Authenticate(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkList10(b *testing.B) {
	db := benchDB(b)
	u := benchUser(b, db, "a@example.com")
	for i := range 10 {
		put(b, db, u.ID, fmt.Sprintf("ten/f%d.txt", i), "x")
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := db.List(ctx, u.ID, []string{"ten"}, func([]byte, bool, int64) {}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPutSmallFile(b *testing.B) {
	db := benchDB(b)
	u := benchUser(b, db, "a@example.com")
	i := 0
	for b.Loop() {
		put(b, db, u.ID, fmt.Sprintf("many/f%d.txt", i), fmt.Sprint("content ", i))
		i++
	}
}

func BenchmarkMoveFolder(b *testing.B) {
	db := benchDB(b)
	u := benchUser(b, db, "a@example.com")
	for i := range 100 {
		put(b, db, u.ID, fmt.Sprintf("a/sub%d/f.txt", i), "x")
	}
	from, to := []string{"a"}, []string{"b", "a"}
	for b.Loop() {
		if err := db.Move(ctx, u.ID, ferry.Transfer{Src: from, Dst: to}); err != nil {
			b.Fatal(err)
		}
		from, to = to, from
	}
}

func BenchmarkSendAccept(b *testing.B) {
	db := benchDB(b)
	s := benchUser(b, db, "s@example.com")
	r := benchUser(b, db, "r@example.com")
	put(b, db, s.ID, "out/doc.txt", "a document")
	src := []ferry.SendSource{{Path: []string{"out"}, Files: [][]string{{"doc.txt"}}}}
	for b.Loop() {
		ids, err := db.Send(ctx, s.ID, "r@example.com", src, nil)
		if err != nil {
			b.Fatal(err)
		}
		results, err := db.UpdateInbox(ctx, r.ID, []ferry.Decision{{ID: ids[0], Accept: true}})
		if err != nil || results[0] != nil {
			b.Fatal(err, results)
		}
	}
}

// Concurrent writers share commits (store/commit.go).
func BenchmarkSendAcceptParallel(b *testing.B) {
	db := benchDB(b)
	var next atomic.Int64
	b.SetParallelism(16)
	users := map[int][2]*ferry.User{}
	for i := range 16 {
		s := benchUser(b, db, fmt.Sprintf("s%d@example.com", i))
		r := benchUser(b, db, fmt.Sprintf("r%d@example.com", i))
		put(b, db, s.ID, "out/doc.txt", "a document")
		users[i] = [2]*ferry.User{s, r}
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		pair := users[int(next.Add(1))%16]
		src := []ferry.SendSource{{Path: []string{"out"}, Files: [][]string{{"doc.txt"}}}}
		for pb.Next() {
			ids, err := db.Send(ctx, pair[0].ID, pair[1].Email, src, nil)
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := db.UpdateInbox(ctx, pair[1].ID, []ferry.Decision{{ID: ids[0], Accept: true}}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkCopyAndDeleteTree copies a folder of 8,192 files and deletes the
// copy: the largest work one ops/copy or ops/delete of such a folder puts
// inside the write transaction (docs/security.md).
func BenchmarkCopyAndDeleteTree(b *testing.B) {
	db := benchDB(b)
	u := benchUser(b, db, "a@example.com")
	put(b, db, u.ID, "t/f", "x")
	for i := range 13 { // 2^13 files, by doubling
		require.NoError(b, db.Copy(ctx, u.ID, ferry.Transfer{Src: []string{"t"}, Dst: []string{"half"}}))
		require.NoError(b, db.Move(ctx, u.ID, ferry.Transfer{Src: []string{"half"}, Dst: []string{"t", fmt.Sprint("c", i)}}))
	}
	var copying, deleting time.Duration
	for b.Loop() {
		db.SlowestWrite()
		require.NoError(b, db.Copy(ctx, u.ID, ferry.Transfer{Src: []string{"t"}, Dst: []string{"copy"}}))
		copying = max(copying, db.SlowestWrite())
		results, err := db.Delete(ctx, u.ID, [][]string{{"copy"}})
		require.NoError(b, err)
		require.NoError(b, results[0])
		deleting = max(deleting, db.SlowestWrite())
	}
	b.ReportMetric(float64(copying.Microseconds())/1000, "copy-tx-ms")
	b.ReportMetric(float64(deleting.Microseconds())/1000, "delete-tx-ms")
}
