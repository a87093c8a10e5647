package web

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every action the audit log writes (the Action constants of audit.go)
// has words on the pages and a place in the log's filter.
func TestActionWords_EveryAction(t *testing.T) {
	file, err := parser.ParseFile(token.NewFileSet(), "../audit.go", nil, 0)
	require.NoError(t, err)
	var codes []string
	ast.Inspect(file, func(n ast.Node) bool {
		if v, ok := n.(*ast.ValueSpec); ok && strings.HasPrefix(v.Names[0].Name, "Action") {
			code, err := strconv.Unquote(v.Values[0].(*ast.BasicLit).Value)
			require.NoError(t, err)
			codes = append(codes, code)
		}
		return true
	})
	require.NotEmpty(t, codes)
	assert.Len(t, auditActions, len(codes), "one filter entry per action")
	for _, code := range codes {
		assert.NotEqual(t, code, actionWords(code), "%s has no words", code)
	}
	assert.Equal(t, "something_new", actionWords("something_new"))
}
