package restproxy_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestREADMEProxyExamplesRun runs the README's REST proxy section as one
// shell script, curl failing on any HTTP error: the documented examples
// work as written. The lines running the strata binary are what the test
// harness does instead (a node, the topic, the proxy).
func TestREADMEProxyExamplesRun(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	from := strings.Index(text, "## HTTP REST proxy")
	end := strings.Index(text, "## Container image")
	if from < 0 || end < from {
		t.Fatal(`README.md lacks the "HTTP REST proxy" section`)
	}
	var script []string
	var cont string
	for _, line := range strings.Split(text[from:end], "\n") {
		if !strings.HasPrefix(line, "    ") {
			continue
		}
		cmd := cont + strings.TrimSpace(line)
		if strings.HasSuffix(cmd, `\`) {
			cont = strings.TrimSuffix(cmd, `\`) + " "
			continue
		}
		cont = ""
		switch {
		case strings.HasPrefix(cmd, "./strata topic create orders --partitions 3"):
			continue // done below
		case strings.HasPrefix(cmd, "./strata proxy"), strings.HasPrefix(cmd, "P="):
			continue // the test's proxy
		case strings.HasPrefix(cmd, "./strata"):
			t.Fatalf("README REST proxy section runs %q, which this test does not know", cmd)
		}
		script = append(script, strings.ReplaceAll(cmd, "curl -s ", "curl -sS --fail-with-body "))
	}
	if len(script) < 10 {
		t.Fatalf("found only %d commands in the README's REST proxy section", len(script))
	}
	e := start(t)
	e.createTopic("orders", 3, nil)
	full := "set -e\nP=" + e.url + "\n" + strings.Join(script, "\n") + "\n"
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "sh", "-c", full).CombinedOutput()
	t.Logf("script:\n%s\noutput:\n%s", full, out)
	if err != nil {
		t.Fatalf("README REST proxy examples: %v", err)
	}
	if !strings.Contains(string(out), `"error_code":200`) || strings.Count(string(out), `"offset"`) < 5 {
		t.Errorf("README examples' output lacks the produce acknowledgements")
	}
	recs := e.consume("orders", 5)
	var values []string
	for _, r := range recs {
		values = append(values, string(r.Value))
	}
	for _, want := range []string{`{"item":"book","qty":2}`, `[1,2,3]`, `hello`, `{"n":1}`, "\x00\x01"} {
		found := false
		for _, v := range values {
			found = found || v == want
		}
		if !found {
			t.Errorf("record %q from the README not in orders: %q", want, values)
		}
	}
}
