package node

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// readmeShellBlocks returns the ```sh blocks of the README section that
// starts with heading, as logical commands: backslash-continued lines are
// joined.
func readmeShellBlocks(t *testing.T, heading string) [][]string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start := strings.Index(text, heading)
	if start < 0 {
		t.Fatalf("README.md has no section %q", heading)
	}
	section := text[start+len(heading):]
	if end := strings.Index(section, "\n#"); end >= 0 {
		section = section[:end]
	}
	var blocks [][]string
	for {
		open := strings.Index(section, "```sh\n")
		if open < 0 {
			return blocks
		}
		section = section[open+len("```sh\n"):]
		body, rest, ok := strings.Cut(section, "```\n")
		if !ok {
			t.Fatalf("README section %q: unterminated ```sh block", heading)
		}
		section = rest
		var cmds []string
		var cur strings.Builder
		for _, line := range strings.Split(body, "\n") {
			if cont, ok := strings.CutSuffix(line, `\`); ok {
				cur.WriteString(strings.TrimSpace(cont) + " ")
				continue
			}
			cur.WriteString(strings.TrimSpace(line))
			if c := strings.TrimSpace(cur.String()); c != "" {
				cmds = append(cmds, c)
			}
			cur.Reset()
		}
		blocks = append(blocks, cmds)
	}
}

// failsComment is the README's note on a command that must fail: its
// output names the error.
var failsComment = regexp.MustCompile(`\s+# fails: (\S+)$`)

// TestREADMESecuredNodeRuns runs the single-node blocks of the README's
// "A secured node or cluster" section as a new user would paste them: the
// certificate and `strata serve` commands, then the admin's and alice's
// commands, each of which must exit 0, except those marked "# fails: CODE",
// which must fail naming CODE. kcat lines are skipped when kcat is missing.
func TestREADMESecuredNodeRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the node and the CLI as processes")
	}
	blocks := readmeShellBlocks(t, "### A secured node or cluster: SASL_SSL, SCRAM and ACLs")
	if len(blocks) < 2 {
		t.Fatalf("the README's secured section has %d ```sh blocks, want the node's and the clients'", len(blocks))
	}
	server, clients := blocks[0], blocks[1]
	if !slices.ContainsFunc(server, func(c string) bool { return strings.HasPrefix(c, "./strata serve ") }) || len(clients) < 8 {
		t.Fatalf("README secured node: server block %q, %d client commands; want a strata serve and the client steps", server, len(clients))
	}

	addr := freePort(t)
	work := t.TempDir()
	if err := os.Symlink(strataBinary(t), filepath.Join(work, "strata")); err != nil {
		t.Fatal(err)
	}
	// NB: a developer's STRATA_* variables must not reconfigure the node
	// or the CLI (see spawnChildLogging).
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "STRATA_") })
	_, kcatErr := exec.LookPath("kcat")
	run := func(cmd string) {
		t.Helper()
		cmd = strings.ReplaceAll(cmd, "127.0.0.1:9094", addr)
		if strings.HasPrefix(cmd, "kcat ") && kcatErr != nil {
			t.Logf("skipped (no kcat): %s", cmd)
			return
		}
		if strings.HasPrefix(cmd, "./strata serve ") {
			// The node runs in the foreground of its own terminal: here,
			// a child process this test stops.
			c := exec.Command("sh", "-c", "exec "+cmd)
			c.Dir, c.Env, c.Stderr = work, env, testWriter{t}
			if err := c.Start(); err != nil {
				t.Fatalf("start %s: %v", cmd, err)
			}
			ch := &child{t: t, cmd: c, addr: addr, dir: work, done: make(chan struct{})}
			go func() { c.Wait(); close(ch.done) }()
			t.Cleanup(ch.kill)
			ch.waitListening()
			return
		}
		wantFail := ""
		if m := failsComment.FindStringSubmatch(cmd); m != nil {
			wantFail = m[1]
		}
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		c := exec.CommandContext(ctx, "sh", "-c", cmd)
		c.Dir, c.Env = work, env
		out, err := c.CombinedOutput()
		t.Logf("$ %s\n%s", cmd, out)
		switch {
		case wantFail == "" && err != nil:
			t.Fatalf("README command failed: %s\n%v\n%s", cmd, err, out)
		case wantFail != "" && (err == nil || !strings.Contains(string(out), wantFail)):
			t.Fatalf("README command should fail with %s: %s\n%v\n%s", wantFail, cmd, err, out)
		}
		if strings.HasPrefix(cmd, "./strata consume ") || strings.HasPrefix(cmd, "kcat ") {
			for _, v := range []string{"hello", "world"} {
				if !strings.Contains(string(out), v) {
					t.Errorf("%s: output lacks the record %q produced before", cmd, v)
				}
			}
		}
	}
	for _, cmd := range server {
		if strings.HasPrefix(cmd, "go build") {
			continue // the binary under test stands in for the build
		}
		run(cmd)
	}
	for _, cmd := range clients {
		run(cmd)
	}
}
