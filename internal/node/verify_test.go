package node

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strata-io/strata/internal/verify"
)

// runVerify runs strata verify's workload for d against seeds and checks
// the history: it must be clean, and every consumer must have read.
func runVerify(t *testing.T, seeds []string, d time.Duration, nemesis verify.Nemesis) *verify.Result {
	t.Helper()
	res := runAndCheck(t, verify.Config{
		Bootstrap: seeds,
		Duration:  d,
		Rate:      300,
		Seed:      7,
		Nemesis:   nemesis,
		Logf:      t.Logf,
	})
	if !res.OK() {
		t.Errorf("verify found anomalies or could not check everything (summary above)")
	}
	if res.Acked == 0 || res.TxnCommitted == 0 || res.TxnAborted == 0 {
		t.Errorf("verify: %d acknowledged, %d transactions committed, %d aborted; want some of each", res.Acked, res.TxnCommitted, res.TxnAborted)
	}
	for i, c := range res.Consumers {
		if c.Distinct == 0 {
			t.Errorf("verify: consumer #%d (%s) read nothing", i, c.Spec)
		}
	}
	return res
}

func TestVerifyOneNodeIsClean(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 10s workload")
	}
	tn := startNode(t)
	runVerify(t, []string{tn.addr}, 10*time.Second, nil)
}

// startVerifyCluster starts three `strata serve` processes and waits until
// all three are registered brokers.
func startVerifyCluster(t *testing.T) *testCluster {
	t.Helper()
	tc := startCluster(t, 3, "--offsets-topic-partitions", "3", "--broker-session-timeout", "3s", "--broker-heartbeat-interval", "300ms")
	// NB: a fresh client per try: franz-go answers repeated metadata
	// requests from its cache.
	waitFor(t, "three registered brokers", 60*time.Second, func() bool {
		cl, err := kgo.NewClient(kgo.SeedBrokers(tc.addrs[0]))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		md, err := kadm.NewClient(cl).BrokerMetadata(ctxTimeout(t, 10*time.Second))
		return err == nil && len(md.Brokers) == 3
	})
	return tc
}

func TestVerifyThreeNodesIsClean(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	tc := startVerifyCluster(t)
	runVerify(t, tc.addrs, 10*time.Second, nil)
}

// TestVerifyThreeNodesRollingRestartIsClean restarts each node in turn
// (SIGTERM, then start again) while the workload runs: nothing may be
// lost, duplicated or read out of order.
func TestVerifyThreeNodesRollingRestartIsClean(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	tc := startVerifyCluster(t)
	restarts := 0
	nemesis := verify.NemesisFunc(func(ctx context.Context, rec *verify.FaultRecorder) error {
		for i := range tc.nodes {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(3 * time.Second):
			}
			end := rec.Begin(fmt.Sprintf("restart node %d", i+1))
			node := tc.nodes[i]
			node.terminate()
			tc.nodes[i] = startChild(t, node.dir, node.addr, node.args...)
			end()
			restarts++
		}
		return nil
	})
	res := runVerify(t, tc.addrs, 25*time.Second, nemesis)
	if restarts == 0 || len(res.Faults) != restarts {
		t.Errorf("rolling restart: %d nodes restarted, %d fault windows recorded; want at least one, and one window per restart", restarts, len(res.Faults))
	}
	t.Logf("rolling restart of %d nodes: longest produce gap %v, longest fetch gap %v", restarts, res.LongestProduceGap, res.LongestFetchGap)
}

// runAndCheck runs verify's workload as cfg says, checks the history and
// logs the summary.
func runAndCheck(t *testing.T, cfg verify.Config) *verify.Result {
	t.Helper()
	start := time.Now()
	h, err := verify.Run(ctxTimeout(t, cfg.Duration+5*time.Minute), cfg)
	if err != nil {
		t.Fatalf("verify.Run: %v", err)
	}
	res := verify.Check(h)
	var buf bytes.Buffer
	if err := res.WriteSummary(&buf); err != nil {
		t.Fatal(err)
	}
	t.Logf("verify took %v:\n%s", time.Since(start).Round(time.Millisecond), buf.String())
	return res
}
