package store

import (
	"context"
	"encoding/hex"
	"errors"
	"os"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
)

// Virus scanning ([scan], docs/scanning.md). Content is scanned once,
// whole, after it is spooled and before the transaction that records it:
// what a file request's outsider puts, and with scan.all every upload (a
// send of content no scan has seen scans it then). Blobs are named by
// their content, so a verdict is kept per blob: scans holds it (clean, or
// the signature found), unscanned the blobs held while the scanner was
// away. A message that carries held content is in scan_held and cannot be
// accepted (SCAN_PENDING) until Rescan finds it clean; content a rescan
// finds infected is taken out of the messages that carry it. A blob's
// verdict goes with its last reference.

// scanVerdict is what scanning content before its commit came to.
type scanVerdict int

const (
	notScanned   scanVerdict = iota // nothing scans content of its kind
	scannedClean                    // scanned, and clean
	scanHeld                        // the scanner was away: held for a rescan
)

// Values of the scans bucket: clean, or infected and the signature.
const (
	scanClean    = 'c'
	scanInfected = 'i'
)

// scanning reports whether content of its kind is scanned: an outsider's
// always (when a scanner is set), anyone's with scan.all.
func (db *DB) scanning(outsider bool) bool {
	p := db.rules.scan
	return p.Scanner != nil && (outsider || p.All)
}

// scanSpooled scans spooled content before it is committed, unless a
// verdict on it is known. It answers INFECTED (naming the signature),
// PAYLOAD_TOO_LARGE for content over the scanner's limit, or
// SCAN_UNAVAILABLE when the scanner is away and content is not held; the
// caller then discards the spool.
func (db *DB) scanSpooled(ctx context.Context, sp spooled, outsider bool) (scanVerdict, string, error) {
	if !db.scanning(outsider) {
		return notScanned, "", nil
	}
	var known []byte
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		known = append(known, tx.Bucket(bucketScans).Get(sp.Sum[:])...)
		return nil
	})
	if len(known) > 0 {
		if known[0] == scanInfected {
			return 0, string(known[1:]), errInfected(string(known[1:]))
		}
		return scannedClean, "", nil
	}
	f, err := os.Open(sp.Path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	signature, err := db.rules.scan.Scanner.Scan(ctx, f)
	switch {
	case errors.Is(err, ferry.ErrScanTooLarge):
		return 0, "", ferry.Errorf(ferry.ETOOLARGE, "The file is larger than the virus scanner can check, so it cannot be taken.")
	case errors.Is(err, ferry.ErrScanUnavailable) && db.rules.scan.Hold:
		return scanHeld, "", nil
	case errors.Is(err, ferry.ErrScanUnavailable):
		return 0, "", ferry.Errorf(ferry.ESCANUNAVAILABLE, "The virus scanner is not answering, so no file can be taken now; try again in a minute.")
	case err != nil:
		return 0, "", err
	case signature != "":
		return 0, signature, errInfected(signature)
	}
	return scannedClean, "", nil
}

func errInfected(signature string) error {
	return ferry.Errorf(ferry.EINFECTED, "The virus scanner found %s in the file; it was not kept.", signature)
}

// discardSpool removes spooled content that will not be committed.
func (db *DB) discardSpool(sp spooled) {
	if !sp.Keep {
		os.Remove(sp.Path)
	}
	if sp.Key != "" {
		db.dropStaged(sp.Key)
	}
}

// recordInfected writes a scan_infected event in user's log, in a
// transaction of its own (the content was refused: nothing else changes).
func (db *DB) recordInfected(ctx context.Context, user uint64, name, signature string, h sum) {
	err := db.RecordEvent(ctx, user, ferry.ActionScanInfected, name, map[string]any{"signature": signature, "sha256": hex.EncodeToString(h[:])})
	if err != nil {
		db.log("recording an infected file", err)
	}
}

// markScan records, in the transaction that commits blob h, what its scan
// found.
func markScan(tx *bolt.Tx, h sum, v scanVerdict) error {
	switch v {
	case scannedClean:
		if err := tx.Bucket(bucketUnscanned).Delete(h[:]); err != nil {
			return err
		}
		return tx.Bucket(bucketScans).Put(h[:], []byte{scanClean})
	case scanHeld:
		if tx.Bucket(bucketScans).Get(h[:]) != nil {
			return nil // a scan found its verdict meanwhile
		}
		return tx.Bucket(bucketUnscanned).Put(h[:], nil)
	}
	return nil
}

// forgetScan drops blob h's verdict with its last reference.
func forgetScan(tx *bolt.Tx, h sum) error {
	if err := tx.Bucket(bucketScans).Delete(h[:]); err != nil {
		return err
	}
	return tx.Bucket(bucketUnscanned).Delete(h[:])
}

// scanState says of items whether any waits for a scan, and which were
// found infected (by content, with the signature).
func scanState(tx *bolt.Tx, items []item) (waiting bool, infected map[sum]string) {
	scans, unscanned := tx.Bucket(bucketScans), tx.Bucket(bucketUnscanned)
	for _, it := range items {
		if it.dir {
			continue
		}
		if unscanned.Get(it.sum[:]) != nil {
			waiting = true
		} else if v := scans.Get(it.sum[:]); len(v) > 0 && v[0] == scanInfected {
			if infected == nil {
				infected = map[sum]string{}
			}
			infected[it.sum] = string(v[1:])
		}
	}
	return waiting, infected
}

// holdMessage marks a new message that carries content waiting for a
// scan, or found infected while it waited in a delivery.
func (db *DB) holdMessage(tx *bolt.Tx, id uint64, m *messageRecord, items []item) error {
	if db.rules.scan.Scanner == nil {
		return nil // nothing scans: nothing is held
	}
	if waiting, infected := scanState(tx, items); !waiting && infected == nil {
		return nil // (infected content a rescan found: settleHeld takes it out)
	}
	m.Held = true
	if err := putMessage(tx, id, m); err != nil {
		return err
	}
	return tx.Bucket(bucketScanHeld).Put(itob(id), nil)
}

// checkHeld is the accept's check of a held message: SCAN_PENDING while
// content it carries waits for a scan (or a rescan's verdict is still to
// be applied to it). A message found clean is held no more.
func checkHeld(tx *bolt.Tx, id uint64, m *messageRecord, items []item) error {
	if !m.Held {
		return nil
	}
	if waiting, infected := scanState(tx, items); waiting || infected != nil {
		return ferry.Errorf(ferry.ESCANPENDING, "Message %d waits for the virus scanner; it can be accepted once its files are found clean.", id)
	}
	m.Held = false
	if err := putMessage(tx, id, m); err != nil {
		return err
	}
	return tx.Bucket(bucketScanHeld).Delete(itob(id))
}

// rescanBatch is how many held blobs one Rescan scans at most.
const rescanBatch = 100

// Rescan scans content held while the scanner was away, up to a batch,
// then settles the held messages whose content has its verdicts: clean
// ones can be accepted, infected files are taken out (a message left with
// none is declined), with a scan_infected event for each receiver. It
// stops at the first scan the scanner cannot do, and returns how many
// blobs it scanned.
func (db *DB) Rescan(ctx context.Context) (int, error) {
	if db.rules.scan.Scanner == nil {
		return 0, nil
	}
	type held struct {
		h    sum
		size int64
	}
	var list []held
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		c, blobs := tx.Bucket(bucketUnscanned).Cursor(), tx.Bucket(bucketBlobs)
		for k, _ := c.First(); k != nil && len(list) < rescanBatch; k, _ = c.Next() {
			list = append(list, held{sum(k), blobSize(blobs.Get(k))})
		}
		return nil
	})
	n := 0
	for _, b := range list {
		v, err := db.rescanBlob(ctx, b.h, b.size)
		if errors.Is(err, ferry.ErrScanUnavailable) {
			break
		} else if err != nil {
			db.log("scanning held content", err) // (the blob store, say): the others go on
			continue
		}
		n++
		err = db.update(ctx, func(tx *bolt.Tx) error {
			if tx.Bucket(bucketUnscanned).Get(b.h[:]) == nil {
				return nil // released meanwhile
			}
			if err := tx.Bucket(bucketUnscanned).Delete(b.h[:]); err != nil {
				return err
			}
			return tx.Bucket(bucketScans).Put(b.h[:], v)
		})
		if err != nil {
			return n, err
		}
	}
	return n, db.settleHeld(ctx)
}

// rescanBlob scans stored blob h and returns its scans value. Content over
// the scanner's limit is never taken as clean: it counts as infected.
func (db *DB) rescanBlob(ctx context.Context, h sum, size int64) ([]byte, error) {
	ref, err := db.blobRefOf(h)
	if err != nil {
		return nil, err
	}
	f, err := db.blobs.store.Open(ctx, ref, size)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	signature, err := db.rules.scan.Scanner.Scan(ctx, f)
	switch {
	case errors.Is(err, ferry.ErrScanTooLarge):
		signature = "content too large for the virus scanner"
	case err != nil:
		return nil, err
	case signature == "":
		return []byte{scanClean}, nil
	}
	return append([]byte{scanInfected}, signature...), nil
}

// settleHeld applies the verdicts found to the held messages that have
// all of theirs.
func (db *DB) settleHeld(ctx context.Context) error {
	var ids []uint64
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketScanHeld).ForEach(func(k, _ []byte) error {
			ids = append(ids, btoi(k))
			return nil
		})
	})
	for _, id := range ids {
		var released []sum
		err := db.update(ctx, func(tx *bolt.Tx) error {
			released = released[:0]
			m, ok, err := getMessage(tx, id)
			if err != nil {
				return err
			}
			if !ok || !m.waiting() {
				return tx.Bucket(bucketScanHeld).Delete(itob(id))
			}
			items, err := messageItems(tx, id)
			if err != nil {
				return err
			}
			waiting, infected := scanState(tx, items)
			if waiting {
				return nil
			}
			if infected != nil {
				if released, err = db.dropInfected(tx, ctx, id, &m, items, infected); err != nil {
					return err
				}
			}
			m.Held = false
			if m.waiting() {
				if err := putMessage(tx, id, &m); err != nil {
					return err
				}
				if err := db.sendHeld(tx, id, &m); err != nil {
					return err
				}
			}
			return tx.Bucket(bucketScanHeld).Delete(itob(id))
		})
		if err != nil {
			return err
		}
		db.release(released)
	}
	return nil
}

// sendHeld sends on, to its receiver's node, a send to another node's
// user that waited here for the scanner (SendRemote), now that its
// content is found clean (what was infected taken out).
func (db *DB) sendHeld(tx *bolt.Tx, id uint64, m *messageRecord) error {
	if m.RemoteNode == "" || m.Receiver != 0 || m.Mirror {
		return nil // (not a send to another node's user)
	}
	items, err := messageItems(tx, id)
	if err != nil {
		return err
	}
	name, email := m.OutsiderName, m.OutsiderEmail // (its sender moved away: move.go)
	if m.Sender != 0 {
		sender, err := db.findUserByID(tx, m.Sender)
		if err != nil {
			return err
		}
		name, email = sender.FullName, sender.Email
	}
	return db.queueSend(tx, string(tx.Bucket(bucketMeta).Get(keyNode)), id, m, items, name, email)
}

// dropInfected takes the infected files out of waiting message id, with
// a scan_infected event for each; a message left
// without a file is declined. It returns the blobs released.
func (db *DB) dropInfected(tx *bolt.Tx, ctx context.Context, id uint64, m *messageRecord, items []item, infected map[sum]string) ([]sum, error) {
	ctx = ferry.WithActor(ctx, ferry.Actor{Email: ferry.ActorFerry})
	var kept, bad []item
	files := 0
	for _, it := range items {
		if _, found := infected[it.sum]; found && !it.dir {
			bad = append(bad, it)
			continue
		}
		kept = append(kept, it)
		if !it.dir {
			files++
		}
	}
	owner := m.Receiver // whose log tells: the receiver's, or the sender's while it waits for an invitee
	if owner == 0 {
		owner = m.Sender
	}
	for _, it := range bad {
		if err := db.record(tx, ctx, owner, ferry.ActionScanInfected, joinRel(m.Destination, it.path),
			map[string]any{"signature": infected[it.sum], "sha256": hex.EncodeToString(it.sum[:]), "message": id}); err != nil {
			return nil, err
		}
	}
	if files == 0 {
		// Nothing clean is left: the message ends, and its pins with it.
		return closeWithItems(tx, id, m, items, ferry.StatusDeclined, db.now())
	}
	var released []sum
	for _, it := range bad {
		last, err := unrefBlob(tx, it.sum)
		if err != nil {
			return nil, err
		}
		if last {
			released = append(released, it.sum)
		}
		if m.Sender != 0 {
			if err := unpinSend(tx, m.Sender, it.sum); err != nil {
				return nil, err
			}
		}
		m.Size -= it.size
	}
	m.Items = len(kept)
	return released, writeMessage(tx, id, m, encodeItems(kept))
}

// scanSent scans, for a send under scan.all, the stored content of the
// messages that no scan has seen yet (a file stored before scanning was
// on): the send is refused with INFECTED (and the content's verdict kept),
// PAYLOAD_TOO_LARGE or SCAN_UNAVAILABLE. It returns the content to hold
// for a rescan.
func (db *DB) scanSent(ctx context.Context, senderID uint64, msgs []pendingMessage) ([]sum, error) {
	if !db.scanning(false) {
		return nil, nil
	}
	type unseen struct {
		size int64
		path string
	}
	todo := map[sum]unseen{}
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		scans, unscanned := tx.Bucket(bucketScans), tx.Bucket(bucketUnscanned)
		for _, m := range msgs {
			for _, it := range m.items {
				if !it.dir && scans.Get(it.sum[:]) == nil && unscanned.Get(it.sum[:]) == nil {
					todo[it.sum] = unseen{it.size, joinRel(m.rec.Destination, it.path)}
				}
			}
		}
		return nil
	})
	var hold []sum
	for h, u := range todo {
		v, err := db.rescanBlob(ctx, h, u.size)
		switch {
		case errors.Is(err, ferry.ErrScanUnavailable) && db.rules.scan.Hold:
			hold = append(hold, h)
			continue
		case errors.Is(err, ferry.ErrScanUnavailable):
			return nil, ferry.Errorf(ferry.ESCANUNAVAILABLE, "The virus scanner is not answering, so nothing can be sent now; try again in a minute.")
		case err != nil:
			return nil, err
		}
		err = db.update(ctx, func(tx *bolt.Tx) error {
			if tx.Bucket(bucketBlobs).Get(h[:]) == nil {
				return nil // released meanwhile: the send finds it gone
			}
			return tx.Bucket(bucketScans).Put(h[:], v)
		})
		if err != nil {
			return nil, err
		}
		if v[0] == scanInfected {
			db.recordInfected(ctx, senderID, u.path, string(v[1:]), h)
			return nil, ferry.Errorf(ferry.EINFECTED, "The virus scanner found %s in %q, so nothing was sent.", v[1:], u.path)
		}
	}
	return hold, nil
}
