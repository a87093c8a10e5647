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

type fileRequest struct {
	ID       uint64 `json:"id"`
	Title    string `json:"title"`
	Folder   string `json:"folder"`
	Created  string `json:"created"`
	Expires  string `json:"expires"`
	Uploads  int    `json:"uploads"`
	MaxFiles int    `json:"max_files"`
	MaxSize  int64  `json:"max_size"`
	Password bool   `json:"password"`
}

// File requests, the owner's calls: made (the URL shown once, its folder
// Requests/<title> unless given), listed newest first, revoked (another
// account's id is not found), bad input refused, the event in the log.
func TestRequests_MakeListRevoke(t *testing.T) {
	ts := startServer(t, longTokens)
	alice := ts.newUser("alice@example.com")
	bob := ts.newUser("bob@example.com")

	var made struct {
		ID  uint64
		URL string
	}
	alice.postForm("/requests", url.Values{"title": {"Tax papers"}, "message": {"Scans of your receipts, please."}, "expires": {"86400"},
		"max_files": {"10"}, "max_size": {"50000000"}, "password": {"open sesame"}}).requireStatus(http.StatusOK).decode(&made)
	assert.Regexp(t, `^`+ts.Root+`/r/[A-Za-z0-9_-]{43}$`, made.URL)
	var second struct{ ID uint64 }
	alice.postForm("/requests", url.Values{"title": {"Photos"}, "expires": {"3600"}, "folder": {"/Shared/From guests/"}}).requireStatus(http.StatusOK).decode(&second)

	var list []fileRequest
	alice.get("/requests", nil).requireStatus(http.StatusOK).decode(&list)
	require.Len(t, list, 2)
	assert.Equal(t, second.ID, list[0].ID, "newest first")
	assert.Equal(t, "Shared/From guests", list[0].Folder)
	assert.False(t, list[0].Password)
	q := list[1]
	assert.Equal(t, "Tax papers", q.Title)
	assert.Equal(t, "Requests/Tax papers", q.Folder)
	assert.Equal(t, 10, q.MaxFiles)
	assert.Equal(t, int64(50_000_000), q.MaxSize)
	assert.True(t, q.Password)
	assert.Equal(t, 0, q.Uploads)
	assert.NotContains(t, string(alice.get("/requests", nil).Body), made.URL[strings.LastIndexByte(made.URL, '/')+1:], "the token is shown once")
	assert.NotContains(t, string(alice.get("/requests", nil).Body), "open sesame")

	for _, bad := range []url.Values{
		{"expires": {"60"}},
		{"title": {"  "}, "expires": {"60"}},
		{"title": {"x"}},
		{"title": {"x"}, "expires": {"0"}},
		{"title": {"x"}, "expires": {"soon"}},
		{"title": {"x"}, "expires": {"315360001"}},
		{"title": {"x"}, "expires": {"18446744074"}},
		{"title": {"x"}, "expires": {"60"}, "max_files": {"-1"}},
		{"title": {"x"}, "expires": {"60"}, "max_size": {"lots"}},
		{"title": {"x"}, "expires": {"60"}, "folder": {"../up"}},
		{"title": {"a/../b"}, "expires": {"60"}},
	} {
		bob.postForm("/requests", bad).requireError(400, ferry.EBADREQUEST)
	}

	bob.postForm("/requests/revoke", url.Values{"id": {strconv.FormatUint(made.ID, 10)}}).requireError(404, ferry.EREQUESTNOTFOUND)
	alice.postForm("/requests/revoke", url.Values{"id": {strconv.FormatUint(made.ID, 10)}}).requireStatus(http.StatusOK)
	alice.postForm("/requests/revoke", url.Values{"id": {strconv.FormatUint(made.ID, 10)}}).requireError(404, ferry.EREQUESTNOTFOUND)
	alice.postForm("/requests/revoke", url.Values{"id": {"x"}}).requireError(400, ferry.EBADREQUEST)
	alice.get("/requests", nil).requireStatus(http.StatusOK).decode(&list)
	require.Len(t, list, 1)

	var events []event
	alice.get("/account/activity", url.Values{"limit": {"2"}}).requireStatus(http.StatusOK).decode(&events)
	assert.Equal(t, "request_created", events[0].Action)
	assert.Equal(t, "Shared/From guests", events[0].Target)
}

// The outsider's first look at a request: no account; the message only
// with the password when there is one (a wrong one refused, and counted);
// 410 once it expired, was revoked, or its owner was disabled.
func TestRequests_OutsiderOpens(t *testing.T) {
	ts := startServer(t, longTokens)
	alice := ts.newUser("alice@example.com")
	var open, locked struct {
		ID  uint64
		URL string
	}
	alice.postForm("/requests", url.Values{"title": {"Photos"}, "message": {"From the wedding, please"}, "expires": {"3600"}, "max_files": {"20"}}).
		requireStatus(http.StatusOK).decode(&open)
	alice.postForm("/requests", url.Values{"title": {"Tax"}, "message": {"Secret message"}, "expires": {"7200"}, "password": {"open sesame"}}).
		requireStatus(http.StatusOK).decode(&locked)
	apiPath := func(u string) string { return "/r/" + u[strings.LastIndexByte(u, '/')+1:] }
	anon := ts.client()

	var seen struct {
		Title, Message, Owner, Expires string
		MaxFiles                       int   `json:"max_files"`
		MaxSize                        int64 `json:"max_size"`
		Password                       bool
	}
	anon.get(apiPath(open.URL), nil).requireStatus(http.StatusOK).decode(&seen)
	assert.Equal(t, "Photos", seen.Title)
	assert.Equal(t, "From the wedding, please", seen.Message)
	assert.Equal(t, "User alice@example.com", seen.Owner)
	assert.Equal(t, 20, seen.MaxFiles)
	assert.False(t, seen.Password)

	anon.get(apiPath(locked.URL), nil).requireStatus(http.StatusOK).decode(&seen)
	assert.True(t, seen.Password)
	assert.Equal(t, "", seen.Message, "not without the password")
	anon.get(apiPath(locked.URL), url.Values{"password": {"open sesame"}}).requireStatus(http.StatusOK).decode(&seen)
	assert.Equal(t, "Secret message", seen.Message)
	anon.get(apiPath(locked.URL), url.Values{"password": {"wrong"}}).requireError(403, ferry.EAUTHFAILED)

	anon.get("/r/not-a-token", nil).requireError(410, ferry.ELINKEXPIRED)
	alice.postForm("/requests/revoke", url.Values{"id": {strconv.FormatUint(locked.ID, 10)}}).requireStatus(http.StatusOK)
	anon.get(apiPath(locked.URL), nil).requireError(410, ferry.ELINKEXPIRED)
	off := true
	_, err := ts.admin().SetUser(app.SetUserRequest{Email: "alice@example.com", Disabled: &off})
	require.NoError(t, err)
	anon.get(apiPath(open.URL), nil).requireError(410, ferry.ELINKEXPIRED) // its owner is disabled
	off = false
	_, err = ts.admin().SetUser(app.SetUserRequest{Email: "alice@example.com", Disabled: &off})
	require.NoError(t, err)
	anon.get(apiPath(open.URL), nil).requireStatus(http.StatusOK)
	ts.Clock.Advance(2 * time.Hour)
	anon.get(apiPath(open.URL), nil).requireError(410, ferry.ELINKEXPIRED)
}
