package ferry

import _ "embed"

// OpenAPI is the API's contract, docs/openapi.yaml (OpenAPI 3.1), which
// ferry serves at /api/1/openapi.json and its tests check it against.
//
//go:embed docs/openapi.yaml
var OpenAPI []byte
