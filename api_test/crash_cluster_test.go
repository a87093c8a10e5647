package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/ferrytest"
)

// TestCrash_ClusterSendsUnderKill runs two `ferry serve` nodes on three
// etcd members and S3, and SIGKILLs the sender's node, the receiver's
// node or etcd's leader at random points while Alice (on a) sends to Bob
// (on b) and Bob accepts. After each restart, once the outboxes drain:
// every acknowledged send is in Bob's inbox or folder exactly once,
// every acknowledged accept stands with the right bytes, and fsck finds
// nothing on either node.
func TestCrash_ClusterSendsUnderKill(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("slow")
	}
	etcd := ferrytest.StartEtcd(t, 3)
	s3 := sharedS3(t)
	const kills = 4
	configs := clusterConfigs(t, etcd, s3, "[packages.free]\nstorage = 0\nreceive_per_month = 0\n", "a", "b")
	ferryCLI(t, configs["a"], "", "user", "add", "--email", "alice@example.com", "--password", password).requireOK(t)
	ferryCLI(t, configs["b"], "", "user", "add", "--email", "bob@example.com", "--password", password).requireOK(t)
	ferryCLI(t, configs["a"], "", "user", "add", "--email", "bob@example.com", "--password", password).requireFail(t, 1, "exists already")

	var mu sync.Mutex
	sent := map[string]string{}   // acknowledged sends: name -> content's SHA-256
	accepted := map[string]bool{} // acknowledged accepts, by name
	servers := map[string]*binaryServer{"a": startBinary(t, configs["a"]), "b": startBinary(t, configs["b"])}
	login := func(id, email string) *client {
		c := servers[id].client(t)
		var tok struct{ Token string }
		c.postForm("/auth/token", url.Values{"email": {email}, "password": {password}}).requireStatus(http.StatusOK).decode(&tok)
		c.token = tok.Token
		return c
	}
	check := func(round int) {
		bob := login("b", "bob@example.com")
		// Polled here, not in require.Eventually's goroutine: the reads
		// and checks below may fail the test.
		var in map[string]int
		var have map[string]bool
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			in, have = map[string]int{}, map[string]bool{}
			for _, m := range bob.inbox() {
				in[m.Destination]++
			}
			var files []struct{ File string }
			bob.get("/ops/list", url.Values{"path": {""}}).requireStatus(http.StatusOK).decode(&files)
			for _, f := range files {
				have[f.File] = true
			}
			mu.Lock()
			arrived := true
			for name := range sent {
				arrived = arrived && in[name]+b2i(have[name]) >= 1
			}
			mu.Unlock()
			if arrived {
				break
			}
			require.True(t, time.Now().Before(deadline), "round %d: every acknowledged send arrives", round)
		}
		mu.Lock()
		defer mu.Unlock()
		for name := range sent {
			require.Equal(t, 1, in[name]+b2i(have[name]), "round %d: %s arrived once", round, name)
		}
		for name, n := range in {
			require.Equal(t, 1, n, "round %d: %s is in Bob's inbox once", round, name)
		}
		for name := range accepted {
			require.True(t, have[name], "round %d: acknowledged accept of %s is gone", round, name)
			require.Zero(t, in[name], "round %d: %s is accepted and waiting both", round, name)
			require.Equal(t, sent[name], sha(bob.getFile(name).requireStatus(http.StatusOK).Body), "round %d: %s's bytes", round, name)
		}
	}

	for round := 0; round <= kills; round++ {
		check(round)
		if round == kills {
			break
		}
		alice, bob := login("a", "alice@example.com"), login("b", "bob@example.com")
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { // Alice sends
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("r%d-%d.txt", round, i)
				content := []byte(strings.Repeat(name, 100+i))
				if r, err := do(alice, http.MethodPut, "/files?path="+name, content, ""); err != nil || r.StatusCode != http.StatusOK {
					continue
				}
				src, _ := json.Marshal([]map[string]any{{"path": "", "files": []string{name}}})
				form := url.Values{"to": {"bob@example.com"}, "source": {string(src)}}.Encode()
				if r, err := do(alice, http.MethodPost, "/ops/send", []byte(form), "application/x-www-form-urlencoded"); err == nil && r.StatusCode == http.StatusOK {
					mu.Lock()
					sent[name] = sha(content)
					mu.Unlock()
				}
			}
		}()
		go func() { // Bob accepts what waits
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				r, err := do(bob, http.MethodGet, "/inbox/list", nil, "")
				if err != nil || r.StatusCode != http.StatusOK {
					time.Sleep(20 * time.Millisecond)
					continue
				}
				var in []inboxMsg
				if json.Unmarshal(r.Body, &in) != nil || len(in) == 0 {
					time.Sleep(20 * time.Millisecond)
					continue
				}
				m := in[rand.IntN(len(in))]
				form := url.Values{"messages": {fmt.Sprintf(`[{"id":%d,"accept":"YES"}]`, m.ID)}}.Encode()
				if r, err := do(bob, http.MethodPost, "/inbox/update", []byte(form), "application/x-www-form-urlencoded"); err == nil && r.StatusCode == http.StatusOK {
					mu.Lock()
					accepted[m.Destination] = true
					mu.Unlock()
				}
			}
		}()
		rng := rand.New(rand.NewPCG(uint64(round), 35))
		time.Sleep(time.Duration(300+rng.IntN(700)) * time.Millisecond)
		switch victim := []string{"a", "b", "etcd"}[round%3]; victim {
		case "etcd":
			m := etcd.Leader()
			etcd.Kill(m)
			time.Sleep(time.Duration(200+rng.IntN(500)) * time.Millisecond)
			close(stop)
			wg.Wait()
			etcd.Restart(m)
			t.Logf("round %d: etcd's leader (member %d) killed and restarted", round, m)
		default:
			require.NoError(t, servers[victim].cmd.Process.Signal(syscall.SIGKILL))
			<-servers[victim].done
			close(stop)
			wg.Wait()
			servers[victim] = startBinary(t, configs[victim])
			t.Logf("round %d: node %s killed and restarted", round, victim)
		}
	}
	mu.Lock()
	t.Logf("%d kills; %d sends and %d accepts acknowledged", kills, len(sent), len(accepted))
	mu.Unlock()
	for id, srv := range servers {
		require.NoError(t, srv.cmd.Process.Signal(syscall.SIGTERM))
		srv.requireExit(t, 0)
		out := ferryCLI(t, configs[id], "", "fsck")
		require.Equal(t, 0, out.code, "fsck of %s: %s%s", id, out.stdout, out.stderr)
	}
}

// clusterConfigs writes the config of a `ferry serve` node of each id,
// on etcd and s3, with extra TOML after [cluster].
func clusterConfigs(t *testing.T, etcd *ferrytest.Etcd, s3 *ferrytest.S3, extra string, ids ...string) map[string]string {
	t.Helper()
	endpoints := make([]string, 0, 3)
	for _, e := range etcd.Endpoints() {
		endpoints = append(endpoints, strconv.Quote(e))
	}
	configs := map[string]string{}
	for _, id := range ids {
		configs[id], _ = cliConfig(t, s3.TOML()+fmt.Sprintf("[cluster]\nnode = %q\naddr = \"127.0.0.1:0\"\netcd = [%s]\nsecret = \"crash secret\"\n%s",
			id, strings.Join(endpoints, ", "), extra))
	}
	return configs
}

// doResult is an answer read whole.
type doResult struct {
	StatusCode int
	Body       []byte
}

// do sends a request as c without failing the test when the server is
// gone (it is being killed).
func do(c *client, method, path string, body []byte, contentType string) (*doResult, error) {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("token", c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return &doResult{StatusCode: resp.StatusCode, Body: b}, err
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
