package front

import (
	"bytes"
	"io"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// copyWhole copies in whole buffers, and an object's answer cut short is
// an error, not the end of the file.
func TestCopyWhole(t *testing.T) {
	var out bytes.Buffer
	n, err := copyWhole(&out, iotest.HalfReader(bytes.NewReader([]byte("0123456789"))), make([]byte, 4))
	require.NoError(t, err)
	assert.Equal(t, int64(10), n)
	assert.Equal(t, "0123456789", out.String())

	out.Reset()
	cut := io.MultiReader(bytes.NewReader([]byte("012345")), iotest.ErrReader(io.ErrUnexpectedEOF))
	n, err = copyWhole(&out, cut, make([]byte, 4))
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Equal(t, int64(6), n)
}
