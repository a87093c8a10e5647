package cluster_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/cluster"
	"github.com/ferryhq/ferry/ferrytest"
)

func join(t *testing.T, etcd *ferrytest.Etcd, node string) *cluster.Cluster {
	t.Helper()
	c, err := cluster.Join(cluster.Config{Node: node, Addr: "127.0.0.1:1" + node[len(node)-1:], Endpoints: etcd.Endpoints(), Secret: "s"}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	return c
}

// Nodes register under a lease and see each other come and go; an id
// that a live node holds is refused; the directory's claim lets one node
// of two win an email, and every node places an email alike.
func TestCluster_MembershipAndDirectory(t *testing.T) {
	etcd := ferrytest.StartEtcd(t, 3)
	a, b := join(t, etcd, "node-a"), join(t, etcd, "node-b")
	defer a.Close()
	require.Eventually(t, func() bool { return len(a.Nodes()) == 2 && len(b.Nodes()) == 2 }, 5*time.Second, 20*time.Millisecond)
	addr, ok := a.Addr("node-b")
	assert.True(t, ok)
	assert.Equal(t, "127.0.0.1:1b", addr)
	_, err := cluster.Join(cluster.Config{Node: "node-a", Addr: "x:1", Endpoints: etcd.Endpoints(), IDWait: time.Millisecond}, slog.New(slog.DiscardHandler))
	assert.ErrorContains(t, err, `a live node is registered as "node-a" already`)

	ctx := context.Background()
	var wg sync.WaitGroup
	owners := make([]string, 2)
	for i, c := range []*cluster.Cluster{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner, err := c.Claim(ctx, "race@example.com")
			assert.NoError(t, err)
			owners[i] = owner
		}()
	}
	wg.Wait()
	assert.Equal(t, owners[0], owners[1], "one node wins, and both know which")
	owner, err := b.LookUp(ctx, "race@example.com")
	require.NoError(t, err)
	assert.Equal(t, owners[0], owner)
	_, err = a.Owner(ctx, "nobody@example.com")
	assert.ErrorIs(t, err, cluster.ErrNoOwner)

	loser := a
	if owner == "node-a" {
		loser = b
	}
	require.NoError(t, loser.Release(ctx, "race@example.com"), "not its claim: nothing happens")
	owner, err = loser.LookUp(ctx, "race@example.com")
	require.NoError(t, err)
	assert.Equal(t, owners[0], owner)

	// The cache follows the directory: the key changed behind a's back
	// (the account moved, say), a's Owner, from its cache, says so
	// without a lookup; deleted, it is forgotten.
	cli, err := cluster.Dial(cluster.Config{Endpoints: etcd.Endpoints()})
	require.NoError(t, err)
	defer cli.Close()
	_, err = a.Owner(ctx, "race@example.com") // cached
	require.NoError(t, err)
	_, err = cli.Put(ctx, "/ferry/users/race@example.com", "node-c")
	require.NoError(t, err)
	require.Eventually(t, func() bool { o, err := a.Owner(ctx, "race@example.com"); return err == nil && o == "node-c" },
		5*time.Second, 20*time.Millisecond, "the cache follows the directory's changes")
	_, err = cli.Put(ctx, "/ferry/users/race@example.com", owner)
	require.NoError(t, err)
	require.Eventually(t, func() bool { o, _ := a.Owner(ctx, "race@example.com"); return o == owner }, 5*time.Second, 20*time.Millisecond)

	for i := range 50 {
		email := fmt.Sprintf("u%d@example.com", i)
		assert.Equal(t, a.Place(email), b.Place(email), "every node places an email alike")
	}
	st, err := cluster.ReadStatus(ctx, cluster.Config{Endpoints: etcd.Endpoints()})
	require.NoError(t, err)
	assert.Len(t, st.Nodes, 2)
	assert.Equal(t, 1, st.Users[owner])

	require.NoError(t, b.Close())
	require.Eventually(t, func() bool { return len(a.Nodes()) == 1 }, 5*time.Second, 20*time.Millisecond, "a node that leaves is gone at once")
}

// A node whose etcd member dies goes on through the others.
func TestCluster_SurvivesAMemberKilled(t *testing.T) {
	etcd := ferrytest.StartEtcd(t, 3)
	a := join(t, etcd, "node-a")
	defer a.Close()
	etcd.Kill(0)
	ctx := context.Background()
	var owner string
	require.Eventually(t, func() bool {
		var err error
		owner, err = a.Claim(ctx, "after@example.com")
		return err == nil
	}, 20*time.Second, 100*time.Millisecond, "the directory answers with two members of three")
	assert.Equal(t, "node-a", owner)
}

// A move's fence: Switch makes another node the owner only while the
// entry is as it was at the revision read (Fence); any change since, even
// one that put the same owner back, fails it with ErrFenced, and a switch
// is done once.
func TestCluster_SwitchIsFenced(t *testing.T) {
	etcd := ferrytest.StartEtcd(t, 1)
	a := join(t, etcd, "node-a")
	defer a.Close()
	ctx := context.Background()
	_, err := a.Claim(ctx, "mover@example.com")
	require.NoError(t, err)
	owner, fence, err := a.Fence(ctx, "mover@example.com")
	require.NoError(t, err)
	assert.Equal(t, "node-a", owner)

	// Changed behind the move's back (and changed back): fenced.
	cli, err := cluster.Dial(cluster.Config{Endpoints: etcd.Endpoints()})
	require.NoError(t, err)
	defer cli.Close()
	_, err = cli.Put(ctx, "/ferry/users/mover@example.com", "node-a")
	require.NoError(t, err)
	assert.ErrorIs(t, a.Switch(ctx, "mover@example.com", fence, "node-b"), cluster.ErrFenced)
	owner, err = a.LookUp(ctx, "mover@example.com")
	require.NoError(t, err)
	assert.Equal(t, "node-a", owner, "nothing switched")

	// At the current revision: switched, once.
	_, fence, err = a.Fence(ctx, "mover@example.com")
	require.NoError(t, err)
	require.NoError(t, a.Switch(ctx, "mover@example.com", fence, "node-b"))
	owner, err = a.Owner(ctx, "mover@example.com")
	require.NoError(t, err)
	assert.Equal(t, "node-b", owner)
	assert.ErrorIs(t, a.Switch(ctx, "mover@example.com", fence, "node-c"), cluster.ErrFenced, "its fence is used up")
	_, _, err = a.Fence(ctx, "nobody@example.com")
	assert.ErrorIs(t, err, cluster.ErrNoOwner)
}
