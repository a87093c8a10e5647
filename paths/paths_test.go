package paths_test

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/unicode/norm"

	"github.com/ferryhq/ferry"
	"github.com/ferryhq/ferry/paths"
)

func TestParse(t *testing.T) {
	for in, want := range map[string][]string{
		"":                              nil,
		"/":                             nil,
		"a":                             {"a"},
		"/a/b.txt":                      {"a", "b.txt"},
		"a/b/":                          {"a", "b"},
		"photos/2024/trip/y.jpg":        {"photos", "2024", "trip", "y.jpg"},
		"a b/c\\d":                      {"a b", "c\\d"},
		"...":                           {"..."},
		".hidden/..x":                   {".hidden", "..x"},
		"Cafe\u0301":                    {"Café"}, // NFD in, NFC out
		strings.Repeat("x", 255):        {strings.Repeat("x", 255)},
		strings.Repeat("d/", 127) + "f": append(slices.Repeat([]string{"d"}, 127), "f"),
	} {
		got, err := paths.Parse(in)
		require.NoError(t, err, "%q", in)
		assert.Equal(t, want, got, "%q", in)
	}
	for _, in := range []string{
		"..", "/..", "a/../b", "a/..", ".", "a/./b", "a//b", "//", "//a", "a/b//",
		"a\x00b", "a\nb", "a\rb", "a\tb", "\x7f", "a/\u0085",
		"evil\u202etxt.exe", "a\u2066b", "a\u200e", "\u061c",
		"\xff", "a/\xc3",
		strings.Repeat("x", 256),
		strings.Repeat("abcdefg/", 513),
		strings.Repeat("d/", 128) + "f",
	} {
		_, err := paths.Parse(in)
		assert.Equal(t, ferry.EBADREQUEST, ferry.ErrorCode(err), "%q", in)
	}
}

func TestConflictName(t *testing.T) {
	assert.Equal(t, "report (1).pdf", paths.ConflictName("report.pdf", 1))
	assert.Equal(t, "report (12).pdf", paths.ConflictName("report.pdf", 12))
	assert.Equal(t, "photos (2)", paths.ConflictName("photos", 2))
	assert.Equal(t, ".bashrc (1)", paths.ConflictName(".bashrc", 1))
	assert.Equal(t, "archive.tar (1).gz", paths.ConflictName("archive.tar.gz", 1))
	long := paths.ConflictName(strings.Repeat("é", 127)+".txt", 3)
	assert.LessOrEqual(t, len(long), paths.MaxName)
	assert.True(t, utf8.ValidString(long))
	assert.True(t, strings.HasSuffix(long, " (3).txt"))
}

// FuzzParse checks the parser's promises on any input: it never panics; what
// it accepts has only valid, NFC, non-empty names within the limits that are
// never "." or "..", hold no "/" or control character, and parse back to
// themselves.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "/", "a/b", "../etc/passwd", "a/%2e%2e/b", "a\x00", "//x", "/a/b/", "Cafe\u0301/x",
		"..\\..\\windows", "a/./b", "\xff\xfe", strings.Repeat("n/", 3000), "\u202e.exe", "a/\u0085b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		names, err := paths.Parse(s)
		if err != nil {
			if ferry.ErrorCode(err) != ferry.EBADREQUEST {
				t.Fatalf("Parse(%q): error %v is not METHOD_BAD_REQUEST", s, err)
			}
			return
		}
		joined := paths.Join(names)
		if len(joined) > paths.MaxPath {
			t.Fatalf("Parse(%q): %d bytes", s, len(joined))
		}
		for _, n := range names {
			if n == "" || n == "." || n == ".." || len(n) > paths.MaxName || strings.ContainsRune(n, '/') ||
				!utf8.ValidString(n) || !norm.NFC.IsNormalString(n) || strings.ContainsAny(n, "\x00\n\r") {
				t.Fatalf("Parse(%q) accepted the name %q", s, n)
			}
		}
		again, err := paths.Parse(joined)
		if err != nil || paths.Join(again) != joined {
			t.Fatalf("Parse(%q) = %q does not parse back to itself: %q, %v", s, joined, again, err)
		}
	})
}

func TestIsWithin(t *testing.T) {
	assert.True(t, paths.IsWithin([]string{"a", "b"}, []string{"a"}))
	assert.True(t, paths.IsWithin([]string{"a"}, []string{"a"}))
	assert.True(t, paths.IsWithin([]string{"a"}, nil), "everything is within the root")
	assert.False(t, paths.IsWithin([]string{"ab"}, []string{"a"}))
	assert.False(t, paths.IsWithin([]string{"a"}, []string{"a", "b"}))
}
