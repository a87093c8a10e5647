package store

import (
	bolt "go.etcd.io/bbolt"

	"github.com/ferryhq/ferry"
)

// UpdateUsageForTest changes a user's usage record as it is, to break it
// for fsck's tests.
func (db *DB) UpdateUsageForTest(userID uint64, change func(*ferry.Usage)) (ferry.Usage, error) {
	var u ferry.Usage
	err := db.update(func(tx *bolt.Tx) error {
		u = usageOf(tx, userID)
		change(&u)
		return putUsage(tx, userID, u)
	})
	return u, err
}
