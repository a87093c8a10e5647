package api_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/app"
)

type tokenLine struct {
	ID       uint64 `json:"id"`
	Name     string `json:"name"`
	Created  string `json:"created"`
	Expires  string `json:"expires"`
	LastUsed string `json:"last_used"`
}

// newToken makes a personal token of c's account and returns its id and a
// client that holds it.
func (ts *testServer) newToken(c *client, name string, days int) (uint64, *client) {
	ts.t.Helper()
	v := url.Values{"name": {name}}
	if days > 0 {
		v.Set("expires_days", strconv.Itoa(days))
	}
	var out struct {
		ID    uint64
		Token string
	}
	c.postForm("/account/tokens", v).requireStatus(http.StatusOK).decode(&out)
	require.NotEmpty(ts.t, out.Token)
	pat := ts.client()
	pat.token = out.Token
	return out.ID, pat
}

func tokensOf(c *client) []tokenLine {
	var list []tokenLine
	c.get("/account/tokens", nil).requireStatus(http.StatusOK).decode(&list)
	return list
}

// Personal access tokens: made, listed (never shown again), used like a
// login token but without an idle timeout, ended by revoke, expiry and a
// password change, and kept by "sign out everywhere else".
func TestTokens_Personal(t *testing.T) {
	ts := startServer(t) // login tokens idle out after 15 minutes
	alice := ts.newUser("alice@example.com")
	ts.addUser("bob@example.com", password)

	id, script := ts.newToken(alice, "backup script", 0)
	weekID, week := ts.newToken(alice, "  this week  ", 7)
	list := tokensOf(alice)
	require.Len(t, list, 2)
	assert.Equal(t, weekID, list[0].ID, "newest first")
	assert.Equal(t, "this week", list[0].Name, "the name is trimmed")
	assert.NotEmpty(t, list[0].Expires)
	assert.Equal(t, "", list[1].Expires, "no expiry")
	assert.Equal(t, "", list[1].LastUsed, "not used yet")
	assert.Regexp(t, `^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}[+-]\d{2}$`, list[1].Created)
	assert.NotContains(t, string(alice.get("/account/tokens", nil).Body), script.token, "shown only once")

	script.mustPut("from-script.txt", []byte("hello"))
	assert.NotEmpty(t, tokensOf(alice)[1].LastUsed)

	// No idle timeout: a day later the login token is gone, not these.
	ts.Clock.Advance(24 * time.Hour)
	alice.get("/settings/list", nil).requireError(401, ferry.ENOPERMISSION)
	script.get("/settings/list", nil).requireStatus(http.StatusOK)
	week.get("/settings/list", nil).requireStatus(http.StatusOK)
	// Past its expiry, the seven-day one ends.
	ts.Clock.Advance(7 * 24 * time.Hour)
	week.get("/settings/list", nil).requireError(401, ferry.ENOPERMISSION)
	alice = ts.login("alice@example.com", password)
	script.get("/settings/list", nil).requireStatus(http.StatusOK)

	// Another account's id is not found; bad input is refused.
	bob := ts.login("bob@example.com", password)
	bob.postForm("/account/tokens/revoke", url.Values{"id": {strconv.FormatUint(id, 10)}}).requireError(404, ferry.ENOTFOUND)
	script.get("/settings/list", nil).requireStatus(http.StatusOK)
	bob.postForm("/account/tokens", url.Values{}).requireError(400, ferry.EBADREQUEST)
	bob.postForm("/account/tokens", url.Values{"name": {"   "}}).requireError(400, ferry.EBADREQUEST)
	bob.postForm("/account/tokens", url.Values{"name": {strings.Repeat("n", 101)}}).requireError(400, ferry.EBADREQUEST)
	bob.postForm("/account/tokens", url.Values{"name": {"x"}, "expires_days": {"-1"}}).requireError(400, ferry.EBADREQUEST)
	bob.postForm("/account/tokens", url.Values{"name": {"x"}, "expires_days": {"soon"}}).requireError(400, ferry.EBADREQUEST)
	bob.postForm("/account/tokens/revoke", url.Values{"id": {"x"}}).requireError(400, ferry.EBADREQUEST)
	assert.Empty(t, tokensOf(bob))

	// "Sign out everywhere else" ends sessions, not scripts.
	b := ts.browser()
	b.signIn("alice@example.com", password)
	assert.Equal(t, http.StatusSeeOther, b.post("/settings/sessions", url.Values{}).Status)
	alice.get("/settings/list", nil).requireError(401, ferry.ENOPERMISSION)
	script.get("/settings/list", nil).requireStatus(http.StatusOK)
	alice = ts.login("alice@example.com", password)

	// Revoked, it stops at once.
	alice.postForm("/account/tokens/revoke", url.Values{"id": {strconv.FormatUint(id, 10)}}).requireStatus(http.StatusOK)
	script.get("/settings/list", nil).requireError(401, ferry.ENOPERMISSION)
	alice.postForm("/account/tokens/revoke", url.Values{"id": {strconv.FormatUint(id, 10)}}).requireError(404, ferry.ENOTFOUND)

	// A password change ends every token, personal ones too.
	_, other := ts.newToken(alice, "other", 0)
	alice.postForm("/settings/update", url.Values{"current_password": {password}, "new_password": {"another password"}}).requireStatus(http.StatusOK)
	other.get("/settings/list", nil).requireError(401, ferry.ENOPERMISSION)
	assert.Empty(t, tokensOf(alice))
}

// A disabled account's personal tokens end, and stay ended when it is
// enabled again; a deleted account's are gone with it.
func TestTokens_EndWithTheAccount(t *testing.T) {
	ts := startServer(t, longTokens)
	alice := ts.newUser("alice@example.com")
	_, script := ts.newToken(alice, "script", 0)
	disabled, enabled := true, false
	_, err := ts.admin().SetUser(app.SetUserRequest{Email: "alice@example.com", Disabled: &disabled})
	require.NoError(t, err)
	script.get("/settings/list", nil).requireError(401, ferry.ENOPERMISSION) // ended, not just refused
	_, err = ts.admin().SetUser(app.SetUserRequest{Email: "alice@example.com", Disabled: &enabled})
	require.NoError(t, err)
	script.get("/settings/list", nil).requireError(401, ferry.ENOPERMISSION)

	alice = ts.login("alice@example.com", password)
	_, script = ts.newToken(alice, "script", 0)
	alice.postForm("/account/delete", url.Values{"current_password": {password}}).requireStatus(http.StatusOK)
	script.get("/settings/list", nil).requireError(401, ferry.ENOPERMISSION)
}
