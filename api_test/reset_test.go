package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/ferrytest"
)

// resetCode returns the code of a reset mail's link.
func resetCode(t *testing.T, root string, m ferrytest.Parsed) string {
	t.Helper()
	require.Len(t, m.Links(), 1)
	link, err := url.Parse(m.Links()[0])
	require.NoError(t, err)
	assert.Equal(t, root+"/reset", link.Scheme+"://"+link.Host+link.Path)
	require.NotEmpty(t, link.Query().Get("code"))
	return link.Query().Get("code")
}

// Issue 17's password reset through the API: the same answer for an
// email with and without an account; the mail's single-use link, valid for
// an hour; a refused password leaves the code valid; the reset ends every
// token and the app password; requests are limited per email.
func TestReset_Journey(t *testing.T) {
	peer := ferrytest.StartSMTP(t)
	ts := startServer(t, peer.Configure, longTokens)
	old := ts.login(ts.addUser("rosa@example.com", password), password)
	_, script := ts.newToken(old, "script", 0)
	anon := ts.client()

	anon.postForm("/auth/password/forgot", url.Values{"email": {"nobody@example.com"}}).requireStatus(http.StatusOK)
	r := anon.postForm("/auth/password/forgot", url.Values{"email": {"Rosa@Example.com"}}).requireStatus(http.StatusOK)
	assert.JSONEq(t, `{}`, string(r.Body))
	mails := peer.WaitMails(1)
	time.Sleep(100 * time.Millisecond)
	require.Len(t, peer.Received(), 1, "no mail for an email without an account")
	assert.Equal(t, []string{"rosa@example.com"}, mails[0].To)
	m := mails[0].Parse(t)
	assert.Equal(t, "Reset your ferry password", m.Subject(t))
	assert.Contains(t, m.Body, "1 hour")
	assert.NotContains(t, m.Body, "/api/1/")
	code := resetCode(t, ts.Root, m)

	reset := func(code, pw string) *response {
		return anon.postForm("/auth/password/reset", url.Values{"code": {code}, "password": {pw}})
	}
	// A browser opening the link uses nothing up.
	ts.browser().get("/reset?code=" + code).requireStatus(http.StatusOK)
	reset(code, "short").requireError(400, ferry.EINVALIDPASSWORD)
	reset("forged", "a new password").requireError(403, ferry.ENOPERMISSION)
	var out struct{ Token string }
	reset(code, "a new password").requireStatus(http.StatusOK).decode(&out)
	require.NotEmpty(t, out.Token)
	old.get("/settings/list", nil).requireError(401, ferry.ENOPERMISSION)
	script.get("/settings/list", nil).requireError(401, ferry.ENOPERMISSION) // personal tokens too
	fresh := ts.client()
	fresh.token = out.Token
	fresh.get("/settings/list", nil).requireStatus(http.StatusOK)
	ts.login("rosa@example.com", "a new password")
	reset(code, "another password").requireError(403, ferry.ENOPERMISSION) // used

	// An hour later a code no longer works.
	anon.postForm("/auth/password/forgot", url.Values{"email": {"rosa@example.com"}}).requireStatus(http.StatusOK)
	late := resetCode(t, ts.Root, peer.WaitMails(2)[1].Parse(t))
	ts.Clock.Advance(time.Hour)
	reset(late, "a third password").requireError(403, ferry.ENOPERMISSION)

	// Three requests an email at once, then 429 whether or not it has an
	// account.
	for _, email := range []string{"rosa@example.com", "ghost@example.com"} {
		var status int
		for range 4 {
			status = anon.postForm("/auth/password/forgot", url.Values{"email": {email}}).Status
		}
		assert.Equal(t, http.StatusTooManyRequests, status, email)
	}
	anon.postForm("/auth/password/forgot", url.Values{"email": {""}}).requireError(400, ferry.EBADREQUEST)
	assert.False(t, strings.Contains(ts.logs.String(), code), "the code is not logged")
}
