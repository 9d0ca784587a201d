package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestFrom(t *testing.T) {
	vcs := []debug.BuildSetting{
		{Key: "-trimpath", Value: "true"},
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d"},
		{Key: "vcs.time", Value: "2026-11-23T10:15:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}
	tests := []struct {
		name    string
		bi      *debug.BuildInfo
		ldflags string
		want    string
	}{
		{"no build info", nil, "", "devel"},
		{"go run or go test", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, "", "devel (go1.26.8)"},
		{"go install of a release", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"}}, "", "v1.4.0 (go1.26.8)"},
		{"go build in a checkout", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261123101500-1a2b3c4d5e6f+dirty"}, Settings: vcs}, "",
			"v0.0.0-20261123101500-1a2b3c4d5e6f+dirty (revision 1a2b3c4d5e6f, 2026-11-23T10:15:00Z, modified; go1.26.8)"},
		{"ldflags wins", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs[:4]}, " v1.5.0 ",
			"v1.5.0 (revision 1a2b3c4d5e6f, 2026-11-23T10:15:00Z; go1.26.8)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := From(tt.bi, tt.ldflags).String(); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestRead(t *testing.T) {
	i := Read("")
	if i.Version == "" || i.Go == "" {
		t.Errorf("Read: %+v", i)
	}
}
