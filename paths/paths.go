// Package paths parses the paths of docs/api.md into segments: the one parser
// every endpoint uses, so no path can ever name anything outside the user's
// own tree.
package paths

import (
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/ferryhq/ferry"
)

// Limits of docs/api.md: a name (segment) and a whole path, in bytes of NFC UTF-8;
// and of ferry: how many names deep a path may go, which bounds the work
// one path can cost a request (a walk, the folders an upload makes).
const (
	MaxName  = 255
	MaxPath  = 4096
	MaxDepth = 128
)

// Parse splits a path into its names, NFC-normalised. A leading "/" is
// optional, one trailing "/" is allowed, and "" or "/" is the root (no
// names). It returns a METHOD_BAD_REQUEST *ferry.Error for invalid UTF-8,
// empty, "." or ".." names, NUL and other control characters (and the
// bidirectional controls, ferry.IsControl), a name over
// MaxName bytes, a path over MaxPath bytes or MaxDepth names.
func Parse(s string) ([]string, error) {
	if !utf8.ValidString(s) {
		return nil, bad("is not valid UTF-8")
	}
	s = norm.NFC.String(s)
	if len(s) > MaxPath {
		return nil, bad("is longer than %d bytes", MaxPath)
	}
	s = strings.TrimPrefix(s, "/")
	if s == "" {
		return nil, nil
	}
	if s = strings.TrimSuffix(s, "/"); s == "" {
		return nil, bad("has an empty name (two slashes in a row)")
	}
	if strings.Count(s, "/") >= MaxDepth {
		return nil, bad("is more than %d names deep", MaxDepth)
	}
	names := strings.Split(s, "/")
	for _, name := range names {
		switch {
		case name == "":
			return nil, bad("has an empty name (two slashes in a row)")
		case name == "." || name == "..":
			return nil, bad("has a %q segment", name)
		case len(name) > MaxName:
			return nil, bad("has a name longer than %d bytes", MaxName)
		case strings.IndexFunc(name, ferry.IsControl) >= 0:
			return nil, bad("has a control character (bidirectional ones too)")
		}
	}
	return names, nil
}

// CheckNew checks the name of a file or folder about to be made, by any
// client: the rules Parse applies to every name, and also that it neither
// is blank nor starts or ends with white space. Other clients and file
// systems choke on those (Windows cannot hold a name that ends with a
// space), and a name of spaces alone shows as nothing to click. Names made
// before this rule can still be read, renamed and deleted. It returns a
// METHOD_BAD_REQUEST *ferry.Error that names the cause in a person's words.
func CheckNew(name string) error {
	refuse := func(format string, args ...any) error {
		return ferry.Errorf(ferry.EBADREQUEST, format, args...)
	}
	switch {
	case strings.TrimSpace(name) == "":
		return refuse("A name cannot be empty or only spaces.")
	case !utf8.ValidString(name):
		return refuse("A name must be text (UTF-8).")
	case strings.Contains(name, "/"):
		return refuse("A name cannot hold a slash (/): it separates folders.")
	case name == "." || name == "..":
		return refuse("A name cannot be . or .., which stand for this folder and the one above it.")
	case len(norm.NFC.String(name)) > MaxName:
		return refuse("The name is too long: at most %d bytes, which is %d plain letters and fewer with accents or in other scripts (this one has %d bytes).", MaxName, MaxName, len(norm.NFC.String(name)))
	case strings.IndexFunc(name, ferry.IsControl) >= 0:
		return refuse("A name cannot hold control characters, such as a new line, a tab, or the marks that turn text right to left.")
	case strings.TrimSpace(name) != name:
		return refuse("A name cannot start or end with a space.")
	}
	return nil
}

func bad(format string, args ...any) error {
	return ferry.Errorf(ferry.EBADREQUEST, "The path "+format+".", args...)
}

// IsWithin reports whether the path names is dir or below it.
func IsWithin(names, dir []string) bool {
	return len(names) >= len(dir) && slices.Equal(names[:len(dir)], dir)
}

// Join writes names as the API shows paths: "a/b/c", "" for the root.
func Join(names []string) string {
	return strings.Join(names, "/")
}

// ConflictName returns the n-th alternative of a taken name, as docs/api.md says
// for resolve and accepted sends: "name (n).ext", or "name (n)" without an
// extension. A leading dot does not start an extension (".bashrc (1)").
func ConflictName(name string, n int) string {
	base, ext := name, ""
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		base, ext = name[:i], name[i:]
	}
	suffix := " (" + itoa(n) + ")"
	if over := len(base) + len(suffix) + len(ext) - MaxName; over > 0 {
		base = truncateUTF8(base, len(base)-over)
	}
	return base + suffix + ext
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if n <= 0 {
		return ""
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
