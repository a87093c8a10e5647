package server

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
)

func TestWriteEntriesIsJSON(t *testing.T) {
	entries := []ferry.Entry{
		{File: `plain.txt`, Size: 0, Type: "f"},
		{File: `quo"te\back\\slash`, Size: 1 << 40, Type: "d"},
		{File: "Café/日本語/😀 <b>&amp;</b>", Size: 42, Type: "f"},
		{File: "ctl\x01\x1f\x7f", Size: -1, Type: "f"},
		{File: "\u2028\u2029", Size: 7, Type: "d"},
	}
	for _, list := range [][]ferry.Entry{entries, {}} {
		w := httptest.NewRecorder()
		writeEntries(w, list)
		var got []ferry.Entry
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got), w.Body.String())
		assert.Equal(t, list, got)
		assert.Equal(t, "application/json; charset=utf-8", w.Header().Get("Content-Type"))
	}
}
