// Package cluster runs ferry on several nodes (docs/cluster.md): each node
// owns a slice of the users in a bbolt of its own, and an etcd cluster is
// the directory. A node registers under a lease (its liveness), and each
// account's email names its owning node under a permanent key, created in
// a transaction that succeeds only while the key is absent: when two nodes
// make the same account, one wins. Reads of the directory go through a
// node-local cache that may be stale: a node that is asked for a user it
// does not own says so, and the asker looks again.
package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Keys in etcd.
const (
	prefix      = "/ferry/"
	nodesPrefix = prefix + "nodes/" // + node id -> JSON Node, under the node's lease
	usersPrefix = prefix + "users/" // + email -> the owning node's id, permanent
)

// leaseTTL is how long a node that stopped renewing stays listed, in
// seconds.
const leaseTTL = 10

// Config is [cluster].
type Config struct {
	Node      string   // this node's id
	Addr      string   // host:port of its internal listener, where the others forward
	Endpoints []string // etcd's client URLs
	Secret    string   // shared by every node: a forwarded request carries it
	// Timeout bounds each call to etcd; 5 s when zero.
	Timeout time.Duration
	// LastLease is the lease this node held when it last ran (Lease), so
	// that a node killed and started again takes its id back at once
	// instead of waiting for its old lease to run out.
	LastLease int64
	// IDWait is how long Join waits for a live node's key of this id to
	// go (a node killed whose lease still runs); its lease's TTL and two
	// seconds when zero.
	IDWait time.Duration
}

var nodeID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// ValidNode checks a node id: 1-32 of a-z, 0-9 and -, not starting with -.
func ValidNode(id string) error {
	if !nodeID.MatchString(id) {
		return fmt.Errorf("%q is not a node id: 1-32 of a-z, 0-9 and -", id)
	}
	return nil
}

// Node is a live node as the directory lists it.
type Node struct {
	ID      string    `json:"id"`
	Addr    string    `json:"addr"`
	Started time.Time `json:"started"`
	// Backlog is how many envelopes the node has waiting for each other
	// node, as it last said (Publish).
	Backlog map[string]int `json:"backlog,omitempty"`
}

// Cluster is this node's membership and its view of the directory.
type Cluster struct {
	cfg   Config
	cli   *clientv3.Client
	lease clientv3.LeaseID
	log   *slog.Logger
	self  Node // as registered

	mu     sync.RWMutex
	nodes  map[string]Node // the live nodes, kept current by a watch
	owners sync.Map        // email -> node id: the cache, safe to be stale

	stop     context.CancelFunc
	done     chan struct{}
	watchers sync.WaitGroup
}

var errIDTaken = errors.New("cluster")

// Lease is this node's lease, to give Join as LastLease when it starts
// again.
func (c *Cluster) Lease() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return int64(c.lease)
}

// ErrNoOwner is an email that no node owns.
var ErrNoOwner = errors.New("no node owns this email")

// Dial connects to etcd.
func Dial(cfg Config) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{Endpoints: cfg.Endpoints, DialTimeout: cfg.timeout(), Logger: zap.NewNop()})
}

func (c Config) timeout() time.Duration {
	if c.Timeout <= 0 {
		return 5 * time.Second
	}
	return c.Timeout
}

// Join registers this node in the directory under a lease that it keeps
// alive until Close, and follows the other nodes' comings and goings. It
// fails when a live node has this id already, unless that is this node's
// own last lease (cfg.LastLease) or it runs out within its TTL.
func Join(cfg Config, log *slog.Logger) (*Cluster, error) {
	cli, err := Dial(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster: etcd: %w", err)
	}
	c := &Cluster{cfg: cfg, cli: cli, log: log, nodes: map[string]Node{}, done: make(chan struct{})}
	wait := cfg.IDWait
	if wait <= 0 {
		wait = (leaseTTL + 2) * time.Second
	}
	deadline := time.Now().Add(wait)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout())
		err = c.register(ctx)
		cancel()
		if !errors.Is(err, errIDTaken) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond) // a node that was not stopped: its lease runs out
	}
	if err != nil {
		cli.Close()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout())
	defer cancel()
	rev, err := c.loadNodes(ctx)
	if err != nil {
		cli.Close()
		return nil, err
	}
	run, stop := context.WithCancel(context.Background())
	c.stop = stop
	c.watchers.Add(1)
	go func() { defer c.watchers.Done(); c.watchOwners(run, rev) }()
	go c.follow(run, rev)
	return c, nil
}

// watchOwners keeps the cache of owners in step with the directory: a
// key made or changed is the new owner, a key deleted is forgotten. When
// the watch is cut, the cache is dropped (it fills again from etcd) and
// the watch starts over.
func (c *Cluster) watchOwners(ctx context.Context, rev int64) {
	for ctx.Err() == nil {
		for w := range c.cli.Watch(ctx, usersPrefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
			if w.Canceled {
				break
			}
			for _, ev := range w.Events {
				email := strings.TrimPrefix(string(ev.Kv.Key), usersPrefix)
				if ev.Type == clientv3.EventTypeDelete {
					c.owners.Delete(email)
				} else {
					c.owners.Store(email, string(ev.Kv.Value))
				}
			}
			rev = w.Header.Revision
		}
		if ctx.Err() != nil {
			return
		}
		c.owners.Clear() // what changed while the watch was cut is unknown
		c.retry(ctx, "watching the directory", errors.New("the watch ended"))
		rctx, cancel := context.WithTimeout(ctx, c.cfg.timeout())
		resp, err := c.cli.Get(rctx, usersPrefix+"\x00", clientv3.WithCountOnly()) // the revision to go on from
		cancel()
		if err == nil {
			rev = resp.Header.Revision
		}
	}
}

// register puts this node's key under a new lease, unless a live node
// holds the id.
func (c *Cluster) register(ctx context.Context) error {
	lease, err := c.cli.Grant(ctx, leaseTTL)
	if err != nil {
		return fmt.Errorf("cluster: etcd: %w", err)
	}
	self := Node{ID: c.cfg.Node, Addr: c.cfg.Addr, Started: time.Now().UTC()}
	v, _ := json.Marshal(self)
	key := nodesPrefix + c.cfg.Node
	resp, err := c.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(v), clientv3.WithLease(lease.ID))).Commit()
	if err != nil {
		return fmt.Errorf("cluster: etcd: %w", err)
	}
	if !resp.Succeeded {
		_, _ = c.cli.Revoke(ctx, lease.ID)
		if got, err := c.cli.Get(ctx, key); err == nil && len(got.Kvs) == 1 && c.cfg.LastLease != 0 && got.Kvs[0].Lease == c.cfg.LastLease {
			// This node's own key, from before it was killed: it is ours.
			if _, err := c.cli.Revoke(ctx, clientv3.LeaseID(c.cfg.LastLease)); err != nil {
				return fmt.Errorf("cluster: etcd: %w", err)
			}
			c.cfg.LastLease = 0
			return c.register(ctx)
		}
		return fmt.Errorf("%w: a live node is registered as %q already", errIDTaken, c.cfg.Node)
	}
	c.mu.Lock()
	c.lease, c.self = lease.ID, self
	c.mu.Unlock()
	return nil
}

// loadNodes reads the live nodes and returns the revision to watch from.
func (c *Cluster) loadNodes(ctx context.Context) (int64, error) {
	resp, err := c.cli.Get(ctx, nodesPrefix, clientv3.WithPrefix())
	if err != nil {
		return 0, fmt.Errorf("cluster: etcd: %w", err)
	}
	nodes := map[string]Node{}
	for _, kv := range resp.Kvs {
		var n Node
		if json.Unmarshal(kv.Value, &n) == nil {
			nodes[n.ID] = n
		}
	}
	c.mu.Lock()
	c.nodes = nodes
	c.mu.Unlock()
	return resp.Header.Revision, nil
}

// follow keeps the lease alive and the list of nodes current until ctx
// ends. A lost lease (etcd unreachable past its TTL) is taken again.
func (c *Cluster) follow(ctx context.Context, rev int64) {
	defer close(c.done)
	for ctx.Err() == nil {
		c.mu.RLock()
		lease := c.lease
		c.mu.RUnlock()
		alive, err := c.cli.KeepAlive(ctx, lease)
		if err != nil {
			c.retry(ctx, "keeping the node's lease", err)
			continue
		}
		watch := c.cli.Watch(ctx, nodesPrefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1))
		rev = c.watch(ctx, alive, watch, rev)
		if ctx.Err() != nil {
			return
		}
		// The lease ran out, or the watch was cut: join again, and
		// read the nodes afresh.
		rctx, cancel := context.WithTimeout(ctx, c.cfg.timeout())
		err = c.register(rctx)
		if err == nil {
			rev, err = c.loadNodes(rctx)
		}
		cancel()
		if err != nil {
			c.retry(ctx, "joining the cluster again", err)
		}
	}
}

// watch applies node changes until the lease's keep-alives or the watch
// stop, and returns the last revision seen.
func (c *Cluster) watch(ctx context.Context, alive <-chan *clientv3.LeaseKeepAliveResponse, watch clientv3.WatchChan, rev int64) int64 {
	for {
		select {
		case _, ok := <-alive:
			if !ok {
				return rev
			}
		case w, ok := <-watch:
			if !ok || w.Canceled {
				return rev
			}
			c.mu.Lock()
			for _, ev := range w.Events {
				id := strings.TrimPrefix(string(ev.Kv.Key), nodesPrefix)
				if ev.Type == clientv3.EventTypeDelete {
					delete(c.nodes, id)
					continue
				}
				var n Node
				if json.Unmarshal(ev.Kv.Value, &n) == nil {
					c.nodes[id] = n
				}
			}
			c.mu.Unlock()
			rev = w.Header.Revision
		case <-ctx.Done():
			return rev
		}
	}
}

func (c *Cluster) retry(ctx context.Context, what string, err error) {
	if ctx.Err() == nil {
		c.log.Warn("cluster: "+what, "err", err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(time.Second):
	}
}

// Publish says this node's outbox backlog in its key, for `ferry cluster
// status`.
func (c *Cluster) Publish(ctx context.Context, backlog map[string]int) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.timeout())
	defer cancel()
	c.mu.RLock()
	n, lease := c.self, c.lease
	c.mu.RUnlock()
	n.Backlog = backlog
	v, _ := json.Marshal(n)
	key := nodesPrefix + c.cfg.Node
	// Only while the key is this lease's: a lost lease registers again.
	_, err := c.cli.Txn(ctx).If(clientv3.Compare(clientv3.LeaseValue(key), "=", lease)).
		Then(clientv3.OpPut(key, string(v), clientv3.WithLease(lease))).Commit()
	return err
}

// OpenDirectory is the directory alone, for a command on a node that is
// not serving (`ferry user add`): it claims and looks up as the node, but
// does not join.
func OpenDirectory(cfg Config, log *slog.Logger) (*Cluster, error) {
	cli, err := Dial(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster: etcd: %w", err)
	}
	return &Cluster{cfg: cfg, cli: cli, log: log, nodes: map[string]Node{}}, nil
}

// Close leaves the cluster: the lease is revoked, so that the others see
// this node gone at once.
func (c *Cluster) Close() error {
	if c.stop == nil { // OpenDirectory's
		return c.cli.Close()
	}
	c.stop()
	<-c.done
	c.watchers.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.timeout())
	defer cancel()
	c.mu.RLock()
	lease := c.lease
	c.mu.RUnlock()
	_, err := c.cli.Revoke(ctx, lease)
	return errors.Join(err, c.cli.Close())
}

// Self is this node's id.
func (c *Cluster) Self() string { return c.cfg.Node }

// Secret is what a forwarded request carries.
func (c *Cluster) Secret() string { return c.cfg.Secret }

// Nodes lists the live nodes, by id.
func (c *Cluster) Nodes() []Node {
	c.mu.RLock()
	defer c.mu.RUnlock()
	list := make([]Node, 0, len(c.nodes))
	for _, n := range c.nodes {
		list = append(list, n)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	return list
}

// Addr is a live node's internal address.
func (c *Cluster) Addr(node string) (string, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n, ok := c.nodes[node]
	return n.Addr, ok
}

// Owner is the node that owns email's account: from the cache, else from
// etcd (ErrNoOwner when none does).
func (c *Cluster) Owner(ctx context.Context, email string) (string, error) {
	if v, ok := c.owners.Load(email); ok {
		return v.(string), nil
	}
	return c.LookUp(ctx, email)
}

// LookUp is Owner past the cache, which it refreshes.
func (c *Cluster) LookUp(ctx context.Context, email string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.timeout())
	defer cancel()
	resp, err := c.cli.Get(ctx, usersPrefix+email)
	if err != nil {
		return "", fmt.Errorf("cluster: etcd: %w", err)
	}
	if len(resp.Kvs) == 0 {
		c.owners.Delete(email)
		return "", ErrNoOwner
	}
	node := string(resp.Kvs[0].Value)
	c.owners.Store(email, node)
	return node, nil
}

// Fence is email's owner as etcd has it now, and the revision of that
// entry (the fencing token of a move: Switch): ErrNoOwner when none.
func (c *Cluster) Fence(ctx context.Context, email string) (string, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.timeout())
	defer cancel()
	resp, err := c.cli.Get(ctx, usersPrefix+email)
	if err != nil {
		return "", 0, fmt.Errorf("cluster: etcd: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return "", 0, ErrNoOwner
	}
	return string(resp.Kvs[0].Value), resp.Kvs[0].ModRevision, nil
}

// ErrFenced is a switch of owner that found the directory changed since
// its fence.
var ErrFenced = errors.New("the directory's entry changed since the move began")

// Switch makes node the owner of email, if the entry is still as it was at
// revision fence (Fence): ErrFenced otherwise. An error other than
// ErrFenced leaves the outcome unknown: read the directory to learn it.
func (c *Cluster) Switch(ctx context.Context, email string, fence int64, node string) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.timeout())
	defer cancel()
	key := usersPrefix + email
	resp, err := c.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", fence)).Then(clientv3.OpPut(key, node)).Commit()
	if err != nil {
		return fmt.Errorf("cluster: etcd: %w", err)
	}
	if !resp.Succeeded {
		return ErrFenced
	}
	c.owners.Store(email, node)
	return nil
}

// Claim makes this node the owner of email, unless a node owns it: it
// returns the owner either way.
func (c *Cluster) Claim(ctx context.Context, email string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.timeout())
	defer cancel()
	key := usersPrefix + email
	resp, err := c.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, c.cfg.Node)).Else(clientv3.OpGet(key)).Commit()
	if err != nil {
		return "", fmt.Errorf("cluster: etcd: %w", err)
	}
	owner := c.cfg.Node
	if !resp.Succeeded {
		if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
			owner = string(kvs[0].Value)
		}
	}
	c.owners.Store(email, owner)
	return owner, nil
}

// Release gives up this node's claim of email (an account that was not
// made after all, or deleted), if it is still this node's.
func (c *Cluster) Release(ctx context.Context, email string) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.timeout())
	defer cancel()
	key := usersPrefix + email
	_, err := c.cli.Txn(ctx).If(clientv3.Compare(clientv3.Value(key), "=", c.cfg.Node)).Then(clientv3.OpDelete(key)).Commit()
	c.owners.Delete(email)
	if err != nil {
		return fmt.Errorf("cluster: etcd: %w", err)
	}
	return nil
}

// Place is the live node a new account of email goes to: the highest
// hash of the email and each node's id (rendezvous hashing), so that
// every node places an email alike and a node's going or coming moves
// only its own share.
func (c *Cluster) Place(email string) string {
	best, bestSum := c.cfg.Node, ""
	for _, n := range c.Nodes() {
		h := sha256.Sum256([]byte(n.ID + "\x00" + email))
		if s := string(h[:]); s > bestSum {
			best, bestSum = n.ID, s
		}
	}
	return best
}

// Status is what `ferry cluster status` shows.
type Status struct {
	Nodes []Node
	// Users counts the accounts each node owns, live or not.
	Users map[string]int
}

// ReadStatus reads the directory.
func ReadStatus(ctx context.Context, cfg Config) (Status, error) {
	cli, err := Dial(cfg)
	if err != nil {
		return Status{}, err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout())
	defer cancel()
	st := Status{Users: map[string]int{}}
	resp, err := cli.Get(ctx, nodesPrefix, clientv3.WithPrefix())
	if err != nil {
		return st, err
	}
	for _, kv := range resp.Kvs {
		var n Node
		if json.Unmarshal(kv.Value, &n) == nil {
			st.Nodes = append(st.Nodes, n)
		}
	}
	sort.Slice(st.Nodes, func(i, j int) bool { return st.Nodes[i].ID < st.Nodes[j].ID })
	users, err := cli.Get(ctx, usersPrefix, clientv3.WithPrefix())
	if err != nil {
		return st, err
	}
	for _, kv := range users.Kvs {
		st.Users[string(kv.Value)]++
	}
	return st, nil
}

// TokenPrefix is what starts every token, code and key a node makes, so
// that any node can tell whose it is: its id and a dot (base64url and hex
// have no dot).
func TokenPrefix(node string) string { return node + "." }

// NodeOf is the node a token, code or key names, "" for one that names
// none (made outside cluster mode). A personal token's prefix comes first.
func NodeOf(token string) string {
	node, _, ok := strings.Cut(strings.TrimPrefix(token, "fpat_"), ".")
	if !ok || ValidNode(node) != nil {
		return ""
	}
	return node
}
