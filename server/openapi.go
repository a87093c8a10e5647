package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/ferryhq/ferry"
)

// openAPIJSON is docs/openapi.yaml as JSON, made on the first GET
// /openapi.json rather than at every start of the binary (admin commands
// included).
var openAPIJSON = sync.OnceValue(func() []byte {
	var doc any
	if err := yaml.Unmarshal(ferry.OpenAPI, &doc); err != nil {
		panic(fmt.Sprintf("docs/openapi.yaml: %v", err))
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(fmt.Sprintf("docs/openapi.yaml as JSON: %v", err))
	}
	return b
})

// handleOpenAPI is GET /openapi.json: the API's contract.
func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPIJSON())
}

// noteRoutes records an API route's methods and path (without the
// prefix, with {name} for path variables), for the test that compares
// them with docs/openapi.yaml.
func (s *Server) noteRoutes(path string, methods []string) {
	for _, m := range methods {
		s.apiRoutes = append(s.apiRoutes, strings.ToLower(m)+" "+path)
	}
}
