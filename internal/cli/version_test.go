package cli

import (
	"bytes"
	"runtime"
	"strings"
	"testing"

	"github.com/strata-io/strata/internal/version"
)

func TestVersionCommandPrintsBuildInfo(t *testing.T) {
	cmd := NewVersionCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs(nil)
	if err := cmd.Execute(); err != nil {
		t.Fatalf("strata version: %v", err)
	}
	got := strings.TrimSpace(out.String())
	if want := version.Get().String(); got != want {
		t.Errorf("strata version printed %q, want %q", got, want)
	}
	if !strings.Contains(got, runtime.Version()) || !strings.Contains(got, "commit ") {
		t.Errorf("strata version printed %q, want the Go version and the commit", got)
	}
}
