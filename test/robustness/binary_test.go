//go:build robustness

package robustness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// upgradeFrom is the older Strata the rolling upgrade starts from: main
// after issue 11 (KIP-966 ELR, several log directories, `strata
// --version`), before the security work of issue 12. The binary is built
// from `git merge-base HEAD upgradeFrom`, which is upgradeFrom itself while
// it is an ancestor of the tree under test.
const upgradeFrom = "2d37111"

const versionPkg = "github.com/strata-io/strata/internal/version"

var (
	binOnce sync.Once
	binDir  string
	binErr  error
	curBin  string

	oldOnce sync.Once
	oldBin  string
	oldNote string // how the old binary was made, for the test log
	oldErr  error
)

// repoRoot is the module's root directory.
func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the strata module")
	}
	return filepath.Dir(mod), nil
}

func goBuild(dir, out, version string) error {
	cmd := exec.Command("go", "build", "-ldflags", "-X "+versionPkg+".version="+version, "-o", out, "./cmd/strata")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build in %s: %v\n%s", dir, err, b)
	}
	return nil
}

// strataBinary builds ./cmd/strata of the tree under test, once per run;
// STRATATEST_CHAOS_BINARY names a binary to test instead.
func strataBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "strata-chaos-bin")
		if binErr != nil {
			return
		}
		if b := os.Getenv(envBinary); b != "" {
			curBin, binErr = filepath.Abs(b)
			return
		}
		root, err := repoRoot()
		if err != nil {
			binErr = err
			return
		}
		curBin = filepath.Join(binDir, "strata")
		binErr = goBuild(root, curBin, "chaos-current")
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return curBin
}

// olderBinary builds the rolling upgrade's starting version from the
// repository's history (see upgradeFrom). A checkout without that history
// (a shallow clone) builds the tree under test a second time with another
// version stamp instead, and says so.
func olderBinary(t *testing.T) (string, string) {
	t.Helper()
	strataBinary(t)
	oldOnce.Do(func() {
		root, err := repoRoot()
		if err != nil {
			oldErr = err
			return
		}
		oldBin = filepath.Join(binDir, "strata-old")
		base, err := exec.Command("git", "-C", root, "merge-base", "HEAD", upgradeFrom).Output()
		if err != nil {
			oldNote = fmt.Sprintf("no git history with %s here (%v): the upgrade runs between two builds of the tree under test, stamped chaos-current and chaos-old", upgradeFrom, err)
			oldErr = goBuild(root, oldBin, "chaos-old")
			return
		}
		rev := strings.TrimSpace(string(base))
		src := filepath.Join(binDir, "src-"+rev[:12])
		if err := os.MkdirAll(src, 0o755); err != nil {
			oldErr = err
			return
		}
		arch := exec.Command("sh", "-c", fmt.Sprintf("git -C %q archive %s | tar -x -C %q", root, rev, src))
		if out, err := arch.CombinedOutput(); err != nil {
			oldErr = fmt.Errorf("git archive %s: %v\n%s", rev, err, out)
			return
		}
		oldNote = fmt.Sprintf("upgrading from %s (git merge-base HEAD %s) to the tree under test", rev[:12], upgradeFrom)
		oldErr = goBuild(src, oldBin, "chaos-old-"+rev[:12])
	})
	if oldErr != nil {
		t.Fatal(oldErr)
	}
	return oldBin, oldNote
}

var (
	flagsMu  sync.Mutex
	flagsRes = map[string]bool{}
)

// binarySupports reports whether `strata serve` of binary accepts the
// (possibly hidden) flag with value: with --help after it, serve prints
// its usage and exits 0, unless the flag is unknown.
func binarySupports(binary, flag, value string) bool {
	flagsMu.Lock()
	defer flagsMu.Unlock()
	key := binary + " " + flag
	if ok, done := flagsRes[key]; done {
		return ok
	}
	cmd := exec.Command(binary, "serve", flag, value, "--help")
	cmd.Env = childEnv()
	ok := cmd.Run() == nil
	flagsRes[key] = ok
	return ok
}

// requireFlag skips the test unless the binary under test has the flag.
func requireFlag(t *testing.T, flag, value, from string) {
	t.Helper()
	if !binarySupports(strataBinary(t), flag, value) {
		t.Skipf("strata serve has no %s yet (it comes from %s)", flag, from)
	}
}

// childEnv is the environment of strata processes. NB: strata serve takes
// every STRATA_* variable for a setting (and refuses unknown ones): a
// developer's shell must not reconfigure or break the suite's nodes (the
// suite's own knobs are STRATATEST_*).
func childEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "STRATA_") })
}
