package store

import (
	"context"
	"encoding/hex"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sync/errgroup"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/paths"
	"github.com/ferryhq/ferry/quota"
)

// acceptMessage accepts message id for receiver: everything is checked
// before anything changes, so an error leaves the transaction as it was.
// It returns MESSAGE_NOT_FOUND, MESSAGE_ALREADY_READ, QUOTA_EXCEEDED or
// FILE_NOT_FOUND (a blob is missing), and the blobs released. present
// says which blobs the blob store held before the transaction (see
// UpdateInbox); nil when the message is accepted in the transaction that
// sends it (accept_all), where the sender's files refer to every blob.
func (db *DB) acceptMessage(tx *bolt.Tx, receiverID, id uint64, limits quota.Limits, now time.Time, present map[sum]bool) ([]sum, error) {
	m, err := openMessage(tx, receiverID, id)
	if err != nil {
		return nil, err
	}
	usage := usageOf(tx, receiverID)
	if err := limits.CheckStorage(usage, m.Size); err != nil {
		return nil, err
	}
	if err := limits.CheckReceive(usage, now, m.Size); err != nil {
		return nil, err
	}
	items, err := messageItems(tx, id)
	if err != nil {
		return nil, err
	}
	if err := checkHeld(tx, id, &m, items); err != nil {
		return nil, err
	}
	for _, it := range items {
		if it.dir {
			continue
		}
		if present != nil && !present[it.sum] {
			return nil, ferry.Errorf(ferry.EFILENOTFOUND, "The content of %q is missing.", joinRel(m.Destination, it.path))
		}
	}
	if m.inbound() {
		// Copied in under its own name (copyInbound): its first
		// reference here names no staged object.
		for _, it := range items {
			if !it.dir && !hasRefs(tx, it.sum) {
				if err := recordBlobKey(tx, it.sum, ""); err != nil {
					return nil, err
				}
			}
		}
	}
	dest, err := paths.Parse(m.Destination)
	if err != nil {
		return nil, err
	}
	landed, err := db.placeItems(tx, receiverID, dest, m.Folder, items, now.UnixNano())
	if err != nil {
		return nil, err
	}
	m.Landed = paths.Join(landed)
	if err := addReceived(tx, receiverID, now, m.Size); err != nil {
		return nil, err
	}
	return closeWithItems(tx, id, &m, items, ferry.StatusAccepted, now)
}

// openMessage returns a message still waiting in receiver's inbox:
// MESSAGE_NOT_FOUND for an unknown id, another user's message or an expired
// one, MESSAGE_ALREADY_READ for one accepted or declined.
func openMessage(tx *bolt.Tx, receiverID, id uint64) (messageRecord, error) {
	m, ok, err := getMessage(tx, id)
	switch {
	case err != nil:
		return m, err
	case !ok || m.Receiver != receiverID || m.Status == ferry.StatusExpired:
		return m, ferry.Errorf(ferry.EMESSAGENOTFOUND, "No message %d in your inbox.", id)
	case m.Status != ferry.StatusPending:
		return m, ferry.Errorf(ferry.EMESSAGEREAD, "Message %d was %s already.", id, m.Status)
	}
	return m, nil
}

// UpdateInbox accepts or declines messages of receiver, in order, and
// returns one error per decision: nil, MESSAGE_NOT_FOUND,
// MESSAGE_ALREADY_READ, QUOTA_EXCEEDED or FILE_NOT_FOUND. Each is done
// whole or not at all; the second result is an error that stopped the
// rest (those before it stand).
func (db *DB) UpdateInbox(ctx context.Context, receiverID uint64, decisions []ferry.Decision) ([]error, error) {
	now := db.now()
	results := make([]error, len(decisions))
	var released []sum
	present, weights, inbound, err := db.acceptedBlobsPresent(ctx, receiverID, decisions)
	if err != nil {
		return nil, err
	}
	unlock, err := db.copyInbound(ctx, inbound, present)
	if err != nil {
		return nil, err
	}
	// Blobs released are removed once the locks copyInbound took are
	// given back.
	var later []sum
	defer func() {
		unlock()
		db.release(later)
	}()
	// Decisions go in order, in transactions of about reclaimBatch items
	// (a message is always decided whole, in one), so that accepting a
	// thousand large sends never holds the write for long. The last one
	// also queues the mails that tell the senders, one per sender for the
	// whole call: a decision made in it is never without its mail, even
	// after a crash. When it fails, the earlier ones' mails are queued on
	// their own, as those decisions stand.
	told := outcomes{}
	for start := 0; start < len(decisions); {
		end, items := start, 0
		for end < len(decisions) && (end == start || items+weights[end] <= reclaimBatch) {
			items += weights[end]
			end++
		}
		last := end == len(decisions)
		var decided outcomes
		err := db.update(ctx, func(tx *bolt.Tx) error {
			released, decided = released[:0], outcomes{}
			limits, err := db.limitsOf(tx, receiverID)
			if err != nil {
				return err
			}
			for i := start; i < end; i++ {
				rel, err := db.decide(ctx, tx, receiverID, decisions[i], limits, now, present)
				if code := ferry.ErrorCode(err); code == ferry.EUNKNOWN {
					return err
				}
				results[i] = err
				released = append(released, rel...)
				if err == nil {
					m, _, err := getMessage(tx, decisions[i].ID)
					if err != nil {
						return err
					}
					decided.add(tx, db, &m)
				}
			}
			if last {
				return db.queueDecisionMails(tx, told.and(decided))
			}
			return nil
		})
		if err != nil {
			db.tellSenders(told)
			return nil, err
		}
		told.merge(decided)
		later = append(later, released...)
		start = end
	}
	return results, nil
}

// acceptedBlobsPresent looks, before the write transaction, for the blob
// of the messages to be accepted, so that the transaction every writer
// waits for makes no file system or object store calls (a message of
// 10,000 files made 10,000 stats in it). A pending message pins its blobs
// and its items never change, so what is found here still holds in the
// transaction. It also returns each decision's weight (1 and the
// message's items), and the blobs of the inbound messages to be accepted
// with where each is in the sending node's objects, which it leaves to
// copyInbound: nothing pins them here. A blob store that does not answer
// is an error.
func (db *DB) acceptedBlobsPresent(ctx context.Context, receiverID uint64, decisions []ferry.Decision) (map[sum]bool, []int, map[sum]string, error) {
	weights := make([]int, len(decisions))
	var sums []sum
	inbound := map[sum]string{}
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		for i, d := range decisions {
			weights[i] = 1
			m, err := openMessage(tx, receiverID, d.ID)
			if err != nil {
				continue // the transaction answers it
			}
			weights[i] += m.Items
			if !d.Accept {
				continue
			}
			items, err := messageItems(tx, d.ID)
			if err != nil {
				continue
			}
			for _, it := range items {
				if it.dir {
					continue
				}
				if m.inbound() { // (looked for under its lock: copyInbound)
					inbound[it.sum] = m.RemoteObjects[hex.EncodeToString(it.sum[:])]
					continue
				}
				sums = append(sums, it.sum)
			}
		}
		return nil
	})
	present, err := db.blobsPresent(ctx, sums)
	return present, weights, inbound, err
}

// blobsPresent asks the blob store whether it holds each of hs, a few at
// a time (each ask to an object store is a round trip).
func (db *DB) blobsPresent(ctx context.Context, hs []sum) (map[sum]bool, error) {
	present := make(map[sum]bool, len(hs))
	seen := make(map[sum]bool, len(hs))
	var mu sync.Mutex
	var g errgroup.Group
	g.SetLimit(8)
	for _, h := range hs {
		if seen[h] {
			continue
		}
		seen[h] = true
		g.Go(func() error {
			ok, err := db.blobExists(ctx, h)
			mu.Lock()
			present[h] = ok
			mu.Unlock()
			return err
		})
	}
	return present, g.Wait()
}

// decide carries out one decision. A pending message past its expiry
// expires here and is MESSAGE_NOT_FOUND.
func (db *DB) decide(ctx context.Context, tx *bolt.Tx, receiverID uint64, d ferry.Decision, limits quota.Limits, now time.Time, present map[sum]bool) ([]sum, error) {
	m, err := openMessage(tx, receiverID, d.ID)
	if err != nil {
		return nil, err
	}
	if db.frozen(m.Sender) {
		return nil, ferry.ErrMoving // (its sender is being moved: decided in a moment)
	}
	if db.expired(&m, now) {
		rel, err := closeMessage(tx, d.ID, &m, ferry.StatusExpired, now)
		if err != nil {
			return nil, err
		}
		return rel, ferry.Errorf(ferry.EMESSAGENOTFOUND, "Message %d expired.", d.ID)
	}
	action, rel := ferry.ActionDecline, []sum(nil)
	if d.Accept {
		action = ferry.ActionAccept
		rel, err = db.acceptMessage(tx, receiverID, d.ID, limits, now, present)
	} else {
		rel, err = closeMessage(tx, d.ID, &m, ferry.StatusDeclined, now)
	}
	if err != nil {
		return nil, err // (a refused accept leaves the transaction as it was: no event)
	}
	return rel, db.record(tx, ctx, receiverID, action, m.Destination, map[string]any{"message": d.ID})
}

// Waiting counts the messages Inbox would list: pending and not past
// their expiry. It reads each message's record, not its users.
func (db *DB) Waiting(ctx context.Context, receiverID uint64) (int, error) {
	n := 0
	now := db.now()
	err := db.bolt.View(func(tx *bolt.Tx) error {
		for _, id := range idsOf(tx, bucketInbox, receiverID) {
			m, ok, err := getMessage(tx, id)
			if err != nil {
				return err
			}
			if ok && m.Status == ferry.StatusPending && !db.expired(&m, now) {
				n++
			}
		}
		return nil
	})
	return n, err
}

// Inbox returns the messages waiting for receiver, oldest first.
func (db *DB) Inbox(ctx context.Context, receiverID uint64) ([]ferry.Message, error) {
	return db.listMessages(bucketInbox, receiverID, true)
}
