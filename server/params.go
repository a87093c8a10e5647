package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/front"
	"github.com/ferryhq/ferry/photo"
)

// A multipart form is read part by part and never written to disk: its
// values may take multipartValues bytes in all, and the first part of
// each file name is kept up to maxFilePart bytes (the largest file a form
// carries is a photo), with one byte more to tell that it was larger.
// Anything else is read and dropped; MaxBytesReader bounds the whole.
const (
	multipartValues = 1 << 20
	maxFilePart     = photo.MaxBytes
)

// params are a request's parameters, decoded in one way for every endpoint
// (docs/api.md, "Conventions"): the query string, and for POST the body as a
// urlencoded or multipart form or a JSON object. Body values win over query
// values of the same name.
type params struct {
	form  url.Values
	files map[string][]byte
	// raw holds the JSON body's values as they were, so that source and
	// messages can be sent as native JSON.
	raw map[string]json.RawMessage
}

// parseParams decodes r's parameters. A malformed body is METHOD_BAD_REQUEST;
// a body over the limit is PAYLOAD_TOO_LARGE.
func parseParams(r *http.Request) (*params, error) {
	p := &params{form: r.URL.Query()}
	if r.Method != http.MethodPost {
		return p, nil // other methods' bodies are content (PUT /files), not parameters
	}
	ct := r.Header.Get("Content-Type")
	mediaType, _, err := mime.ParseMediaType(ct)
	if ct == "" {
		mediaType, err = "", nil
	}
	if err != nil {
		return nil, ferry.Errorf(ferry.EBADREQUEST, "Malformed Content-Type header.")
	}
	switch mediaType {
	case "application/x-www-form-urlencoded":
		err = r.ParseForm()
		p.merge(r.PostForm)
	case "multipart/form-data":
		err = p.readMultipart(r)
	case "application/json":
		err = p.decodeJSON(r.Body)
	default:
		if n, rerr := io.ReadFull(r.Body, make([]byte, 1)); n > 0 || (rerr != nil && rerr != io.EOF) {
			if rerr != nil && rerr != io.EOF {
				err = rerr
			} else {
				err = ferry.Errorf(ferry.EBADREQUEST, "Unsupported Content-Type %q: send a form or JSON.", mediaType)
			}
		}
	}
	if err != nil {
		return nil, front.BodyError(err)
	}
	return p, nil
}

// readMultipart reads a multipart/form-data body into p (see
// multipartValues).
func (p *params) readMultipart(r *http.Request) error {
	mr, err := r.MultipartReader()
	if err != nil {
		return ferry.Errorf(ferry.EBADREQUEST, "Malformed multipart body.")
	}
	values, valueBytes := url.Values{}, 0
	p.files = map[string][]byte{}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			p.merge(values)
			return nil
		} else if err != nil {
			return err
		}
		name := part.FormName()
		switch {
		case name == "":
		case part.FileName() == "":
			b, err := io.ReadAll(io.LimitReader(part, int64(multipartValues-valueBytes+1)))
			if err != nil {
				return err
			}
			if valueBytes += len(b); valueBytes > multipartValues {
				return ferry.Errorf(ferry.ETOOLARGE, "The form's values are over %d bytes.", multipartValues)
			}
			values.Add(name, string(b))
		case p.files[name] == nil:
			b, err := io.ReadAll(io.LimitReader(part, maxFilePart+1))
			if err != nil {
				return err
			}
			p.files[name] = b
		}
		if _, err := io.Copy(io.Discard, part); err != nil {
			return err
		}
	}
}

func (p *params) merge(v url.Values) {
	for k, vs := range v {
		p.form[k] = vs
	}
}

// decodeJSON reads one JSON object. Strings, numbers and booleans become
// form values; arrays become repeated values; every value is also kept raw.
func (p *params) decodeJSON(body io.Reader) error {
	data, err := io.ReadAll(body)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return err
	} else if err != nil {
		return ferry.Errorf(ferry.EBADREQUEST, "The request body could not be read in full.")
	}
	if err := checkDepth(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		return ferry.Errorf(ferry.EBADREQUEST, "The body is not a JSON object.")
	}
	if obj == nil {
		return ferry.Errorf(ferry.EBADREQUEST, "The body is not a JSON object.")
	}
	if _, err := dec.Token(); err != io.EOF {
		return ferry.Errorf(ferry.EBADREQUEST, "The body holds more than one JSON value.")
	}
	p.raw = obj
	for k, v := range obj {
		var list []json.RawMessage
		if err := json.Unmarshal(v, &list); err == nil {
			for _, item := range list {
				if s, ok := jsonScalar(item); ok {
					p.form.Add(k, s)
				}
			}
			continue
		}
		if s, ok := jsonScalar(v); ok {
			p.form.Set(k, s)
		}
	}
	return nil
}

// jsonScalar returns a JSON string, number or boolean as form text.
func jsonScalar(v json.RawMessage) (string, bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "", false
	}
	switch v[0] {
	case '"':
		var s string
		if json.Unmarshal(v, &s) != nil {
			return "", false
		}
		return s, true
	case '{', '[', 'n':
		return "", false
	default:
		return string(v), true // a number, true or false
	}
}

// String returns the named parameter, "" when absent.
func (p *params) String(name string) string {
	return p.form.Get(name)
}

// Has reports whether the named parameter is present.
func (p *params) Has(name string) bool {
	return p.form.Has(name)
}

// Strings returns every value of an array parameter, sent as repeated
// `name[]` or repeated `name`.
func (p *params) Strings(name string) []string {
	return append(p.form[name+"[]"], p.form[name]...)
}

// MaxItems bounds the items of one batch call (file[], files[], email[],
// id[], messages).
const MaxItems = 10_000

// List is Strings for a batch: METHOD_BAD_REQUEST when there is no item
// or more than MaxItems.
func (p *params) List(name string) ([]string, error) {
	items := p.Strings(name)
	if err := checkItems(name, len(items)); err != nil {
		return nil, err
	}
	return items, nil
}

func checkItems(name string, n int) error {
	switch {
	case n == 0:
		return ferry.Errorf(ferry.EBADREQUEST, "%s[] is required.", name)
	case n > MaxItems:
		return ferry.Errorf(ferry.EBADREQUEST, "%s may list at most %d items, not %d.", name, MaxItems, n)
	}
	return nil
}

// Bool returns a boolean parameter sent as 0/1 or false/true; absent is
// false. Anything else is METHOD_BAD_REQUEST.
func (p *params) Bool(name string) (bool, error) {
	return front.Flag(name, p.form.Get(name))
}

// File returns the multipart file part of that name, cut at maxFilePart+1
// bytes; it is an error when there is none.
func (p *params) File(name string) ([]byte, error) {
	b, ok := p.files[name]
	if !ok {
		return nil, ferry.Errorf(ferry.EBADREQUEST, "%s must be sent as a multipart file.", name)
	}
	return b, nil
}

// JSON decodes a parameter holding JSON (source, messages): native JSON in
// a JSON body, or JSON text in a form field. Absent or malformed is
// METHOD_BAD_REQUEST.
func (p *params) JSON(name string, v any) error {
	data, ok := p.raw[name]
	if !ok || (len(data) > 0 && data[0] == '"') {
		s := p.form.Get(name)
		if strings.TrimSpace(s) == "" {
			return ferry.Errorf(ferry.EBADREQUEST, "%s is required.", name)
		}
		data = json.RawMessage(s)
	}
	if err := checkDepth(data); err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return ferry.Errorf(ferry.EBADREQUEST, "%s is not valid JSON of the expected shape: %s", name, jsonProblem(err))
	}
	return nil
}

// maxJSONDepth bounds the nesting of arrays and objects in a JSON body or
// parameter: the API's deepest shape (a body holding messages) needs three.
const maxJSONDepth = 16

// checkDepth refuses JSON nested deeper than maxJSONDepth, before any
// decoder spends time or memory on it.
func checkDepth(data []byte) error {
	depth, inString, escaped := 0, false, false
	for _, c := range data {
		switch {
		case inString:
			if escaped {
				escaped = false
			} else if c == '\\' {
				escaped = true
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			if depth++; depth > maxJSONDepth {
				return ferry.Errorf(ferry.EBADREQUEST, "The JSON is nested more than %d deep.", maxJSONDepth)
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return nil
}

// jsonProblem describes a JSON decoding error without echoing the input.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("%s where %s was expected", typ.Value, typ.Type)
	default:
		return "malformed"
	}
}
