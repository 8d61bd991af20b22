package cli_test

import (
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-io/strata/internal/cli"
)

// exitCode is the status main exits with for err.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *cli.ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return 1
}

func TestVerifyRejectsBadFlagsWithStatus2(t *testing.T) {
	tests := []struct {
		give []string
		want string
	}{
		{[]string{"--consumers", "bogus"}, `consumer mode "bogus"`},
		{[]string{"--consumers", "assign:dirty"}, `consumer isolation "dirty"`},
		{[]string{"--rate", "0"}, "--rate must be positive"},
		{[]string{"--duration", "-1s"}, "--duration must be positive"},
		{[]string{"--producers", "0", "--transactional", "0"}, "no producers"},
		{[]string{"--nemesis", "true", "--nemesis-interval", "0s"}, "--nemesis-interval must be positive"},
		{[]string{"--no-such-flag"}, "unknown flag"},
	}
	for _, tt := range tests {
		r := run(t, "", append([]string{"verify", "--bootstrap", "127.0.0.1:1"}, tt.give...)...)
		if exitCode(r.err) != 2 || !strings.Contains(r.errLine, tt.want) {
			t.Errorf("strata verify %v: exit %d, %q; want exit 2 and an error containing %q", tt.give, exitCode(r.err), r.errLine, tt.want)
		}
	}
}

func TestVerifyUnreachableClusterExits2(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	r := run(t, "", "verify", "--bootstrap", addr, "--timeout", "2s", "--duration", "1s", "--quiet")
	if exitCode(r.err) != 2 || !strings.Contains(r.errLine, "reach cluster") {
		t.Errorf("strata verify against a closed port: exit %d, %q; want exit 2 and a reach-cluster error", exitCode(r.err), r.errLine)
	}
}

// TestVerifyAgainstKfake runs the whole command against franz-go's fake
// cluster: it must finish clean, with the JSON result, the report and the
// history written.
func TestVerifyAgainstKfake(t *testing.T) {
	bootstrap := fakeCluster(t)
	dir := t.TempDir()
	report, history := filepath.Join(dir, "r.html"), filepath.Join(dir, "h.json")
	r := run(t, "", "verify", "--bootstrap", bootstrap, "--duration", "3s", "--rate", "200", "--seed", "5",
		"--consumers", "assign:read_committed,assign:read_uncommitted,group-classic:read_committed:2",
		"--settle-timeout", "20s", "--json", "--quiet", "--report", report, "--history", history)
	if r.err != nil {
		t.Fatalf("strata verify against kfake: %v\nstdout: %s\nstderr: %s", r.err, r.stdout, r.stderr)
	}
	var res struct {
		Seed   int64          `json:"seed"`
		Acked  int            `json:"acked"`
		Counts map[string]int `json:"counts"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, r.stdout)
	}
	if res.Seed != 5 || res.Acked == 0 || len(res.Counts) != 0 {
		t.Errorf("--json: seed %d, %d acknowledged, anomalies %v; want seed 5, some acknowledged, none", res.Seed, res.Acked, res.Counts)
	}
	page, err := os.ReadFile(report)
	if err != nil || !strings.Contains(string(page), `<svg id="timeline"`) || !strings.Contains(string(page), "CLEAN") {
		t.Errorf("--report %s: %v; want an HTML page with the timeline and CLEAN", report, err)
	}
	raw, err := os.ReadFile(history)
	var h struct {
		Seed   int64             `json:"seed"`
		Events []json.RawMessage `json:"events"`
	}
	if err == nil {
		err = json.Unmarshal(raw, &h)
	}
	if err != nil || h.Seed != 5 || len(h.Events) == 0 {
		t.Errorf("--history %s: %v, seed %d, %d events; want seed 5 and events", history, err, h.Seed, len(h.Events))
	}
}
