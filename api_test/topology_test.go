package api_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/app"
	"github.com/ferryhq/ferry/ferrytest"
)

// topology is where a test's parties live and which server their calls
// go through. The suite's send, inbox, contacts and invitation tests run
// on both: on one server (a, b and c are that one), and on three cluster
// nodes, the sender on a, the receiver on b, and every call through c,
// which owns neither (TestCluster_Suite).
type topology struct {
	t       *testing.T
	a, b, c *testServer
	cluster bool
}

// oneNode is the suite's own topology: one server.
func oneNode(t *testing.T, mutate ...func(*app.Config)) *topology {
	ts := startServer(t, mutate...)
	return &topology{t: t, a: ts, b: ts, c: ts}
}

// threeNodes is three cluster nodes on three etcd members of their own
// and the shared S3, each with mutate.
func threeNodes(t *testing.T, mutate ...func(*app.Config)) *topology {
	etcd := ferrytest.StartEtcd(t, 3)
	s3 := sharedS3(t)
	nodes := map[string]*testServer{}
	for _, id := range []string{"a", "b", "c"} {
		nodes[id] = startServer(t, append([]func(*app.Config){longTokens}, append(mutate, func(c *app.Config) {
			s3.UseS3(c)
			c.Cluster.Node, c.Cluster.Addr, c.Cluster.Etcd, c.Cluster.Secret = id, "127.0.0.1:0", etcd.Endpoints(), "suite secret"
		})...)...)
	}
	return &topology{t: t, a: nodes["a"], b: nodes["b"], c: nodes["c"], cluster: true}
}

// user makes the account email, named name, on ts, and signs it in
// through c.
func (tp *topology) user(ts *testServer, email, name string) *client {
	tp.t.Helper()
	_, err := ts.admin().AddUser(app.AddUserRequest{Email: email, Password: password, Name: name})
	require.NoError(tp.t, err)
	return tp.c.login(email, password)
}

// unlimited makes user's account on ts free of quotas.
func (tp *topology) unlimited(ts *testServer, email string) {
	tp.t.Helper()
	zero := int64(0)
	_, err := ts.admin().SetUser(app.SetUserRequest{Email: email, Storage: &zero, Receive: &zero})
	require.NoError(tp.t, err)
}

// eventually requires cond: at once on one server, within ten seconds
// across nodes (where a send, a decision or a contact request crosses
// through an outbox). It polls in the test's goroutine.
func (tp *topology) eventually(cond func() bool, msg string, args ...any) {
	tp.t.Helper()
	if !tp.cluster {
		require.True(tp.t, cond(), append([]any{msg}, args...)...)
		return
	}
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
		require.True(tp.t, time.Now().Before(deadline), append([]any{msg}, args...)...)
	}
}

// quiet gives what must not happen the time to happen across nodes.
func (tp *topology) quiet() {
	if tp.cluster {
		time.Sleep(300 * time.Millisecond)
	}
}

// inbox waits for n messages in c's inbox and returns them, oldest first.
func (tp *topology) inbox(c *client, n int) []inboxMsg {
	tp.t.Helper()
	var in []inboxMsg
	tp.eventually(func() bool { in = c.inbox(); return len(in) >= n }, "%d messages arrive", n)
	require.Len(tp.t, in, n)
	return in
}

// inboxIDs are the messages' ids (in the receiver's inbox: across nodes they
// are not the sender's).
func inboxIDs(in []inboxMsg) []uint64 {
	list := make([]uint64, len(in))
	for i, m := range in {
		list[i] = m.ID
	}
	return list
}

// TestCluster_Suite runs the suite's send, inbox, contacts and invitation
// tests with the two parties on different nodes and every call through a
// third node.
func TestCluster_Suite(t *testing.T) {
	t.Parallel() // (each case waits on its nodes more than it computes)
	for name, run := range map[string]func(*testing.T, func(*testing.T, ...func(*app.Config)) *topology){
		"SendSeedExamples":            sendSeedExamples,
		"InboxPlacementOnConflicts":   inboxPlacementOnConflicts,
		"InboxNotYoursAndAlreadyRead": inboxNotYoursAndAlreadyRead,
		"InboxQuotaExceeded":          inboxQuotaExceeded,
		"Contacts":                    contactsAddListRemove,
		"ContactsAddingBack":          contactsAddingBack,
		"SendWithInvitation":          sendWithInvitation,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			run(t, threeNodes)
		})
	}
}
