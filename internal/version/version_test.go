package version

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	stamped := &debug.BuildInfo{
		GoVersion: "go1.99.1",
		Main:      debug.Module{Path: "github.com/strata-io/strata", Version: "v0.0.0-20250101000000-abcdef012345+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "abcdef0123456789abcdef0123456789abcdef01"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	tests := []struct {
		name                 string
		giveVersion, giveSHA string
		giveInfo             *debug.BuildInfo
		want                 Info
	}{
		{
			name:        "link-time values win",
			giveVersion: "v1.2.3", giveSHA: "1111111111111111111111111111111111111111",
			giveInfo: stamped,
			want:     Info{Version: "v1.2.3", Commit: "1111111111111111111111111111111111111111", GoVersion: "go1.99.1"},
		},
		{
			name:     "plain go build falls back to the vcs stamp",
			giveInfo: stamped,
			want:     Info{Version: "v0.0.0-20250101000000-abcdef012345+dirty", Commit: "abcdef0123456789abcdef0123456789abcdef01", Modified: true, GoVersion: "go1.99.1"},
		},
		{
			name:     "no stamp at all",
			giveInfo: &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}},
			want:     Info{Version: "(devel)", GoVersion: runtime.Version()},
		},
		{
			name: "no build info",
			want: Info{Version: "(devel)", GoVersion: runtime.Version()},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := resolve(tt.giveVersion, tt.giveSHA, tt.giveInfo); got != tt.want {
				t.Errorf("resolve(%q, %q, ...) = %+v, want %+v", tt.giveVersion, tt.giveSHA, got, tt.want)
			}
		})
	}
}

func TestInfoString(t *testing.T) {
	got := Info{Version: "v1.2.3", Commit: "abc", Modified: true, GoVersion: "go1.99.1"}.String()
	want := "strata v1.2.3 (commit abc, modified) go1.99.1 " + runtime.GOOS + "/" + runtime.GOARCH
	if got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got := (Info{Version: "(devel)", GoVersion: "go1"}).String(); !strings.Contains(got, "commit unknown") {
		t.Errorf("String() of an unstamped build = %q, want it to say the commit is unknown", got)
	}
}
