package ferry_test

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The architecture's rules of import, as `go list` sees them
// (docs/architecture.md): the three front ends stand side by side on the
// root services, none of them reaches the store, and only the blob store
// speaks S3.
func TestImports_FrontEndsStandSideBySide(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "github.com/ferryhq/ferry/"
	imports := map[string][]string{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		imports[strings.TrimPrefix(p.ImportPath, mod)] = p.Imports
	}
	fronts := []string{"server", "dav", "web"}
	for _, front := range fronts {
		if _, ok := imports[front]; !ok {
			t.Fatalf("no package %s", front)
		}
		for _, imp := range imports[front] {
			name := strings.TrimPrefix(imp, mod)
			if slices.Contains(fronts, name) || name == "store" || strings.HasPrefix(name, "store/") || strings.Contains(imp, "bbolt") {
				t.Errorf("%s imports %s", front, imp)
			}
		}
	}
	// The bench's reference client and the test harness's look behind
	// ferry's back are minio-go on purpose; no other package of the
	// service may be.
	for pkg, imps := range imports {
		for _, imp := range imps {
			if strings.HasPrefix(imp, "github.com/minio/") && pkg != "store/blobs" && pkg != "ferrytest" && pkg != "bench" {
				t.Errorf("%s imports %s: only store/blobs speaks S3", pkg, imp)
			}
		}
	}
	for _, imp := range imports["cmd/ferry"] {
		if strings.HasPrefix(imp, mod+"store") {
			t.Errorf("cmd/ferry imports %s: it goes through app", imp)
		}
	}
}
