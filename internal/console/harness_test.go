package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strata-io/strata/internal/config"
	"github.com/strata-io/strata/internal/console"
	"github.com/strata-io/strata/internal/nodetest"
)

func TestMain(m *testing.M) { nodetest.VerifyTestMain(m) }

type consoleConfig = console.Config

// env is a node, a console in front of it served by an httptest server,
// and a plain Kafka client to check what the console did.
type env struct {
	t       *testing.T
	addr    string // Kafka bootstrap
	srv     *httptest.Server
	cl      *kgo.Client
	adm     *kadm.Client
	console *console.Console
}

// newEnv runs an in-process single-node cluster until the test ends and
// a console in front of it.
func newEnv(t *testing.T, mod ...func(*console.Config)) *env {
	t.Helper()
	n := nodetest.Start(t, func(cfg *config.Static) { cfg.OffsetsTopicPartitions = 1 })
	return newEnvFor(t, n.Addr(), mod...)
}

func newEnvFor(t *testing.T, addr string, mod ...func(*console.Config)) *env {
	t.Helper()
	cfg := console.Config{Bootstrap: []string{addr}, RequestTimeout: 20 * time.Second}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := console.New(cfg)
	if err != nil {
		t.Fatalf("console.New: %v", err)
	}
	t.Cleanup(c.Close)
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(cl.Close)
	return &env{t: t, addr: addr, srv: srv, cl: cl, adm: kadm.NewClient(cl), console: c}
}

// response is one answer of the console.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request; a non-nil body is sent as JSON unless it is a
// string or []byte (sent as is).
func (e *env) do(method, path string, body any) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			e.t.Fatalf("marshal: %v", err)
		}
		rd = bytes.NewReader(buf)
	}
	ctx, cancel := context.WithTimeout(e.t.Context(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatalf("new request: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: out}
}

// ok sends a request, wants status want and decodes the JSON answer into
// out (when not nil).
func (e *env) ok(method, path string, body any, want int, out any) {
	e.t.Helper()
	r := e.do(method, path, body)
	if r.status != want {
		e.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.status, want, r.body)
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			e.t.Fatalf("%s %s: decode %s: %v", method, path, r.body, err)
		}
	}
}

// apiErr is the console's error answer.
type apiErr struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// fails sends a request and wants a JSON error with status want; it
// returns the error.
func (e *env) fails(method, path string, body any, want int) apiErr {
	e.t.Helper()
	r := e.do(method, path, body)
	return e.checkErr(method+" "+path, r, want)
}

func (e *env) checkErr(what string, r response, want int) apiErr {
	e.t.Helper()
	if r.status != want {
		e.t.Fatalf("%s: status %d, want %d; body %s", what, r.status, want, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		e.t.Fatalf("%s: Content-Type %q, want JSON; body %s", what, ct, r.body)
	}
	var ae apiErr
	if err := json.Unmarshal(r.body, &ae); err != nil || ae.Error == "" {
		e.t.Fatalf("%s: body %s is not a JSON error (%v)", what, r.body, err)
	}
	return ae
}

func (e *env) produce(recs ...*kgo.Record) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), 30*time.Second)
	defer cancel()
	if err := e.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		e.t.Fatalf("produce: %v", err)
	}
}

// ctx bounds one check with the plain client; its kadm requests read
// fresh metadata (not franz-go's cache, which may predate the console's
// change).
func (e *env) ctx() context.Context {
	ctx, cancel := context.WithTimeout(e.t.Context(), 30*time.Second)
	e.t.Cleanup(cancel)
	return kadm.WithAuthorizedOps(ctx)
}
