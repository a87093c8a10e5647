package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/app"
)

func (c *client) link(path string, expires string) *response {
	c.t.Helper()
	form := url.Values{"path": {path}}
	if expires != "" {
		form.Set("expires", expires)
	}
	return c.postForm("/files/link", form)
}

// longTokens keeps test sessions alive while the clock jumps by hours.
func longTokens(c *app.Config) { c.Auth.TokenIdleTimeout = app.Duration(1000 * time.Hour) }

func TestLinks(t *testing.T) {
	ts := startServer(t, longTokens)
	c := ts.newUser("val@example.com")
	content := []byte("shared with the world")
	c.mustPut("share/doc.txt", content)

	var out struct{ URL string }
	c.link("share/doc.txt", "3600").requireStatus(http.StatusOK).decode(&out)
	require.True(t, strings.HasPrefix(out.URL, ts.Root+"/d/"), out.URL)
	anon := &client{t: t, base: "", http: http.DefaultClient}
	get := func(u string) *response { return anon.request(http.MethodGet, u, nil, "") }

	r := get(out.URL).requireStatus(http.StatusOK)
	assert.Equal(t, content, r.Body)
	assert.Contains(t, r.Header.Get("Content-Disposition"), "doc.txt")
	req, err := http.NewRequest(http.MethodGet, out.URL, nil)
	require.NoError(t, err)
	req.Header.Set("Range", "bytes=0-5")
	assert.Equal(t, "shared", string(anon.do(req).Body))

	// It follows the file when moved, and its new content when replaced.
	c.postForm("/ops/move", url.Values{"source": {"share/doc.txt"}, "destination": {"moved.txt"}}).requireStatus(http.StatusOK)
	c.mustPut("moved.txt", []byte("version two"))
	assert.Equal(t, "version two", string(get(out.URL).Body))

	// Expiry.
	ts.Clock.Advance(59 * time.Minute)
	get(out.URL).requireStatus(http.StatusOK)
	ts.Clock.Advance(time.Minute)
	get(out.URL).requireError(404, ferry.EFILENOTFOUND)

	// Default expiry (24h), and a deleted file ends the link.
	var def struct{ URL string }
	c.link("moved.txt", "").requireStatus(http.StatusOK).decode(&def)
	ts.Clock.Advance(23 * time.Hour)
	get(def.URL).requireStatus(http.StatusOK)
	c.postForm("/ops/delete", url.Values{"file[]": {"moved.txt"}}).requireStatus(http.StatusOK)
	get(def.URL).requireError(404, ferry.EFILENOTFOUND)

	get(ts.Root+"/d/not-a-token").requireError(404, ferry.EFILENOTFOUND)
	c.link("nothing.txt", "").requireError(404, ferry.EFILENOTFOUND)
	c.postForm("/ops/mkdir", url.Values{"path": {"dir"}}).requireStatus(http.StatusOK)
	c.link("dir", "").requireError(400, ferry.EBADREQUEST)
	c.mustPut("x.txt", []byte("x"))
	for _, bad := range []string{"0", "-5", "soon", "1.5", "2592001"} {
		c.link("x.txt", bad).requireError(400, ferry.EBADREQUEST)
	}
	ts.client().link("x.txt", "").requireError(401, ferry.ENOPERMISSION)
}
