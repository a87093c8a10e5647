package server

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
)

// The seed's source example.
const seedSource = `[
{"path":"path\/to\/folder1","files":["file1.ext"]},
{"path":"path\/to\/folder3","files":["file1.ext","sub-folder1\/file2.ext","file3.ext"],"folder":true}
]`

func TestParams_EveryEncoding(t *testing.T) {
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	for _, kv := range [][2]string{{"to", "a@b.c"}, {"file[]", "x"}, {"file[]", "y"}, {"source", seedSource}, {"accept_all", "1"}} {
		require.NoError(t, mw.WriteField(kv[0], kv[1]))
	}
	require.NoError(t, mw.Close())

	form := "to=a%40b.c&file%5B%5D=x&file%5B%5D=y&accept_all=1&source=" + urlEscape(seedSource)
	for _, tc := range []struct {
		name, method, url, ct, body string
	}{
		{"query", http.MethodGet, "/x?" + form, "", ""},
		{"urlencoded", http.MethodPost, "/x", "application/x-www-form-urlencoded", form},
		{"urlencoded with charset", http.MethodPost, "/x", "application/x-www-form-urlencoded; charset=utf-8", form},
		{"plain repeated name", http.MethodPost, "/x", "application/x-www-form-urlencoded",
			"to=a%40b.c&file=x&file=y&accept_all=1&source=" + urlEscape(seedSource)},
		{"multipart", http.MethodPost, "/x", mw.FormDataContentType(), mp.String()},
		{"JSON native", http.MethodPost, "/x", "application/json",
			`{"to":"a@b.c","file":["x","y"],"accept_all":1,"source":` + seedSource + `}`},
		{"JSON with text source", http.MethodPost, "/x", "application/json",
			`{"to":"a@b.c","file[]":["x","y"],"accept_all":true,"source":` + jsonString(seedSource) + `}`},
		{"query and body", http.MethodPost, "/x?to=a%40b.c", "application/x-www-form-urlencoded",
			"file%5B%5D=x&file%5B%5D=y&accept_all=1&source=" + urlEscape(seedSource)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.url, strings.NewReader(tc.body))
			if tc.ct != "" {
				r.Header.Set("Content-Type", tc.ct)
			}
			p, err := parseParams(r)
			require.NoError(t, err)
			assert.Equal(t, "a@b.c", p.String("to"))
			assert.Equal(t, []string{"x", "y"}, p.Strings("file"))
			on, err := p.Bool("accept_all")
			require.NoError(t, err)
			assert.True(t, on)
			var src []sourceEntry
			require.NoError(t, p.JSON("source", &src))
			assert.Equal(t, []sourceEntry{
				{Path: "path/to/folder1", Files: []string{"file1.ext"}},
				{Path: "path/to/folder3", Files: []string{"file1.ext", "sub-folder1/file2.ext", "file3.ext"}, Folder: true},
			}, src)
		})
	}
}

func TestParams_BodyWinsOverQuery(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/x?to=query@x.y", strings.NewReader("to=body%40x.y"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	p, err := parseParams(r)
	require.NoError(t, err)
	assert.Equal(t, "body@x.y", p.String("to"))
}

func TestParams_BadValues(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/x?accept_all=maybe&source=%5B%7B&messages=%7B%7D", nil)
	p, err := parseParams(r)
	require.NoError(t, err)
	_, err = p.Bool("accept_all")
	assert.Equal(t, ferry.EBADREQUEST, ferry.ErrorCode(err))
	var src []sourceEntry
	err = p.JSON("source", &src)
	assert.Equal(t, ferry.EBADREQUEST, ferry.ErrorCode(err), "malformed JSON")
	err = p.JSON("messages", &src)
	assert.Equal(t, ferry.EBADREQUEST, ferry.ErrorCode(err), "an object where an array is expected")
	err = p.JSON("missing", &src)
	assert.Equal(t, ferry.EBADREQUEST, ferry.ErrorCode(err), "absent")
	assert.NotContains(t, ferry.ErrorMessage(p.JSON("source", &src)), "[{", "the input is not echoed")
}

func urlEscape(s string) string { return url.QueryEscape(s) }

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
