package fill_test

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"

	"github.com/ferryhq/ferry/internal/fill"
)

func TestFill(t *testing.T) {
	// Small reads fill the buffer; the end comes as io.EOF, once the
	// buffer is not full.
	r := iotest.OneByteReader(bytes.NewReader([]byte("abcdefg")))
	buf := make([]byte, 4)
	n, err := fill.Fill(r, buf)
	assert.NoError(t, err)
	assert.Equal(t, "abcd", string(buf[:n]))
	n, err = fill.Fill(r, buf)
	assert.ErrorIs(t, err, io.EOF)
	assert.Equal(t, "efg", string(buf[:n]))

	// A reader's own io.ErrUnexpectedEOF, and any other failure, come
	// through as they are, after the bytes that came before them.
	for _, cause := range []error{io.ErrUnexpectedEOF, errors.New("reset")} {
		r := io.MultiReader(bytes.NewReader([]byte("ab")), iotest.ErrReader(cause))
		n, err := fill.Fill(r, buf)
		assert.Equal(t, 2, n)
		assert.ErrorIs(t, err, cause)
	}
}
