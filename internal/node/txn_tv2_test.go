package node

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// requestKeys counts the requests a client writes, by API key.
type requestKeys struct {
	mu   sync.Mutex
	keys map[int16]int
}

func (h *requestKeys) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.keys == nil {
		h.keys = map[int16]int{}
	}
	h.keys[key]++
}

func (h *requestKeys) reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	clear(h.keys)
}

func (h *requestKeys) count(k kmsg.Key) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.keys[int16(k)]
}

var _ kgo.HookBrokerWrite = (*requestKeys)(nil)

// TestTransactionVersion2 runs franz-go under KIP-890 part 2 (the
// transaction.version feature finalized at 2): no AddPartitionsToTxn or
// AddOffsetsToTxn is sent (Produce v12 and TxnOffsetCommit v5 add the
// partitions), every end bumps the producer epoch, and commits, aborts
// and a GroupTransactSession's offsets behave as under version 1.
func TestTransactionVersion2(t *testing.T) {
	tn := startNode(t, withTxnPartitions(3))
	tn.createTopic("tv2", 2, nil)
	hook := &requestKeys{}
	p := tn.client(kgo.TransactionalID("tv2-app"), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.WithHooks(hook))
	adm := kadm.NewClient(tn.client())
	epoch := func() int16 {
		t.Helper()
		ds, err := adm.DescribeTransactions(ctxTimeout(t, 10*time.Second), "tv2-app")
		if err != nil {
			t.Fatalf("DescribeTransactions: %v", err)
		}
		d, ok := ds["tv2-app"]
		if !ok || d.Err != nil {
			t.Fatalf("DescribeTransactions: %+v", ds)
		}
		return d.ProducerEpoch
	}

	// franz-go opts in once it has seen the finalized feature: its first
	// transaction may run at version 1, and then it reloads its producer
	// id (InitProducerId, a bump) when the next one begins. Warm up with
	// one.
	produceTxn(t, p, "tv2", 2, seq("c0", 2), true)
	hook.reset()
	e0 := epoch()
	produceTxn(t, p, "tv2", 2, seq("c1", 6), true)
	e1 := epoch()
	produceTxn(t, p, "tv2", 2, seq("a1", 6), false)
	e2 := epoch()
	produceTxn(t, p, "tv2", 2, seq("c2", 4), true)
	e3 := epoch()
	if e1 <= e0 || e2 != e1+1 || e3 != e2+1 {
		t.Fatalf("producer epochs %d, then after each end %d, %d, %d; want one bump per end", e0, e1, e2, e3)
	}
	if n := hook.count(kmsg.AddPartitionsToTxn); n != 0 {
		t.Fatalf("the producer sent %d AddPartitionsToTxn; under transaction version 2 it sends none", n)
	}
	want := map[int32][]string{}
	for _, vs := range [][]string{seq("c0", 2), seq("c1", 6), seq("c2", 4)} {
		for part, v := range byPartition(vs, 2) {
			want[part] = append(want[part], v...)
		}
	}
	if got := valuesOf(t, tn.addr, "tv2", 12, kgo.ReadCommitted()); !mapsEqual(got, want) {
		t.Fatalf("read_committed = %v, want %v", got, want)
	}

	// A new producer of the id fences the old one.
	p2 := tn.client(kgo.TransactionalID("tv2-app"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produceTxn(t, p2, "tv2", 2, []string{"p2-0", "p2-1"}, true)
	ctx := ctxTimeout(t, 30*time.Second)
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	err := p.ProduceSync(ctx, &kgo.Record{Topic: "tv2", Partition: 0, Value: []byte("zombie")}).FirstErr()
	if err == nil {
		if err = p.EndTransaction(ctx, kgo.TryCommit); err == nil {
			t.Fatal("the fenced producer committed")
		}
	}

	// A consume-transform-produce session: offsets go with the
	// transaction through TxnOffsetCommit v5.
	tn.createTopic("tv2-in", 1, nil)
	tn.createTopic("tv2-out", 1, nil)
	in := tn.client(kgo.DefaultProduceTopic("tv2-in"))
	for i := range 20 {
		if err := in.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "in-%d", i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	sessHook := &requestKeys{}
	sess, err := kgo.NewGroupTransactSession([]kgo.Opt{kgo.SeedBrokers(tn.addr), kgo.TransactionalID("tv2-copy"),
		kgo.ConsumerGroup("tv2-group"), kgo.ConsumeTopics("tv2-in"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(), kgo.DefaultProduceTopic("tv2-out"), kgo.WithHooks(sessHook)}...)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	copied := 0
	for copied < 20 {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		fs := sess.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			t.Fatalf("copied %d of 20", copied)
		}
		if err := sess.Begin(); err != nil {
			t.Fatal(err)
		}
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			n++
			sess.Produce(ctx, &kgo.Record{Value: r.Value}, nil)
		})
		ok, err := sess.End(ctx, kgo.TryCommit)
		if err != nil || !ok {
			t.Fatalf("End = %v, %v", ok, err)
		}
		copied += n
	}
	if got := valuesOf(t, tn.addr, "tv2-out", 20, kgo.ReadCommitted()); len(got[0]) != 20 {
		t.Fatalf("read_committed output %v, want the 20 input records", got)
	}
	offs, err := adm.FetchOffsets(ctx, "tv2-group")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := offs.Lookup("tv2-in", 0); !ok || o.At != 20 {
		t.Fatalf("committed offset %+v, want 20", o)
	}
	if a, o := sessHook.count(kmsg.AddPartitionsToTxn), sessHook.count(kmsg.AddOffsetsToTxn); a != 0 || o != 0 {
		t.Fatalf("the session sent %d AddPartitionsToTxn and %d AddOffsetsToTxn; want none", a, o)
	}
	if sessHook.count(kmsg.TxnOffsetCommit) == 0 {
		t.Fatal("the session sent no TxnOffsetCommit")
	}
}
