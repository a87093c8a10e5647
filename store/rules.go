package store

import (
	"context"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/quota"
)

// rules are the limits the store applies, from its Options: every quota
// check reads the user as stored, inside the transaction that changes
// what it counts.
type rules struct {
	packages   quota.Packages
	maxFile    int64 // 0: none
	send       ferry.SendLimits
	invite     ferry.InviteLimits
	sendExpire time.Duration // a pending send's life
	// keepHistory is how long a closed send is kept; negative: for ever.
	keepHistory time.Duration
	// keepAudit is how long an event of the audit log is kept.
	keepAudit time.Duration
	scan      ferry.ScanPolicy
}

// fileLimit is the largest file allowed, -1 for no limit.
func (r *rules) fileLimit() int64 {
	if r.maxFile == 0 {
		return -1
	}
	return r.maxFile
}

// limitsOf returns the quotas in force for the user with that id.
func (db *DB) limitsOf(tx *bolt.Tx, userID uint64) (quota.Limits, error) {
	u, err := db.findUserByID(tx, userID)
	if err != nil {
		return quota.Limits{}, err
	}
	return db.rules.packages.For(u), nil
}

// Quota returns the user's limits in force (0: unlimited) and usage.
func (db *DB) Quota(ctx context.Context, userID uint64) (ferry.Quota, error) {
	var q ferry.Quota
	err := db.bolt.View(func(tx *bolt.Tx) error {
		limits, err := db.limitsOf(tx, userID)
		if err != nil {
			return err
		}
		u := usageOf(tx, userID)
		q = ferry.Quota{Storage: limits.Storage, ReceivePerMonth: limits.ReceivePerMonth, Usage: u,
			Received: quota.ReceivedThisMonth(u, db.now())}
		return nil
	})
	return q, err
}
