package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/app"
	"github.com/ferryhq/ferry/ferrytest"
)

// Issue 17's send with invitation through the API: the send waits for
// the account (outbox: invited) and one mail names the sender, the
// items, their size and the expiry, with the signup link; signing up with
// the code brings the sends into the inbox. Unclaimed, a send expires and
// gives back what it pinned. invite=0 is still 400; the daily limit is
// 429; closed signup is 403.
func TestSend_WithInvitation(t *testing.T) { sendWithInvitation(t, oneNode) }

// sendWithInvitation: across nodes, the invitation and its sends wait on
// the inviter's node (a), whose code its signup through c goes to.
func sendWithInvitation(t *testing.T, on topologyOf) {
	peer := ferrytest.StartSMTP(t)
	tp := on(t, peer.Configure, longTokens, func(c *app.Config) {
		c.Auth.Signup = "invite"
		c.Invite.PerDay = 2
	})
	ts := tp.a // (the inviter's: its clock, its blobs, its links)
	alice := tp.user(tp.a, "alice@example.com", "Alice")
	alice.mustPut("trip/photo.jpg", make([]byte, 1500))
	alice.mustPut("notes.txt", []byte("notes"))
	sendTo := func(to string, invite string) *response {
		return alice.postForm("/ops/send", url.Values{"to": {to}, "invite": {invite},
			"source": {`[{"path":"trip","files":[],"folder":true},{"path":"","files":["notes.txt"]}]`}})
	}
	sendTo("new@example.com", "0").requireError(400, ferry.EBADREQUEST)
	sendTo("new@example.com", "maybe").requireError(400, ferry.EBADREQUEST)
	var sent struct{ Messages []uint64 }
	sendTo("New@Example.com", "1").requireStatus(http.StatusOK).decode(&sent)
	require.Len(t, sent.Messages, 2)
	out := alice.outbox()
	require.Len(t, out, 2)
	for _, m := range out {
		assert.Equal(t, "invited", m.Status)
		assert.Equal(t, "new@example.com", m.To)
	}

	mails := peer.WaitMails(1)
	time.Sleep(100 * time.Millisecond)
	require.Len(t, peer.Received(), 1, "one mail: the invitation carries the send")
	assert.Equal(t, []string{"new@example.com"}, mails[0].To)
	m := mails[0].Parse(t)
	assert.Equal(t, "Alice sent you 2 items on ferry", m.Subject(t))
	assert.Contains(t, m.Body, "Alice (alice@example.com) sent you 2 items (1.5 KB)")
	assert.Contains(t, m.Body, "  trip\r\n")
	assert.Contains(t, m.Body, "  notes.txt\r\n")
	assert.Contains(t, m.Body, ts.Clock.Now().Add(30*24*time.Hour).UTC().Format("2 January 2006, 15:04 UTC"))
	code := m.SignupCode(t)
	assert.Equal(t, []string{ts.Root + "/signup?invite=" + code}, m.Links())

	// Signing up with the code brings the sends.
	tp.c.client().postForm("/auth/register", url.Values{"email": {"new@example.com"}, "password": {password}, "invite": {code}}).requireStatus(http.StatusOK)
	newcomer := tp.c.login("new@example.com", password)
	inbox := newcomer.inbox()
	require.Len(t, inbox, 2)
	assert.Equal(t, []string{"pending", "pending"}, alice.outboxStatuses())
	newcomer.decide(fmt.Sprintf(`[{"id":%d,"accept":"YES"}]`, inbox[0].ID)).requireStatus(http.StatusOK)
	assert.Equal(t, []string{"accepted", "pending"}, alice.outboxStatuses())

	// Unclaimed: it expires and gives back what it pinned.
	alice.mustPut("gone.bin", []byte("only the send keeps this"))
	alice.postForm("/ops/send", url.Values{"to": {"late@example.com"}, "invite": {"1"}, "source": {`[{"path":"","files":["gone.bin"]}]`}}).requireStatus(http.StatusOK)
	alice.postForm("/ops/delete", url.Values{"file[]": {"gone.bin"}}).requireStatus(http.StatusOK)
	before := ts.blobFiles()
	r := alice.postForm("/ops/send", url.Values{"to": {"third@example.com"}, "invite": {"1"}, "source": {`[{"path":"","files":["notes.txt"]}]`}})
	r.requireError(http.StatusTooManyRequests, ferry.ETOOMANYREQUESTS)
	assert.NotEmpty(t, r.Header.Get("Retry-After"))
	ts.Clock.Advance(30 * 24 * time.Hour)
	require.Eventually(t, func() bool { return ts.blobFiles() == before-1 }, 10*time.Second, 20*time.Millisecond, "the sweep releases the unclaimed send's content")
	assert.Equal(t, "expired", alice.outbox()[2].Status)

	// With signup closed, there is no inviting.
	if tp.cluster {
		return // (the same on a node: the config's)
	}
	closed := startServer(t)
	c := closed.newUser("carl@example.com")
	c.mustPut("x.txt", []byte("x"))
	c.postForm("/ops/send", url.Values{"to": {"nobody@example.com"}, "invite": {"1"}, "source": {`[{"path":"","files":["x.txt"]}]`}}).requireError(403, ferry.ENOPERMISSION)
}

// With signup open, the invitation's code still carries its sends: an
// account made with it, under any email, receives them, and the sender's
// outbox then names that account. A used code is refused, not ignored.
func TestSend_InvitationInOpenSignup(t *testing.T) {
	peer := ferrytest.StartSMTP(t)
	ts := startServer(t, peer.Configure, longTokens, func(c *app.Config) { c.Auth.Signup = "open" })
	alice := ts.namedUser("alice@example.com", "Alice")
	alice.mustPut("plan.txt", []byte("the plan"))
	alice.postForm("/ops/send", url.Values{"to": {"dan@example.com"}, "invite": {"1"}, "source": {`[{"path":"","files":["plan.txt"]}]`}}).requireStatus(http.StatusOK)
	code := peer.WaitMails(1)[0].Parse(t).SignupCode(t)

	ts.client().postForm("/auth/register", url.Values{"email": {"daniel@elsewhere.example"}, "password": {password}, "invite": {code}}).requireStatus(http.StatusOK)
	daniel := ts.login("daniel@elsewhere.example", password)
	require.Len(t, daniel.inbox(), 1, "the send reached the account made with the code")
	out := alice.outbox()
	require.Len(t, out, 1)
	assert.Equal(t, "pending", out[0].Status)
	assert.Equal(t, "daniel@elsewhere.example", out[0].To)

	ts.client().postForm("/auth/register", url.Values{"email": {"dan@example.com"}, "password": {password}, "invite": {code}}).requireError(http.StatusForbidden, ferry.ENOPERMISSION)
	ts.client().postForm("/auth/register", url.Values{"email": {"dan@example.com"}, "password": {password}}).requireStatus(http.StatusOK)
}
