package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
)

// The audit log (ferry.Event): the audit bucket keeps each event under its
// id, which grows with time. An account's events are a chain: user_audit
// holds the id of its newest, and each event the id of the one before it
// in the log of each account it is in. One small entry an account, rather
// than an index entry an event, so that a group commit in which many
// accounts act dirties a page or two of it, not a page each (send +
// accept, bench row 7). record writes an event in the transaction of the
// change it records, so that a change is never without its event, nor an
// event without its change.

// eventRecord is an event as the audit bucket keeps it.
type eventRecord struct {
	Time   time.Time      `json:"t"`
	User   uint64         `json:"u"`
	Action string         `json:"a"`
	Actor  string         `json:"by"`
	IP     string         `json:"ip,omitempty"`
	Target string         `json:"on,omitempty"`
	Detail map[string]any `json:"d,omitempty"`
	Also   []uint64       `json:"also,omitempty"` // the other accounts whose logs it is in
	// Prev is the event before it in each account's log, in the order
	// User, then Also (0: none).
	Prev []uint64 `json:"p,omitempty"`
}

// prevFor is the event before this one in user's log, and whether this
// event is in it at all.
func (r eventRecord) prevFor(user uint64) (uint64, bool) {
	for i, u := range append([]uint64{r.User}, r.Also...) {
		if u == user {
			if i < len(r.Prev) {
				return r.Prev[i], true
			}
			return 0, true
		}
	}
	return 0, false
}

func (r eventRecord) event(id uint64) ferry.Event {
	return ferry.Event{ID: id, Time: r.Time, User: r.User, Action: r.Action, Actor: r.Actor, IP: r.IP, Target: r.Target, Detail: r.Detail}
}

// record writes an event of the account user, by ctx's actor, in tx; it
// is in the logs of the accounts also too (one event, indexed for each:
// a send is the sender's and the receiver's).
func (db *DB) record(tx *bolt.Tx, ctx context.Context, user uint64, action, target string, detail map[string]any, also ...uint64) error {
	actor := ferry.ActorOf(ctx)
	rec := eventRecord{Time: db.now().UTC(), User: user, Action: action, Actor: actor.Email, IP: actor.IP, Target: target, Detail: detail, Also: also}
	b := tx.Bucket(bucketAudit)
	id, err := b.NextSequence()
	if err != nil {
		return err
	}
	heads := tx.Bucket(bucketUserAudit)
	for _, u := range append([]uint64{user}, also...) {
		var prev uint64
		if v := heads.Get(itob(u)); len(v) == 8 {
			prev = btoi(v)
		}
		rec.Prev = append(rec.Prev, prev)
		if err := heads.Put(itob(u), itob(id)); err != nil {
			return err
		}
	}
	v, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return b.Put(itob(id), v)
}

// RecordEvent writes an event that records no change of its own (a
// failed sign-in), in a transaction of its own.
func (db *DB) RecordEvent(ctx context.Context, user uint64, action, target string, detail map[string]any) error {
	return db.update(ctx, func(tx *bolt.Tx) error {
		return db.record(tx, ctx, user, action, target, detail)
	})
}

// LoginFailed records a failed sign-in for email's account, if it has one.
func (db *DB) LoginFailed(ctx context.Context, email string) error {
	u, err := db.UserByEmail(email)
	if err != nil {
		return nil // no account: nothing's log to write in
	}
	return db.RecordEvent(ctx, u.ID, ferry.ActionLoginFailed, u.Email, nil)
}

// Activity lists events newest first, as f selects them.
func (db *DB) Activity(ctx context.Context, f ferry.AuditFilter) ([]ferry.Event, error) {
	var list []ferry.Event
	err := db.eachEvent(f, func(e ferry.Event) bool {
		list = append(list, e)
		return f.Limit <= 0 || len(list) < f.Limit
	})
	return list, err
}

// eachEvent calls each with the events f selects, newest first, until it
// returns false.
func (db *DB) eachEvent(f ferry.AuditFilter, each func(ferry.Event) bool) error {
	return db.bolt.View(func(tx *bolt.Tx) error {
		events := tx.Bucket(bucketAudit)
		take := func(id uint64, v []byte) (bool, error) {
			var rec eventRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return false, err
			}
			if !f.Until.IsZero() && !rec.Time.Before(f.Until) {
				return true, nil
			}
			if !f.Since.IsZero() && rec.Time.Before(f.Since) {
				return false, nil // older ones still: done
			}
			if f.Action != "" && rec.Action != f.Action {
				return true, nil
			}
			return each(rec.event(id)), nil
		}
		if f.User != 0 {
			// The account's chain, from its newest event; an event the
			// sweep took ends it.
			var id uint64
			if v := tx.Bucket(bucketUserAudit).Get(itob(f.User)); len(v) == 8 {
				id = btoi(v)
			}
			// A page that goes on from an event of the account's own log
			// starts at the one before it, without walking the newer ones.
			if v := events.Get(itob(f.Before)); f.Before != 0 && v != nil {
				var rec eventRecord
				if json.Unmarshal(v, &rec) == nil {
					if prev, in := rec.prevFor(f.User); in {
						id = prev
					}
				}
			}
			for id != 0 {
				v := events.Get(itob(id))
				if v == nil {
					return nil
				}
				var rec eventRecord
				if err := json.Unmarshal(v, &rec); err != nil {
					return err
				}
				prev, in := rec.prevFor(f.User)
				if !in {
					return nil // a chain that lost its way: end it, never loop
				}
				if f.Before == 0 || id < f.Before {
					if ok, err := take(id, v); err != nil || !ok {
						return err
					}
				}
				id = prev
			}
			return nil
		}
		c := events.Cursor()
		var k, v []byte
		if f.Before == 0 {
			k, v = c.Last()
		} else if k, _ = c.Seek(itob(f.Before)); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil; k, v = c.Prev() {
			if ok, err := take(binary.BigEndian.Uint64(k), v); err != nil || !ok {
				return err
			}
		}
		return nil
	})
}

// ExportAudit calls each with the events f selects, oldest first.
func (db *DB) ExportAudit(ctx context.Context, f ferry.AuditFilter, each func(ferry.Event) error) error {
	var list []ferry.Event
	if err := db.eachEvent(ferry.AuditFilter{User: f.User, Action: f.Action, Since: f.Since, Until: f.Until}, func(e ferry.Event) bool {
		list = append(list, e)
		return true
	}); err != nil {
		return err
	}
	for i := len(list) - 1; i >= 0; i-- {
		if err := each(list[i]); err != nil {
			return err
		}
	}
	return nil
}

// auditSweepStep bounds the events one transaction of the sweep deletes.
const auditSweepStep = 1000

// DeleteOldEvents deletes the events older than the audit log keeps them
// (Options.KeepAudit), the oldest first, auditSweepStep at a time, and
// returns how many.
func (db *DB) DeleteOldEvents() (int, error) {
	cutoff := db.now().Add(-db.rules.keepAudit)
	// With none due it writes nothing: the oldest event says.
	due := false
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		_, v := tx.Bucket(bucketAudit).Cursor().First()
		var rec eventRecord
		due = v != nil && json.Unmarshal(v, &rec) == nil && rec.Time.Before(cutoff)
		return nil
	}); err != nil || !due {
		return 0, err
	}
	removed := 0
	for {
		n := 0
		err := db.update(context.Background(), func(tx *bolt.Tx) error {
			n = 0
			events := tx.Bucket(bucketAudit)
			c := events.Cursor()
			var gone [][]uint64 // id, then every user whose log it is in
			for k, v := c.First(); k != nil && len(gone) < auditSweepStep; k, v = c.Next() {
				var rec eventRecord
				if err := json.Unmarshal(v, &rec); err != nil {
					return err
				}
				if !rec.Time.Before(cutoff) {
					break
				}
				gone = append(gone, append([]uint64{binary.BigEndian.Uint64(k), rec.User}, rec.Also...))
			}
			heads := tx.Bucket(bucketUserAudit)
			for _, g := range gone {
				if err := events.Delete(itob(g[0])); err != nil {
					return err
				}
				// An account whose newest event goes has no log left.
				for _, u := range g[1:] {
					if v := heads.Get(itob(u)); len(v) == 8 && btoi(v) == g[0] {
						if err := heads.Delete(itob(u)); err != nil {
							return err
						}
					}
				}
			}
			n = len(gone)
			return nil
		})
		removed += n
		if err != nil || n < auditSweepStep {
			return removed, err
		}
	}
}
