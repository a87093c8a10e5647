package api_test

import (
	"bytes"
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

// TestCrash_DeliveriesUnderKill kills `ferry serve` with SIGKILL while
// outsiders start deliveries, put files and finish them, and checks after
// every restart: each acknowledged finish is one message in the
// requester's inbox, of exactly the files acknowledged; no message is of
// a delivery not finished, twice, or of other bytes; a delivery whose
// files were acknowledged but that was not finished takes more files and
// finishes after the restart; fsck finds nothing (blob references held
// by unfinished deliveries included).
func TestCrash_DeliveriesUnderKill(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("slow")
	}
	const kills, workers = 3, 4
	config, _ := cliConfig(t, "[requests]\naddress_deliveries_per_hour = 0\nrequest_deliveries_per_hour = 0\n")
	ferryCLI(t, config, "", "user", "add", "--email", "owner@example.com", "--password", password).requireOK(t)
	type delivery struct {
		key      string
		size     int64 // of its acknowledged files
		files    int
		finished bool // acknowledged
		tried    bool // a finish was sent
		left     bool // every file acknowledged, and left unfinished on purpose
	}
	var mu sync.Mutex
	model := map[string]*delivery{} // by the outsider's email
	token := ""
	for round := 0; round <= kills; round++ {
		srv := startBinary(t, config)
		owner := srv.client(t)
		var login struct{ Token string }
		owner.postForm("/auth/token", url.Values{"email": {"owner@example.com"}, "password": {password}}).requireStatus(http.StatusOK).decode(&login)
		owner.token = login.Token
		if round == 0 {
			_, token = makeRequest(owner, url.Values{"title": {"Crash"}, "expires": {"86400"}})
		}
		require.Equal(t, 0, ferryCLI(t, config, "", "fsck").code, "round %d: fsck", round)

		seen := map[string]bool{}
		for _, m := range owner.inbox() {
			require.Equal(t, "REQUEST", m.Type)
			require.False(t, seen[m.SenderEmail], "round %d: %s's delivery is in the inbox twice", round, m.SenderEmail)
			seen[m.SenderEmail] = true
			d := model[m.SenderEmail]
			require.NotNil(t, d, "round %d: a message from %s, who started nothing", round, m.SenderEmail)
			require.True(t, d.tried, "round %d: %s's delivery arrived without a finish", round, m.SenderEmail)
			require.Equal(t, d.size, m.Size, "round %d: %s's delivery is of the files acknowledged", round, m.SenderEmail)
		}
		outsider := &outsider{c: srv.client(t), token: token}
		resumed := false
		for email, d := range model {
			require.True(t, !d.finished || seen[email], "round %d: %s's acknowledged delivery is missing", round, email)
			if d.left && !d.tried && !resumed { // acknowledged files, not finished: it goes on
				outsider.delivery = d.key
				outsider.put("after-restart.txt", strings.NewReader("more")).requireStatus(http.StatusOK)
				outsider.finish().requireStatus(http.StatusOK)
				d.size, d.files, d.tried, d.finished, resumed = d.size+4, d.files+1, true, true, true
			}
		}
		if round == kills {
			require.NoError(t, srv.cmd.Process.Signal(syscall.SIGTERM))
			srv.requireExit(t, 0)
			break
		}

		rng := rand.New(rand.NewPCG(uint64(round), 11))
		loadThenKill(t, srv, round, workers, time.Duration(300+rng.IntN(500))*time.Millisecond,
			func(ctx context.Context, w, i int, wrng *rand.Rand) {
				email := fmt.Sprintf("w%d-r%d-%d@example.org", w, round, i)
				do := func(method, path string, body []byte, contentType string) (*http.Response, map[string]any) {
					req, _ := http.NewRequestWithContext(ctx, method, outsider.c.base+"/r/"+token+path, bytes.NewReader(body))
					if contentType != "" {
						req.Header.Set("Content-Type", contentType)
					}
					resp, err := outsider.c.http.Do(req)
					if err != nil {
						return nil, nil
					}
					defer resp.Body.Close()
					var out map[string]any
					_ = json.NewDecoder(resp.Body).Decode(&out)
					return resp, out
				}
				resp, out := do(http.MethodPost, "/start", []byte(url.Values{"email": {email}}.Encode()), "application/x-www-form-urlencoded")
				if resp == nil || resp.StatusCode != http.StatusOK {
					return
				}
				d := &delivery{key: out["delivery"].(string)}
				mu.Lock()
				model[email] = d
				mu.Unlock()
				for f := range 1 + wrng.IntN(3) {
					content := make([]byte, 1+wrng.IntN(200_000))
					resp, _ := do(http.MethodPut, "/"+d.key+"?name="+fmt.Sprintf("f%d.bin", f), content, "")
					if resp == nil || resp.StatusCode != http.StatusOK {
						return
					}
					mu.Lock()
					d.size, d.files = d.size+int64(len(content)), d.files+1
					mu.Unlock()
				}
				if wrng.IntN(4) == 0 {
					mu.Lock()
					d.left = true
					mu.Unlock()
					return
				}
				mu.Lock()
				d.tried = true
				mu.Unlock()
				if resp, _ := do(http.MethodPost, "/"+d.key+"/finish", nil, ""); resp != nil && resp.StatusCode == http.StatusOK {
					mu.Lock()
					d.finished = true
					mu.Unlock()
				}
			})
	}
	finished := 0
	for _, d := range model {
		if d.finished {
			finished++
		}
	}
	t.Logf("%d kills; %d deliveries started, %d finished and acknowledged", kills, len(model), finished)
}
