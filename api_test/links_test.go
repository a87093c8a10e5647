package api_test

import (
	"net/http"
	"net/url"
	"strconv"
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
	get(out.URL).requireError(http.StatusGone, ferry.ELINKEXPIRED)

	// Default expiry (24h), and a deleted file ends the link.
	var def struct{ URL string }
	c.link("moved.txt", "").requireStatus(http.StatusOK).decode(&def)
	ts.Clock.Advance(23 * time.Hour)
	get(def.URL).requireStatus(http.StatusOK)
	c.postForm("/ops/delete", url.Values{"file[]": {"moved.txt"}}).requireStatus(http.StatusOK)
	get(def.URL).requireError(http.StatusGone, ferry.ELINKEXPIRED)

	get(ts.Root+"/d/not-a-token").requireError(http.StatusGone, ferry.ELINKEXPIRED)
	c.link("nothing.txt", "").requireError(404, ferry.EFILENOTFOUND)
	c.postForm("/ops/mkdir", url.Values{"path": {"dir"}}).requireStatus(http.StatusOK)
	c.link("dir", "").requireError(400, ferry.EBADREQUEST)
	c.mustPut("x.txt", []byte("x"))
	for _, bad := range []string{"0", "-5", "soon", "1.5", "2592001"} {
		c.link("x.txt", bad).requireError(400, ferry.EBADREQUEST)
	}
	ts.client().link("x.txt", "").requireError(401, ferry.ENOPERMISSION)
}

// GET /files/links lists a user's links newest first with their
// downloads (whole GETs only); POST /files/link/revoke ends one at once,
// and only its owner can.
func TestLinks_ListCountAndRevoke(t *testing.T) {
	ts := startServer(t, longTokens)
	c := ts.newUser("owner@example.com")
	c.mustPut("a.txt", []byte("alpha"))
	c.mustPut("b.txt", []byte("bravo"))
	var first, second struct {
		URL string
		ID  uint64
	}
	c.link("a.txt", "3600").requireStatus(http.StatusOK).decode(&first)
	ts.Clock.Advance(time.Minute)
	c.link("b.txt", "7200").requireStatus(http.StatusOK).decode(&second)
	require.NotZero(t, first.ID)
	require.NotEqual(t, first.ID, second.ID)

	anon := &client{t: t, http: http.DefaultClient}
	anon.request(http.MethodGet, first.URL, nil, "").requireStatus(http.StatusOK)
	anon.request(http.MethodGet, first.URL, nil, "").requireStatus(http.StatusOK)
	req, _ := http.NewRequest(http.MethodGet, first.URL, nil)
	req.Header.Set("Range", "bytes=0-1")
	anon.do(req).requireStatus(http.StatusPartialContent) // not a download
	anon.request(http.MethodHead, first.URL, nil, "").requireStatus(http.StatusOK)

	type link struct {
		ID           uint64 `json:"id"`
		File         string `json:"file"`
		Created      string `json:"created"`
		Expires      string `json:"expires"`
		Downloads    uint64 `json:"downloads"`
		MaxDownloads uint64 `json:"max_downloads"`
		Password     bool   `json:"password"`
	}
	var list []link
	c.get("/files/links", nil).requireStatus(http.StatusOK).decode(&list)
	now := ts.Clock.Now()
	assert.Equal(t, []link{
		{ID: second.ID, File: "b.txt", Created: stamp(now), Expires: stamp(now.Add(2 * time.Hour))},
		{ID: first.ID, File: "a.txt", Created: stamp(now.Add(-time.Minute)), Expires: stamp(now.Add(-time.Minute + time.Hour)), Downloads: 2},
	}, list)

	// Another user cannot see or revoke them.
	other := ts.newUser("other@example.com")
	var none []link
	other.get("/files/links", nil).requireStatus(http.StatusOK).decode(&none)
	assert.Empty(t, none)
	other.postForm("/files/link/revoke", url.Values{"id": {strconv.FormatUint(first.ID, 10)}}).requireError(http.StatusNotFound, ferry.ELINKNOTFOUND)
	c.postForm("/files/link/revoke", url.Values{"id": {"x"}}).requireError(http.StatusBadRequest, ferry.EBADREQUEST)

	c.postForm("/files/link/revoke", url.Values{"id": {strconv.FormatUint(first.ID, 10)}}).requireStatus(http.StatusOK)
	anon.request(http.MethodGet, first.URL, nil, "").requireError(http.StatusGone, ferry.ELINKEXPIRED)
	c.postForm("/files/link/revoke", url.Values{"id": {strconv.FormatUint(first.ID, 10)}}).requireError(http.StatusNotFound, ferry.ELINKNOTFOUND)
	c.get("/files/links", nil).requireStatus(http.StatusOK).decode(&list)
	require.Len(t, list, 1)
	assert.Equal(t, second.ID, list[0].ID)
	anon.request(http.MethodGet, second.URL, nil, "").requireStatus(http.StatusOK)
}

// A link with a download limit and a password (issue 17): the password as
// Basic auth or as the form field of a POST, wrong ones under the
// failed-login limit; the limit's last download, then 410; the list shows
// both; bad values are 400.
func TestLinks_LimitAndPassword(t *testing.T) {
	t.Parallel() // slow and waiting more than computing: beside the others
	ts := startServer(t, longTokens)
	c := ts.newUser("owner@example.com")
	c.mustPut("secret.txt", []byte("the secret"))
	for _, bad := range []string{"-1", "many", "1.5"} {
		c.postForm("/files/link", url.Values{"path": {"secret.txt"}, "max_downloads": {bad}}).requireError(400, ferry.EBADREQUEST)
	}
	var out struct {
		URL string
		ID  uint64
	}
	c.postForm("/files/link", url.Values{"path": {"secret.txt"}, "max_downloads": {"2"}, "password": {"open sesame"}}).requireStatus(http.StatusOK).decode(&out)

	anon := &client{t: t, http: http.DefaultClient}
	anon.request(http.MethodGet, out.URL, nil, "").requireError(http.StatusForbidden, ferry.EAUTHFAILED)
	withBasic := func(password string) *response {
		req, _ := http.NewRequest(http.MethodGet, out.URL, nil)
		req.SetBasicAuth("anyone", password)
		return anon.do(req)
	}
	withBasic("wrong").requireError(http.StatusForbidden, ferry.EAUTHFAILED)
	assert.Equal(t, "the secret", string(withBasic("open sesame").requireStatus(http.StatusOK).Body))
	r := anon.request(http.MethodPost, out.URL, strings.NewReader("password=open+sesame"), "application/x-www-form-urlencoded")
	assert.Equal(t, "the secret", string(r.requireStatus(http.StatusOK).Body))
	withBasic("open sesame").requireError(http.StatusGone, ferry.ELINKEXPIRED) // two downloads were all

	var links []struct {
		ID           uint64 `json:"id"`
		Downloads    uint64 `json:"downloads"`
		MaxDownloads uint64 `json:"max_downloads"`
		Password     bool   `json:"password"`
	}
	c.get("/files/links", nil).requireStatus(http.StatusOK).decode(&links)
	require.Len(t, links, 1)
	assert.Equal(t, uint64(2), links[0].Downloads)
	assert.Equal(t, uint64(2), links[0].MaxDownloads)
	assert.True(t, links[0].Password)

	// Wrong passwords count against the failed-login limit of the address.
	c.postForm("/files/link", url.Values{"path": {"secret.txt"}, "password": {"pw"}}).requireStatus(http.StatusOK).decode(&out)
	var status int
	for range 30 {
		if status = withBasic("guess").Status; status == http.StatusTooManyRequests {
			break
		}
		require.Equal(t, http.StatusForbidden, status)
	}
	assert.Equal(t, http.StatusTooManyRequests, status, "guessing is limited")
	withBasic("pw").requireError(http.StatusTooManyRequests, ferry.ETOOMANYREQUESTS)
}

// stamp is t as every timestamp of the API is written: the seed's layout,
// in the server's zone.
func stamp(t time.Time) string {
	return t.Local().Format("2006-01-02 15:04:05.000000-07")
}
