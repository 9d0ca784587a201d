// Package buildinfo says which portti is running: its version and the
// source revision it was built from, for `portti --version`, the start-up
// log line and /healthz, so that an operator (or a monitoring check) can
// tell which build each node runs without shell access to it.
//
// Nothing has to be stamped by hand. The Go toolchain records the module
// version (`go install …@v1.4.0` gives "v1.4.0"; since Go 1.24 a `go build`
// in a git checkout gives a pseudo-version such as
// v0.0.0-20261123101500-1a2b3c4d5e6f+dirty) and the git revision, commit
// time and whether the tree had uncommitted changes. A release build may
// still name its version with -ldflags "-X main.version=v1.4.0", which
// wins over the module version.
package buildinfo

import (
	"runtime/debug"
	"strings"
)

// Info describes a build.
type Info struct {
	// Version is the release ("v1.4.0"), a Go pseudo-version, or "devel"
	// for a build that knows neither (go run, go test).
	Version string `json:"version"`
	// Revision is the VCS commit the build came from; "" when unknown
	// (go install from the module proxy records no VCS information).
	Revision string `json:"revision,omitempty"`
	// Time is the commit's time (RFC 3339), "" when unknown.
	Time string `json:"revision_time,omitempty"`
	// Modified reports uncommitted changes in the tree the build came from.
	Modified bool `json:"modified,omitempty"`
	// Go is the toolchain that built it ("go1.26.8").
	Go string `json:"go,omitempty"`
}

// Read returns the running binary's Info. version, when not empty, is the
// version stamped with -ldflags -X main.version and wins over the module's.
func Read(version string) Info {
	bi, _ := debug.ReadBuildInfo()
	return From(bi, version)
}

// From returns the Info that bi (nil: none) describes, as Read does.
func From(bi *debug.BuildInfo, version string) Info {
	i := Info{Version: strings.TrimSpace(version)}
	if bi != nil {
		if i.Version == "" && bi.Main.Version != "(devel)" {
			i.Version = bi.Main.Version
		}
		i.Go = bi.GoVersion
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				i.Revision = s.Value
			case "vcs.time":
				i.Time = s.Value
			case "vcs.modified":
				i.Modified = s.Value == "true"
			}
		}
	}
	if i.Version == "" {
		i.Version = "devel"
	}
	return i
}

// String is the one-line description `portti --version` prints and the
// start-up log carries: "v1.4.0 (revision 1a2b3c4d5e6f, 2026-11-23T10:15:00Z,
// modified; go1.26.8)".
func (i Info) String() string {
	var details []string
	if i.Revision != "" {
		rev := i.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		details = append(details, "revision "+rev)
	}
	if i.Time != "" {
		details = append(details, i.Time)
	}
	if i.Modified {
		details = append(details, "modified")
	}
	s := i.Version
	if len(details) > 0 || i.Go != "" {
		s += " (" + strings.Join(details, ", ")
		if i.Go != "" {
			if len(details) > 0 {
				s += "; "
			}
			s += i.Go
		}
		s += ")"
	}
	return s
}
