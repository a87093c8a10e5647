package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/ferrytest"
)

// TestCrash_MoveUnderKill runs two `ferry serve` nodes on etcd and S3 and
// moves Alice from one to the other and back, while Bob sends to her,
// SIGKILLing at a random point of each move the node she leaves or the
// node she goes to. After each restart, once the nodes settle: she signs
// in (on the node the directory names), every file she had is there byte
// for byte, every send Bob had acknowledged is in her inbox exactly once;
// at the end fsck is clean on both nodes and only one node has her.
func TestCrash_MoveUnderKill(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("slow")
	}
	etcd := ferrytest.StartEtcd(t, 1)
	s3 := sharedS3(t)
	const rounds = 6
	configs := clusterConfigs(t, etcd, s3, "", "a", "b")
	ferryCLI(t, configs["a"], "", "user", "add", "--email", "alice@example.com", "--password", password).requireOK(t)
	ferryCLI(t, configs["b"], "", "user", "add", "--email", "bob@example.com", "--password", password).requireOK(t)
	servers := map[string]*binaryServer{"a": startBinary(t, configs["a"]), "b": startBinary(t, configs["b"])}
	// login signs in through node id, or gives "" while the account
	// answers 503 (frozen, or its node down).
	login := func(id, email string) *client {
		c := servers[id].client(t)
		form := url.Values{"email": {email}, "password": {password}}.Encode()
		r, err := do(c, http.MethodPost, "/auth/token", []byte(form), "application/x-www-form-urlencoded")
		if err != nil || r.StatusCode != http.StatusOK {
			return nil
		}
		var tok struct{ Token string }
		require.NoError(t, json.Unmarshal(r.Body, &tok))
		c.token = tok.Token
		return c
	}
	waitLogin := func(id, email string) *client {
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			if c := login(id, email); c != nil {
				return c
			}
			require.True(t, time.Now().Before(deadline), "%s signs in through %s", email, id)
		}
	}
	files := map[string]string{} // hers: name -> SHA-256
	alice := waitLogin("a", "alice@example.com")
	for i := range 5 {
		name := fmt.Sprintf("f%d.bin", i)
		content := bytes.Repeat([]byte(name), 1000*(i+1))
		alice.mustPut(name, content)
		files[name] = sha(content)
	}
	var mu sync.Mutex
	sent := map[string]bool{} // Bob's acknowledged sends, by name

	check := func(round int) string {
		// Polled here: the checks may fail the test.
		var in map[string]int
		var owner string
		for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(300 * time.Millisecond) {
			require.True(t, time.Now().Before(deadline), "round %d: every acknowledged send arrives", round)
			c := login("a", "alice@example.com")
			if c == nil {
				continue
			}
			owner = strings.SplitN(c.token, ".", 2)[0]
			r, err := do(c, http.MethodGet, "/inbox/list", nil, "")
			if err != nil || r.StatusCode != http.StatusOK {
				continue
			}
			var list []inboxMsg
			require.NoError(t, json.Unmarshal(r.Body, &list))
			in = map[string]int{}
			for _, m := range list {
				in[m.Destination]++
			}
			mu.Lock()
			arrived := true
			for name := range sent {
				arrived = arrived && in[name] >= 1
			}
			mu.Unlock()
			if arrived {
				alice = c
				break
			}
		}
		mu.Lock()
		for name := range sent {
			require.Equal(t, 1, in[name], "round %d: %s arrived once", round, name)
		}
		mu.Unlock()
		for name, n := range in {
			require.Equal(t, 1, n, "round %d: %s is in her inbox once", round, name)
		}
		for name, sum := range files {
			require.Equal(t, sum, sha(alice.getFile(name).requireStatus(http.StatusOK).Body), "round %d: her %s", round, name)
		}
		return owner
	}

	// One move unhurt, timed: the kills below fall across its length.
	from := check(-1)
	began := time.Now()
	ferryCLI(t, configs[from], "", "cluster", "move", "--email", "alice@example.com", "--to", map[string]string{"a": "b", "b": "a"}[from]).requireOK(t)
	took := time.Since(began)
	for round := 0; round < rounds; round++ {
		from := check(round)
		to := map[string]string{"a": "b", "b": "a"}[from]
		bob := waitLogin("b", "bob@example.com")
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // Bob sends
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("r%d-%d.txt", round, i)
				if r, err := do(bob, http.MethodPut, "/files?path="+name, []byte(name), ""); err != nil || r.StatusCode != http.StatusOK {
					time.Sleep(20 * time.Millisecond)
					continue
				}
				src, _ := json.Marshal([]map[string]any{{"path": "", "files": []string{name}}})
				form := url.Values{"to": {"alice@example.com"}, "source": {string(src)}}.Encode()
				if r, err := do(bob, http.MethodPost, "/ops/send", []byte(form), "application/x-www-form-urlencoded"); err == nil && r.StatusCode == http.StatusOK {
					mu.Lock()
					sent[name] = true
					mu.Unlock()
				}
			}
		}()
		moved := make(chan string, 1)
		go func() {
			out, _ := exec.Command(ferryBinary(t), "--config", configs[from], "cluster", "move", "--email", "alice@example.com", "--to", to).CombinedOutput()
			moved <- string(out)
		}()
		rng := rand.New(rand.NewPCG(uint64(round), 36))
		time.Sleep(time.Duration(float64(took) * (0.5 + 0.7*rng.Float64())))
		victim := []string{from, to}[round%2]
		require.NoError(t, servers[victim].cmd.Process.Signal(syscall.SIGKILL))
		<-servers[victim].done
		t.Logf("round %d: moving from %s to %s, %s killed: %s", round, from, to, victim, strings.TrimSpace(<-moved))
		time.Sleep(200 * time.Millisecond)
		close(stop)
		wg.Wait()
		servers[victim] = startBinary(t, configs[victim])
	}
	owner := check(rounds)
	mu.Lock()
	t.Logf("a move takes %v; %d moves under kill; %d sends acknowledged; she ends on %s", took, rounds, len(sent), owner)
	mu.Unlock()
	for id, srv := range servers {
		require.NoError(t, srv.cmd.Process.Signal(syscall.SIGTERM))
		srv.requireExit(t, 0)
		out := ferryCLI(t, configs[id], "", "fsck")
		require.Equal(t, 0, out.code, "fsck of %s: %s%s", id, out.stdout, out.stderr)
		users := ferryCLI(t, configs[id], "", "user", "list").requireOK(t)
		require.Equal(t, id == owner, strings.Contains(users, "alice@example.com"), "node %s has her: %s", id, users)
	}
}
