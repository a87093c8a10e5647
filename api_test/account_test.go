package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/app"
)

// Issue 17's "accounts end cleanly": Alice, with files, a link, an upload
// in progress, contacts both ways, a photo and sends pending both ways,
// deletes her account. Everything of hers goes; her pending sends end as
// expired on the other side; Carol's history keeps its accepted send;
// Bob's quota is as it was; her email can sign up again. Then the admin
// deletes Bob. The harness runs a full fsck on what is left.
func TestAccount_DeleteCleanly(t *testing.T) {
	t.Parallel() // slow and waiting more than computing: beside the others
	ts := startServer(t, longTokens)
	alice, bob, carol := ts.newUser("alice@example.com"), ts.newUser("bob@example.com"), ts.newUser("carol@example.com")
	alice.mustPut("mine/only-alice.txt", []byte("only Alice has this"))
	alice.mustPut("to-bob.txt", []byte("for Bob"))
	bob.mustPut("to-alice.txt", []byte("for Alice"))
	carol.mustPut("taken.txt", []byte("Carol's, accepted"))
	var link struct{ URL string }
	alice.postForm("/files/link", url.Values{"path": {"mine/only-alice.txt"}}).requireStatus(http.StatusOK).decode(&link)
	alice.mustUploadLink("half.bin", 1000)
	alice.postForm("/contacts/add", url.Values{"email[]": {"bob@example.com"}}).requireStatus(http.StatusOK)
	bob.postForm("/contacts/add", url.Values{"email[]": {"alice@example.com"}}).requireStatus(http.StatusOK)
	fromAlice := alice.mustSend("bob@example.com", `[{"path":"","files":["to-bob.txt"]}]`)
	bob.mustSend("alice@example.com", `[{"path":"","files":["to-alice.txt"]}]`)
	taken := carol.mustSend("alice@example.com", `[{"path":"","files":["taken.txt"]}]`)
	alice.decide(fmt.Sprintf(`[{"id":%d,"accept":"YES"}]`, taken[0])).requireStatus(http.StatusOK)
	bobQuota := bob.quota()

	alice.postForm("/account/delete", url.Values{"current_password": {"wrong password"}}).requireError(400, ferry.EWRONGPASSWORD)
	alice.postForm("/account/delete", nil).requireError(400, ferry.EWRONGPASSWORD)
	alice.postForm("/account/delete", url.Values{"current_password": {password}}).requireStatus(http.StatusOK)

	alice.get("/settings/list", nil).requireError(401, ferry.ENOPERMISSION)
	ts.client().postForm("/auth/token", url.Values{"email": {"alice@example.com"}, "password": {password}}).requireError(403, ferry.EAUTHFAILED)
	(&client{t: t, http: http.DefaultClient}).request(http.MethodGet, link.URL, nil, "").requireError(http.StatusGone, ferry.ELINKEXPIRED)
	assert.Empty(t, bob.inbox(), "Alice's send to Bob is withdrawn")
	assert.Equal(t, []string{"expired"}, bob.outboxStatuses(), "Bob's send to Alice ends as expired")
	assert.Empty(t, bob.contacts(""))
	assert.Empty(t, bob.notifications(), "Alice's contact request went with her")
	out := carol.outbox()
	require.Len(t, out, 1)
	assert.Equal(t, "accepted", out[0].Status)
	assert.Equal(t, "(deleted account)", out[0].To)
	assert.Equal(t, bobQuota, bob.quota(), "others' quotas are untouched")
	ts.requireBlobs(2, "Bob's, and Carol's (which Alice's accepted copy shared)")
	r := bob.decide(fmt.Sprintf(`[{"id":%d,"accept":"YES"}]`, fromAlice[0]))
	assert.JSONEq(t, fmt.Sprintf(`[{"id":%d,"error":"MESSAGE_NOT_FOUND"}]`, fromAlice[0]), string(r.Body))
	require.Len(t, bob.list(""), 1, "nothing of Alice's came to Bob")
	assert.Equal(t, "to-alice.txt", bob.list("")[0].File)

	// The email is free again, for an account with nothing in it.
	again := ts.newUser("alice@example.com")
	assert.Empty(t, again.list(""))
	assert.Empty(t, again.inbox())
	assert.Empty(t, again.outbox())

	// The admin deletes Bob; an unknown email is an error.
	require.NoError(t, ts.admin().DeleteUser("bob@example.com"))
	assert.Equal(t, ferry.EUSERNOTFOUND, ferry.ErrorCode(ts.admin().DeleteUser("bob@example.com")))
	_, err := ts.admin().AddUser(app.AddUserRequest{Email: "bob@example.com", Password: password})
	require.NoError(t, err)
	ts.requireBlobs(1, "Carol's")
}
