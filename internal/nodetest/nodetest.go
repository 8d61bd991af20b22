// Package nodetest runs an in-process single-node Strata cluster for the
// tests of packages that sit in front of a broker (the console, the REST
// proxy). It is test support only: tests import it, production code must
// not. It imports internal/node, so internal/node itself (and anything
// internal/node imports, in non-test code) cannot use it; internal/node's
// own tests keep their harness, which reaches into the node's internals.
package nodetest

import (
	"context"
	"log/slog"
	"os"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/strata-io/strata/internal/config"
	"github.com/strata-io/strata/internal/node"
)

// How long a node may take to start serving and to stop; generous for a
// slow, loaded machine.
const (
	readyTimeout = 30 * time.Second
	stopTimeout  = 30 * time.Second
)

// Node is a running in-process node, stopped when the test that started
// it ends.
type Node struct {
	t    testing.TB
	addr string
}

// Start runs a single node (broker and controller) with a temporary data
// directory, its Kafka and HTTP listeners on free ports of 127.0.0.1 and
// no initial rebalance delay for groups; mod adjusts the config before the
// node starts. It returns once the node serves Kafka requests; a cleanup
// of t stops it and waits for it. The node logs to t (see Logger).
func Start(t testing.TB, mod ...func(*config.Static)) *Node {
	t.Helper()
	cfg := config.DefaultStatic()
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	cfg.HTTPListen = "127.0.0.1:0" // not the default port: a real broker may hold it
	cfg.GroupInitialRebalanceDelay = 0
	for _, m := range mod {
		m(&cfg)
	}
	n, err := node.New(node.Config{Static: cfg, Logger: Logger(t).With("component", "node")})
	if err != nil {
		t.Fatalf("node.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("node Run: %v", err)
			}
		case <-time.After(stopTimeout):
			t.Errorf("node did not stop within %s; every goroutine of the test binary:\n%s", stopTimeout, goroutineDump())
		}
	})
	select {
	case <-n.Ready():
	case err := <-done:
		done <- err // for the cleanup
		t.Fatalf("node stopped before serving: %v", err)
	case <-time.After(readyTimeout):
		t.Fatalf("node not ready after %s", readyTimeout)
	}
	return &Node{t: t, addr: n.Addr().String()}
}

// Addr is the node's Kafka address, host:port.
func (n *Node) Addr() string { return n.addr }

// Client returns a kgo client of the node with opts, closed at cleanup.
func (n *Node) Client(opts ...kgo.Opt) *kgo.Client {
	n.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(n.addr)}, opts...)...)
	if err != nil {
		n.t.Fatalf("kgo.NewClient: %v", err)
	}
	n.t.Cleanup(cl.Close)
	return cl
}

// Admin returns an admin client of the node, closed at cleanup.
func (n *Node) Admin() *kadm.Client { return kadm.NewClient(n.Client()) }

// CreateTopic creates a topic with replication factor 1 and fails the
// test unless it was created.
func (n *Node) CreateTopic(name string, partitions int32, configs map[string]*string) {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := n.Admin().CreateTopic(ctx, partitions, 1, configs, name)
	if err != nil || resp.Err != nil {
		n.t.Fatalf("CreateTopic %s: %v / %v", name, err, resp.Err)
	}
}

// Logger returns a logger that writes to t's log: warnings and errors, or
// everything when the environment sets STRATATEST_LOG.
func Logger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("STRATATEST_LOG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: level}))
}

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// VerifyTestMain runs a package's tests, then fails them if goroutines
// are left over, as goleak.VerifyTestMain does, but for the timers that
// franz-go clients closed by tests may leave briefly.
func VerifyTestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/twmb/franz-go/pkg/kgo.(*Client).reapConnectionsLoop"),
		goleak.IgnoreAnyFunction("github.com/klauspost/compress/zstd.(*blockDec).startDecoder"),
	)
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
