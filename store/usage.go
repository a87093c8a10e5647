package store

import (
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/quota"
)

// Usage accounting: each user's usage record (what their files take, what
// they received this month, what their uploads in progress reserve, what
// their pending sends hold, and their WebDAV properties), read and written
// here alone, always in the transaction of the change it counts.

// usageRecordLen is the length of a usage record: normal, received, the
// start of the received period in Unix seconds, reserved, held and props,
// 8 bytes each. Records of schema 1 have the first three only.
const usageRecordLen = 48

// usageOf decodes a user's usage record. No record is no usage.
func usageOf(tx *bolt.Tx, id uint64) ferry.Usage {
	v := tx.Bucket(bucketUsage).Get(itob(id))
	if len(v) != 24 && len(v) != usageRecordLen {
		return ferry.Usage{}
	}
	u := ferry.Usage{
		Normal:        int64(binary.BigEndian.Uint64(v[0:])),
		Received:      int64(binary.BigEndian.Uint64(v[8:])),
		ReceivedSince: time.Unix(int64(binary.BigEndian.Uint64(v[16:])), 0).UTC(),
	}
	if len(v) == usageRecordLen {
		u.Reserved = int64(binary.BigEndian.Uint64(v[24:]))
		u.Held = int64(binary.BigEndian.Uint64(v[32:]))
		u.Props = int64(binary.BigEndian.Uint64(v[40:]))
	}
	return u
}

func putUsage(tx *bolt.Tx, id uint64, u ferry.Usage) error {
	v := make([]byte, usageRecordLen)
	binary.BigEndian.PutUint64(v[0:], uint64(u.Normal))
	binary.BigEndian.PutUint64(v[8:], uint64(u.Received))
	binary.BigEndian.PutUint64(v[16:], uint64(u.ReceivedSince.Unix()))
	binary.BigEndian.PutUint64(v[24:], uint64(u.Reserved))
	binary.BigEndian.PutUint64(v[32:], uint64(u.Held))
	binary.BigEndian.PutUint64(v[40:], uint64(u.Props))
	return tx.Bucket(bucketUsage).Put(itob(id), v)
}

// chargeStorage adds delta to the user's normal after checking it against
// limits, counting what else the user holds (Usage.Charged): the check and
// the write are in the caller's transaction, so no concurrent change can
// pass the quota.
func chargeStorage(tx *bolt.Tx, userID uint64, limits quota.Limits, delta int64) error {
	u := usageOf(tx, userID)
	if err := limits.CheckStorage(u, delta); err != nil {
		return err
	}
	u.Normal += delta
	return putUsage(tx, userID, u)
}

// charge adds delta to the user's normal under their quota in force
// (chargeStorage).
func (db *DB) charge(tx *bolt.Tx, userID uint64, delta int64) error {
	limits, err := db.limitsOf(tx, userID)
	if err != nil {
		return err
	}
	return chargeStorage(tx, userID, limits, delta)
}

// addHeld adds delta to the user's Held.
func addHeld(tx *bolt.Tx, userID uint64, delta int64) error {
	if delta == 0 {
		return nil
	}
	u := usageOf(tx, userID)
	u.Held += delta
	return putUsage(tx, userID, u)
}

// unreserve gives back n bytes of the user's Reserved.
func unreserve(tx *bolt.Tx, userID uint64, n int64) error {
	if n == 0 {
		return nil
	}
	u := usageOf(tx, userID)
	u.Reserved -= n
	return putUsage(tx, userID, u)
}

// chargeProps adds delta bytes to the user's WebDAV properties, or
// returns QUOTA_EXCEEDED when that would pass maxUserProps.
func chargeProps(tx *bolt.Tx, userID uint64, delta int64) error {
	if delta == 0 {
		return nil
	}
	u := usageOf(tx, userID)
	if delta > 0 && u.Props+delta > maxUserProps {
		return ferry.Errorf(ferry.EQUOTAEXCEEDED, "The WebDAV properties of your files would pass %d bytes in all.", maxUserProps)
	}
	u.Props += delta
	return putUsage(tx, userID, u)
}

// updateUsage applies change to the user's usage record; an error from
// change leaves it as it was.
func updateUsage(tx *bolt.Tx, userID uint64, change func(u *ferry.Usage) error) error {
	u := usageOf(tx, userID)
	if err := change(&u); err != nil {
		return err
	}
	return putUsage(tx, userID, u)
}

// addReceived counts an accepted send of size bytes to the receiver: in
// what their files take, and in what they received this month. The caller
// checked both quotas first, before anything of the accept was written.
func addReceived(tx *bolt.Tx, receiverID uint64, now time.Time, size int64) error {
	return updateUsage(tx, receiverID, func(u *ferry.Usage) error {
		u.Normal += size
		*u = quota.AddReceived(*u, now, size)
		return nil
	})
}

// reserve holds n bytes of the user's storage quota for an upload in
// progress (QUOTA_EXCEEDED when they do not fit).
func reserve(tx *bolt.Tx, userID uint64, limits quota.Limits, n int64) error {
	return updateUsage(tx, userID, func(u *ferry.Usage) error {
		if err := limits.CheckStorage(*u, n); err != nil {
			return err
		}
		u.Reserved += n
		return nil
	})
}

// uncharge takes n bytes off what the user's files take (a file or folder
// removed); no quota applies.
func uncharge(tx *bolt.Tx, userID uint64, n int64) error {
	return updateUsage(tx, userID, func(u *ferry.Usage) error {
		u.Normal -= n
		return nil
	})
}
