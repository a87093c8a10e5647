package store

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// Content a snapshot read is pinned only while it still has a record: a
// send or copy whose content lost its last reference since starts again.
func TestRefStoredBlob(t *testing.T) {
	db, err := Open(t.TempDir(), Options{})
	require.NoError(t, err)
	defer db.Close()
	var h sum
	h[0] = 7
	require.NoError(t, db.bolt.Update(func(tx *bolt.Tx) error {
		assert.Equal(t, errSnapshotStale, refStoredBlob(tx, h, 3), "no record: stale")
		assert.Nil(t, tx.Bucket(bucketBlobs).Get(h[:]), "and none was made")
		require.NoError(t, refBlob(tx, h, 3))
		require.NoError(t, refStoredBlob(tx, h, 3))
		assert.Equal(t, uint64(2), binary.BigEndian.Uint64(tx.Bucket(bucketBlobs).Get(h[:])))
		return nil
	}))
}
