package server

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry"
)

func TestAppendEntryIsJSON(t *testing.T) {
	entries := []ferry.Entry{
		{File: `plain.txt`, Size: 0, Type: "f"},
		{File: `quo"te\back\\slash`, Size: 1 << 40, Type: "d"},
		{File: "Café/日本語/😀 <b>&amp;</b>", Size: 42, Type: "f"},
		{File: "ctl\x01\x1f\x7f", Size: -1, Type: "f"},
		{File: "\u2028\u2029", Size: 7, Type: "d"},
	}
	buf := []byte{'['}
	for i, e := range entries {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendEntry(buf, "dir/", []byte(e.File), e.Type == "d", e.Size)
	}
	buf = append(buf, ']')
	var got []ferry.Entry
	require.NoError(t, json.Unmarshal(buf, &got), string(buf))
	for i := range entries {
		entries[i].File = "dir/" + entries[i].File
	}
	assert.Equal(t, entries, got)
}
