// Package version reports which build of Strata is running: its version,
// the git commit it was built from and the Go toolchain that built it.
//
// `make build` sets version and commit with -ldflags -X (see the Makefile).
// A plain `go build` or `go install` leaves them empty; Get then falls
// back to what the Go toolchain stamped into the binary
// (runtime/debug.ReadBuildInfo): the main module's version and the
// vcs.revision and vcs.modified settings. It starts no goroutines.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set at link time: go build -ldflags "-X <this package>.version=v1.2.3
// -X <this package>.commit=<sha>". Empty means "not set".
var (
	version string
	commit  string
)

// Info describes the running binary.
type Info struct {
	Version   string // "v1.2.3", a git describe string, or "(devel)"
	Commit    string // full git commit, "" when unknown
	Modified  bool   // built from a work tree with uncommitted changes
	GoVersion string // runtime.Version()
}

// Get returns the build's Info, with link-time values first and the
// toolchain's build info as the fallback.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return resolve(version, commit, bi)
}

// resolve merges link-time values with build info (bi may be nil).
func resolve(ldVersion, ldCommit string, bi *debug.BuildInfo) Info {
	info := Info{Version: ldVersion, Commit: ldCommit, GoVersion: runtime.Version()}
	if bi != nil {
		if bi.GoVersion != "" {
			info.GoVersion = bi.GoVersion
		}
		if info.Version == "" && bi.Main.Version != "" {
			info.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if info.Commit == "" {
					info.Commit = s.Value
				}
			case "vcs.modified":
				// NB: only meaningful for the commit the toolchain
				// stamped; a link-time commit states its own
				// dirtiness in the version string (git describe --dirty).
				if ldCommit == "" {
					info.Modified = s.Value == "true"
				}
			}
		}
	}
	if info.Version == "" {
		info.Version = "(devel)"
	}
	return info
}

// String renders Info on one line, as `strata --version` prints it:
// "strata v1.2.3 (commit 0a2d431e…, modified) go1.26.8 linux/amd64".
func (i Info) String() string {
	c := i.Commit
	if c == "" {
		c = "unknown"
	}
	if i.Modified {
		c += ", modified"
	}
	return fmt.Sprintf("strata %s (commit %s) %s %s/%s", i.Version, c, i.GoVersion, runtime.GOOS, runtime.GOARCH)
}
