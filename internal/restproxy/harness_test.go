package restproxy_test

import (
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
	"github.com/strata-io/strata/internal/nodetest"
	"github.com/strata-io/strata/internal/restproxy"
)

func TestMain(m *testing.M) { nodetest.VerifyTestMain(m) }

// env is an in-process node with the proxy in front of it on a real HTTP
// server.
type env struct {
	t     *testing.T
	node  *nodetest.Node
	kafka string // the node's Kafka address
	proxy *restproxy.Proxy
	srv   *httptest.Server
	url   string
}

// start runs a node and a proxy; mod adjusts the proxy's config.
func start(t *testing.T, mod ...func(*restproxy.Config)) *env {
	t.Helper()
	n := nodetest.Start(t, func(st *config.Static) { st.AutoCreateTopics = false })
	e := &env{t: t, node: n, kafka: n.Addr()}
	cfg := restproxy.DefaultConfig()
	cfg.Bootstrap = []string{e.kafka}
	cfg.Logger = nodetest.Logger(t).With("component", "restproxy")
	for _, m := range mod {
		m(&cfg)
	}
	p, err := restproxy.New(cfg)
	if err != nil {
		t.Fatalf("restproxy.New: %v", err)
	}
	e.proxy = p
	pctx, pcancel := context.WithCancel(context.Background())
	pdone := make(chan error, 1)
	go func() { pdone <- p.Run(pctx) }()
	e.srv = httptest.NewServer(p)
	e.url = e.srv.URL
	t.Cleanup(func() {
		e.srv.Close()
		pcancel()
		select {
		case err := <-pdone:
			if err != nil {
				t.Errorf("proxy Run: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Errorf("proxy did not stop within 60s")
		}
	})
	return e
}

// client is a kgo client of the node, closed at cleanup.
func (e *env) client(opts ...kgo.Opt) *kgo.Client {
	e.t.Helper()
	return e.node.Client(opts...)
}

func (e *env) admin() *kadm.Client { return e.node.Admin() }

func (e *env) createTopic(name string, partitions int32, configs map[string]*string) {
	e.t.Helper()
	e.node.CreateTopic(name, partitions, configs)
}

// produce writes records with kgo, each to its Partition.
func (e *env) produce(recs ...*kgo.Record) {
	e.t.Helper()
	cl := e.client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		e.t.Fatalf("ProduceSync: %v", err)
	}
}

// consume reads n records of topic from the start, with a fresh direct
// consumer, and fails on more within a short extra poll.
func (e *env) consume(topic string, n int) []*kgo.Record {
	e.t.Helper()
	cl := e.client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			e.t.Fatalf("consumed %d of %d records from %s: %v", len(out), n, topic, ctx.Err())
		}
		fs.EachError(func(t string, p int32, err error) { e.t.Fatalf("fetch %s[%d]: %v", t, p, err) })
		out = append(out, fs.Records()...)
	}
	if len(out) != n {
		e.t.Fatalf("consumed %d records from %s, want %d", len(out), topic, n)
	}
	return out
}

// response is an HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request; body "" sends none. headers are name, value pairs.
func (e *env) do(method, path, body string, headers ...string) response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatalf("NewRequest %s %s: %v", method, path, err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// ok sends a request and fails unless the status is want; it decodes the
// JSON body into out when out is not nil.
func (e *env) ok(want int, out any, method, path, body string, headers ...string) response {
	e.t.Helper()
	r := e.do(method, path, body, headers...)
	if r.status != want {
		e.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.status, want, r.body)
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			e.t.Fatalf("%s %s: decode %s: %v", method, path, r.body, err)
		}
	}
	return r
}

// fail sends a request and checks the JSON error: status and error_code.
func (e *env) fail(status, code int, method, path, body string, headers ...string) string {
	e.t.Helper()
	r := e.do(method, path, body, headers...)
	var eb struct {
		Code    *int    `json:"error_code"`
		Message *string `json:"message"`
	}
	if err := json.Unmarshal(r.body, &eb); err != nil || eb.Code == nil || eb.Message == nil {
		e.t.Fatalf("%s %s: want a JSON error, got status %d body %q (%v)", method, path, r.status, r.body, err)
	}
	if !strings.Contains(r.header.Get("Content-Type"), "json") {
		e.t.Errorf("%s %s: Content-Type %q, want JSON", method, path, r.header.Get("Content-Type"))
	}
	if r.status != status || *eb.Code != code {
		e.t.Fatalf("%s %s: status %d error_code %d (%s), want %d %d", method, path, r.status, *eb.Code, *eb.Message, status, code)
	}
	return *eb.Message
}

const (
	ctV2     = "application/vnd.kafka.v2+json"
	ctBinary = "application/vnd.kafka.binary.v2+json"
	ctJSON   = "application/vnd.kafka.json.v2+json"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// result of doNoFatal.
type rawResponse struct {
	status int
	body   []byte
	err    error
}

// doNoFatal is do for other goroutines: it reports errors instead of
// failing the test.
func (e *env) doNoFatal(method, path, body string, headers ...string) rawResponse {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, e.url+path, rd)
	if err != nil {
		return rawResponse{err: err}
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return rawResponse{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return rawResponse{status: resp.StatusCode, body: b, err: err}
}
