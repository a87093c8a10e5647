package store

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Group commit: every write of the store goes through update, which runs
// the function in the next write transaction. A writer that finds no
// commit under way commits at once, alone; writers that arrive while one
// is under way wait and go together in the next, so concurrent writes
// share their fsyncs without a lone write waiting for company (as
// bolt.Batch's delay would make it).
//
// A function that fails rolls its group back and gets its error; the
// functions before it commit on their own, those after it go on together
// (commitGroup). Functions may therefore run more than once and must not
// keep state from an earlier run (each resets what it fills in).

type commitCall struct {
	ctx  context.Context
	fn   func(*bolt.Tx) error
	done chan error
}

type committer struct {
	mu      sync.Mutex
	queue   []*commitCall
	running bool
	commits uint64 // transactions committed or rolled back, for tests and metrics
	// gen is raised after every write transaction, before anyone hears of
	// it: what was read before may no longer be used (token.go's cache).
	gen atomic.Uint64
	// slowest is the longest any one call ran inside a transaction since
	// SlowestWrite last read it: what one request cost every other writer.
	slowest time.Duration
}

// SlowestWrite returns the longest time one write spent inside a write
// transaction (not counting the commit) since the last call, and starts
// over.
func (db *DB) SlowestWrite() time.Duration {
	g := &db.commits
	g.mu.Lock()
	defer g.mu.Unlock()
	d := g.slowest
	g.slowest = 0
	return d
}

// update runs fn in a write transaction, with whatever other writes are
// waiting, and returns fn's error or the commit's.
func (db *DB) update(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err // the request was given up before its write was queued
	}
	c := &commitCall{ctx: ctx, fn: fn, done: make(chan error, 1)}
	g := &db.commits
	g.mu.Lock()
	g.queue = append(g.queue, c)
	if !g.running {
		g.running = true
		go db.commitLoop()
	}
	g.mu.Unlock()
	return <-c.done
}

// commitLoop commits the queue, group after group, until it is empty.
func (db *DB) commitLoop() {
	g := &db.commits
	for {
		g.mu.Lock()
		group := g.queue
		g.queue = nil
		if len(group) == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		db.commitGroup(group)
	}
}

// appendBuckets are the buckets whose new keys come after all others (ids
// from NextSequence, times): bbolt splits a full page in half by default,
// which for them leaves every page half empty and makes each commit write
// about twice the pages (bbolt's FillPercent documentation says as much).
var appendBuckets = [][]byte{bucketNodes, bucketMessages, bucketPending, bucketMail, bucketMailDue, bucketClosed}

// appendFill leaves a tenth of each page for records that grow in place
// (a message's status, a node's size).
const appendFill = 0.9

// packAppends sets appendFill on tx's append buckets. bbolt keeps the
// setting only for the transaction; tx.Bucket returns the same *Bucket
// for the rest of it.
func packAppends(tx *bolt.Tx) {
	for _, name := range appendBuckets {
		if b := tx.Bucket(name); b != nil {
			b.FillPercent = appendFill
		}
	}
}

// commitGroup runs the calls in one transaction. When one fails, it alone
// gets its error; the calls before it run again in a transaction of their
// own, which commits, and the calls after it go on in the next. So however
// many calls of a group fail, every other call runs at most twice: a
// client that sends many failing writes costs the others no more than it
// would with as many successful ones.
//
// A call whose context is done by the time its group runs is not run: it
// gets the context's error (a request whose client went away is not
// written).
func (db *DB) commitGroup(group []*commitCall) {
	for len(group) > 0 {
		group = dropGivenUp(group)
		if len(group) == 0 {
			return
		}
		failed, failure, err := db.runGroup(group)
		if failed < 0 {
			for _, c := range group {
				c.done <- err // nil, or the commit's own error for all
			}
			return
		}
		group[failed].done <- failure
		if failed > 0 {
			// They ran without error before the failure; if one fails now
			// (what it read changed), it is split off the same way.
			db.commitGroup(group[:failed])
		}
		group = group[failed+1:]
	}
}

// runGroup runs the calls in one write transaction and commits it, unless
// one fails: then it rolls back and returns that call's index and error.
func (db *DB) runGroup(group []*commitCall) (failed int, failure, err error) {
	failed = -1
	db.commits.mu.Lock()
	db.commits.commits++
	db.commits.mu.Unlock()
	var slowest time.Duration
	began := time.Now()
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		packAppends(tx)
		for i, c := range group {
			start := time.Now()
			err := c.fn(tx)
			slowest = max(slowest, time.Since(start))
			if err != nil {
				failed, failure = i, err
				return err
			}
		}
		return nil
	})
	db.commits.mu.Lock()
	db.commits.slowest = max(db.commits.slowest, slowest)
	db.commits.mu.Unlock()
	if db.observeCommit != nil {
		db.observeCommit(len(group), time.Since(began))
	}
	// Before anyone hears of the change: what was read before it may no
	// longer be used (authCache).
	db.commits.gen.Add(1)
	return failed, failure, err
}

// dropGivenUp answers the calls whose context is done with its error, and
// returns the others.
func dropGivenUp(group []*commitCall) []*commitCall {
	live := make([]*commitCall, 0, len(group))
	for _, c := range group {
		if err := c.ctx.Err(); err != nil {
			c.done <- err
			continue
		}
		live = append(live, c)
	}
	return live
}
