package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
)

// A passkey's signature counter must move on at each sign-in (unless the
// authenticator keeps none): a counter that goes back is a copied
// authenticator, refused in the transaction that would record the use.
// An account's passkeys go with it.
func TestPasskeys_CounterAndLifecycle(t *testing.T) {
	c := &clock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	db, _ := openDB(t, c)
	u := newUser(t, db, "keys@example.com")
	other := newUser(t, db, "other@example.com")

	require.NoError(t, db.AddPasskey(ctx, u.ID, ferry.Passkey{ID: []byte("cred-1"), Name: " Laptop ", SignCount: 5, Credential: []byte(`{}`)}))
	assert.Equal(t, ferry.EBADREQUEST, ferry.ErrorCode(db.AddPasskey(ctx, other.ID, ferry.Passkey{ID: []byte("cred-1"), Name: "again"})), "one credential, one account")
	assert.Equal(t, ferry.EBADREQUEST, ferry.ErrorCode(db.AddPasskey(ctx, u.ID, ferry.Passkey{ID: []byte("cred-2"), Name: "  "})))
	c.now = c.now.Add(time.Second)
	require.NoError(t, db.AddPasskey(ctx, u.ID, ferry.Passkey{ID: []byte("cred-0"), Name: "Phone", Credential: []byte(`{}`)}))

	owner, p, err := db.PasskeyOwner(ctx, []byte("cred-1"))
	require.NoError(t, err)
	assert.Equal(t, u.ID, owner.ID)
	assert.Equal(t, "Laptop", p.Name)
	_, _, err = db.PasskeyOwner(ctx, []byte("nobody's"))
	assert.Equal(t, ferry.EAUTHFAILED, ferry.ErrorCode(err))

	c.now = c.now.Add(time.Minute)
	require.NoError(t, db.UsePasskey(ctx, u.ID, []byte("cred-1"), 6))
	assert.Equal(t, ferry.EAUTHFAILED, ferry.ErrorCode(db.UsePasskey(ctx, u.ID, []byte("cred-1"), 6)), "the same count again")
	assert.Equal(t, ferry.EAUTHFAILED, ferry.ErrorCode(db.UsePasskey(ctx, u.ID, []byte("cred-1"), 0)), "a counter that went back to 0")
	require.NoError(t, db.UsePasskey(ctx, u.ID, []byte("cred-0"), 0), "an authenticator without a counter")
	require.NoError(t, db.UsePasskey(ctx, u.ID, []byte("cred-0"), 0))

	list, err := db.Passkeys(ctx, u.ID)
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, "Laptop", list[0].Name, "oldest first")
	assert.Equal(t, uint32(6), list[0].SignCount)
	assert.Equal(t, c.now, list[0].LastUsed)

	assert.Equal(t, ferry.ENOTFOUND, ferry.ErrorCode(db.RemovePasskey(ctx, other.ID, []byte("cred-1"))), "another account's")
	require.NoError(t, db.RemovePasskey(ctx, u.ID, []byte("cred-1")))
	_, _, err = db.PasskeyOwner(ctx, []byte("cred-1"))
	assert.Equal(t, ferry.EAUTHFAILED, ferry.ErrorCode(err))

	require.NoError(t, db.DeleteUser(ctx, u.ID))
	_, _, err = db.PasskeyOwner(ctx, []byte("cred-0"))
	assert.Equal(t, ferry.EAUTHFAILED, ferry.ErrorCode(err), "gone with the account")
	require.NoError(t, db.AddPasskey(ctx, other.ID, ferry.Passkey{ID: []byte("cred-0"), Name: "reused", Credential: []byte(`{}`)}))
}
