// Package version says which ferry this is: the version, the commit it was
// built from and the Go that built it, for `ferry version`, /healthz and
// the ferry_build_info metric.
package version

import (
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
)

// Version is set at link time for a release
// (-ldflags "-X github.com/ferryhq/ferry/version.Version=1.2.0"); when it
// is empty, the module version the Go toolchain stamped is used, or
// "devel".
var Version string

// Info is a build's identity.
type Info struct {
	Version string
	Commit  string // the VCS revision, 12 digits, "-dirty" when the tree had changes; "unknown" without VCS data
	Go      string
}

// Get returns this binary's Info, read once: /healthz asks on every call.
func Get() Info { return get() }

var get = sync.OnceValue(read)

func read() Info {
	info := Info{Version: Version, Commit: "unknown", Go: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if info.Version == "" {
		info.Version = "devel"
		if ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = strings.TrimPrefix(bi.Main.Version, "v")
		}
	}
	if !ok {
		return info
	}
	var dirty bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Commit = s.Value[:min(12, len(s.Value))]
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && info.Commit != "unknown" {
		info.Commit += "-dirty"
	}
	return info
}

// String is the line `ferry version` prints: "ferry VERSION (COMMIT) GOVERSION".
func (i Info) String() string {
	return "ferry " + i.Version + " (" + i.Commit + ") " + i.Go
}
