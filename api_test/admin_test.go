package api_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/app"
)

type adminUser struct {
	ID             uint64 `json:"id"`
	Email          string `json:"email"`
	FullName       string `json:"fullname"`
	Package        string `json:"package"`
	Storage        int64  `json:"storage"`
	Normal         int64  `json:"normal"`
	ReceivingQuota int64  `json:"receiving_quota"`
	Received       int64  `json:"received"`
	Disabled       bool   `json:"disabled"`
	Admin          bool   `json:"admin"`
	TwoFactor      bool   `json:"two_factor"`
	Created        string `json:"created"`
	LastLogin      string `json:"last_login"`
}

// newAdmin adds an administrator and returns a client holding their token.
func (ts *testServer) newAdmin(email string) *client {
	ts.t.Helper()
	_, err := ts.admin().AddUser(app.AddUserRequest{Email: email, Password: password, Name: "Admin " + email, Admin: true})
	require.NoError(ts.t, err)
	return ts.login(email, password)
}

func adminUsers(c *client, query url.Values) []adminUser {
	var list []adminUser
	c.get("/admin/users", query).requireStatus(http.StatusOK).decode(&list)
	return list
}

// The administrators' calls: who may call them, listing with search and
// paging, every change (with the administrator's own limits), deletion,
// and the mail outbox.
func TestAdmin_Calls(t *testing.T) {
	ts := startServer(t, longTokens, func(c *app.Config) {
		c.Packages["pro"] = app.Package{Storage: 50_000_000_000, ReceivePerMonth: 10_000_000_000}
	})
	root := ts.newAdmin("root@example.com")
	ann := ts.newUser("ann@example.com")
	ts.addUser("bert@example.com", password)
	ann.mustPut("a.txt", []byte("twelve bytes"))

	// Everyone else is refused, whatever the call.
	for _, call := range []func() *response{
		func() *response { return ann.get("/admin/users", nil) },
		func() *response { return ann.get("/admin/mail", nil) },
		func() *response {
			return ann.postForm("/admin/users/update", url.Values{"email": {"ann@example.com"}, "admin": {"1"}})
		},
		func() *response {
			return ann.postForm("/admin/users/delete", url.Values{"email": {"bert@example.com"}})
		},
	} {
		call().requireError(403, ferry.EADMINONLY)
	}
	ts.client().get("/admin/users", nil).requireError(401, ferry.ENOPERMISSION)

	list := adminUsers(root, nil)
	require.Len(t, list, 3)
	assert.Equal(t, []string{"ann@example.com", "bert@example.com", "root@example.com"}, []string{list[0].Email, list[1].Email, list[2].Email})
	a := list[0]
	assert.Equal(t, "free", a.Package)
	assert.Equal(t, int64(12), a.Normal)
	assert.Equal(t, int64(5_000_000_000), a.Storage)
	assert.NotEmpty(t, a.LastLogin, "ann signed in")
	assert.Equal(t, "", list[1].LastLogin, "bert never did")
	assert.True(t, list[2].Admin)
	assert.Len(t, adminUsers(root, url.Values{"query": {"BERT"}}), 1)
	assert.Len(t, adminUsers(root, url.Values{"query": {"Admin root"}}), 1, "by name too")
	page := adminUsers(root, url.Values{"offset": {"1"}, "limit": {"1"}})
	require.Len(t, page, 1)
	assert.Equal(t, "bert@example.com", page[0].Email)
	root.get("/admin/users", url.Values{"limit": {"1001"}}).requireError(400, ferry.EBADREQUEST)
	root.get("/admin/users", url.Values{"offset": {"-1"}}).requireError(400, ferry.EBADREQUEST)

	// Changes.
	var changed adminUser
	root.postForm("/admin/users/update", url.Values{"email": {"ann@example.com"}, "package": {"pro"}, "storage": {"10GB"}, "receive": {"0"}}).
		requireStatus(http.StatusOK).decode(&changed)
	assert.Equal(t, "pro", changed.Package)
	assert.Equal(t, int64(10_000_000_000), changed.Storage)
	assert.Equal(t, int64(0), changed.ReceivingQuota, "0 = unlimited")
	root.postForm("/admin/users/update", url.Values{"email": {"ann@example.com"}, "package": {"gold"}}).requireError(400, ferry.EBADREQUEST)
	root.postForm("/admin/users/update", url.Values{"email": {"ann@example.com"}, "storage": {"lots"}}).requireError(400, ferry.EBADREQUEST)
	root.postForm("/admin/users/update", url.Values{"email": {"nobody@example.com"}, "disabled": {"1"}}).requireError(404, ferry.EUSERNOTFOUND)
	root.postForm("/admin/users/update", url.Values{"email": {"ann@example.com"}, "disabled": {"1"}}).requireStatus(http.StatusOK)
	ann.get("/settings/list", nil).requireError(401, ferry.ENOPERMISSION) // a disable ends every token
	root.postForm("/admin/users/update", url.Values{"email": {"ann@example.com"}, "disabled": {"0"}, "admin": {"1"}}).requireStatus(http.StatusOK).decode(&changed)
	assert.True(t, changed.Admin)
	ann = ts.login("ann@example.com", password)
	adminUsers(ann, nil) // an administrator now

	// An administrator cannot take away their own role, disable or delete themself.
	root.postForm("/admin/users/update", url.Values{"email": {"root@example.com"}, "admin": {"0"}}).requireError(400, ferry.EBADREQUEST)
	root.postForm("/admin/users/update", url.Values{"email": {"root@example.com"}, "disabled": {"1"}}).requireError(400, ferry.EBADREQUEST)
	root.postForm("/admin/users/delete", url.Values{"email": {"root@example.com"}}).requireError(400, ferry.EBADREQUEST)
	ann.postForm("/admin/users/update", url.Values{"email": {"root@example.com"}, "admin": {"0"}}).requireStatus(http.StatusOK)
	root.get("/admin/users", nil).requireError(403, ferry.EADMINONLY)

	// Two-factor reset, deletion.
	ts.setUp2FA(ts.login("bert@example.com", password))
	ann.postForm("/admin/users/update", url.Values{"email": {"bert@example.com"}, "reset_2fa": {"1"}}).requireStatus(http.StatusOK).decode(&changed)
	assert.False(t, changed.TwoFactor)
	ann.postForm("/admin/users/delete", url.Values{"email": {"bert@example.com"}}).requireStatus(http.StatusOK)
	ann.postForm("/admin/users/delete", url.Values{"email": {"bert@example.com"}}).requireError(404, ferry.EUSERNOTFOUND)
	assert.Len(t, adminUsers(ann, nil), 2)

	// The mail outbox, by status (no SMTP server here: it waits queued).
	ts.client().postForm("/auth/password/forgot", url.Values{"email": {"root@example.com"}}).requireStatus(http.StatusOK)
	var mails []struct {
		ID      uint64 `json:"id"`
		To      string `json:"to"`
		Subject string `json:"subject"`
		Status  string `json:"status"`
	}
	ann.get("/admin/mail", url.Values{"status": {"queued"}}).requireStatus(http.StatusOK).decode(&mails)
	require.Len(t, mails, 1)
	assert.Equal(t, "root@example.com", mails[0].To)
	assert.Equal(t, "Reset your ferry password", mails[0].Subject)
	ann.get("/admin/mail", url.Values{"status": {"sent"}}).requireStatus(http.StatusOK).decode(&mails)
	assert.Empty(t, mails)
	ann.get("/admin/mail", url.Values{"status": {"stuck"}}).requireError(400, ferry.EBADREQUEST)
}
