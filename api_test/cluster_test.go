package api_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/app"
	"github.com/ferryhq/ferry/ferrytest"
)

// startCluster runs one ferry node per id on a shared etcd and S3, each
// with its own data directory and internal listener.
func startCluster(t *testing.T, etcd *ferrytest.Etcd, s3 *ferrytest.S3, ids ...string) map[string]*testServer {
	t.Helper()
	nodes := map[string]*testServer{}
	for _, id := range ids {
		nodes[id] = startServer(t, longTokens, func(c *app.Config) {
			s3.UseS3(c)
			c.Auth.Signup = "open"
			c.Metrics.Token = "scrape-secret"
			c.Cluster.Node, c.Cluster.Addr, c.Cluster.Etcd, c.Cluster.Secret = id, "127.0.0.1:0", etcd.Endpoints(), "cluster secret"
		})
	}
	return nodes
}

// at is c's calls sent to node ts instead.
func (c *client) at(ts *testServer) *client {
	return &client{t: c.t, base: ts.URL, http: c.http, token: c.token}
}

// forwarded is /metrics' count of requests ts forwarded to node.
func forwarded(ts *testServer, node string) int {
	root := &client{t: ts.t, base: ts.Root, http: http.DefaultClient}
	m := regexp.MustCompile(`\nferry_cluster_forwarded_total\{node="` + node + `"\} (\d+)\n`).FindStringSubmatch(string(root.scrape(ts.Root + "/metrics").Body))
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// Three nodes on three etcd members: an account lives on the node that
// made it, and any node serves it (a sign-in by email, its token, files
// up and down, WebDAV, the web app's session) by forwarding to the owner,
// streaming; a request to the owner forwards nothing. A signup lands on
// the node the email is placed on; two nodes making the same account at
// once: one wins, the other answers EMAIL_ALREADY_EXIST. A node that is
// down answers 503 with Retry-After for its users only.
func TestCluster_AnyNodeServesAnyUser(t *testing.T) {
	etcd := ferrytest.StartEtcd(t, 3)
	nodes := startCluster(t, etcd, sharedS3(t), "a", "b", "c")
	a, b, c := nodes["a"], nodes["b"], nodes["c"]
	a.addUser("alice@example.com", password)
	b.addUser("bob@example.com", password)

	// Alice signs in through c, which owns neither.
	alice := c.login("alice@example.com", password)
	assert.True(t, strings.HasPrefix(alice.token, "a."), "her token names her node: %s", alice.token)
	big := randomBytes(t, 3<<20)
	alice.at(b).mustPut("docs/big.bin", big)
	assert.Equal(t, big, alice.at(c).getFile("docs/big.bin").Body, "streamed through another node, byte for byte")
	assert.Equal(t, []ferry.Entry{{File: "docs/big.bin", Size: int64(len(big)), Type: "f"}}, alice.at(b).list("docs"))
	bob := a.login("bob@example.com", password)
	bob.at(c).mustPut("b.txt", []byte("bob's"))
	alice.at(c).getFile("b.txt").requireError(404, ferry.EFILENOTFOUND) // her folder, not his

	// A client cannot reach the nodes' own calls through the router.
	envelope := `{"seq":1,"from":"a","to":"b","kind":"send","body":{"id":1,"to":"bob@example.com","destination":"x","items":[]}}`
	for _, ts := range []*testServer{a, b, c} {
		req, err := http.NewRequest(http.MethodPost, ts.Root+"/_cluster/apply", strings.NewReader(envelope))
		require.NoError(t, err)
		req.Header.Set("token", bob.token)
		req.Header.Set("Ferry-Cluster-Secret", "a guess")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		assert.Equal(t, http.StatusNotFound, res.StatusCode)
	}
	assert.Empty(t, bob.inbox(), "no envelope from a client")

	// A same-slice request forwards nothing.
	before := forwarded(a, "a") + forwarded(a, "b") + forwarded(a, "c")
	alice.at(a).list("docs")
	alice.at(a).getFile("docs/big.bin").requireStatus(http.StatusOK)
	assert.Equal(t, before, forwarded(a, "a")+forwarded(a, "b")+forwarded(a, "c"), "the owner serves its own without another node")
	assert.Positive(t, forwarded(c, "a"))

	// WebDAV by email and app password, through a node that owns neither.
	d := c.dav(alice)
	d.do(http.MethodPut, "/dav-file.txt", strings.NewReader("over WebDAV")).requireStatus(http.StatusCreated)
	assert.Equal(t, "over WebDAV", string(alice.at(a).getFile("dav-file.txt").Body))

	// The web app: sign-in by email through b, the session's cookie names a.
	br := b.browser()
	br.signIn("alice@example.com", password)
	page := br.get("/files/docs")
	page.requireStatus(http.StatusOK)
	assert.Contains(t, string(page.Body), "big.bin")

	// A signup through any node lands where the email is placed.
	reg := c.client()
	var tok struct{ Token string }
	reg.postForm("/auth/register", url.Values{"email": {"carol@example.com"}, "password": {password}, "name": {"Carol"}}).
		requireStatus(http.StatusOK).decode(&tok)
	var status bytes.Buffer
	require.NoError(t, app.ClusterStatus(context.Background(), a.Cfg, &status))
	home := tok.Token[:1]
	assert.Regexp(t, `(?m)^`+home+` +\S+ +[12] +0  live`, status.String(), "%s", status.String())
	reg.postForm("/auth/register", url.Values{"email": {"carol@example.com"}, "password": {password}, "name": {"Carol"}}).
		requireError(400, ferry.EEMAILEXISTS)

	// Two nodes make the same account at once: one wins.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, ts := range []*testServer{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = ts.admin().AddUser(app.AddUserRequest{Email: "dora@example.com", Password: password, Name: "Dora"})
		}()
	}
	wg.Wait()
	assert.True(t, (errs[0] == nil) != (errs[1] == nil), "one of them wins: %v", errs)
	for _, err := range errs {
		if err != nil {
			assert.Equal(t, ferry.EEMAILEXISTS, ferry.ErrorCode(err))
		}
	}
	c.login("dora@example.com", password) // through a node that made neither

	// b goes down: its users answer 503, the others not.
	b.stop()
	r := bob.at(c).get("/ops/list", url.Values{"path": {""}})
	require.Equal(t, http.StatusServiceUnavailable, r.Status, "%s", r.Body)
	assert.NotEmpty(t, r.Header.Get("Retry-After"))
	assert.Contains(t, string(r.Body), "not answering")
	alice.at(c).list("docs")
	status.Reset()
	require.NoError(t, app.ClusterStatus(context.Background(), a.Cfg, &status))
	assert.Regexp(t, `(?m)^b .*down`, status.String())
}

// Sends across nodes: Alice (on a) sends through c to Bob (on b); the
// send goes by a's outbox to b, arrives once in Bob's inbox with Alice's
// name and his mail; accepted, its bytes are copied in the bucket to b's
// own objects and land in Bob's folder; declined, the other goes back;
// Alice hears of each and her outbox says so. A send while b is down is
// acknowledged, waits in a's outbox (cluster status shows it) and
// arrives when b is back. An invitation's signup through c is made on the
// inviter's node, with the sends. A receiver with accept_all has a send
// accepted on arrival. Every node's fsck agrees at the end.
func TestCluster_SendsAcrossNodes(t *testing.T) {
	etcd := ferrytest.StartEtcd(t, 3)
	peer := ferrytest.StartSMTP(t)
	nodes := map[string]*testServer{}
	s3 := sharedS3(t)
	for _, id := range []string{"a", "b", "c"} {
		nodes[id] = startServer(t, longTokens, peer.Configure, func(c *app.Config) {
			s3.UseS3(c)
			c.Auth.Signup = "invite"
			c.Metrics.Token = "scrape-secret"
			c.Cluster.Node, c.Cluster.Addr, c.Cluster.Etcd, c.Cluster.Secret = id, "127.0.0.1:0", etcd.Endpoints(), "cluster secret"
		})
	}
	a, b, c := nodes["a"], nodes["b"], nodes["c"]
	a.namedUser("alice@example.com", "Alice Sender")
	b.namedUser("bob@example.com", "Bob Receiver")
	alice := c.login("alice@example.com", password)
	bob := c.login("bob@example.com", password)
	report := randomBytes(t, 2<<20)
	alice.mustPut("report.pdf", report)
	alice.mustPut("pics/x.jpg", []byte("a picture"))
	alice.mustPut("pics/sub/y.jpg", []byte("another picture"))
	ids := alice.mustSend("bob@example.com", `[{"path":"","files":["report.pdf"]},{"path":"pics","files":[],"folder":true}]`)
	require.Len(t, ids, 2)

	var in []inboxMsg
	require.Eventually(t, func() bool { in = bob.inbox(); return len(in) == 2 }, 10*time.Second, 50*time.Millisecond, "the send arrives on b")
	assert.Equal(t, "Alice Sender", in[0].SenderName)
	assert.Equal(t, "alice@example.com", in[0].SenderEmail)
	assert.Equal(t, "SEND", in[0].Type)
	assert.Equal(t, "report.pdf", in[0].Destination)
	assert.Equal(t, int64(len(report)), in[0].Size)
	mail := mailTo(t, peer, "bob@example.com")
	assert.Equal(t, "Alice Sender sent you 1 item", mail.Subject(t))

	bob.decide(`[{"id":` + strconv.FormatUint(in[0].ID, 10) + `,"accept":"YES"},{"id":` + strconv.FormatUint(in[1].ID, 10) + `,"accept":"NO"}]`).requireStatus(http.StatusOK)
	assert.Equal(t, report, bob.at(b).getFile("report.pdf").Body, "copied to b's own objects, byte for byte")
	bob.getFile("pics/x.jpg").requireError(404, ferry.EFILENOTFOUND)
	require.Eventually(t, func() bool {
		st := alice.outboxStatuses()
		return len(st) == 2 && st[0] == "accepted" && st[1] == "declined"
	}, 10*time.Second, 50*time.Millisecond, "a hears what became of each")
	decided := mailTo(t, peer, "alice@example.com")
	assert.Contains(t, decided.Body, "report.pdf")

	// Alice deletes her copy: Bob's stays (b holds its own object).
	alice.postForm("/ops/delete", url.Values{"file[]": {"report.pdf"}}).requireStatus(http.StatusOK)
	assert.Equal(t, report, bob.getFile("report.pdf").Body)

	// b down: the send is acknowledged, and waits in a's outbox.
	b.stop()
	alice.mustSend("bob@example.com", `[{"path":"pics","files":["x.jpg"]}]`)
	var status bytes.Buffer
	require.Eventually(t, func() bool {
		status.Reset()
		require.NoError(t, app.ClusterStatus(context.Background(), a.Cfg, &status))
		return regexp.MustCompile(`(?m)^a .* 1  live.*outbox: 1 for b`).MatchString(status.String())
	}, 15*time.Second, 200*time.Millisecond, "cluster status shows a's backlog")
	b.restart()
	require.Eventually(t, func() bool { return len(bob.inbox()) == 1 }, 20*time.Second, 100*time.Millisecond, "the backlog drains once b is back")
	assert.Equal(t, "pics/x.jpg", bob.inbox()[0].Destination)

	// An invitation from a: its code names a, so a signup with it through
	// c is made on a, where the sends wait.
	alice.postForm("/ops/send", url.Values{"to": {"dan@example.com"}, "invite": {"1"}, "source": {`[{"path":"pics","files":["x.jpg"]}]`}}).
		requireStatus(http.StatusOK)
	code := mailTo(t, peer, "dan@example.com").SignupCode(t)
	assert.True(t, strings.HasPrefix(code, "a."), code)
	var dan struct{ Token string }
	c.client().postForm("/auth/register", url.Values{"email": {"dan@example.com"}, "password": {password}, "invite": {code}}).
		requireStatus(http.StatusOK).decode(&dan)
	assert.True(t, strings.HasPrefix(dan.Token, "a."), "made on the invitation's node: %s", dan.Token)
	danC := c.client()
	danC.token = dan.Token
	require.Len(t, danC.inbox(), 1, "the invited send is in Dan's inbox")

	// accept_all: accepted on arrival, copied as by an accept.
	bob.postForm("/settings/update", url.Values{"accept_all": {"1"}}).requireStatus(http.StatusOK)
	alice.mustSend("bob@example.com", `[{"path":"pics/sub","files":["y.jpg"]}]`)
	require.Eventually(t, func() bool { return bob.getFile("pics/sub/y.jpg").Status == http.StatusOK }, 10*time.Second, 50*time.Millisecond)
	assert.Equal(t, "another picture", string(bob.getFile("pics/sub/y.jpg").Body))
	require.Eventually(t, func() bool { st := alice.outboxStatuses(); return st[len(st)-1] == "accepted" }, 10*time.Second, 50*time.Millisecond)
}

// mailTo waits for the first mail to email.
func mailTo(t *testing.T, peer *ferrytest.SMTPPeer, email string) ferrytest.Parsed {
	t.Helper()
	for n := 1; ; n++ {
		for _, m := range peer.WaitMails(n) {
			if len(m.To) == 1 && m.To[0] == email {
				return m.Parse(t)
			}
		}
	}
}

// relay is a TCP relay that can be cut: a partition between two nodes,
// while each still serves its clients.
type relay struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  []net.Conn
}

func startRelay(t *testing.T, target string) *relay {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	r := &relay{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); r.setCut(true) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			if r.cut {
				r.mu.Unlock()
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", r.target)
			if err != nil {
				r.mu.Unlock()
				c.Close()
				continue
			}
			r.conns = append(r.conns, c, up)
			r.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
	return r
}

// setCut cuts the relay (every connection through it closed, new ones
// refused) or heals it.
func (r *relay) setCut(cut bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cut = cut
	if cut {
		for _, c := range r.conns {
			c.Close()
		}
		r.conns = nil
	}
}

// A partition between two nodes: a reaches b's internal listener only
// through a relay, which is cut. Bob's calls through a answer 503 with
// Retry-After, but b serves him directly; Alice's send to him is
// acknowledged and waits in a's outbox. Healed, the backlog drains.
func TestCluster_PartitionHeals(t *testing.T) {
	etcd := ferrytest.StartEtcd(t, 3)
	s3 := sharedS3(t)
	internalB := ferrytest.FreeAddr(t)
	toB := startRelay(t, internalB)
	node := func(id, addr, advertise string) *testServer {
		return startServer(t, longTokens, func(c *app.Config) {
			s3.UseS3(c)
			c.Cluster.Node, c.Cluster.Addr, c.Cluster.Advertise, c.Cluster.Etcd, c.Cluster.Secret = id, addr, advertise, etcd.Endpoints(), "cluster secret"
		})
	}
	a := node("a", ferrytest.FreeAddr(t), "")
	b := node("b", internalB, toB.ln.Addr().String())
	a.addUser("alice@example.com", password)
	b.addUser("bob@example.com", password)
	alice := a.login("alice@example.com", password)
	bob := b.login("bob@example.com", password)
	alice.mustPut("note.txt", []byte("sent across a partition"))

	toB.setCut(true)
	r := bob.at(a).get("/ops/list", url.Values{"path": {""}})
	require.Equal(t, http.StatusServiceUnavailable, r.Status, "%s", r.Body)
	assert.NotEmpty(t, r.Header.Get("Retry-After"))
	bob.at(b).list("") // b serves him directly
	alice.mustSend("bob@example.com", `[{"path":"","files":["note.txt"]}]`)
	time.Sleep(500 * time.Millisecond)
	assert.Empty(t, bob.inbox(), "it waits in a's outbox")

	toB.setCut(false)
	require.Eventually(t, func() bool { return len(bob.inbox()) == 1 }, 15*time.Second, 50*time.Millisecond, "healed, the backlog drains")
	bob.at(a).list("")
}

// Contacts across nodes: Alice (on a) adds Bob (on b), through c: Bob
// gets a contact request naming her and a mail, she lists him; adding
// him again is ALREADY_CONTACT. Bob adds her back: the pair is complete,
// his request is answered, and she hears so by mail, with no request of
// her own. Removing a contact of another node works as any.
func TestCluster_ContactsAcrossNodes(t *testing.T) {
	etcd := ferrytest.StartEtcd(t, 3)
	peer := ferrytest.StartSMTP(t)
	s3 := sharedS3(t)
	nodes := map[string]*testServer{}
	for _, id := range []string{"a", "b", "c"} {
		nodes[id] = startServer(t, longTokens, peer.Configure, func(c *app.Config) {
			s3.UseS3(c)
			c.Cluster.Node, c.Cluster.Addr, c.Cluster.Etcd, c.Cluster.Secret = id, "127.0.0.1:0", etcd.Endpoints(), "cluster secret"
		})
	}
	a, b, c := nodes["a"], nodes["b"], nodes["c"]
	a.namedUser("alice@example.com", "Alice Asker")
	b.namedUser("bob@example.com", "Bob Answerer")
	alice, bob := c.login("alice@example.com", password), c.login("bob@example.com", password)

	r := alice.postForm("/contacts/add", url.Values{"email[]": {"bob@example.com", "nobody@example.com"}})
	r.requireStatus(http.StatusAccepted)
	assert.JSONEq(t, `[{"email":"nobody@example.com","error":"USER_NOT_FOUND"}]`, string(r.Body))
	assert.Equal(t, []contactRow{{FullName: "Bob Answerer", Email: "bob@example.com"}}, alice.contacts(""), "named as his node says")
	assert.Equal(t, []contactRow{{FullName: "Bob Answerer", Email: "bob@example.com"}}, alice.contacts("answ"), "found by his name")
	var requests []notificationRow
	require.Eventually(t, func() bool { requests = bob.notifications(); return len(requests) == 1 }, 10*time.Second, 50*time.Millisecond)
	assert.Equal(t, "CONTACT_REQUEST", requests[0].Type)
	assert.Equal(t, "alice@example.com", requests[0].Email)
	assert.False(t, requests[0].Read)
	asked := mailTo(t, peer, "bob@example.com")
	assert.Contains(t, asked.Subject(t), "Alice Asker")
	r = alice.postForm("/contacts/add", url.Values{"email[]": {"bob@example.com"}})
	assert.Equal(t, http.StatusAccepted, r.Status, "%s", r.Body)
	assert.Contains(t, string(r.Body), "ALREADY_CONTACT")

	bob.postForm("/contacts/add", url.Values{"email[]": {"alice@example.com"}}).requireStatus(http.StatusOK)
	assert.True(t, bob.notifications()[0].Read, "his request is answered")
	back := mailTo(t, peer, "alice@example.com")
	assert.Contains(t, back.Subject(t), "Bob Answerer")
	time.Sleep(300 * time.Millisecond)
	assert.Empty(t, alice.notifications(), "no request of her own")

	alice.postForm("/contacts/remove", url.Values{"email": {"bob@example.com"}}).requireStatus(http.StatusOK)
	assert.Empty(t, alice.contacts(""))
	alice.postForm("/contacts/remove", url.Values{"email": {"bob@example.com"}}).requireError(404, ferry.ECONTACTNOTFOUND)
}
