package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/app"
)

// The seed's own examples (Maxxo, POST /ops/send and POST /inbox/update),
// as written there, escaped slashes and all.
const (
	seedSource = `[
{"path":"path\/to\/folder1","files":["file1.ext"]},
{"path":"path\/to\/folder2","files":["file1.ext"]},
{"path":"path\/to\/folder3","files":["file1.ext","sub-folder1\/file2.ext","file3.ext"],"folder":true},
{"path":"path\/to\/folder4","files":["file1.ext","file2.ext","file3.ext"],"folder":true}
]`
	seedMessages = `[
{"id":123, "accept":"YES"},
{"id":456, "accept":"NO"},
{"id":789}
]`
)

type inboxMsg struct {
	ID          uint64 `json:"id"`
	Type        string `json:"type"`
	Size        int64  `json:"size"`
	Destination string `json:"destination"`
	Timestamp   string `json:"timestamp"`
	SenderName  string `json:"sender_name"`
	SenderEmail string `json:"sender_email"`
	Request     uint64 `json:"request"`
	Scan        string `json:"scan"`
}

type outboxMsg struct {
	ID          uint64 `json:"id"`
	To          string `json:"to"`
	Destination string `json:"destination"`
	Size        int64  `json:"size"`
	Timestamp   string `json:"timestamp"`
	Status      string `json:"status"`
}

// send posts /ops/send with source as JSON text in a form field.
func (c *client) send(to, source string) *response {
	c.t.Helper()
	return c.postForm("/ops/send", url.Values{"to": {to}, "source": {source}})
}

// mustSend sends and returns the new messages' ids.
func (c *client) mustSend(to, source string) []uint64 {
	c.t.Helper()
	var out struct{ Messages []uint64 }
	c.send(to, source).requireStatus(http.StatusOK).decode(&out)
	return out.Messages
}

func (c *client) inbox() []inboxMsg {
	c.t.Helper()
	var out []inboxMsg
	c.get("/inbox/list", nil).requireStatus(http.StatusOK).decode(&out)
	return out
}

func (c *client) outbox() []outboxMsg {
	c.t.Helper()
	var out []outboxMsg
	c.get("/outbox/list", nil).requireStatus(http.StatusOK).decode(&out)
	return out
}

// outboxStatuses is the status of each message in the outbox, oldest first.
func (c *client) outboxStatuses() []string {
	c.t.Helper()
	var statuses []string
	for _, m := range c.outbox() {
		statuses = append(statuses, m.Status)
	}
	return statuses
}

func (c *client) decide(messages string) *response {
	c.t.Helper()
	return c.postForm("/inbox/update", url.Values{"messages": {messages}})
}

func accept(ids ...uint64) string {
	var parts []map[string]any
	for _, id := range ids {
		parts = append(parts, map[string]any{"id": id, "accept": "YES"})
	}
	b, _ := json.Marshal(parts)
	return string(b)
}

func content(path string) []byte { return []byte("content of " + path) }

// seedTree gives c the files the seed's source example names.
func seedTree(c *client) {
	for _, p := range []string{
		"path/to/folder1/file1.ext", "path/to/folder2/file1.ext",
		"path/to/folder3/file1.ext", "path/to/folder3/sub-folder1/file2.ext", "path/to/folder3/file3.ext",
		"path/to/folder3/not-sent.txt",
		"path/to/folder4/file1.ext", "path/to/folder4/file2.ext", "path/to/folder4/file3.ext",
	} {
		c.mustPut(p, content(p))
	}
}

var timestampRE = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}[+-]\d\d$`)

// topologyOf makes a test's servers: oneNode, or threeNodes
// (TestCluster_Suite).
type topologyOf = func(*testing.T, ...func(*app.Config)) *topology

func TestSend_SeedExamples(t *testing.T) { sendSeedExamples(t, oneNode) }

func sendSeedExamples(t *testing.T, on topologyOf) {
	tp := on(t)
	sender := tp.user(tp.a, "ann@example.com", "User ann@example.com")
	receiver := tp.user(tp.b, "ben@example.com", "User ben@example.com")
	seedTree(sender)

	sent := sender.mustSend("Ben@Example.com", seedSource)
	require.Len(t, sent, 4, "two file messages, two folder messages")
	inbox := tp.inbox(receiver, 4)
	ids := inboxIDs(inbox)
	if !tp.cluster {
		assert.Equal(t, sent, ids, "one server: the sender's ids are the receiver's")
	}
	size := func(ps ...string) (n int64) {
		for _, p := range ps {
			n += int64(len(content(p)))
		}
		return n
	}
	want := []struct {
		dest string
		size int64
	}{
		{"path/to/folder1/file1.ext", size("path/to/folder1/file1.ext")},
		{"path/to/folder2/file1.ext", size("path/to/folder2/file1.ext")},
		{"path/to/folder3", size("path/to/folder3/file1.ext", "path/to/folder3/sub-folder1/file2.ext", "path/to/folder3/file3.ext")},
		{"path/to/folder4", size("path/to/folder4/file1.ext", "path/to/folder4/file2.ext", "path/to/folder4/file3.ext")},
	}
	for i, m := range inbox {
		assert.Equal(t, want[i].dest, m.Destination, "oldest first")
		assert.Equal(t, "SEND", m.Type)
		assert.Equal(t, want[i].dest, m.Destination)
		assert.Equal(t, want[i].size, m.Size)
		assert.Regexp(t, timestampRE, m.Timestamp)
		assert.Equal(t, "User ann@example.com", m.SenderName)
		assert.Equal(t, "ann@example.com", m.SenderEmail)
	}
	// The raw JSON has sizes as integers (the seed shows strings; we don't).
	assert.Regexp(t, `"size":\d+,`, string(receiver.get("/inbox/list", nil).Body))

	// The seed's messages example names ids nobody has.
	r := receiver.decide(seedMessages)
	r.requireStatus(http.StatusAccepted)
	assert.JSONEq(t, `[{"id":123,"error":"MESSAGE_NOT_FOUND"},{"id":456,"error":"MESSAGE_NOT_FOUND"},{"id":789,"error":"MESSAGE_NOT_FOUND"}]`, string(r.Body))

	// The same shape with the real ids: YES, NO, and no accept (NO).
	real := fmt.Sprintf(`[{"id":%d, "accept":"YES"},{"id":%d, "accept":"NO"},{"id":%d},{"id":%d, "accept":"YES"}]`, ids[0], ids[1], ids[2], ids[3])
	r = receiver.decide(real)
	r.requireStatus(http.StatusOK)
	assert.JSONEq(t, `[]`, string(r.Body))
	assert.Empty(t, receiver.inbox())
	assert.Equal(t, content("path/to/folder1/file1.ext"), receiver.getFile("path/to/folder1/file1.ext").Body)
	receiver.getFile("path/to/folder2/file1.ext").requireError(404, ferry.EFILENOTFOUND)
	receiver.get("/ops/list", url.Values{"path": {"path/to/folder3"}}).requireError(404, ferry.EFILENOTFOUND)
	assert.Equal(t, []ferry.Entry{
		{File: "path/to/folder4/file1.ext", Size: size("path/to/folder4/file1.ext"), Type: "f"},
		{File: "path/to/folder4/file2.ext", Size: size("path/to/folder4/file2.ext"), Type: "f"},
		{File: "path/to/folder4/file3.ext", Size: size("path/to/folder4/file3.ext"), Type: "f"},
	}, receiver.list("path/to/folder4"))

	tp.eventually(func() bool {
		return slices.Equal([]string{"accepted", "declined", "declined", "accepted"}, sender.outboxStatuses())
	}, "the sender's outbox says what became of each")
	for _, m := range sender.outbox() {
		assert.Equal(t, "ben@example.com", m.To)
		assert.Regexp(t, timestampRE, m.Timestamp)
	}
	q := receiver.quota()
	assert.Equal(t, want[0].size+want[3].size, q.Normal)
	assert.Equal(t, want[0].size+want[3].size, q.Received)

	// Processed ones are MESSAGE_ALREADY_READ; JSON bodies work as forms do.
	r = receiver.postJSON("/inbox/update", map[string]any{"messages": []map[string]any{{"id": ids[0], "accept": "YES"}, {"id": fmt.Sprint(ids[1])}}})
	r.requireStatus(http.StatusAccepted)
	assert.JSONEq(t, fmt.Sprintf(`[{"id":%d,"error":"MESSAGE_ALREADY_READ"},{"id":"%d","error":"MESSAGE_ALREADY_READ"}]`, ids[0], ids[1]), string(r.Body))
}

func TestSend_FolderSentWhole(t *testing.T) {
	ts := startServer(t)
	sender := ts.newUser("cal@example.com")
	receiver := ts.newUser("dee@example.com")
	sender.mustPut("album/a.jpg", []byte("aaa"))
	sender.mustPut("album/trip/b.jpg", []byte("bbbb"))
	sender.postForm("/ops/mkdir", url.Values{"path": {"album/empty"}}).requireStatus(http.StatusOK)

	ids := sender.mustSend("dee@example.com", `[{"path":"album","files":[],"folder":true}]`)
	require.Len(t, ids, 1)
	assert.Equal(t, int64(7), receiver.inbox()[0].Size)
	receiver.decide(accept(ids...)).requireStatus(http.StatusOK)
	assert.Equal(t, []ferry.Entry{
		{File: "album/a.jpg", Size: 3, Type: "f"},
		{File: "album/empty", Size: 0, Type: "d"},
		{File: "album/trip", Size: 4, Type: "d"},
	}, receiver.list("album"))
	assert.Equal(t, []byte("bbbb"), receiver.getFile("album/trip/b.jpg").Body)
}

func TestSend_Validation(t *testing.T) {
	ts := startServer(t, func(c *app.Config) {
		c.Send.MaxEntries = 3
		c.Send.MaxFiles = 4
		c.Send.MaxPending = 5
	})
	sender := ts.newUser("eli@example.com")
	receiver := ts.newUser("fox@example.com")
	sender.mustPut("d/a.txt", []byte("a"))
	sender.mustPut("d/b.txt", []byte("b"))
	sender.mustPut("d/sub/c.txt", []byte("c"))
	_ = ts.addUser("off@example.com", password)
	yes := true
	_, err := ts.admin().SetUser(app.SetUserRequest{Email: "off@example.com", Disabled: &yes})
	require.NoError(t, err)

	for _, tc := range []struct {
		to, source string
		status     int
		code       string
	}{
		{"nobody@example.com", `[{"path":"d","files":["a.txt"]}]`, 400, ferry.EBADREQUEST},
		{"off@example.com", `[{"path":"d","files":["a.txt"]}]`, 400, ferry.EBADREQUEST},
		{"eli@example.com", `[{"path":"d","files":["a.txt"]}]`, 400, ferry.EBADREQUEST},
		{"", `[{"path":"d","files":["a.txt"]}]`, 400, ferry.EBADREQUEST},
		{"fox@example.com", `[{"path":"d","files":["a.txt"]`, 400, ferry.EBADREQUEST},
		{"fox@example.com", `{"path":"d"}`, 400, ferry.EBADREQUEST},
		{"fox@example.com", `[]`, 400, ferry.EBADREQUEST},
		{"fox@example.com", ``, 400, ferry.EBADREQUEST},
		{"fox@example.com", `[{"path":"d"}]`, 400, ferry.EBADREQUEST},
		{"fox@example.com", `[{"path":"d","files":["sub"]}]`, 400, ferry.EBADREQUEST},
		{"fox@example.com", `[{"path":"d/a.txt","files":[],"folder":true}]`, 400, ferry.EBADREQUEST},
		{"fox@example.com", `[{"path":"","files":[],"folder":true}]`, 400, ferry.EBADREQUEST},
		{"fox@example.com", `[{"path":"d","files":["../x"]}]`, 400, ferry.EBADREQUEST},
		{"fox@example.com", `[{"path":"d","files":[""]}]`, 400, ferry.EBADREQUEST},
		{"fox@example.com", `[{"path":"d","files":["a.txt"]},{"path":"d","files":["nope.txt"]}]`, 404, ferry.EFILENOTFOUND},
		{"fox@example.com", `[{"path":"d","files":["a.txt"]},{"path":"d","files":["gone"],"folder":true}]`, 404, ferry.EFILENOTFOUND},
		{"fox@example.com", `[{"path":"d","files":["a.txt"]},{"path":"d","files":["a.txt"]},{"path":"d","files":["a.txt"]},{"path":"d","files":["a.txt"]}]`, 400, ferry.EBADREQUEST},
		{"fox@example.com", `[{"path":"d","files":["a.txt","b.txt"]},{"path":"d","files":[],"folder":true}]`, 400, ferry.EBADREQUEST}, // 2 + 4 items > 4
	} {
		sender.send(tc.to, tc.source).requireError(tc.status, tc.code)
	}
	assert.Empty(t, receiver.inbox(), "nothing is sent unless the whole request is valid")
	assert.Empty(t, sender.outbox())

	// Five may wait; the sixth is refused whole.
	sender.mustSend("fox@example.com", `[{"path":"d","files":["a.txt","b.txt","sub/c.txt"]}]`)
	sender.mustSend("fox@example.com", `[{"path":"d","files":["a.txt","b.txt"]}]`)
	sender.send("fox@example.com", `[{"path":"d","files":["a.txt"]}]`).requireError(403, ferry.EQUOTAEXCEEDED)
	assert.Len(t, receiver.inbox(), 5)
	ts.client().send("fox@example.com", `[{"path":"d","files":["a.txt"]}]`).requireError(401, ferry.ENOPERMISSION)
}

func TestSend_SnapshotSurvivesEditsAndDeletes(t *testing.T) {
	ts := startServer(t)
	sender := ts.newUser("gil@example.com")
	receiver := ts.newUser("hana@example.com")
	sender.mustPut("report.txt", []byte("version 1"))
	sender.mustPut("project/plan.txt", []byte("plan 1"))
	sender.mustPut("project/notes/n.txt", []byte("notes 1"))
	blobs := ts.blobFiles()
	ids := sender.mustSend("hana@example.com", `[{"path":"","files":["report.txt"]},{"path":"project","files":[],"folder":true}]`)
	ts.requireBlobs(blobs, "a send copies no bytes")

	// The sender edits, deletes, moves and adds after sending.
	sender.mustPut("report.txt", []byte("version 2, much longer"))
	sender.mustPut("project/notes/n.txt", []byte("notes 2"))
	sender.mustPut("project/late.txt", []byte("added later"))
	sender.postForm("/ops/move", url.Values{"source": {"project"}, "destination": {"old/project"}}).requireStatus(http.StatusOK)
	sender.postForm("/ops/delete", url.Values{"file[]": {"old"}}).requireStatus(http.StatusOK)

	receiver.decide(accept(ids...)).requireStatus(http.StatusOK)
	assert.Equal(t, "version 1", string(receiver.getFile("report.txt").Body))
	assert.Equal(t, "plan 1", string(receiver.getFile("project/plan.txt").Body))
	assert.Equal(t, "notes 1", string(receiver.getFile("project/notes/n.txt").Body))
	receiver.getFile("project/late.txt").requireError(404, ferry.EFILENOTFOUND)
	assert.Equal(t, "version 2, much longer", string(sender.getFile("report.txt").Body))
	assert.Equal(t, int64(len("version 1")+len("plan 1")+len("notes 1")), receiver.quota().Normal)
}

func TestSend_AcceptAll(t *testing.T) {
	ts := startServer(t, func(c *app.Config) {
		c.Packages["free"] = app.Package{Storage: 100}
	})
	sender := ts.newUnlimitedUser("xan@example.com")
	receiver := ts.newUser("yas@example.com")
	receiver.postForm("/settings/update", url.Values{"accept_all": {"1"}}).requireStatus(http.StatusOK)
	var s struct {
		AcceptAll bool `json:"accept_all"`
	}
	receiver.get("/settings/list", nil).requireStatus(http.StatusOK).decode(&s)
	assert.True(t, s.AcceptAll)

	sender.mustPut("small.bin", make([]byte, 60))
	sender.mustPut("tree/a.bin", make([]byte, 10))
	sender.mustPut("too-big.bin", make([]byte, 50))
	ids := sender.mustSend("yas@example.com", `[{"path":"","files":["small.bin","too-big.bin"]},{"path":"tree","files":[],"folder":true}]`)
	// small (60) and tree (10) fit at once; too-big (50) would pass 100.
	assert.Equal(t, []ferry.Entry{
		{File: "small.bin", Size: 60, Type: "f"},
		{File: "tree", Size: 10, Type: "d"},
	}, receiver.list(""))
	inbox := receiver.inbox()
	require.Len(t, inbox, 1)
	assert.Equal(t, ids[1], inbox[0].ID)
	assert.Equal(t, []string{"accepted", "pending", "accepted"}, sender.outboxStatuses())

	receiver.postForm("/settings/update", url.Values{"accept_all": {"0"}}).requireStatus(http.StatusOK)
	sender.mustSend("yas@example.com", `[{"path":"","files":["tree/a.bin"]}]`)
	assert.Len(t, receiver.inbox(), 2, "without accept_all it waits")
	receiver.postForm("/settings/update", url.Values{"accept_all": {"yes"}}).requireError(400, ferry.EBADREQUEST)
}

func TestSend_RestartBetweenSendAndAccept(t *testing.T) {
	ts := startServer(t)
	sender := ts.newUser("zed@example.com")
	ts.addUser("amy@example.com", password)
	sender.mustPut("keep/a.txt", []byte("survives a restart"))
	ids := sender.mustSend("amy@example.com", `[{"path":"keep","files":[],"folder":true}]`)
	sender.postForm("/ops/delete", url.Values{"file[]": {"keep"}}).requireStatus(http.StatusOK)

	ts = ts.restart()
	receiver := ts.login("amy@example.com", password)
	inbox := receiver.inbox()
	require.Len(t, inbox, 1)
	assert.Equal(t, ids[0], inbox[0].ID)
	receiver.decide(accept(ids...)).requireStatus(http.StatusOK)
	assert.Equal(t, "survives a restart", string(receiver.getFile("keep/a.txt").Body))
	sender = ts.login("zed@example.com", password)
	assert.Equal(t, "accepted", sender.outbox()[0].Status)
}

// A message whose content file has gone from the disk (damage fsck would
// report) is not accepted: FILE_NOT_FOUND, and it stays in the inbox. The
// files are looked for before the write transaction; this proves the
// answer is the same.
func TestSend_AcceptWithContentMissing(t *testing.T) {
	ts := startServer(t)
	alice, bob := ts.newUser("alice@example.com"), ts.newUser("bob@example.com")
	content := []byte("the report")
	alice.mustPut("docs/report.txt", content)
	id := alice.mustSend("bob@example.com", `[{"path":"docs","files":["report.txt"]}]`)[0]

	putBack := ts.blobs().Hide(sha(content))
	r := bob.decide(accept(id))
	r.requireStatus(http.StatusAccepted)
	assert.JSONEq(t, fmt.Sprintf(`[{"id":%d,"error":"FILE_NOT_FOUND"}]`, id), string(r.Body))
	inbox := bob.inbox()
	require.Len(t, inbox, 1)
	dest := inbox[0].Destination
	bob.getFile(dest).requireError(404, ferry.EFILENOTFOUND)

	putBack()
	bob.decide(accept(id)).requireStatus(http.StatusOK)
	assert.Equal(t, content, bob.getFile(dest).Body)
}
