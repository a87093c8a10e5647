package words_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/ferryhq/ferry/internal/words"
)

func TestWords(t *testing.T) {
	assert.Equal(t, "1 day", words.Count(1, "day"))
	assert.Equal(t, "0 items", words.Count(0, "item"))
	assert.Equal(t, "7 days", words.Count(7, "day"))
	assert.Equal(t, "5 January 2027", words.Day(time.Date(2027, 1, 5, 23, 0, 0, 0, time.UTC)))
	assert.Equal(t, "1 hour", words.Duration(time.Hour))
	assert.Equal(t, "24 hours", words.Duration(24*time.Hour))
	assert.Equal(t, "7 days", words.Duration(7*24*time.Hour))
	assert.Equal(t, "1.5 hours", words.Duration(90*time.Minute))
}
