package store_test

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/store"
)

// An account moved from node a to node b (with no files: the bucket's
// copies are api_test's): b makes it under its own id, with its password,
// sessions and passkeys, whose user handle stays a's id (the passkeys
// carry it); a keeps nothing of it but where it went: its old session
// names b (MovedSecret), envelopes for it go on (MovedUser), and a is
// fsck-clean. A frozen account's requests answer ErrMoving meanwhile.
func TestMove_ExportImportFinish(t *testing.T) {
	c := &clock{now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	a, err := store.Open(t.TempDir(), store.Options{Now: c.Now, Node: "a", TokenPrefix: "a."})
	require.NoError(t, err)
	defer a.Close()
	b, err := store.Open(t.TempDir(), store.Options{Now: c.Now, Node: "b", TokenPrefix: "b."})
	require.NoError(t, err)
	defer b.Close()
	newUser(t, b, "filler@example.com") // (b's ids are not a's)
	ann := newUser(t, a, "ann@example.com")
	token, err := a.CreateToken(ctx, ann.ID)
	require.NoError(t, err)
	require.NoError(t, a.AddPasskey(ctx, ann.ID, ferry.Passkey{ID: []byte("cred-1"), Name: "laptop", Created: c.now, Credential: []byte(`{}`)}))

	_, err = a.Freeze(ctx, "ann@example.com") // (thawed only by an undo: a moved account stays frozen)
	require.NoError(t, err)
	_, err = a.Authenticate(ctx, token)
	assert.ErrorIs(t, err, ferry.ErrMoving, "frozen: its requests wait")
	_, err = a.Freeze(ctx, "ann@example.com")
	assert.ErrorIs(t, err, ferry.ErrMoving, "one move at a time")
	mv, err := a.ExportUser("ann@example.com", "a", 7)
	require.NoError(t, err)
	require.NoError(t, a.BeginMoveOut(ctx, "ann@example.com", "b", 7))
	ids, err := b.ImportUser(ctx, mv, "b", true)
	require.NoError(t, err)
	assert.Empty(t, ids)
	require.NoError(t, a.MoveIDs(ctx, "ann@example.com", ids))
	require.NoError(t, a.FinishMoveOut(ctx, "ann@example.com"))
	_, err = a.Authenticate(ctx, token)
	assert.Equal(t, ferry.ENOPERMISSION, ferry.ErrorCode(err), "a knows her session no more")

	moved, err := b.Authenticate(ctx, token)
	require.NoError(t, err, "her session, on b")
	assert.NotEqual(t, ann.ID, moved.ID, "b's own id")
	assert.Equal(t, binary.BigEndian.AppendUint64(nil, ann.ID), moved.PasskeyID(), "her passkeys' handle")
	owner, _, err := b.PasskeyOwner(ctx, []byte("cred-1"))
	require.NoError(t, err)
	assert.Equal(t, moved.ID, owner.ID)
	_, err = b.CheckPassword(ctx, "ann@example.com", "password1")
	require.NoError(t, err)

	_, err = a.UserByEmail("ann@example.com")
	assert.Equal(t, ferry.EUSERNOTFOUND, ferry.ErrorCode(err), "a keeps nothing of her")
	assert.Equal(t, "b", a.MovedSecret(token), "but where her session went")
	assert.Equal(t, "b", a.MovedUser("ann@example.com"))
	assert.Empty(t, b.MovedSecret(token))
	report, err := a.Fsck(false)
	require.NoError(t, err)
	assert.Empty(t, report.Problems)
}
