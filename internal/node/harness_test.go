package node

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/strata-io/strata/internal/config"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(removingBinary{m},
		// franz-go clients closed by tests may leave their own timers briefly.
		goleak.IgnoreTopFunction("github.com/twmb/franz-go/pkg/kgo.(*Client).reapConnectionsLoop"),
		goleak.IgnoreAnyFunction("github.com/klauspost/compress/zstd.(*blockDec).startDecoder"),
	)
}

// removingBinary runs the tests, then removes the strata binary that
// strataBinary built for them (about 25MB under the temp dir per run).
type removingBinary struct{ m *testing.M }

func (r removingBinary) Run() int {
	code := r.m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	return code
}

// testNode is an in-process node on an ephemeral port.
type testNode struct {
	t      testing.TB
	cfg    config.Static
	node   *Node
	cancel context.CancelFunc
	done   chan error
	addr   string
}

type configStatic = config.Static

type nodeOption func(*config.Static)

func withAutoCreate(on bool) nodeOption {
	return func(s *config.Static) { s.AutoCreateTopics = on }
}
func withDataDir(dir string) nodeOption { return func(s *config.Static) { s.DataDir = dir } }

// startNode starts a node with test defaults and stops it at cleanup.
func startNode(t testing.TB, opts ...nodeOption) *testNode {
	t.Helper()
	cfg := config.DefaultStatic()
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	cfg.RetentionCheckInterval = 100 * time.Millisecond
	for _, o := range opts {
		o(&cfg)
	}
	return startNodeWith(t, cfg)
}

func startNodeWith(t testing.TB, cfg config.Static, hooks ...func(*Config)) *testNode {
	t.Helper()
	tn := launchNode(t, cfg, hooks...)
	tn.waitReady()
	return tn
}

// launchNode starts a node without waiting for it to serve (the nodes of
// an in-process cluster serve only once their quorum has formed); hooks
// adjust its Config.
func launchNode(t testing.TB, cfg config.Static, hooks ...func(*Config)) *testNode {
	t.Helper()
	level := slog.LevelWarn
	if os.Getenv("STRATATEST_LOG") != "" {
		level = slog.LevelDebug
	}
	return launchNodeLogging(t, cfg, slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: level})), hooks...)
}

// startNodeLogging is launchNode with the node logging to logger: it does
// not wait for the node to serve (waitReady).
func startNodeLogging(t testing.TB, cfg config.Static, logger *slog.Logger, hooks ...func(*Config)) *testNode {
	t.Helper()
	tn := launchNodeLogging(t, cfg, logger, hooks...)
	tn.waitReady()
	return tn
}

// launchNodeLogging is launchNode with the node logging to logger.
func launchNodeLogging(t testing.TB, cfg config.Static, logger *slog.Logger, hooks ...func(*Config)) *testNode {
	t.Helper()
	if cfg.HTTPListen == config.DefaultStatic().HTTPListen {
		cfg.HTTPListen = "127.0.0.1:0" // metrics on, on a port of its own
	}
	ncfg := Config{Static: cfg, Logger: logger}
	for _, h := range hooks {
		h(&ncfg)
	}
	n, err := New(ncfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tn := &testNode{t: t, cfg: cfg, node: n, cancel: cancel, done: make(chan error, 1)}
	go func() { tn.done <- n.Run(ctx) }()
	t.Cleanup(tn.stop)
	return tn
}

// waitReady waits until the node serves Kafka requests.
func (tn *testNode) waitReady() {
	tn.t.Helper()
	select {
	case <-tn.node.Ready():
	case err := <-tn.done:
		tn.done <- err // for stop
		tn.t.Fatalf("node stopped before serving: %v", err)
	case <-time.After(30 * time.Second):
		tn.t.Fatalf("node not ready after 30s")
	}
	tn.addr = tn.node.Addr().String()
}

var stopOnce sync.Map

// stop shuts the node down cleanly and waits for it.
func (tn *testNode) stop() {
	if _, loaded := stopOnce.LoadOrStore(tn, true); loaded {
		return
	}
	start := time.Now()
	tn.cancel()
	select {
	case err := <-tn.done:
		if err != nil {
			tn.t.Errorf("node Run: %v", err)
		}
		if took := time.Since(start); took > time.Second {
			tn.t.Logf("node took %v to stop", took.Round(time.Millisecond))
		}
	case <-time.After(30 * time.Second):
		tn.t.Errorf("node did not stop within 30s; every goroutine of the test binary:\n%s", goroutineDump())
	}
}

// goroutineDump returns the stacks of every goroutine (as a panic prints
// them), to show what a hung shutdown waits on.
func goroutineDump() string {
	var b strings.Builder
	if err := pprof.Lookup("goroutine").WriteTo(&b, 2); err != nil {
		return "goroutine dump failed: " + err.Error()
	}
	return b.String()
}

func (tn *testNode) client(opts ...kgo.Opt) *kgo.Client {
	tn.t.Helper()
	c, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(tn.addr)}, opts...)...)
	if err != nil {
		tn.t.Fatalf("kgo.NewClient: %v", err)
	}
	tn.t.Cleanup(c.Close)
	return c
}

func (tn *testNode) admin() *kadm.Client { return kadm.NewClient(tn.client()) }

func (tn *testNode) createTopic(name string, partitions int32, configs map[string]*string) {
	tn.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := tn.admin().CreateTopic(ctx, partitions, 1, configs, name)
	if err != nil || resp.Err != nil {
		tn.t.Fatalf("CreateTopic %s: %v / %v", name, err, resp.Err)
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// consumeAll reads n records from topic with a fresh direct consumer.
func consumeAll(t *testing.T, tn *testNode, topic string, n int, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	c := tn.client(append([]kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	ctx := ctxTimeout(t, 60*time.Second)
	var out []*kgo.Record
	for len(out) < n {
		fs := c.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records from %s: %v", len(out), n, topic, err)
		}
		fs.EachError(func(topic string, p int32, err error) {
			t.Fatalf("fetch %s[%d]: %v", topic, p, err)
		})
		out = append(out, fs.Records()...)
	}
	return out
}
