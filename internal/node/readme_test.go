package node

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestREADMEUsingItRuns runs the README's "Using it" commands top to
// bottom against a fresh single-node broker, as a new user would paste
// them: each must exit 0. kcat lines are skipped when kcat is missing.
func TestREADMEUsingItRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the CLI as processes")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start := strings.Index(text, "## Using it")
	end := strings.Index(text, "## A three-node cluster")
	if start < 0 || end < start {
		t.Fatal(`README.md lacks the "Using it" section`)
	}
	var cmds []string
	for _, line := range strings.Split(text[start:end], "\n") {
		if !strings.HasPrefix(line, "    ") {
			continue
		}
		cmd := strings.TrimSpace(line)
		if cmd == "" || strings.HasPrefix(cmd, "go build") {
			continue // the binary under test stands in for the build
		}
		cmds = append(cmds, cmd)
	}
	if len(cmds) < 10 {
		t.Fatalf("found only %d commands in the README's Using it section", len(cmds))
	}

	addr := freePort(t)
	srv := spawnChild(t, t.TempDir(), addr)
	srv.waitListening()
	work := t.TempDir()
	if err := os.Symlink(strataBinary(t), filepath.Join(work, "strata")); err != nil {
		t.Fatal(err)
	}
	_, kcatErr := exec.LookPath("kcat")
	for _, cmd := range cmds {
		if strings.HasPrefix(cmd, "kcat") && kcatErr != nil {
			t.Logf("skipped (no kcat): %s", cmd)
			continue
		}
		cmd = strings.ReplaceAll(cmd, "127.0.0.1:9092", addr)
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		c := exec.CommandContext(ctx, "sh", "-c", cmd)
		c.Dir = work
		c.Env = append(os.Environ(), "STRATA_BOOTSTRAP="+addr)
		out, err := c.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("README command failed: %s\n%v\n%s", cmd, err, out)
		}
		if len(out) > 400 {
			out = append(out[:400:400], "..."...)
		}
		t.Logf("$ %s\n%s", cmd, out)
	}
}
