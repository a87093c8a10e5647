package api_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/app"
	"github.com/ferryhq/ferry/ferrytest"
)

// Moving an account while it is in use: Alice moves from a to c with her
// folder, a link, contacts on her node and on another, and sends waiting
// both ways (to and from Frank on her old node, to and from Bob on b),
// while Bob keeps sending to her and she keeps sending to him. Her
// session, her link and her password go on working through any node;
// every acknowledged send arrives exactly once and is decided, and each
// sender hears the outcome; a is left with nothing of hers; an account
// with file requests does not move. Every node's fsck agrees at the end.
func TestCluster_MoveUser(t *testing.T) {
	t.Parallel() // (waiting more than computing: beside the others)
	etcd := ferrytest.StartEtcd(t, 1)
	s3 := sharedS3(t)
	peer := ferrytest.StartSMTP(t)
	nodes := map[string]*testServer{}
	for _, id := range []string{"a", "b", "c"} {
		nodes[id] = startServer(t, longTokens, peer.Configure, func(c *app.Config) {
			s3.UseS3(c)
			c.Auth.Signup = "invite"
			c.Metrics.Token = "scrape-secret"
			c.Cluster.Node, c.Cluster.Addr, c.Cluster.Etcd, c.Cluster.Secret = id, "127.0.0.1:0", etcd.Endpoints(), "cluster secret"
		})
	}
	a, b, c := nodes["a"], nodes["b"], nodes["c"]
	a.namedUser("alice@example.com", "Alice Mover") // (signed in once: a session)
	a.namedUser("frank@example.com", "Frank Stays")
	b.namedUser("bob@example.com", "Bob Elsewhere")
	alice := b.login("alice@example.com", password) // (through b: her token names a)
	frank, bob := a.login("frank@example.com", password), b.login("bob@example.com", password)
	require.True(t, strings.HasPrefix(alice.token, "a."))

	big := randomBytes(t, 1<<20)
	alice.mustPut("docs/big.bin", big)
	alice.mustPut("docs/notes/n.txt", []byte("a note"))
	alice.mustPut("gift.txt", []byte("for frank"))
	alice.mustPut("gift2.txt", []byte("for bob"))
	var link struct{ URL string }
	alice.link("docs/notes/n.txt", "3600").requireStatus(http.StatusOK).decode(&link)
	alice.postForm("/contacts/add", url.Values{"email[]": {"frank@example.com", "bob@example.com"}}).requireStatus(http.StatusOK)
	frank.postForm("/contacts/add", url.Values{"email[]": {"alice@example.com"}}).requireStatus(http.StatusOK)
	frank.mustPut("f.txt", []byte("from frank"))
	bob.mustPut("b.txt", []byte("from bob"))
	frank.mustSend("alice@example.com", `[{"path":"","files":["f.txt"]}]`)
	bob.mustSend("alice@example.com", `[{"path":"","files":["b.txt"]}]`)
	alice.mustSend("frank@example.com", `[{"path":"","files":["gift.txt"]}]`)
	alice.mustSend("bob@example.com", `[{"path":"","files":["gift2.txt"]}]`)
	alice.postForm("/ops/send", url.Values{"to": {"dan@example.com"}, "invite": {"1"}, "source": {`[{"path":"","files":["gift.txt"]}]`}}).
		requireStatus(http.StatusOK)
	code := mailTo(t, peer, "dan@example.com").SignupCode(t)
	require.Eventually(t, func() bool { return len(alice.inbox()) == 2 && len(bob.inbox()) == 1 }, 10*time.Second, 50*time.Millisecond)
	aliceTree := alice.list("")

	// Sends both ways while she moves: each acknowledged one counts.
	var toHer, fromHer atomic.Int32
	stop := make(chan struct{})
	var wg sync.WaitGroup
	keepSending := func(from *client, to, file string, n *atomic.Int32) {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if r := from.send(to, `[{"path":"","files":["`+file+`"]}]`); r.Status == http.StatusOK {
				n.Add(1)
			} else {
				assert.Equal(t, http.StatusServiceUnavailable, r.Status, "%s", r.Body)
				assert.NotEmpty(t, r.Header.Get("Retry-After"))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	wg.Add(2)
	go keepSending(bob.at(c), "alice@example.com", "b.txt", &toHer)
	go keepSending(alice.at(a), "bob@example.com", "gift2.txt", &fromHer)
	time.Sleep(200 * time.Millisecond)
	var out bytes.Buffer
	require.NoError(t, app.ClusterMove(context.Background(), b.Cfg, "alice@example.com", "c", &out))
	assert.Regexp(t, `^moved alice@example.com from a to c \(directory revision \d+\): 6 files and folders, \d+ sends waiting for it, \d+ of its sends waiting, 2 sessions and tokens, 1 links, 2 contacts\n$`, out.String())
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	require.Positive(t, toHer.Load())
	require.Positive(t, fromHer.Load())

	// Her session goes on, through any node, on c now.
	for _, n := range []*testServer{a, b, c} {
		assert.Equal(t, aliceTree, alice.at(n).list(""), "her folder, through %s", n.Cfg.Cluster.Node)
	}
	assert.Equal(t, big, alice.at(a).getFile("docs/big.bin").Body, "c's own copy, byte for byte")
	anon := &client{t: t, http: http.DefaultClient}
	assert.Equal(t, "a note", string(anon.request(http.MethodGet, link.URL, nil, "").requireStatus(http.StatusOK).Body), "her link, from c")
	again := a.login("alice@example.com", password)
	assert.True(t, strings.HasPrefix(again.token, "c."), "a sign-in lands on c: %s", again.token)
	var status bytes.Buffer
	require.NoError(t, app.ClusterStatus(context.Background(), a.Cfg, &status))
	assert.Regexp(t, `(?m)^a .* 1 +\d+  live`, status.String(), "a keeps Frank alone")
	assert.Regexp(t, `(?m)^c .* 1 +\d+  live`, status.String())

	// Every send to her arrived once: Frank's, Bob's and those during the
	// move; she accepts them all.
	want := 2 + int(toHer.Load())
	var in []inboxMsg
	require.Eventually(t, func() bool { in = alice.inbox(); return len(in) == want }, 15*time.Second, 100*time.Millisecond, "%d sends for her", want)
	time.Sleep(500 * time.Millisecond)
	in = alice.inbox()
	require.Len(t, in, want, "none twice")
	senders := map[string]int{}
	var accept []string
	for _, m := range in {
		senders[m.SenderEmail]++
		accept = append(accept, `{"id":`+strconv.FormatUint(m.ID, 10)+`,"accept":"YES"}`)
	}
	assert.Equal(t, map[string]int{"frank@example.com": 1, "bob@example.com": want - 1}, senders)
	alice.decide("[" + strings.Join(accept, ",") + "]").requireStatus(http.StatusOK)
	assert.Equal(t, "from frank", string(alice.getFile("f.txt").Body))
	assert.Equal(t, "from bob", string(alice.getFile("b.txt").Body))
	require.Eventually(t, func() bool {
		st := frank.outboxStatuses()
		return len(st) == 1 && st[0] == "accepted"
	}, 10*time.Second, 50*time.Millisecond, "Frank hears she accepted")
	require.Eventually(t, func() bool {
		for _, s := range bob.outboxStatuses() {
			if s != "accepted" {
				return false
			}
		}
		return true
	}, 10*time.Second, 50*time.Millisecond, "Bob hears she accepted each")

	// Her sends: to Frank (waiting on a) and to Bob, before and during the
	// move; each one decided is told to her on c.
	var fin []inboxMsg
	require.Eventually(t, func() bool { fin = frank.inbox(); return len(fin) == 1 }, 10*time.Second, 50*time.Millisecond)
	assert.Equal(t, "alice@example.com", fin[0].SenderEmail)
	frank.decide(`[{"id":` + strconv.FormatUint(fin[0].ID, 10) + `,"accept":"YES"}]`).requireStatus(http.StatusOK)
	assert.Equal(t, "for frank", string(frank.getFile("gift.txt").Body))
	wantBob := 1 + int(fromHer.Load())
	var bin []inboxMsg
	require.Eventually(t, func() bool { bin = bob.inbox(); return len(bin) == wantBob }, 15*time.Second, 100*time.Millisecond, "%d sends for Bob", wantBob)
	time.Sleep(500 * time.Millisecond)
	require.Len(t, bob.inbox(), wantBob, "none twice")
	var decline []string
	for _, m := range bin {
		decline = append(decline, `{"id":`+strconv.FormatUint(m.ID, 10)+`,"accept":"NO"}`)
	}
	bob.decide("[" + strings.Join(decline, ",") + "]").requireStatus(http.StatusOK)
	require.Eventually(t, func() bool {
		st := alice.outboxStatuses()
		n := map[string]int{}
		for _, s := range st {
			n[s]++
		}
		return len(st) == 2+wantBob && n["accepted"] == 1 && n["declined"] == wantBob && n["invited"] == 1
	}, 15*time.Second, 100*time.Millisecond, "she hears each outcome on c")

	// Her invitation is still good after the move: Dan's account is made
	// on a, where her send to him waits; his accept is told to her on c.
	var dan struct{ Token string }
	b.client().postForm("/auth/register", url.Values{"email": {"dan@example.com"}, "password": {password}, "invite": {code}}).
		requireStatus(http.StatusOK).decode(&dan)
	assert.True(t, strings.HasPrefix(dan.Token, "a."), dan.Token)
	danC := c.client()
	danC.token = dan.Token
	din := danC.inbox()
	require.Len(t, din, 1)
	assert.Equal(t, "alice@example.com", din[0].SenderEmail)
	danC.decide(`[{"id":` + strconv.FormatUint(din[0].ID, 10) + `,"accept":"YES"}]`).requireStatus(http.StatusOK)
	assert.Equal(t, "for frank", string(danC.getFile("gift.txt").Body))
	require.Eventually(t, func() bool {
		n := 0
		for _, s := range alice.outboxStatuses() {
			if s == "accepted" {
				n++
			}
		}
		return n == 2
	}, 10*time.Second, 100*time.Millisecond, "she hears Dan accepted")

	// Contacts follow: hers on a and b, and Frank's of her.
	emails := func(rows []contactRow) []string {
		var list []string
		for _, r := range rows {
			list = append(list, r.Email)
		}
		return list
	}
	assert.ElementsMatch(t, []string{"frank@example.com", "bob@example.com"}, emails(alice.contacts("")))
	assert.Equal(t, []string{"alice@example.com"}, emails(frank.contacts("")))

	// An account with a file request does not move.
	frank.postForm("/requests", url.Values{"title": {"Papers"}, "expires": {"3600"}}).requireStatus(http.StatusOK)
	out.Reset()
	err := app.ClusterMove(context.Background(), c.Cfg, "frank@example.com", "b", &out)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "file requests")
	frank.mustPut("still.txt", []byte("not frozen")) // (and it stays usable)
	assert.True(t, strings.HasPrefix(frank.token, "a."))
}

// Sign-in through the identity provider with three nodes behind one
// public address (c's, as a load balancer would be): Sam's first sign-in
// makes his account on c; moved to a, his next sign-in still goes
// through c, which verifies it and hands it to a (a ticket his browser
// brings there, in its URL and its cookie), and his session is a's. A
// ticket without its cookie, or used twice, signs no one in.
func TestCluster_SSOAcrossNodes(t *testing.T) {
	t.Parallel() // (waiting more than computing)
	idp := ferrytest.NewOIDC(t)
	idp.AddUser(ferrytest.OIDCUser{ID: "sam-1", Username: "sam", Password: "sam's idp password", Email: "sam@example.com", EmailVerified: true, FirstName: "Sam", LastName: "Vimes"})
	etcd := ferrytest.StartEtcd(t, 1)
	s3 := sharedS3(t)
	front := ferrytest.FreeAddr(t) // c's listener, and everyone's public_url
	nodes := map[string]*testServer{}
	for _, id := range []string{"a", "b", "c"} {
		nodes[id] = startServer(t, longTokens, idp.Configure("ferry", "ferry's secret"), func(c *app.Config) {
			s3.UseS3(c)
			c.PublicURL = "http://" + front
			if id == "c" {
				c.Listen = front
			}
			c.Cluster.Node, c.Cluster.Addr, c.Cluster.Etcd, c.Cluster.Secret = id, "127.0.0.1:0", etcd.Endpoints(), "cluster secret"
		})
	}
	idp.Serve(ferrytest.OIDCClient{ID: "ferry", Secret: "ferry's secret", RedirectURI: "http://" + front + "/auth/oidc/callback"})
	c := nodes["c"]
	session := func(b *browser) string {
		u, err := url.Parse(c.Root)
		require.NoError(t, err)
		for _, k := range b.http.Jar.Cookies(u) {
			if k.Name == "ferry" {
				return k.Value
			}
		}
		return ""
	}

	first := c.browser()
	r := first.ssoSignIn("sam", "sam's idp password")
	require.Equal(t, http.StatusSeeOther, r.Status, "%s", r.Body)
	require.True(t, strings.HasPrefix(session(first), "c."), "made on c: %s", session(first))

	var out bytes.Buffer
	require.NoError(t, app.ClusterMove(context.Background(), c.Cfg, "sam@example.com", "a", &out), out.String())

	b := c.browser()
	back := b.atProvider(b.startSSO(), "sam", "sam's idp password")
	r = b.callback(back)
	require.Equal(t, http.StatusSeeOther, r.Status, "%s", r.Body)
	resume := r.Header.Get("Location")
	require.True(t, strings.HasPrefix(resume, "/auth/oidc/resume?ticket=a."), "handed to a: %s", resume)

	// The ticket alone (another browser) signs no one in.
	thief := c.browser()
	assert.Equal(t, http.StatusBadRequest, thief.get(resume).Status)

	r = b.get(resume)
	require.Equal(t, http.StatusSeeOther, r.Status, "%s", r.Body)
	assert.Equal(t, "/files/", r.Header.Get("Location"))
	assert.True(t, strings.HasPrefix(session(b), "a."), "a's session: %s", session(b))
	b.get("/files/").requireStatus(http.StatusOK)
	assert.Equal(t, http.StatusBadRequest, b.get(resume).Status, "a ticket is used once")
}

// The admin calls in cluster mode: an administrator on a sees every
// node's accounts, changes one on b and deletes one on c (each applied on
// its node, the administrator the actor in that node's audit log; the
// deleted email free again in the directory); another node's account's
// audit log is that node's, and the call says so.
func TestCluster_AdminAcrossNodes(t *testing.T) {
	t.Parallel() // (waiting more than computing)
	etcd := ferrytest.StartEtcd(t, 1)
	s3 := sharedS3(t)
	nodes := map[string]*testServer{}
	for _, id := range []string{"a", "b", "c"} {
		nodes[id] = startServer(t, longTokens, func(c *app.Config) {
			s3.UseS3(c)
			c.Packages["pro"] = app.Package{Storage: 50_000_000_000}
			c.Cluster.Node, c.Cluster.Addr, c.Cluster.Etcd, c.Cluster.Secret = id, "127.0.0.1:0", etcd.Endpoints(), "cluster secret"
		})
	}
	a, b, c := nodes["a"], nodes["b"], nodes["c"]
	a.namedUser("root@example.com", "Root Admin")
	yes := true
	_, err := a.admin().SetUser(app.SetUserRequest{Email: "root@example.com", Admin: &yes})
	require.NoError(t, err)
	b.namedUser("bob@example.com", "Bob B")
	c.namedUser("carl@example.com", "Carl C")
	root := c.login("root@example.com", password) // (through c: served on a)

	var users []struct {
		Email   string `json:"email"`
		Package string `json:"package"`
	}
	root.get("/admin/users", nil).requireStatus(http.StatusOK).decode(&users)
	require.Len(t, users, 3, "every node's accounts")
	assert.Equal(t, []string{"bob@example.com", "carl@example.com", "root@example.com"}, []string{users[0].Email, users[1].Email, users[2].Email})

	var bob struct{ Package string }
	root.postForm("/admin/users/update", url.Values{"email": {"bob@example.com"}, "package": {"pro"}}).requireStatus(http.StatusOK).decode(&bob)
	assert.Equal(t, "pro", bob.Package)
	line, ok := b.userLine("bob@example.com")
	require.True(t, ok)
	assert.Equal(t, "pro", line.Package, "changed on b")
	var log bytes.Buffer
	require.NoError(t, b.admin().ExportAudit(app.AuditExport{Format: "jsonl"}, &log))
	assert.Regexp(t, `"action":"admin_update".*"actor":"root@example.com"|"actor":"root@example.com".*"action":"admin_update"`, log.String(), "b's log names the administrator")
	root.postForm("/admin/users/update", url.Values{"email": {"bob@example.com"}, "package": {"nope"}}).requireError(400, ferry.EBADREQUEST)

	root.postForm("/admin/users/delete", url.Values{"email": {"carl@example.com"}}).requireStatus(http.StatusOK)
	_, ok = c.userLine("carl@example.com")
	assert.False(t, ok, "deleted on c")
	b.namedUser("carl@example.com", "Carl Again") // (the email is free in the directory)
	root.postForm("/admin/users/delete", url.Values{"email": {"nobody@example.com"}}).requireError(404, ferry.EUSERNOTFOUND)

	root.get("/admin/audit", url.Values{"user": {"bob@example.com"}}).requireError(400, ferry.EBADREQUEST)
	root.get("/admin/audit", url.Values{"user": {"root@example.com"}}).requireStatus(http.StatusOK)

	// The console's pages, in a browser through c.
	page := c.browser()
	page.signIn("root@example.com", password)
	console := string(page.get("/admin").requireStatus(http.StatusOK).Body)
	for _, email := range []string{"bob@example.com", "carl@example.com", "root@example.com"} {
		assert.Contains(t, console, email)
	}
	person := string(page.get("/admin/people/bob@example.com").requireStatus(http.StatusOK).Body)
	assert.Contains(t, person, "kept by node b: its events are in that node's audit log")
	assert.NotContains(t, person, "This is your own account")
	// Its reset link is made and mailed by b, whose code names b.
	r := page.post("/admin/people/bob@example.com", url.Values{"what": {"reset_mail"}})
	require.Equal(t, http.StatusSeeOther, r.Status, "%s", r.Body)
	mails, err := b.admin().ListMail()
	require.NoError(t, err)
	found := false
	for _, m := range mails {
		found = found || (m.To == "bob@example.com" && strings.Contains(m.Subject, "password"))
	}
	assert.True(t, found, "b queued Bob's reset mail: %+v", mails)
}
