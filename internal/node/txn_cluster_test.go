package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestExactlyOnceCopyAcrossSIGKILL is issue 10's first check: a
// consume-transform-produce job (franz-go's GroupTransactSession) copies an
// input topic to an output topic on three brokers (RF=3,
// min.insync.replicas=2) while the broker leading an output partition, and
// then the broker hosting the job's transaction coordinator, is killed
// with SIGKILL. The output read with read_committed holds every input
// record exactly once.
func TestExactlyOnceCopyAcrossSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	tc := startCluster(t, 3, "--offsets-topic-partitions", "3", "--transaction-state-partitions", "3",
		"--broker-session-timeout", "2s", "--broker-heartbeat-interval", "300ms",
		"--group-initial-rebalance-delay", "0", "--group-min-session-timeout", "1s")
	seeds := kgo.SeedBrokers(tc.addrs...)
	adm := kadm.NewClient(kgoClient(t, tc.addrs[0], seeds))
	for _, topic := range []string{"eos-in", "eos-out"} {
		waitFor(t, "creating "+topic, 30*time.Second, func() bool {
			r, err := adm.CreateTopic(ctxTimeout(t, 10*time.Second), 3, 3, map[string]*string{"min.insync.replicas": kadm.StringPtr("2")}, topic)
			return err == nil && (r.Err == nil || errors.Is(r.Err, kerr.TopicAlreadyExists))
		})
	}
	const perPartition = 2000
	in := kgoClient(t, tc.addrs[0], seeds, kgo.DefaultProduceTopic("eos-in"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var recs []*kgo.Record
	for p := int32(0); p < 3; p++ {
		for i := range perPartition {
			recs = append(recs, &kgo.Record{Partition: p, Value: fmt.Appendf(nil, "%d-%d", p, i)})
		}
	}
	if err := in.ProduceSync(ctxTimeout(t, 60*time.Second), recs...).FirstErr(); err != nil {
		t.Fatalf("produce input: %v", err)
	}
	total := 3 * perPartition

	// The copy job: one transaction per poll of at most 100 records,
	// slowed down so that the faults land mid-stream.
	const txnID = "eos-copy"
	// A session whose End failed is in an unknown state (franz-go keeps it
	// inside the transaction), so the job does what an application would:
	// it closes the session and starts a new one with the same
	// transactional id, which fences the old producer and resumes from the
	// group's committed offsets.
	newSession := func() (*kgo.GroupTransactSession, error) {
		return kgo.NewGroupTransactSession(seeds, kgo.TransactionalID(txnID), kgo.TransactionTimeout(10*time.Second),
			kgo.ConsumerGroup("eos-group"), kgo.ConsumeTopics("eos-in"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.RequireStableFetchOffsets(), kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(500*time.Millisecond),
			kgo.DefaultProduceTopic("eos-out"), kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.RecordDeliveryTimeout(60*time.Second), kgo.RequestTimeoutOverhead(5*time.Second))
	}
	sess, err := newSession()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var copied, commits, aborts atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		defer func() { sess.Close() }()
		for ctx.Err() == nil {
			fs := sess.PollRecords(ctx, 100)
			if ctx.Err() != nil {
				return
			}
			if err := sess.Begin(); err != nil {
				t.Errorf("Begin: %v", err)
				return
			}
			n := 0
			// As franz-go's own example: the first failed produce aborts
			// the transaction.
			failed := kgo.AbortingFirstErrPromise(sess.Client())
			fs.EachRecord(func(r *kgo.Record) {
				n++
				sess.Produce(ctx, &kgo.Record{Partition: r.Partition, Value: r.Value}, failed.Promise())
			})
			time.Sleep(30 * time.Millisecond)
			if err := failed.Err(); err != nil && ctx.Err() == nil {
				t.Logf("copy produce failed (the transaction aborts): %v", err)
			}
			ok, err := sess.End(ctx, failed.Err() == nil)
			switch {
			case err != nil && ctx.Err() == nil:
				t.Logf("End: %v (a new session retries from the committed offsets)", err)
				aborts.Add(1)
				sess.Close()
				if sess, err = newSession(); err != nil {
					t.Errorf("new session: %v", err)
					return
				}
			case ok:
				commits.Add(1)
				copied.Add(int64(n))
			default:
				aborts.Add(1)
			}
		}
	})
	defer func() { cancel(); wg.Wait() }()

	outLeader, _ := leaderOf(t, tc.addrs[0], "eos-out", 0)
	waitFor(t, "a third of the input copied", 90*time.Second, func() bool { return copied.Load() >= int64(total/3) })
	tc.nodes[outLeader-1].kill()
	t.Logf("killed broker %d (leader of eos-out-0) after %d records copied", outLeader, copied.Load())
	time.Sleep(3 * time.Second)
	tc.nodes[outLeader-1] = startChild(t, tc.nodes[outLeader-1].dir, tc.nodes[outLeader-1].addr, tc.nodes[outLeader-1].args...)

	adm2 := kadm.NewClient(kgoClient(t, tc.addrs[outLeader%3], seeds))
	var coord int32 = -1
	waitFor(t, "the transaction coordinator", 30*time.Second, func() bool {
		rs := adm2.FindTxnCoordinators(ctxTimeout(t, 5*time.Second), txnID)
		rs.Each(func(r kadm.FindCoordinatorResponse) {
			if r.Err == nil {
				coord = r.NodeID
			}
		})
		return coord > 0
	})
	waitFor(t, "two thirds of the input copied", 120*time.Second, func() bool { return copied.Load() >= int64(2*total/3) })
	tc.nodes[coord-1].kill()
	t.Logf("killed broker %d (transaction coordinator of %s) after %d records copied", coord, txnID, copied.Load())

	survivor := tc.addrs[coord%3]
	// Done when the group's committed offsets reach the end of the input
	// (a commit whose answer was lost may have committed: the counter
	// alone cannot tell). NB: a fresh client each time: franz-go keeps a
	// coordinator it cannot dial (the killed broker, named until it is
	// fenced) for the life of the client.
	var last string
	defer func() {
		if t.Failed() {
			t.Logf("last committed offsets of eos-group: %s", last)
		}
	}()
	waitFor(t, "the whole input copied", 120*time.Second, func() bool {
		time.Sleep(200 * time.Millisecond)
		cl, err := kgo.NewClient(kgo.SeedBrokers(survivor))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		os, err := kadm.NewClient(cl).FetchOffsets(ctxTimeout(t, 5*time.Second), "eos-group")
		if err != nil {
			last = err.Error()
			return false
		}
		last = fmt.Sprint(os)
		for p := int32(0); p < 3; p++ {
			if o, ok := os.Lookup("eos-in", p); !ok || o.At != perPartition {
				return false
			}
		}
		return true
	})
	cancel()
	wg.Wait()
	t.Logf("copy done: %d transactions committed, %d aborted", commits.Load(), aborts.Load())

	got := valuesOf(t, survivor, "eos-out", total, kgo.ReadCommitted())
	seen := map[string]int{}
	n := 0
	for p, vs := range got {
		for _, v := range vs {
			seen[v]++
			n++
			if want := fmt.Sprint(p); v[:len(want)] != want {
				t.Errorf("record %q landed in partition %d", v, p)
			}
		}
	}
	for p := range 3 {
		for i := range perPartition {
			v := fmt.Sprintf("%d-%d", p, i)
			if seen[v] != 1 {
				t.Errorf("input record %q is in the read_committed output %d times, want once", v, seen[v])
			}
		}
	}
	if n != total {
		t.Fatalf("read_committed output holds %d records, want %d", n, total)
	}
}
