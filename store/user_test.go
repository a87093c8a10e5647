package store_test

import (
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
)

func TestTokens_SweepAndRevokeAll(t *testing.T) {
	c := &clock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	db, _ := openDB(t, c)
	u := newUser(t, db, "a@example.com")
	other := newUser(t, db, "b@example.com")
	old, err := db.CreateToken(ctx, u.ID)
	require.NoError(t, err)
	c.now = c.now.Add(10 * time.Minute)
	keep, err := db.CreateToken(ctx, u.ID)
	require.NoError(t, err)
	third, err := db.CreateToken(ctx, u.ID)
	require.NoError(t, err)
	others, err := db.CreateToken(ctx, other.ID)
	require.NoError(t, err)

	c.now = c.now.Add(6 * time.Minute) // old is 16 minutes idle, the rest 6
	n, err := db.DeleteExpiredTokens()
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	_, err = db.Authenticate(ctx, old)
	assert.Equal(t, ferry.ENOPERMISSION, ferry.ErrorCode(err))

	require.NoError(t, db.RevokeUserTokens(ctx, u.ID, keep))
	_, err = db.Authenticate(ctx, third)
	assert.Equal(t, ferry.ENOPERMISSION, ferry.ErrorCode(err))
	got, err := db.Authenticate(ctx, keep)
	require.NoError(t, err)
	assert.Equal(t, u.ID, got.ID)
	_, err = db.Authenticate(ctx, others)
	assert.NoError(t, err, "another user's tokens stay")

	n, err = db.DeleteExpiredTokens()
	require.NoError(t, err)
	assert.Equal(t, 0, n, "nothing else is expired")
}

func TestUsers_EmailIsUnique(t *testing.T) {
	db, _ := openDB(t, &clock{now: time.Now()})
	newUser(t, db, "Same@Example.com")
	_, err := db.CreateUser(ctx, ferry.NewUser{Email: " same@example.COM", Password: "password1"})
	assert.Equal(t, ferry.EEMAILEXISTS, ferry.ErrorCode(err))
	list, err := db.ListUsers()
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "same@example.com", list[0].Email)
}

// With the collector running lazily, as ferry serve runs it, the memory of
// a password hash goes back to the OS when the hash is done instead of
// staying in the heap until a collection that may be far off.
func TestPasswordHashMemoryIsReturned(t *testing.T) {
	old := debug.SetGCPercent(400)
	defer debug.SetGCPercent(old)
	db, _ := openDB(t, &clock{now: time.Now()})
	retained := func() uint64 { // heap mapped and not returned to the OS
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}, {Name: "/memory/classes/heap/free:bytes"}}
		metrics.Read(s)
		return s[0].Value.Uint64() + s[1].Value.Uint64() + s[2].Value.Uint64()
	}
	debug.FreeOSMemory()
	before := retained()
	newUser(t, db, "hash@example.com") // one argon2id hash of 7 MiB
	after := retained()
	t.Logf("heap retained: %.1f MiB before, %.1f MiB after", float64(before)/(1<<20), float64(after)/(1<<20))
	assert.Less(t, after, before+3<<20, "the hash's 7 MiB went back")
}
