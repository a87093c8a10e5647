package api_test

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
)

// A new name that is blank, or starts or ends with white space, is refused
// with its own reason through every call that makes a file or folder: the
// API's mkdir, PUT, resumable upload, move and copy, and WebDAV's MKCOL,
// PUT, MOVE and COPY. A name over 255 bytes says it is too long. Nothing
// is made.
func TestNames_BlankAndSpacedNamesAreRefusedEverywhere(t *testing.T) {
	ts := startServer(t)
	c := ts.newUser("names@example.com")
	c.mustPut("keep.txt", []byte("kept"))
	refused := func(r *response, want string) {
		t.Helper()
		r.requireError(http.StatusBadRequest, ferry.EBADREQUEST)
		var e struct{ Message string }
		r.decode(&e)
		assert.Contains(t, e.Message, want)
	}
	const blank, spaced = "A name cannot be empty or only spaces.", "A name cannot start or end with a space."
	for name, want := range map[string]string{"   ": blank, " lead": spaced, "trail ": spaced, "a\u00a0": spaced} {
		refused(c.postForm("/ops/mkdir", url.Values{"path": {name}}), want)
		refused(c.postForm("/ops/mkdir", url.Values{"path": {"docs/" + name + "/deep"}}), want)
		refused(c.putFile(name, []byte("x"), false), want)
		refused(c.putFile("docs/"+name+"/x.txt", []byte("x"), false), want)
		refused(c.uploadLink(name, 1, nil), want)
		refused(c.postForm("/ops/move", url.Values{"source": {"keep.txt"}, "destination": {name}}), want)
		refused(c.postForm("/ops/copy", url.Values{"source": {"keep.txt"}, "destination": {name}}), want)
	}
	long := strings.Repeat("é", 150) // 300 bytes
	refused(c.postForm("/ops/mkdir", url.Values{"path": {long}}), "The path has a name longer than 255 bytes.")

	d := ts.dav(c)
	for _, r := range []*response{
		d.do("MKCOL", "/%20%20%20", nil),
		d.do("MKCOL", "/trail%20", nil),
		d.do(http.MethodPut, "/%20lead.txt", bytes.NewReader([]byte("x"))),
		d.do("MOVE", "/keep.txt", nil, "Destination", ts.Root+"/dav/keep.txt%20"),
		d.do("COPY", "/keep.txt", nil, "Destination", ts.Root+"/dav/%20%20"),
	} {
		require.Equal(t, http.StatusBadRequest, r.Status, "%s", r.Body)
	}

	var names []string
	for _, e := range c.list("") {
		names = append(names, e.File)
	}
	assert.Equal(t, []string{"keep.txt"}, names, "nothing was made")
	// Inner spaces are names like any other.
	c.postForm("/ops/mkdir", url.Values{"path": {"two words/and  more"}}).requireStatus(http.StatusOK)
	c.postForm("/ops/move", url.Values{"source": {"keep.txt"}, "destination": {"two words/kept file.txt"}}).requireStatus(http.StatusOK)
}
