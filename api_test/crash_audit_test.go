package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCrash_AuditUnderLoad kills `ferry serve` with SIGKILL under audited
// load (links and personal tokens made at once), and checks after every
// restart that each acknowledged change has its event, and that no event
// is without its change: the event is written in the change's own
// transaction.
func TestCrash_AuditUnderLoad(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("slow")
	}
	const kills, workers = 5, 4
	config, _ := cliConfig(t, "")
	ferryCLI(t, config, "", "user", "add", "--email", "audit@example.com", "--password", password).requireOK(t)
	var mu sync.Mutex
	ackedLinks, ackedTokens := map[float64]bool{}, map[float64]bool{}
	for round := 0; round <= kills; round++ {
		srv := startBinary(t, config)
		c := srv.client(t)
		var login struct{ Token string }
		c.postForm("/auth/token", url.Values{"email": {"audit@example.com"}, "password": {password}}).requireStatus(http.StatusOK).decode(&login)
		c.token = login.Token
		if round == 0 {
			c.mustPut("shared.txt", []byte("linked again and again"))
		}

		// What the store holds now, against what its log says.
		var links []struct{ ID float64 }
		c.get("/files/links", nil).requireStatus(http.StatusOK).decode(&links)
		var tokens []struct{ ID float64 }
		c.get("/account/tokens", nil).requireStatus(http.StatusOK).decode(&tokens)
		held := map[string]map[float64]bool{"link": {}, "token": {}}
		for _, l := range links {
			held["link"][l.ID] = true
		}
		for _, tk := range tokens {
			held["token"][tk.ID] = true
		}
		logged := map[string]map[float64]bool{"link": {}, "token": {}}
		out := ferryCLI(t, config, "", "audit", "export").requireOK(t)
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var e struct {
				Action string
				Detail map[string]any
			}
			require.NoError(t, json.Unmarshal([]byte(line), &e))
			switch e.Action {
			case "link_created":
				logged["link"][e.Detail["link"].(float64)] = true
			case "token_created":
				logged["token"][e.Detail["token"].(float64)] = true
			}
		}
		for kind, ids := range held {
			for id := range ids {
				require.True(t, logged[kind][id], "round %d: %s %v has no event", round, kind, id)
			}
			for id := range logged[kind] {
				require.True(t, ids[id], "round %d: an event of %s %v, which is not there", round, kind, id)
			}
		}
		mu.Lock()
		for id := range ackedLinks {
			require.True(t, held["link"][id], "round %d: acknowledged link %v is gone", round, id)
		}
		for id := range ackedTokens {
			require.True(t, held["token"][id], "round %d: acknowledged token %v is gone", round, id)
		}
		mu.Unlock()
		if round == kills {
			require.NoError(t, srv.cmd.Process.Signal(syscall.SIGTERM))
			srv.requireExit(t, 0)
			break
		}

		rng := rand.New(rand.NewPCG(uint64(round), 7))
		loadThenKill(t, srv, round, workers, time.Duration(200+rng.IntN(600))*time.Millisecond,
			func(ctx context.Context, w, i int, wrng *rand.Rand) {
				path, form, kind := "/files/link", url.Values{"path": {"shared.txt"}}, "link"
				if wrng.IntN(2) == 0 {
					path, form, kind = "/account/tokens", url.Values{"name": {fmt.Sprintf("w%d-%d", w, i)}}, "token"
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("token", c.token)
				resp, err := c.http.Do(req)
				if err != nil {
					return
				}
				defer resp.Body.Close()
				var answer struct{ ID float64 }
				if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&answer) != nil {
					return
				}
				mu.Lock()
				if kind == "link" {
					ackedLinks[answer.ID] = true
				} else {
					ackedTokens[answer.ID] = true
				}
				mu.Unlock()
			})
	}
	t.Logf("%d kills; %d links and %d tokens acknowledged", kills, len(ackedLinks), len(ackedTokens))
}
