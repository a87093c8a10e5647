package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ferryhq/ferry"
)

// FuzzParseParams feeds the request decoder any body under any content
// type: it never panics, and any error it returns is METHOD_BAD_REQUEST or
// PAYLOAD_TOO_LARGE.
func FuzzParseParams(f *testing.F) {
	for _, seed := range []struct{ ct, body string }{
		{"application/x-www-form-urlencoded", "email=a%40b.c&file%5B%5D=x&file%5B%5D=y"},
		{"application/x-www-form-urlencoded", "%zz=&=&&a=%"},
		{"application/json", `{"source":[{"path":"a","files":["b"]}],"to":"x@y.z","n":1,"b":true,"z":null}`},
		{"application/json", `[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`},
		{"application/json", `{"a":{"b":{"c":[1,2,{"d":"\u0000"}]}}} trailing`},
		{"multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nv\r\n--b--\r\n"},
		{"multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"p\"\r\n\r\n\x89PNG\r\n--b--"},
		{"text/plain", "hello"},
		{"", ""},
		{"application/json; charset", "{}"},
	} {
		f.Add(seed.ct, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/x?q=1", bytes.NewReader(body))
		r.Header.Set("Content-Type", ct)
		w := httptest.NewRecorder()
		r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
		p, err := parseParams(r)
		if r.MultipartForm != nil {
			defer r.MultipartForm.RemoveAll()
		}
		if err != nil {
			if code := ferry.ErrorCode(err); code != ferry.EBADREQUEST && code != ferry.ETOOLARGE {
				t.Fatalf("content type %q: error %v", ct, err)
			}
			return
		}
		p.String("to")
		p.Strings("file")
		_, _ = p.Bool("accept_all")
		var v any
		_ = p.JSON("source", &v)
	})
}

// FuzzSourceAndMessages feeds any text as /ops/send's source and
// /inbox/update's messages: decoding never panics, and fails only with
// METHOD_BAD_REQUEST.
func FuzzSourceAndMessages(f *testing.F) {
	for _, seed := range []string{
		`[{"path":"path\/to\/folder1","files":["file1.ext"]},{"path":"p","files":["a","b/c"],"folder":true}]`,
		`[{"id":123, "accept":"YES"},{"id":456, "accept":"NO"},{"id":789}]`,
		`[{"id":"12"},{"id":-1},{"id":1e400},{"id":null},{"accept":5}]`,
		`{"path":"x"}`, `[`, `[{"path":1}]`, `null`, `[]`, `"[]"`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		p := &params{form: map[string][]string{"source": {text}, "messages": {text}}}
		var entries []sourceEntry
		if err := p.JSON("source", &entries); err == nil {
			s := &Server{cfg: Config{SendMaxEntries: 100}}
			if _, err := s.parseSources(entries); err != nil && ferry.ErrorCode(err) != ferry.EBADREQUEST {
				t.Fatalf("parseSources: %v", err)
			}
		} else if ferry.ErrorCode(err) != ferry.EBADREQUEST {
			t.Fatalf("source: %v", err)
		}
		var decisions []decision
		if err := p.JSON("messages", &decisions); err == nil {
			for _, d := range decisions {
				messageID(d.ID)
			}
		} else if ferry.ErrorCode(err) != ferry.EBADREQUEST {
			t.Fatalf("messages: %v", err)
		}
		// The raw-JSON path of a JSON body decodes the same way.
		if json.Valid([]byte(text)) {
			p.raw = map[string]json.RawMessage{"source": json.RawMessage(text)}
			_ = p.JSON("source", &entries)
		}
	})
}
