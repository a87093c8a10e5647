package api_test

import (
	"bytes"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/app"
	"github.com/ferryhq/ferry/ferrytest"
)

// withClamd scans through clamd, as what and on_error say.
func withClamd(c *ferrytest.Clamd, what, onError string) func(*app.Config) {
	return func(cfg *app.Config) {
		cfg.Scan.Clamd, cfg.Scan.What, cfg.Scan.OnError = "unix:"+c.Socket, what, onError
		cfg.Scan.Timeout = app.Duration(5 * time.Second)
		cfg.Metrics.Token = "scrape-secret"
	}
}

// scans is /metrics' count of scans with result.
func scans(ts *testServer, result string) string {
	root := &client{t: ts.t, base: ts.Root, http: http.DefaultClient}
	m := regexp.MustCompile(`\nferry_scans_total\{result="` + result + `"\} (\d+)\n`).FindStringSubmatch(string(root.scrape(ts.Root + "/metrics").Body))
	if m == nil {
		return "0"
	}
	return m[1]
}

// A delivery with one infected file among clean ones, through a real
// clamd: the infected one is refused (422, naming the signature) and
// nothing of it is kept, the event in the requester's log; the others
// arrive and can be accepted; a file over clamd's stream limit is
// refused, never passed. /metrics counts the scans by result.
func TestScan_DeliveryWithOneInfectedFile(t *testing.T) {
	clamd := ferrytest.StartClamd(t, 64<<10)
	ts := startServer(t, longTokens, withClamd(clamd, "outsiders", "hold"))
	alice := ts.newUser("alice@example.com")
	_, token := makeRequest(alice, url.Values{"title": {"Scans"}, "expires": {"3600"}})
	o := &outsider{c: ts.client(), token: token}
	o.start("Olga", "o@example.org").requireStatus(http.StatusOK)
	o.put("clean.txt", strings.NewReader("clean content")).requireStatus(http.StatusOK)
	blobs := ts.blobFiles()
	r := o.put("eicar.com", strings.NewReader(ferrytest.EICAR))
	r.requireError(422, ferry.EINFECTED)
	assert.Contains(t, string(r.Body), "Eicar-Test-Signature")
	o.put("big.bin", bytes.NewReader(make([]byte, 100<<10))).requireError(413, ferry.ETOOLARGE)
	assert.Equal(t, blobs, ts.blobFiles(), "nothing of a refused file is kept")
	o.put("also-clean.txt", strings.NewReader("more clean content")).requireStatus(http.StatusOK)
	var done struct{ Files int }
	o.finish().requireStatus(http.StatusOK).decode(&done)
	assert.Equal(t, 2, done.Files)

	inbox := alice.inbox()
	require.Len(t, inbox, 1)
	assert.Empty(t, inbox[0].Scan)
	alice.decide(accept(inbox[0].ID)).requireStatus(http.StatusOK)
	assert.Equal(t, "clean content", string(alice.getFile("Requests/Scans/Olga/clean.txt").Body))
	alice.getFile("Requests/Scans/Olga/eicar.com").requireError(404, ferry.EFILENOTFOUND)

	var infected *event
	for _, e := range activity(alice, nil) {
		if e.Action == "scan_infected" {
			infected = &e
		}
	}
	require.NotNil(t, infected, "the requester's log tells of the refused file")
	assert.Equal(t, "Eicar-Test-Signature.UNOFFICIAL", infected.Detail["signature"])
	assert.Equal(t, "Requests/Scans/eicar.com", infected.Target)

	assert.Equal(t, "2", scans(ts, "clean"))
	assert.Equal(t, "1", scans(ts, "infected"))
	assert.Equal(t, "1", scans(ts, "too_large"))
}

// on_error = "hold": with clamd stopped, a delivery waits in the inbox
// with "scan":"pending" and cannot be accepted (a 202 item SCAN_PENDING);
// once clamd answers again, a rescan finds the clean file clean and the
// infected one infected, which is taken out of the message.
func TestScan_HeldWhileClamdIsDown(t *testing.T) {
	clamd := ferrytest.StartClamd(t, 1<<20)
	ts := startServer(t, longTokens, withClamd(clamd, "outsiders", "hold"))
	alice := ts.newUser("alice@example.com")
	_, token := makeRequest(alice, url.Values{"title": {"Held"}, "expires": {"3600"}})
	clamd.Stop()
	o := &outsider{c: ts.client(), token: token}
	o.start("Olga", "o@example.org").requireStatus(http.StatusOK)
	o.put("clean.txt", strings.NewReader("clean while clamd was away")).requireStatus(http.StatusOK)
	o.put("eicar.com", strings.NewReader(ferrytest.EICAR)).requireStatus(http.StatusOK)
	o.finish().requireStatus(http.StatusOK)
	inbox := alice.inbox()
	require.Len(t, inbox, 1)
	assert.Equal(t, "pending", inbox[0].Scan)
	r := alice.decide(accept(inbox[0].ID))
	r.requireStatus(http.StatusAccepted)
	assert.JSONEq(t, `[{"id":`+strconv.FormatUint(inbox[0].ID, 10)+`,"error":"SCAN_PENDING"}]`, string(r.Body))
	time.Sleep(300 * time.Millisecond) // rescans find clamd down
	assert.Equal(t, "pending", alice.inbox()[0].Scan)

	clamd.Start()
	require.Eventually(t, func() bool {
		in := alice.inbox()
		return len(in) == 1 && in[0].Scan == ""
	}, 10*time.Second, 50*time.Millisecond, "a rescan settles the message")
	m := alice.inbox()[0]
	assert.Equal(t, int64(len("clean while clamd was away")), m.Size, "the infected file is taken out")
	alice.decide(accept(m.ID)).requireStatus(http.StatusOK)
	assert.Equal(t, []ferry.Entry{{File: "Requests/Held/Olga/clean.txt", Size: m.Size, Type: "f"}}, alice.list("Requests/Held/Olga"))
	found := false
	for _, e := range activity(alice, nil) {
		found = found || (e.Action == "scan_infected" && e.Target == "Requests/Held/Olga/eicar.com")
	}
	assert.True(t, found, "the requester's log tells of the file taken out")
}

// on_error = "reject": with clamd stopped, an outsider's file is refused
// with 503 SCAN_UNAVAILABLE and Retry-After, and nothing is kept.
func TestScan_RejectWhileClamdIsDown(t *testing.T) {
	clamd := ferrytest.StartClamd(t, 1<<20)
	ts := startServer(t, longTokens, withClamd(clamd, "outsiders", "reject"))
	alice := ts.newUser("alice@example.com")
	_, token := makeRequest(alice, url.Values{"title": {"Reject"}, "expires": {"3600"}})
	o := &outsider{c: ts.client(), token: token}
	o.start("", "o@example.org").requireStatus(http.StatusOK)
	clamd.Stop()
	blobs := ts.blobFiles()
	r := o.put("a.txt", strings.NewReader("while clamd is away"))
	r.requireError(503, ferry.ESCANUNAVAILABLE)
	assert.Equal(t, "60", r.Header.Get("Retry-After"))
	assert.Equal(t, blobs, ts.blobFiles())
	alice.mustPut("own.txt", []byte("an account's own upload is not scanned under outsiders"))
	clamd.Start()
	o.put("a.txt", strings.NewReader("while clamd is away")).requireStatus(http.StatusOK)
	assert.Equal(t, "1", scans(ts, "unavailable"))
}

// what = "all": every upload is scanned (a plain PUT and a resumable
// upload's finalize are refused when infected); an upload made while
// clamd is away is held, and a send of it waits, unacceptable, until a
// rescan finds it clean.
func TestScan_AllUploadsAndSends(t *testing.T) {
	clamd := ferrytest.StartClamd(t, 1<<20)
	ts := startServer(t, longTokens, withClamd(clamd, "all", "hold"))
	sam := ts.newUser("sam@example.com")
	rita := ts.newUser("rita@example.com")
	sam.putFile("eicar.com", []byte(ferrytest.EICAR), false).requireError(422, ferry.EINFECTED)
	key := sam.mustUploadLink("big/eicar.com", len(ferrytest.EICAR))
	sam.chunk(key, 0, len(ferrytest.EICAR), []byte(ferrytest.EICAR)).requireStatus(http.StatusOK)
	sam.get("/upload/finalize/"+key, nil).requireError(422, ferry.EINFECTED)
	r := ts.dav(sam).do(http.MethodPut, "/eicar.com", strings.NewReader(ferrytest.EICAR))
	assert.Equal(t, 422, r.Status, "WebDAV's PUT too: %s", r.Body)
	assert.Contains(t, string(r.Body), "Eicar-Test-Signature")
	assert.Empty(t, sam.list(""))

	clamd.Stop()
	sam.mustPut("report.txt", []byte("uploaded while clamd was away"))
	sam.mustSend("rita@example.com", `[{"path":"","files":["report.txt"]}]`)
	in := rita.inbox()
	require.Len(t, in, 1)
	assert.Equal(t, "pending", in[0].Scan)
	rita.decide(accept(in[0].ID)).requireStatus(http.StatusAccepted)
	clamd.Start()
	require.Eventually(t, func() bool { return rita.inbox()[0].Scan == "" }, 10*time.Second, 50*time.Millisecond)
	rita.decide(accept(in[0].ID)).requireStatus(http.StatusOK)
	assert.Equal(t, "uploaded while clamd was away", string(rita.getFile("report.txt").Body))
}

// Across nodes, with what = "all" and on_error = "hold": a send of
// content uploaded while clamd was away waits on the sender's node (the
// receiver's node never has unscanned content) and goes once a rescan
// finds it clean; one found infected never reaches the receiver, and
// the sender's outbox says it was declined.
func TestCluster_ScanBeforeSendingAcrossNodes(t *testing.T) {
	t.Parallel() // (waiting more than computing)
	clamd := ferrytest.StartClamd(t, 1<<20)
	etcd := ferrytest.StartEtcd(t, 1)
	s3 := sharedS3(t)
	nodes := map[string]*testServer{}
	for _, id := range []string{"a", "b"} {
		nodes[id] = startServer(t, longTokens, withClamd(clamd, "all", "hold"), func(c *app.Config) {
			s3.UseS3(c)
			c.Cluster.Node, c.Cluster.Addr, c.Cluster.Etcd, c.Cluster.Secret = id, "127.0.0.1:0", etcd.Endpoints(), "cluster secret"
		})
	}
	a, b := nodes["a"], nodes["b"]
	a.addUser("sam@example.com", password)
	b.addUser("rita@example.com", password)
	sam, rita := a.login("sam@example.com", password), b.login("rita@example.com", password)

	clamd.Stop()
	sam.mustPut("report.txt", []byte("uploaded while clamd was away"))
	sam.mustPut("eicar.com", []byte(ferrytest.EICAR)) // (held, unscanned)
	sam.mustSend("rita@example.com", `[{"path":"","files":["report.txt"]}]`)
	sam.mustSend("rita@example.com", `[{"path":"","files":["eicar.com"]}]`)
	time.Sleep(500 * time.Millisecond)
	assert.Empty(t, rita.inbox(), "nothing unscanned crosses")
	assert.Equal(t, []string{"pending", "pending"}, sam.outboxStatuses())

	clamd.Start()
	var in []inboxMsg
	require.Eventually(t, func() bool { in = rita.inbox(); return len(in) == 1 }, 15*time.Second, 50*time.Millisecond, "the clean one goes once scanned")
	assert.Equal(t, "report.txt", in[0].Destination)
	assert.Empty(t, in[0].Scan)
	require.Eventually(t, func() bool {
		st := sam.outboxStatuses()
		return len(st) == 2 && st[1] == "declined"
	}, 15*time.Second, 50*time.Millisecond, "the infected one is declined where it waited")
	rita.decide(accept(in[0].ID)).requireStatus(http.StatusOK)
	assert.Equal(t, "uploaded while clamd was away", string(rita.getFile("report.txt").Body))
	time.Sleep(300 * time.Millisecond)
	assert.Len(t, rita.inbox(), 0, "the infected one never arrives")
}
