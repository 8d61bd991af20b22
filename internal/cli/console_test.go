package cli_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-io/strata/internal/cli"
)

// TestConsoleCommandServes runs `strata console` against a kfake cluster:
// it prints its URL, serves the UI and the API, and exits cleanly when its
// context ends.
func TestConsoleCommandServes(t *testing.T) {
	bootstrap := fakeCluster(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stderrR, stderrW := io.Pipe()
	root := &cobra.Command{Use: "strata", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(cli.Commands()...)
	root.SetArgs([]string{"console", "--bootstrap", bootstrap, "--listen", "127.0.0.1:0", "--timeout", "10s"})
	root.SetOut(io.Discard)
	root.SetErr(stderrW)
	done := make(chan error, 1)
	go func() {
		err := root.ExecuteContext(ctx)
		stderrW.Close()
		done <- err
	}()

	lines := bufio.NewScanner(stderrR)
	if !lines.Scan() {
		t.Fatalf("no output from strata console: %v", <-done)
	}
	m := regexp.MustCompile(`serving (http://127\.0\.0\.1:\d+/console/) for the cluster at (.*)$`).FindStringSubmatch(lines.Text())
	if m == nil || m[2] != bootstrap {
		t.Fatalf("first line %q does not name the console URL and %s", lines.Text(), bootstrap)
	}
	go func() { _, _ = io.Copy(io.Discard, stderrR) }() // the server's own log, if any
	url := m[1]

	get := func(path string) (int, string, string) {
		t.Helper()
		reqCtx, reqCancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer reqCancel()
		req, _ := http.NewRequestWithContext(reqCtx, "GET", url+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(body)
	}
	if code, ctype, body := get(""); code != 200 || !strings.HasPrefix(ctype, "text/html") || !strings.Contains(body, "Strata console") {
		t.Errorf("GET /console/: %d %s %.80q", code, ctype, body)
	}
	code, _, body := get("api/topics")
	var topics []any
	if code != 200 || json.Unmarshal([]byte(body), &topics) != nil {
		t.Errorf("GET /console/api/topics: %d %s, want a JSON list", code, body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("strata console returned %v after its context ended, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("strata console did not stop within 30s of its context ending")
	}
}

func TestConsoleCommandBadListen(t *testing.T) {
	r := run(t, "", "console", "--bootstrap", "127.0.0.1:1", "--listen", "not-an-address")
	if r.err == nil || !strings.Contains(r.errLine, "console") {
		t.Errorf("bad --listen: err %q, want a console listen error", r.errLine)
	}
}
