package api_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/app"
)

type event struct {
	ID     uint64         `json:"id"`
	Time   string         `json:"time"`
	Action string         `json:"action"`
	Actor  string         `json:"actor"`
	IP     string         `json:"ip"`
	Target string         `json:"target"`
	Detail map[string]any `json:"detail"`
}

func activity(c *client, query url.Values) []event {
	var list []event
	c.get("/account/activity", query).requireStatus(http.StatusOK).decode(&list)
	return list
}

// actions is the actions of events, oldest first.
func actions(list []event) []string {
	out := make([]string, len(list))
	for i, e := range list {
		out[len(list)-1-i] = e.Action
	}
	return out
}

// Every audited action through the API lands in the log of the account
// it is of or was done to, with who, from where, what and on what; no
// event nor log line holds a password, a token, a code or a link's
// secret; paging with before; /admin/audit for every account, by user and
// action.
func TestAudit_EventsOfEveryAction(t *testing.T) {
	ts := startServer(t, longTokens)
	root := ts.newAdmin("root@example.com")
	alice := ts.newUser("alice@example.com")
	bob := ts.newUser("bob@example.com")
	secrets := []string{password, alice.token, bob.token, root.token}

	// Sign-ins, a failed one, tokens, two-factor sign-in.
	ts.signIn("alice@example.com", "not her password", "").requireError(403, ferry.EAUTHFAILED)
	tokID, pat := ts.newToken(alice, "deploy", 0)
	secrets = append(secrets, pat.token)
	alice.postForm("/account/tokens/revoke", url.Values{"id": {strconv.FormatUint(tokID, 10)}}).requireStatus(http.StatusOK)
	secret, recovery := ts.setUp2FA(alice)
	secrets = append(secrets, secret, recovery[0])
	ts.Clock.Advance(time.Minute)
	code := codeAt(t, secret, ts.Clock.Now())
	secrets = append(secrets, code)
	alice.postForm("/account/2fa/disable", url.Values{"current_password": {password}, "code": {code}}).requireStatus(http.StatusOK)
	alice.postForm("/settings/update", url.Values{"current_password": {password}, "new_password": {"alice's new password"}}).requireStatus(http.StatusOK)
	secrets = append(secrets, "alice's new password")

	// A link, its download by an outsider, its revoke.
	alice.mustPut("report.pdf", []byte("the report"))
	var link struct {
		URL string
		ID  uint64
	}
	alice.link("report.pdf", "").requireStatus(http.StatusOK).decode(&link)
	secrets = append(secrets, link.URL[strings.LastIndexByte(link.URL, '/')+1:])
	resp, err := http.Get(link.URL)
	require.NoError(t, err)
	resp.Body.Close()
	alice.postForm("/files/link/revoke", url.Values{"id": {strconv.FormatUint(link.ID, 10)}}).requireStatus(http.StatusOK)

	// A send, accepted; one declined.
	ids := alice.mustSend("bob@example.com", `[{"path":"","files":["report.pdf"]}]`)
	bob.postJSON("/inbox/update", map[string]any{"messages": []map[string]any{{"id": ids[0], "accept": "YES"}}}).requireStatus(http.StatusOK)
	ids = alice.mustSend("bob@example.com", `[{"path":"","files":["report.pdf"]}]`)
	bob.postJSON("/inbox/update", map[string]any{"messages": []map[string]any{{"id": ids[0], "accept": "NO"}}}).requireStatus(http.StatusOK)

	// An administrator's change, and the account's logout.
	root.postForm("/admin/users/update", url.Values{"email": {"alice@example.com"}, "storage": {"10GB"}}).requireStatus(http.StatusOK)
	alice.request(http.MethodDelete, "/auth/token", nil, "").requireStatus(http.StatusOK)

	alice = ts.login("alice@example.com", "alice's new password")
	list := activity(alice, nil)
	assert.Equal(t, []string{"account_created", "login", "login_failed", "token_created", "token_revoked", "2fa_enabled",
		"2fa_disabled", "password_changed", "link_created", "link_downloaded", "link_revoked", "send", "send", "admin_update", "logout", "login"},
		actions(list))
	byAction := map[string]event{}
	for _, e := range list {
		if _, seen := byAction[e.Action]; !seen {
			byAction[e.Action] = e // the newest of each
		}
		assert.Regexp(t, `^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}[+-]\d{2}$`, e.Time)
	}
	login := byAction["login"]
	assert.Equal(t, "alice@example.com", login.Actor)
	assert.Equal(t, "127.0.0.1", login.IP)
	failed := byAction["login_failed"]
	assert.Equal(t, "outsider", failed.Actor, "nobody signed in")
	assert.Equal(t, "alice@example.com", failed.Target)
	assert.Equal(t, "deploy", byAction["token_created"].Target)
	dl := byAction["link_downloaded"]
	assert.Equal(t, "outsider", dl.Actor)
	assert.Equal(t, "127.0.0.1", dl.IP)
	assert.Equal(t, "report.pdf", dl.Target)
	assert.EqualValues(t, link.ID, dl.Detail["link"])
	adminUpd := byAction["admin_update"]
	assert.Equal(t, "root@example.com", adminUpd.Actor)
	assert.EqualValues(t, 10_000_000_000, adminUpd.Detail["storage"])
	assert.Equal(t, "bob@example.com", byAction["send"].Target)

	var bobs []event
	bob.get("/account/activity", nil).requireStatus(http.StatusOK).decode(&bobs)
	assert.Equal(t, []string{"account_created", "login", "send", "accept", "send", "decline"}, actions(bobs))
	assert.Equal(t, "alice@example.com", bobs[1].Actor, "the send was done to bob, by alice")
	assert.Equal(t, "bob@example.com", bobs[0].Actor)

	// Paging.
	page := activity(alice, url.Values{"limit": {"3"}})
	require.Len(t, page, 3)
	older := activity(alice, url.Values{"limit": {"3"}, "before": {strconv.FormatUint(page[2].ID, 10)}})
	require.Len(t, older, 3)
	assert.Equal(t, list[3].ID, older[0].ID)
	alice.get("/account/activity", url.Values{"limit": {"1001"}}).requireError(400, ferry.EBADREQUEST)

	// The administrators' view: every account, by user and action.
	var all []event
	root.get("/admin/audit", url.Values{"action": {"login_failed"}}).requireStatus(http.StatusOK).decode(&all)
	require.Len(t, all, 1)
	root.get("/admin/audit", url.Values{"user": {"bob@example.com"}, "limit": {"1"}}).requireStatus(http.StatusOK).decode(&all)
	require.Len(t, all, 1)
	assert.Equal(t, "decline", all[0].Action)
	root.get("/admin/audit", url.Values{"user": {"nobody@example.com"}}).requireError(404, ferry.EUSERNOTFOUND)
	alice.get("/admin/audit", nil).requireError(403, ferry.EADMINONLY)

	// No secret in any event, nor in any line of the log.
	root.get("/admin/audit", url.Values{"limit": {"1000"}}).requireStatus(http.StatusOK).decode(&all)
	raw := string(root.get("/admin/audit", url.Values{"limit": {"1000"}}).Body)
	for _, s := range secrets {
		assert.NotContains(t, raw, s)
		assert.NotContains(t, ts.logs.String(), s)
	}
}

// The admin CLI's changes are the admin CLI's in the log, and an
// account's deletion is an event of its own.
func TestAudit_AdminCLIAndDeletion(t *testing.T) {
	ts := startServer(t, longTokens)
	root := ts.newAdmin("root@example.com")
	ts.addUser("carl@example.com", password)
	off := true
	_, err := ts.admin().SetUser(app.SetUserRequest{Email: "carl@example.com", Disabled: &off})
	require.NoError(t, err)
	var list []event
	root.get("/admin/audit", url.Values{"user": {"carl@example.com"}}).requireStatus(http.StatusOK).decode(&list)
	require.Len(t, list, 2)
	assert.Equal(t, "admin_update", list[0].Action)
	assert.Equal(t, "admin CLI", list[0].Actor)
	assert.Equal(t, "", list[0].IP)
	assert.Equal(t, true, list[0].Detail["disabled"])
	assert.Equal(t, "account_created", list[1].Action)

	require.NoError(t, ts.admin().DeleteUser("carl@example.com"))
	root.get("/admin/audit", url.Values{"action": {"account_deleted"}}).requireStatus(http.StatusOK).decode(&list)
	require.Len(t, list, 1)
	assert.Equal(t, "carl@example.com", list[0].Target)
}

// `ferry audit export`, through the running server's admin socket: JSON
// lines that parse back, and CSV that a CSV reader opens, oldest first,
// between --since and --until.
func TestAudit_Export(t *testing.T) {
	ts := startServer(t, longTokens)
	ts.newUser("dora@example.com")
	ts.signIn("dora@example.com", "wrong password", "").requireError(403, ferry.EAUTHFAILED)
	config := filepath.Join(t.TempDir(), "ferry.toml")
	require.NoError(t, os.WriteFile(config, []byte(fmt.Sprintf("data_dir = %q\n", ts.Cfg.DataDir)), 0o600))

	out := ferryCLI(t, config, "", "audit", "export").requireOK(t)
	var got []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &e), line)
		got = append(got, e)
	}
	require.Len(t, got, 3)
	assert.Equal(t, []any{"account_created", "login", "login_failed"}, []any{got[0]["action"], got[1]["action"], got[2]["action"]})
	assert.Equal(t, "admin CLI", got[0]["actor"])
	assert.Equal(t, "127.0.0.1", got[2]["ip"])

	out = ferryCLI(t, config, "", "audit", "export", "--format", "csv").requireOK(t)
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 4)
	assert.Equal(t, []string{"id", "time", "user", "action", "actor", "ip", "target", "detail"}, rows[0])
	assert.Equal(t, "login_failed", rows[3][3])
	assert.Equal(t, "{}", rows[3][7])

	// The harness's clock is 2026-11-22: nothing after the 23rd.
	assert.Empty(t, strings.TrimSpace(ferryCLI(t, config, "", "audit", "export", "--since", "2026-11-23").requireOK(t)))
	assert.Empty(t, strings.TrimSpace(ferryCLI(t, config, "", "audit", "export", "--until", "2026-11-22").requireOK(t)))
	r := ferryCLI(t, config, "", "audit", "export", "--format", "xml")
	assert.NotEqual(t, 0, r.code)
}

// Download receipts: each download of a link is its owner's event, listed
// on the file's page; mail_on_download mails the owner, at most once a
// link an hour.
func TestAudit_DownloadReceipts(t *testing.T) {
	ts := startServer(t, longTokens)
	owner := ts.newUser("olga@example.com")
	owner.mustPut("contract.pdf", []byte("the contract"))
	var s struct {
		MailOnDownload bool `json:"mail_on_download"`
	}
	owner.get("/settings/list", nil).requireStatus(http.StatusOK).decode(&s)
	assert.False(t, s.MailOnDownload, "off by default")
	owner.postForm("/settings/update", url.Values{"mail_on_download": {"1"}}).requireStatus(http.StatusOK)
	owner.get("/settings/list", nil).requireStatus(http.StatusOK).decode(&s)
	assert.True(t, s.MailOnDownload)
	owner.postForm("/settings/update", url.Values{"mail_on_download": {"maybe"}}).requireError(400, ferry.EBADREQUEST)

	var link struct{ URL string }
	owner.link("contract.pdf", "").requireStatus(http.StatusOK).decode(&link)
	download := func() {
		t.Helper()
		resp, err := http.Get(link.URL)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	mailsTo := func() int {
		n := 0
		for _, m := range ts.mailStatus() {
			if m.To == "olga@example.com" {
				n++
			}
		}
		return n
	}
	download()
	download()
	assert.Equal(t, 1, mailsTo(), "one mail a link an hour")
	ts.Clock.Advance(61 * time.Minute)
	download()
	assert.Equal(t, 2, mailsTo())
	mails := ts.mailStatus()
	assert.Equal(t, "Your link to contract.pdf was downloaded", mails[len(mails)-1].Subject)

	b := ts.browser()
	b.signIn("olga@example.com", password)
	page := string(b.get("/item/contract.pdf").requireStatus(http.StatusOK).Body)
	assert.Contains(t, page, "<h3>Downloads</h3>")
	assert.Equal(t, 3, strings.Count(page, `from <span class="mono">127.0.0.1</span>`))
}
