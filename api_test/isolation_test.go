package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// User B tries every endpoint on user A's paths, message ids, notification
// ids and upload keys, and gets nothing, while A's state stays as it was.
func TestIsolation_NothingOfAnotherUser(t *testing.T) {
	ts := startServer(t)
	a := ts.newUser("a@example.com")
	b := ts.newUser("b@example.com")
	c := ts.newUser("c@example.com")
	secret := []byte("a's secret content")
	a.mustPut("secret/a.txt", secret)
	c.mustPut("gift.txt", []byte("for a"))
	msg := c.mustSend("a@example.com", `[{"path":"","files":["gift.txt"]}]`)[0]
	c.postForm("/contacts/add", url.Values{"email[]": {"a@example.com"}}).requireStatus(http.StatusOK)
	note := a.notifications()[0].ID
	key := a.mustUploadLink("secret/big.bin", 10)
	a.chunk(key, 0, 10, []byte("01234")).requireStatus(http.StatusOK)
	var link struct{ URL string }
	a.link("secret/a.txt", "").requireStatus(http.StatusOK).decode(&link)

	p := "secret/a.txt"
	tries := map[string]*response{
		"list":          b.get("/ops/list", url.Values{"path": {"secret"}}),
		"get":           b.getFile(p),
		"filesize":      b.postForm("/ops/filesize", url.Values{"files[]": {p}}),
		"move":          b.postForm("/ops/move", url.Values{"source": {p}, "destination": {"mine.txt"}}),
		"copy":          b.postForm("/ops/copy", url.Values{"source": {p}, "destination": {"mine.txt"}}),
		"delete":        b.postForm("/ops/delete", url.Values{"file[]": {p}}),
		"link":          b.link(p, ""),
		"send":          b.send("c@example.com", `[{"path":"secret","files":["a.txt"]}]`),
		"inbox/update":  b.decide(fmt.Sprintf(`[{"id":%d,"accept":"YES"}]`, msg)),
		"decline":       b.decide(fmt.Sprintf(`[{"id":%d,"accept":"NO"}]`, msg)),
		"notifications": b.postForm("/notifications/update", url.Values{"id[]": {fmt.Sprint(note)}}),
		"upload status": b.get("/upload/status/"+key, nil),
		"upload chunk":  b.chunk(key, 5, 10, []byte("56789")),
		"finalize":      b.get("/upload/finalize/"+key, nil),
		"contact rm":    b.postForm("/contacts/remove", url.Values{"email": {"c@example.com"}}),
		"forged link":   (&client{t: t, http: http.DefaultClient}).request(http.MethodGet, link.URL+"x", nil, ""),
	}
	for name, r := range tries {
		assert.NotContains(t, string(r.Body), string(secret), name)
		assert.NotContains(t, string(r.Body), "for a", name)
		switch name {
		case "filesize":
			assert.JSONEq(t, `[{"file":"secret/a.txt","size":-1}]`, string(r.Body))
		case "forged link":
			assert.Equal(t, http.StatusGone, r.Status, "%s: %s", name, r.Body) // as any link that does not work
		case "delete", "inbox/update", "decline", "notifications":
			assert.Equal(t, http.StatusAccepted, r.Status, "%s: %s", name, r.Body)
			assert.Regexp(t, `NOT_FOUND`, string(r.Body), name)
		default:
			assert.Contains(t, []int{http.StatusNotFound, http.StatusBadRequest}, r.Status, "%s: %s", name, r.Body)
		}
	}
	assert.Empty(t, b.inbox())
	assert.Empty(t, b.outbox())
	assert.Empty(t, b.notifications())
	assert.Empty(t, b.list(""))

	// A's state is untouched.
	assert.Equal(t, secret, a.getFile(p).Body)
	require.Len(t, a.inbox(), 1)
	assert.Equal(t, msg, a.inbox()[0].ID)
	assert.False(t, a.notifications()[0].Read)
	received, _ := a.uploadStatus(key)
	assert.Equal(t, int64(5), received)
	a.chunk(key, 5, 10, []byte("56789")).requireStatus(http.StatusOK)
	a.get("/upload/finalize/"+key, nil).requireStatus(http.StatusOK)
	assert.Equal(t, "0123456789", string(a.getFile("secret/big.bin").Body))
	a.decide(fmt.Sprintf(`[{"id":%d,"accept":"YES"}]`, msg)).requireStatus(http.StatusOK)
	assert.True(t, strings.HasPrefix(string(a.getFile("gift.txt").Body), "for a"))
}
