package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
)

// docs/openapi.yaml is a valid OpenAPI document (kin-openapi loads and
// validates it) that describes exactly the routes ferry serves under
// /api/1, no more and no fewer; ferry serves it as JSON at
// /api/1/openapi.json.
func TestOpenAPI_DescribesEveryRoute(t *testing.T) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(ferry.OpenAPI)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()))
	assert.True(t, strings.HasPrefix(doc.OpenAPI, "3.1"), "OpenAPI 3.1")

	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, strings.ToLower(method)+" "+path)
		}
	}
	s := New(Config{Signup: "open"}, brokenUsers{}, slog.New(slog.DiscardHandler), time.Now)
	served := slices.Clone(s.apiRoutes)
	slices.Sort(documented)
	slices.Sort(served)
	assert.Equal(t, served, documented, "docs/openapi.yaml and server/routes.go name the same calls")

	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			assert.NotEmpty(t, op.Summary, "%s %s has a summary", method, path)
			assert.NotNil(t, op.Responses.Value("200"), "%s %s documents its success", method, path)
		}
	}

	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/1/openapi.json", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	body, err := io.ReadAll(rec.Body)
	require.NoError(t, err)
	var served3 map[string]any
	require.NoError(t, json.Unmarshal(body, &served3))
	fromJSON, err := openapi3.NewLoader().LoadFromData(body)
	require.NoError(t, err, "the JSON is the same document")
	assert.Equal(t, len(doc.Paths.Map()), len(fromJSON.Paths.Map()))
}
