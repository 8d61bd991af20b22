package cli_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kfake"
)

// `strata proxy` serves the REST API for the cluster at --bootstrap until
// its context ends.
func TestProxyCommandServesUntilCancelled(t *testing.T) {
	bootstrap := fakeCluster(t, kfake.SeedTopics(2, "orders"))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan result, 1)
	go func() {
		r := runWith(ctx, strings.NewReader(""), pw, "proxy", "--bootstrap", bootstrap, "--listen", "127.0.0.1:0")
		pw.Close()
		done <- r
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("read the listening line: %v (%+v)", err, <-done)
	}
	go io.Copy(io.Discard, pr)
	_, url, ok := strings.Cut(strings.TrimSpace(line), "listening on ")
	if !ok || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("listening line %q, want an http://127.0.0.1 address", line)
	}
	resp, err := http.Get(url + "/topics")
	if err != nil {
		t.Fatalf("GET /topics: %v", err)
	}
	var topics []string
	err = json.NewDecoder(resp.Body).Decode(&topics)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /topics: status %d, %v", resp.StatusCode, err)
	}
	if diff := cmp.Diff([]string{"orders"}, topics); diff != "" {
		t.Errorf("GET /topics (-want +got):\n%s", diff)
	}
	cancel()
	select {
	case r := <-done:
		if r.err != nil {
			t.Errorf("proxy after cancel: %v", r.errLine)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("proxy did not stop within 30s of its context ending")
	}
}

func TestProxyCommandBadFlags(t *testing.T) {
	r := run(t, "", "proxy", "--listen", "nonsense", "--bootstrap", fakeCluster(t))
	if r.err == nil || !strings.Contains(r.errLine, "--listen nonsense") {
		t.Errorf("proxy --listen nonsense: %q, want a --listen error", r.errLine)
	}
	r = run(t, "", "proxy", "--max-body-bytes", "-1", "--bootstrap", fakeCluster(t))
	if r.err == nil || !strings.Contains(r.errLine, "max body bytes") {
		t.Errorf("proxy --max-body-bytes -1: %q, want a max body bytes error", r.errLine)
	}
}
