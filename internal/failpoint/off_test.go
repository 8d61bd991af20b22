//go:build !failpoints

package failpoint

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestInjectIsOffWithoutTheTag(t *testing.T) {
	if Compiled {
		t.Fatal("Compiled is true in a build without the failpoints tag")
	}
	for _, n := range All {
		if Inject(n) {
			t.Errorf("Inject(%s) = true without the failpoints tag", n)
		}
	}
	if got := Active(); got != "" {
		t.Errorf("Active() = %q", got)
	}
}

func TestCheckEnvRefusesFailpointsWithoutTheTag(t *testing.T) {
	t.Setenv(EnvVar, "")
	if err := CheckEnv(); err != nil {
		t.Fatalf("CheckEnv with %s unset: %v", EnvVar, err)
	}
	t.Setenv(EnvVar, "ack-before-isr=return")
	if err := CheckEnv(); err == nil || !strings.Contains(err.Error(), "build tag") {
		t.Fatalf("CheckEnv with %s set = %v, want an error naming the build tag", EnvVar, err)
	}
}

// TestDefaultBinaryHasNoFailpoints builds the broker without the tag and
// checks that the linker kept nothing of this package: every Inject call
// inlined to false and its branch was removed.
func TestDefaultBinaryHasNoFailpoints(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the broker binary")
	}
	bin := filepath.Join(t.TempDir(), "strata")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/strata-io/strata/cmd/strata").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command("go", "tool", "nm", bin).Output()
	if err != nil {
		t.Fatalf("go tool nm: %v", err)
	}
	syms := string(out)
	if !strings.Contains(syms, "strata/internal/partition.") {
		t.Fatalf("nm output lists no symbol of internal/partition; cannot judge (%d bytes)", len(syms))
	}
	var found []string
	for _, line := range strings.Split(syms, "\n") {
		if strings.Contains(line, "strata/internal/failpoint.") && !strings.Contains(line, "CheckEnv") {
			found = append(found, strings.TrimSpace(line))
		}
	}
	if len(found) > 0 {
		t.Fatalf("the default binary keeps %d failpoint symbols:\n%s", len(found), strings.Join(found, "\n"))
	}
	_ = os.Remove(bin)
}
