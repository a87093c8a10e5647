package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Concurrent writers share commits; one that fails after writing leaves
// nothing behind and gets its own error; everyone else's write stands.
func TestGroupCommit(t *testing.T) {
	db, err := Open(t.TempDir(), Options{})
	require.NoError(t, err)
	defer db.Close()
	bucket := []byte("test")
	require.NoError(t, db.bolt.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket(bucket); return err }))

	const writers = 200
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.update(context.Background(), func(tx *bolt.Tx) error {
				if err := tx.Bucket(bucket).Put([]byte(fmt.Sprint(i)), []byte("x")); err != nil {
					return err
				}
				if i%7 == 0 {
					return fmt.Errorf("writer %d refuses", i) // after a write
				}
				return nil
			})
		}()
	}
	wg.Wait()
	var kept int
	require.NoError(t, db.bolt.View(func(tx *bolt.Tx) error {
		for i := range writers {
			v := tx.Bucket(bucket).Get([]byte(fmt.Sprint(i)))
			if i%7 == 0 {
				assert.EqualError(t, errs[i], fmt.Sprintf("writer %d refuses", i))
				assert.Nil(t, v, "a failed write leaves nothing")
			} else {
				assert.NoError(t, errs[i])
				assert.NotNil(t, v)
				kept++
			}
		}
		return nil
	}))
	assert.Equal(t, writers-writers/7-1, kept)
	assert.Less(t, db.commits.commits, uint64(writers), "writers shared transactions")
	t.Logf("%d writers, %d transactions", writers, db.commits.commits)

	// A lone writer commits alone, at once.
	before := db.commits.commits
	require.NoError(t, db.update(context.Background(), func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put([]byte("lone"), nil) }))
	assert.Equal(t, before+1, db.commits.commits)
	assert.True(t, errors.Is(db.update(context.Background(), func(*bolt.Tx) error { return bolterrors.ErrTxClosed }), bolterrors.ErrTxClosed))
}

// Buckets whose keys only grow fill their pages (appendFill) instead of
// bbolt's default half, so a commit writes and the file keeps about half
// the pages. Other buckets keep the default, which suits inserts anywhere.
func TestAppendBucketsArePacked(t *testing.T) {
	db, err := Open(t.TempDir(), Options{})
	require.NoError(t, err)
	defer db.Close()
	const n, size = 1000, 100
	fill := func(bucket []byte) {
		require.NoError(t, db.update(context.Background(), func(tx *bolt.Tx) error {
			b := tx.Bucket(bucket)
			for i := range n {
				if err := b.Put(pairKey(1<<40, uint64(i)), make([]byte, size)); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	fill(bucketMessages)
	fill(bucketChildren)
	leaves := func(bucket []byte) (pages int) {
		require.NoError(t, db.bolt.View(func(tx *bolt.Tx) error {
			pages = tx.Bucket(bucket).Stats().LeafPageN
			return nil
		}))
		return pages
	}
	perPage := float64(db.bolt.Info().PageSize) / (16 + 16 + size) // header, key, value
	t.Logf("messages: %d leaf pages, children: %d; %.1f records fit a page", leaves(bucketMessages), leaves(bucketChildren), perPage)
	assert.LessOrEqual(t, float64(leaves(bucketMessages)), 1.25*n/perPage, "pages of an append bucket are nearly full")
	assert.Greater(t, float64(leaves(bucketChildren)), 1.6*n/perPage, "other buckets split in half")
}

// However many calls of a group fail, each other call runs at most twice:
// failing writes cannot multiply everyone else's work.
func TestGroupCommit_FailuresCostOthersOneRun(t *testing.T) {
	db, err := Open(t.TempDir(), Options{})
	require.NoError(t, err)
	defer db.Close()
	bucket := []byte("test")
	require.NoError(t, db.bolt.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket(bucket); return err }))
	const n = 40
	runs := make([]int, n)
	group := make([]*commitCall, n)
	for i := range group {
		group[i] = &commitCall{ctx: context.Background(), done: make(chan error, 1), fn: func(tx *bolt.Tx) error {
			runs[i]++
			if err := tx.Bucket(bucket).Put([]byte(fmt.Sprint(i)), []byte("x")); err != nil {
				return err
			}
			if i%2 == 1 {
				return fmt.Errorf("call %d refuses", i)
			}
			return nil
		}}
	}
	db.commitGroup(group)
	for i, c := range group {
		err := <-c.done
		if i%2 == 1 {
			assert.Error(t, err)
			assert.Equal(t, 1, runs[i], "call %d", i)
		} else {
			assert.NoError(t, err)
			assert.LessOrEqual(t, runs[i], 2, "call %d ran %d times", i, runs[i])
		}
	}
	require.NoError(t, db.bolt.View(func(tx *bolt.Tx) error {
		for i := range n {
			assert.Equal(t, i%2 == 0, tx.Bucket(bucket).Get([]byte(fmt.Sprint(i))) != nil, "call %d", i)
		}
		return nil
	}))
}

// A write whose request was given up is not written: refused before it is
// queued, or skipped when its group runs.
func TestGroupCommit_GivenUpWritesAreNotRun(t *testing.T) {
	db, err := Open(t.TempDir(), Options{})
	require.NoError(t, err)
	defer db.Close()
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	err = db.update(gone, func(*bolt.Tx) error { ran = true; return nil })
	assert.ErrorIs(t, err, context.Canceled)
	assert.False(t, ran)

	// One write holds the loop; a second waits in the queue, and its
	// request goes away meanwhile.
	started, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- db.update(context.Background(), func(*bolt.Tx) error {
			close(started)
			<-release
			return nil
		})
	}()
	<-started
	waiting, cancelWaiting := context.WithCancel(context.Background())
	second := make(chan error, 1)
	go func() {
		second <- db.update(waiting, func(*bolt.Tx) error { ran = true; return nil })
	}()
	require.Eventually(t, func() bool {
		db.commits.mu.Lock()
		defer db.commits.mu.Unlock()
		return len(db.commits.queue) == 1
	}, 5*time.Second, time.Millisecond)
	cancelWaiting()
	close(release)
	assert.NoError(t, <-first)
	assert.ErrorIs(t, <-second, context.Canceled)
	assert.False(t, ran, "the given-up write did not run")
}
