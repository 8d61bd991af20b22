//go:build failpoints

package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strata-io/strata/internal/failpoint"
)

var (
	fpBuildOnce sync.Once
	fpBinPath   string
	fpBuildErr  error
)

// failpointBinary builds cmd/strata with the failpoints tag once per run.
func failpointBinary(t *testing.T) string {
	t.Helper()
	fpBuildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "strata-fp-bin")
		if err != nil {
			fpBuildErr = err
			return
		}
		fpBinPath = filepath.Join(dir, "strata-failpoints")
		out, err := exec.Command("go", "build", "-tags", "failpoints", "-o", fpBinPath, "github.com/strata-io/strata/cmd/strata").CombinedOutput()
		if err != nil {
			fpBuildErr = fmt.Errorf("go build -tags failpoints: %v\n%s", err, out)
		}
	})
	if fpBuildErr != nil {
		t.Fatal(fpBuildErr)
	}
	return fpBinPath
}

// startFailpointCluster starts n failpoints-built brokers, each with
// STRATA_FAILPOINTS=failpoints, as startCluster does.
func startFailpointCluster(t *testing.T, n int, failpoints string, extra ...string) *testCluster {
	t.Helper()
	var kafka, raft, voters []string
	for i := range n {
		kafka = append(kafka, freePort(t))
		raft = append(raft, freePort(t))
		voters = append(voters, fmt.Sprintf("%d@%s", i+1, raft[i]))
	}
	tc := &testCluster{addrs: kafka}
	for i := range n {
		dir := t.TempDir()
		args := append([]string{"--node-id", fmt.Sprint(i + 1), "--controller-voters", strings.Join(voters, ","), "--controller-listen", raft[i]}, extra...)
		cmd := exec.Command(failpointBinary(t), append([]string{"serve", "--data-dir", dir, "--listen", kafka[i], "--log-level", "warn"}, args...)...)
		cmd.Stderr = testWriter{t}
		cmd.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "STRATA_") }),
			failpoint.EnvVar+"="+failpoints)
		if err := cmd.Start(); err != nil {
			t.Fatalf("start strata-failpoints: %v", err)
		}
		c := &child{t: t, cmd: cmd, addr: kafka[i], dir: dir, args: args, done: make(chan struct{})}
		go func() { cmd.Wait(); close(c.done) }()
		t.Cleanup(func() { c.kill() })
		tc.nodes = append(tc.nodes, c)
	}
	for _, c := range tc.nodes {
		c.waitListening()
	}
	return tc
}

// TestFailpointAckBeforeISRLosesAcknowledgedWrites: with ack-before-isr on
// every broker and replication held back 500ms (replica-fetch=sleep), a
// SIGKILL of the partition leader loses records acks=all acknowledged:
// the anomaly strata verify must report as lost writes. (Without the
// failpoints, TestAcknowledgedWritesSurviveLeaderSIGKILL loses none.)
func TestFailpointAckBeforeISRLosesAcknowledgedWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	tc := startFailpointCluster(t, 3, "ack-before-isr=return;replica-fetch=sleep(500ms)",
		"--offsets-topic-partitions", "1", "--broker-session-timeout", "2s", "--broker-heartbeat-interval", "300ms")
	two := "2"
	adm := kadm.NewClient(kgoClient(t, tc.addrs[0]))
	waitFor(t, "creating the replicated topic", 60*time.Second, func() bool {
		r, err := adm.CreateTopic(ctxTimeout(t, 10*time.Second), 1, 3, map[string]*string{"min.insync.replicas": &two}, "lossy")
		return err == nil && (r.Err == nil || errors.Is(r.Err, kerr.TopicAlreadyExists))
	})
	waitFor(t, "a leader with a full ISR", 60*time.Second, func() bool {
		l, isr := leaderOf(t, tc.addrs[0], "lossy", 0)
		return l > 0 && len(isr) == 3
	})
	leader, _ := leaderOf(t, tc.addrs[0], "lossy", 0)
	other := tc.addrs[int(leader)%3]

	cl := kgoClient(t, tc.addrs[int(leader)-1], kgo.SeedBrokers(tc.addrs...), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.DefaultProduceTopic("lossy"), kgo.RecordRetries(20), kgo.ProduceRequestTimeout(5*time.Second))
	var mu sync.Mutex
	acked := map[string]bool{}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	produce := func(n int, prefix string) {
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			v := fmt.Sprintf("%s-%d", prefix, i)
			cl.Produce(ctx, &kgo.Record{Value: []byte(v)}, func(_ *kgo.Record, err error) {
				defer wg.Done()
				if err == nil {
					mu.Lock()
					acked[v] = true
					mu.Unlock()
				}
			})
			if i%50 == 49 {
				time.Sleep(5 * time.Millisecond) // a steady stream, not one burst
			}
		}
		wg.Wait()
	}
	produce(2000, "before") // every one is acknowledged at once: only the leader has them
	tc.nodes[leader-1].kill()
	waitFor(t, "a new leader after the SIGKILL", 60*time.Second, func() bool {
		l, _ := leaderOf(t, other, "lossy", 0)
		return l > 0 && l != leader
	})
	produce(200, "after")
	cl.Close()

	// What the new leader's log holds once the cluster has stopped.
	newLeader, _ := leaderOf(t, other, "lossy", 0)
	for _, c := range tc.nodes {
		c.terminate()
	}
	stored := map[string]bool{}
	for _, r := range replicaRecords(t, tc.nodes[newLeader-1].dir, "lossy") { // "offset:value"
		_, v, _ := strings.Cut(r, ":")
		stored[v] = true
	}
	var lost []string
	for v := range acked {
		if !stored[v] {
			lost = append(lost, v)
		}
	}
	t.Logf("leader %d killed, new leader %d: %d acknowledged, %d stored, %d acknowledged records lost", leader, newLeader, len(acked), len(stored), len(lost))
	if len(lost) == 0 {
		t.Fatal("no acknowledged record was lost: ack-before-isr had no effect")
	}
}

// TestFailpointServePastHWShowsRecordsThatVanish: with serve-past-hw and
// replication held back 2s, a consumer reads records only the leader has.
// Their producer goes away and the leader is SIGKILLed: the new leader
// gives those offsets to other records, so the consumer saw values at
// offsets that the log never kept (inconsistent offsets, reads of writes
// never acknowledged).
func TestFailpointServePastHWShowsRecordsThatVanish(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	tc := startFailpointCluster(t, 3, "serve-past-hw=return;replica-fetch=sleep(2s)",
		"--offsets-topic-partitions", "1", "--broker-session-timeout", "2s", "--broker-heartbeat-interval", "300ms")
	two := "2"
	adm := kadm.NewClient(kgoClient(t, tc.addrs[0]))
	waitFor(t, "creating the replicated topic", 60*time.Second, func() bool {
		r, err := adm.CreateTopic(ctxTimeout(t, 10*time.Second), 1, 3, map[string]*string{"min.insync.replicas": &two}, "dirty")
		return err == nil && (r.Err == nil || errors.Is(r.Err, kerr.TopicAlreadyExists))
	})
	waitFor(t, "a leader with a full ISR", 60*time.Second, func() bool {
		l, isr := leaderOf(t, tc.addrs[0], "dirty", 0)
		return l > 0 && len(isr) == 3
	})
	leader, _ := leaderOf(t, tc.addrs[0], "dirty", 0)
	other := tc.addrs[int(leader)%3]
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	// A consumer tails the partition; a producer writes 500 records
	// (acks=all: none is acknowledged while the followers wait).
	seen := map[int64]string{}
	c := kgoClient(t, tc.addrs[int(leader)-1], kgo.ConsumeTopics("dirty"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond))
	a := kgoClient(t, tc.addrs[int(leader)-1], kgo.DefaultProduceTopic("dirty"), kgo.RequiredAcks(kgo.AllISRAcks()))
	for i := range 500 {
		a.Produce(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("a-%d", i))}, func(*kgo.Record, error) {})
	}
	for len(seen) < 500 {
		fs := c.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("the consumer saw %d of 500 records", len(seen))
		}
		fs.EachRecord(func(r *kgo.Record) { seen[r.Offset] = string(r.Value) })
	}
	c.Close()
	a.Close() // its records are never acknowledged, nor retried
	tc.nodes[leader-1].kill()
	waitFor(t, "a new leader after the SIGKILL", 60*time.Second, func() bool {
		l, _ := leaderOf(t, other, "dirty", 0)
		return l > 0 && l != leader
	})
	b := kgoClient(t, other, kgo.SeedBrokers(tc.addrs...), kgo.DefaultProduceTopic("dirty"), kgo.RecordRetries(20))
	var wg sync.WaitGroup
	var failed sync.Map
	for i := range 500 {
		wg.Add(1)
		b.Produce(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("b-%d", i))}, func(r *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				failed.Store(string(r.Value), err)
			}
		})
	}
	wg.Wait()
	b.Close()
	failed.Range(func(k, v any) bool { t.Fatalf("produce %s: %v", k, v); return false })

	newLeader, _ := leaderOf(t, other, "dirty", 0)
	for _, n := range tc.nodes {
		n.terminate()
	}
	final := map[int64]string{}
	for _, r := range replicaRecords(t, tc.nodes[newLeader-1].dir, "dirty") { // "offset:value"
		o, v, _ := strings.Cut(r, ":")
		var off int64
		fmt.Sscan(o, &off)
		final[off] = v
	}
	inconsistent := 0
	for off, v := range seen {
		if final[off] != v {
			inconsistent++
		}
	}
	t.Logf("leader %d killed, new leader %d: the consumer saw %d records, %d of them at offsets that now hold other records or none", leader, newLeader, len(seen), inconsistent)
	if inconsistent == 0 {
		t.Fatal("every record the consumer saw is in the log: serve-past-hw had no effect")
	}
}
