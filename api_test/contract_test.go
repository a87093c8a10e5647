package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
)

// contract is docs/openapi.yaml's router, loaded once.
var contract = sync.OnceValues(func() (routers.Router, error) {
	doc, err := openapi3.NewLoader().LoadFromData(ferry.OpenAPI)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, err
	}
	return gorillamux.NewRouter(doc)
})

// checkContract holds an exchange of the tests with /api/1 to
// docs/openapi.yaml: the call is one the document describes (or the
// answer says it is none: 404, 405), the status is one it lists for the
// call, and the body matches the schema it gives. What ferry accepted
// (2xx) must also be a request the document allows. A mismatch fails the
// test that made the call.
func checkContract(t testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	if !strings.HasPrefix(req.URL.Path, "/api/1/") {
		return
	}
	if status == http.StatusInternalServerError {
		// "Any call may answer 500 ERR_UNKNOWN", says its description.
		var e struct{ Error, Message string }
		assert.NoError(t, json.Unmarshal(body, &e), "%s %s answered 500: %s", req.Method, req.URL.Path, body)
		assert.Equal(t, "ERR_UNKNOWN", e.Error, "%s %s answered 500: %s", req.Method, req.URL.Path, body)
		assert.NotEmpty(t, e.Message)
		return
	}
	router, err := contract()
	require.NoError(t, err, "docs/openapi.yaml")
	route, params, err := router.FindRoute(req)
	if err != nil {
		assert.Contains(t, []int{http.StatusNotFound, http.StatusMethodNotAllowed}, status,
			"%s %s is not in docs/openapi.yaml (%v), yet ferry answered %d: %s", req.Method, req.URL.Path, err, status, body)
		return
	}
	opts := &openapi3filter.Options{
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		ExcludeRequestBody:    true, // sent and gone; the form fields are strings the server checks
		IncludeResponseStatus: true,
		ExcludeResponseBody:   req.Method == http.MethodHead,
		MultiError:            true,
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if status < 300 {
		assert.NoError(t, openapi3filter.ValidateRequest(context.Background(), in),
			"%s %s: ferry accepted a request docs/openapi.yaml does not allow", req.Method, req.URL.Path)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header,
		Body: io.NopCloser(bytes.NewReader(body)), Options: opts}
	assert.NoError(t, openapi3filter.ValidateResponse(context.Background(), out),
		"%s %s answered %d, which docs/openapi.yaml does not describe: %s", req.Method, req.URL.Path, status, body)
}
