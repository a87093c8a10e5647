package store_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/store"
)

// An envelope applied twice (its node did not hear the first answer) is
// one message; declining it answers the sending node with a decision in
// the same transaction; a send for no account here is declined back; a
// withdrawal ends an inbound message without a decision back; and fsck
// agrees that an inbound message holds no blob here.
func TestApply_OnceAndAnswers(t *testing.T) {
	c := &clock{now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	db, err := store.Open(t.TempDir(), store.Options{Now: c.Now, Node: "b"})
	require.NoError(t, err)
	defer db.Close()
	bob := newUser(t, db, "bob@example.com")
	send := func(seq, id uint64, to string) store.Envelope {
		body, _ := json.Marshal(map[string]any{"id": id, "sender_name": "Alice", "sender_email": "alice@example.com", "to": to,
			"destination": "a.txt", "size": 3, "created": c.now.UnixNano(),
			"items": []map[string]any{{"size": 3, "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "object": "a/ba/ba78"}}})
		return store.Envelope{Seq: seq, From: "a", To: "b", Kind: store.KindSend, Body: body}
	}
	mailed := 0
	notice := func(*ferry.User, string, string, []string, int64) ferry.Mail {
		mailed++
		return ferry.Mail{To: "bob@example.com", Subject: "s"}
	}
	_, err = db.Apply(ctx, send(1, 7, "bob@example.com"), notice, nil)
	require.NoError(t, err)
	_, err = db.Apply(ctx, send(1, 7, "bob@example.com"), notice, nil)
	require.NoError(t, err)
	in, err := db.Inbox(ctx, bob.ID)
	require.NoError(t, err)
	require.Len(t, in, 1, "applied once")
	assert.Equal(t, "Alice", in[0].SenderName)
	assert.Equal(t, 1, mailed)
	out, err := db.Envelopes(10)
	require.NoError(t, err)
	assert.Empty(t, out)

	res, err := db.UpdateInbox(ctx, bob.ID, []ferry.Decision{{ID: in[0].ID}})
	require.NoError(t, err)
	require.NoError(t, res[0])
	out, err = db.Envelopes(10)
	require.NoError(t, err)
	require.Len(t, out, 1)
	assert.Equal(t, store.KindDecision, out[0].Kind)
	assert.Equal(t, "a", out[0].To)
	assert.JSONEq(t, `{"id":7,"status":"declined"}`, string(out[0].Body))
	require.NoError(t, db.EnvelopeDelivered(ctx, out[0].Seq))

	_, err = db.Apply(ctx, send(2, 8, "nobody@example.com"), notice, nil)
	require.NoError(t, err)
	out, err = db.Envelopes(10)
	require.NoError(t, err)
	require.Len(t, out, 1)
	assert.JSONEq(t, `{"id":8,"status":"declined"}`, string(out[0].Body), "no account here: declined back")
	require.NoError(t, db.EnvelopeDelivered(ctx, out[0].Seq))

	_, err = db.Apply(ctx, send(3, 9, "bob@example.com"), notice, nil)
	require.NoError(t, err)
	in, _ = db.Inbox(ctx, bob.ID)
	require.Len(t, in, 1)
	withdraw := store.Envelope{Seq: 4, From: "a", To: "b", Kind: store.KindWithdraw, Body: json.RawMessage(`{"id":9,"status":"expired"}`)} // a's id
	_, err = db.Apply(ctx, withdraw, notice, nil)
	require.NoError(t, err)
	in, _ = db.Inbox(ctx, bob.ID)
	assert.Empty(t, in, "withdrawn")
	out, _ = db.Envelopes(10)
	assert.Empty(t, out, "a withdrawal is not answered")
	problems, err := db.CheckTree()
	require.NoError(t, err)
	assert.Empty(t, problems)

	// Remembered a month, then forgotten.
	n, err := db.DeleteOldApplied()
	require.NoError(t, err)
	assert.Zero(t, n)
	c.now = c.now.Add(31 * 24 * time.Hour)
	n, err = db.DeleteOldApplied()
	require.NoError(t, err)
	assert.Equal(t, 4, n)
}
