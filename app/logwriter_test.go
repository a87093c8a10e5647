package app

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLogWriter(t *testing.T) {
	var out syncBuffer
	lw := newLogWriter(&out, 20*time.Millisecond)
	lw.Write([]byte("one\n"))
	assert.Equal(t, "", out.String(), "buffered")
	assert.Eventually(t, func() bool { return out.String() == "one\n" }, 5*time.Second, 5*time.Millisecond, "flushed on time")
	lw.Write([]byte("two\n"))
	assert.NoError(t, lw.Close())
	assert.Equal(t, "one\ntwo\n", out.String(), "flushed at close")
	lw.Write([]byte("three\n"))
	assert.Equal(t, "one\ntwo\nthree\n", out.String(), "straight through after close")
}
