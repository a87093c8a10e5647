package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/app"
)

func TestInbox_PlacementOnConflicts(t *testing.T) { inboxPlacementOnConflicts(t, oneNode) }

func inboxPlacementOnConflicts(t *testing.T, on topologyOf) {
	tp := on(t)
	sender := tp.user(tp.a, "ida@example.com", "Ida")
	receiver := tp.user(tp.b, "jay@example.com", "Jay")
	sender.mustPut("docs/a.pdf", []byte("sent a"))
	sender.mustPut("photos/2024/x.jpg", []byte("sent x"))
	receiver.mustPut("docs/a.pdf", []byte("mine"))
	receiver.mustPut("photos", []byte("a file where the folder would go"))

	sender.mustSend("jay@example.com", `[{"path":"docs","files":["a.pdf"]},{"path":"docs","files":["a.pdf"]},{"path":"photos/2024","files":[],"folder":true}]`)
	receiver.decide(accept(inboxIDs(tp.inbox(receiver, 3))...)).requireStatus(http.StatusOK)
	assert.Equal(t, "mine", string(receiver.getFile("docs/a.pdf").Body))
	assert.Equal(t, "sent a", string(receiver.getFile("docs/a (1).pdf").Body))
	assert.Equal(t, "sent a", string(receiver.getFile("docs/a (2).pdf").Body))
	assert.Equal(t, "sent x", string(receiver.getFile("photos (1)/2024/x.jpg").Body))
	assert.Equal(t, "a file where the folder would go", string(receiver.getFile("photos").Body))
}

func TestInbox_NotYoursAndAlreadyRead(t *testing.T) { inboxNotYoursAndAlreadyRead(t, oneNode) }

func inboxNotYoursAndAlreadyRead(t *testing.T, on topologyOf) {
	tp := on(t)
	sender := tp.user(tp.a, "kim@example.com", "Kim")
	receiver := tp.user(tp.b, "lia@example.com", "Lia")
	other := tp.user(tp.c, "max@example.com", "Max")
	sender.mustPut("f.txt", []byte("f"))
	sender.mustSend("lia@example.com", `[{"path":"","files":["f.txt","f.txt"]}]`)
	ids := inboxIDs(tp.inbox(receiver, 2))

	r := other.decide(accept(ids[0]))
	r.requireStatus(http.StatusAccepted)
	assert.JSONEq(t, fmt.Sprintf(`[{"id":%d,"error":"MESSAGE_NOT_FOUND"}]`, ids[0]), string(r.Body))
	sender.decide(accept(ids[0])).requireStatus(http.StatusAccepted) // the sender cannot accept either
	assert.Empty(t, other.inbox())

	r = receiver.decide(fmt.Sprintf(`[{"id":%d,"accept":"YES"},{"id":%d,"accept":"MAYBE"},{"id":"x"},{"accept":"YES"},{"id":%d,"accept":"no"}]`, ids[0], ids[1], ids[1]))
	r.requireStatus(http.StatusAccepted)
	assert.JSONEq(t, fmt.Sprintf(`[{"id":%d,"error":"METHOD_BAD_REQUEST"},{"id":"x","error":"MESSAGE_NOT_FOUND"},{"id":null,"error":"MESSAGE_NOT_FOUND"}]`, ids[1]), string(r.Body))
	r = receiver.decide(accept(ids...))
	assert.JSONEq(t, fmt.Sprintf(`[{"id":%d,"error":"MESSAGE_ALREADY_READ"},{"id":%d,"error":"MESSAGE_ALREADY_READ"}]`, ids[0], ids[1]), string(r.Body))
	receiver.decide(`not json`).requireError(400, ferry.EBADREQUEST)
	receiver.decide(`[]`).requireError(400, ferry.EBADREQUEST)
	receiver.postForm("/inbox/update", nil).requireError(400, ferry.EBADREQUEST)
}

func TestInbox_QuotaExceeded(t *testing.T) { inboxQuotaExceeded(t, oneNode) }

func inboxQuotaExceeded(t *testing.T, on topologyOf) {
	tp := on(t, func(c *app.Config) {
		c.Packages["free"] = app.Package{Storage: 100, ReceivePerMonth: 150}
	})
	sender := tp.user(tp.a, "ned@example.com", "Ned")
	tp.unlimited(tp.a, "ned@example.com")
	receiver := tp.user(tp.b, "ola@example.com", "Ola")
	sender.mustPut("big.bin", make([]byte, 120))
	sender.mustPut("mid.bin", make([]byte, 80))
	sender.mustSend("ola@example.com", `[{"path":"","files":["big.bin","mid.bin","mid.bin"]}]`)
	ids := inboxIDs(tp.inbox(receiver, 3))

	r := receiver.decide(accept(ids...))
	r.requireStatus(http.StatusAccepted)
	// big does not fit the storage; the first mid does; the second mid fits
	// neither the storage (160 > 100) nor the month (160 > 150).
	assert.JSONEq(t, fmt.Sprintf(`[{"id":%d,"error":"QUOTA_EXCEEDED"},{"id":%d,"error":"QUOTA_EXCEEDED"}]`, ids[0], ids[2]), string(r.Body))
	assert.Len(t, receiver.inbox(), 2, "refused messages wait")
	assert.Equal(t, quotaInfo{Quota: 100, Normal: 80, ReceivingQuota: 150, Received: 80}, receiver.quota())

	// More storage: the receive quota now binds for the second mid (160 > 150).
	big := int64(1000)
	_, err := tp.b.admin().SetUser(app.SetUserRequest{Email: "ola@example.com", Storage: &big})
	require.NoError(t, err)
	r = receiver.decide(accept(ids[2], ids[0]))
	assert.JSONEq(t, fmt.Sprintf(`[{"id":%d,"error":"QUOTA_EXCEEDED"},{"id":%d,"error":"QUOTA_EXCEEDED"}]`, ids[2], ids[0]), string(r.Body))
	receiver.postForm("/ops/delete", url.Values{"file[]": {"mid.bin"}}).requireStatus(http.StatusOK)
	r = receiver.decide(accept(ids[2]))
	r.requireStatus(http.StatusAccepted) // deleting frees storage, not the month's receive quota
	assert.Equal(t, int64(80), receiver.quota().Received)
}

// Fifty goroutines accept for one receiver at once: neither quota is ever
// passed, and exactly what fits is accepted.
func TestInbox_ConcurrentAcceptsNeverOvershoot(t *testing.T) {
	t.Parallel() // slow: beside the others
	for _, tc := range []struct {
		name             string
		storage, receive int64
		fit              int
	}{
		{"storage binds", 2550, 0, 25},
		{"receive binds", 0, 1550, 15},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, func(c *app.Config) {
				c.Packages["free"] = app.Package{Storage: app.Size(tc.storage), ReceivePerMonth: app.Size(tc.receive)}
			})
			sender := ts.newUnlimitedUser("pat@example.com")
			receiver := ts.newUser("quin@example.com")
			var files []string
			for i := range 50 {
				name := fmt.Sprintf("f%02d.bin", i)
				sender.mustPut(name, randomBytes(t, 100))
				files = append(files, fmt.Sprintf("%q", name))
			}
			ids := sender.mustSend("quin@example.com", fmt.Sprintf(`[{"path":"","files":[%s]}]`, strings.Join(files, ",")))
			require.Len(t, ids, 50)

			var wg sync.WaitGroup
			var mu sync.Mutex
			accepted, refused := 0, 0
			for _, id := range ids {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := receiver.decide(accept(id))
					mu.Lock()
					defer mu.Unlock()
					if r.Status == http.StatusOK {
						accepted++
					} else {
						assert.Contains(t, string(r.Body), "QUOTA_EXCEEDED")
						refused++
					}
				}()
			}
			wg.Wait()
			assert.Equal(t, tc.fit, accepted)
			assert.Equal(t, 50-tc.fit, refused)
			q := receiver.quota()
			assert.Equal(t, int64(tc.fit*100), q.Normal)
			assert.Equal(t, int64(tc.fit*100), q.Received)
			assert.Len(t, receiver.list(""), tc.fit)
			assert.Len(t, receiver.inbox(), 50-tc.fit)
		})
	}
}

func TestInbox_MonthRolloverResetsReceived(t *testing.T) {
	ts := startServer(t, longTokens, func(c *app.Config) {
		c.Packages["free"] = app.Package{ReceivePerMonth: 1000}
		c.Send.ExpireAfter = app.Duration(90 * 24 * time.Hour)
	})
	sender := ts.newUnlimitedUser("ray@example.com")
	receiver := ts.newUser("sue@example.com")
	sender.mustPut("a.bin", make([]byte, 800))
	sender.mustPut("b.bin", make([]byte, 300))
	ids := sender.mustSend("sue@example.com", `[{"path":"","files":["a.bin","b.bin"]}]`)
	receiver.decide(accept(ids[0])).requireStatus(http.StatusOK)
	receiver.decide(accept(ids[1])).requireStatus(http.StatusAccepted) // 1100 > 1000 this month
	assert.Equal(t, int64(800), receiver.quota().Received)

	// The clock starts on 22 November at noon UTC: jump to 1 December 00:00.
	ts.Clock.Advance(8*24*time.Hour + 12*time.Hour)
	assert.Equal(t, int64(0), receiver.quota().Received, "a new month starts from zero")
	receiver.decide(accept(ids[1])).requireStatus(http.StatusOK)
	assert.Equal(t, int64(300), receiver.quota().Received)
	assert.Equal(t, int64(1100), receiver.quota().Normal)
}

func TestInbox_DeclineAndExpiryReleaseBlobs(t *testing.T) {
	ts := startServer(t, longTokens)
	sender := ts.newUser("tia@example.com")
	receiver := ts.newUser("ugo@example.com")
	sender.mustPut("declined.bin", []byte("declined content"))
	sender.mustPut("expiring.bin", []byte("expiring content"))
	ids := sender.mustSend("ugo@example.com", `[{"path":"","files":["declined.bin","expiring.bin"]}]`)
	sender.postForm("/ops/delete", url.Values{"file[]": {"declined.bin", "expiring.bin"}}).requireStatus(http.StatusOK)
	ts.requireBlobs(2, "the message pins what the sender deleted")

	receiver.decide(fmt.Sprintf(`[{"id":%d,"accept":"NO"}]`, ids[0])).requireStatus(http.StatusOK)
	ts.requireBlobs(1, "declined: its blob is gone")

	ts.Clock.Advance(30*24*time.Hour - time.Minute)
	assert.Len(t, receiver.inbox(), 1)
	ts.Clock.Advance(time.Minute)
	assert.Empty(t, receiver.inbox(), "expired after send.expire_after")
	require.Eventually(t, func() bool { return ts.blobFiles() == 0 }, 10*time.Second, 20*time.Millisecond, "the sweep releases it")
	assert.Equal(t, []string{"declined", "expired"}, sender.outboxStatuses())
	r := receiver.decide(accept(ids[1]))
	assert.JSONEq(t, fmt.Sprintf(`[{"id":%d,"error":"MESSAGE_NOT_FOUND"}]`, ids[1]), string(r.Body))
}

func TestInbox_ExpiredButNotYetSwept(t *testing.T) {
	ts := startServer(t, longTokens)
	sender := ts.newUser("val@example.com")
	ts.addUser("wes@example.com", password)
	sender.mustPut("x.bin", []byte("x"))
	ids := sender.mustSend("wes@example.com", `[{"path":"","files":["x.bin"]}]`)
	ts.stop() // no sweep runs from here
	ts.Clock.Advance(31 * 24 * time.Hour)
	ts = ts.restart()
	receiver := ts.login("wes@example.com", password)
	// Whichever comes first, the sweep or the receiver, the message is gone
	// (store's TestDecideExpires covers the receiver coming first).
	r := receiver.decide(accept(ids[0]))
	assert.JSONEq(t, fmt.Sprintf(`[{"id":%d,"error":"MESSAGE_NOT_FOUND"}]`, ids[0]), string(r.Body))
	receiver.getFile("x.bin").requireError(404, ferry.EFILENOTFOUND)
}

// A decided send stays in the outbox for send.keep_history, then the
// sweep deletes it.
func TestInbox_HistoryIsKeptAsLongAsConfigured(t *testing.T) {
	ts := startServer(t, longTokens, func(c *app.Config) { c.Send.KeepHistory = app.Duration(48 * time.Hour) })
	sender := ts.newUser("kept@example.com")
	receiver := ts.newUser("gets@example.com")
	sender.mustPut("a.txt", []byte("a"))
	ids := sender.mustSend("gets@example.com", `[{"path":"","files":["a.txt"]}]`)
	receiver.decide(fmt.Sprintf(`[{"id":%d}]`, ids[0])).requireStatus(http.StatusOK)
	ts.Clock.Advance(47 * time.Hour)
	time.Sleep(300 * time.Millisecond) // sweeps run
	assert.Equal(t, []string{"declined"}, sender.outboxStatuses())
	ts.Clock.Advance(2 * time.Hour)
	require.Eventually(t, func() bool { return len(sender.outbox()) == 0 }, 10*time.Second, 20*time.Millisecond, "gone after keep_history")
}
