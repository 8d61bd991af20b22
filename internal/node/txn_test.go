package node

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func withTxnPartitions(n int32) nodeOption {
	return func(s *configStatic) { s.TransactionStatePartitions = n }
}

// produceTxn produces values to topic's partitions (round robin over
// parts) in one transaction and ends it with commit.
func produceTxn(t *testing.T, cl *kgo.Client, topic string, parts int32, values []string, commit bool) {
	t.Helper()
	ctx := ctxTimeout(t, 30*time.Second)
	if err := cl.BeginTransaction(); err != nil {
		t.Fatalf("BeginTransaction: %v", err)
	}
	for i, v := range values {
		r := &kgo.Record{Topic: topic, Partition: int32(i) % parts, Value: []byte(v)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce %q in a transaction: %v", v, err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatalf("EndTransaction(commit=%v): %v", commit, err)
	}
}

// valuesOf consumes topic from the start with the isolation level until n
// records arrived (and a little longer, to catch extras) and returns their
// values per partition, in order.
func valuesOf(t *testing.T, addr, topic string, n int, iso kgo.IsolationLevel) map[int32][]string {
	t.Helper()
	c := kgoClient(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(iso))
	out := map[int32][]string{}
	got := 0
	ctx := ctxTimeout(t, 30*time.Second)
	deadline := time.Time{}
	for {
		pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		fs := c.PollFetches(pctx)
		cancel()
		for _, e := range fs.Errors() {
			if !errors.Is(e.Err, context.DeadlineExceeded) {
				t.Fatalf("consume %s: %v", topic, e.Err)
			}
		}
		fs.EachRecord(func(r *kgo.Record) {
			out[r.Partition] = append(out[r.Partition], string(r.Value))
			got++
		})
		if got >= n && deadline.IsZero() {
			deadline = time.Now().Add(500 * time.Millisecond)
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			return out
		}
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records of %s", got, n, topic)
		}
	}
}

func seq(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}

// byPartition splits values over parts partitions as produceTxn does.
func byPartition(values []string, parts int32) map[int32][]string {
	out := map[int32][]string{}
	for i, v := range values {
		out[int32(i)%parts] = append(out[int32(i)%parts], v)
	}
	return out
}

func TestTransactionsCommitAbortAndFence(t *testing.T) {
	tn := startNode(t, withTxnPartitions(3))
	tn.createTopic("tx", 2, nil)
	p1 := tn.client(kgo.TransactionalID("tx-app"), kgo.RecordPartitioner(kgo.ManualPartitioner()))

	committed := seq("c1", 10)
	produceTxn(t, p1, "tx", 2, committed, true)
	produceTxn(t, p1, "tx", 2, seq("a1", 10), false)
	committed2 := seq("c2", 4)
	produceTxn(t, p1, "tx", 2, committed2, true)

	// Per partition: c1's records, then c2's, in produce order.
	want := map[int32][]string{}
	for p, vs := range byPartition(committed, 2) {
		want[p] = append(want[p], vs...)
	}
	for p, vs := range byPartition(committed2, 2) {
		want[p] = append(want[p], vs...)
	}
	if got := valuesOf(t, tn.addr, "tx", 14, kgo.ReadCommitted()); !mapsEqual(got, want) {
		t.Fatalf("read_committed = %v, want %v", got, want)
	}
	all := map[int32][]string{}
	for _, vs := range [][]string{committed, seq("a1", 10), committed2} {
		for p, v := range byPartition(vs, 2) {
			all[p] = append(all[p], v...)
		}
	}
	if got := valuesOf(t, tn.addr, "tx", 24, kgo.ReadUncommitted()); !mapsEqual(got, all) {
		t.Fatalf("read_uncommitted = %v, want %v", got, all)
	}

	// A second producer with the same transactional id fences the first,
	// and aborts the transaction the first left open.
	ctx := ctxTimeout(t, 30*time.Second)
	if err := p1.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p1.ProduceSync(ctx, &kgo.Record{Topic: "tx", Partition: 0, Value: []byte("zombie")}).FirstErr(); err != nil {
		t.Fatalf("produce before fencing: %v", err)
	}
	p2 := tn.client(kgo.TransactionalID("tx-app"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produceTxn(t, p2, "tx", 2, []string{"p2-0", "p2-1"}, true)
	err := p1.EndTransaction(ctx, kgo.TryCommit)
	if !errors.Is(err, kerr.ProducerFenced) && !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Fatalf("EndTransaction of the fenced producer = %v, want PRODUCER_FENCED", err)
	}
	got := valuesOf(t, tn.addr, "tx", 16, kgo.ReadCommitted())
	if slices.Contains(got[0], "zombie") || !slices.Contains(got[0], "p2-0") || !slices.Contains(got[1], "p2-1") {
		t.Fatalf("read_committed after fencing = %v, want p2's records and not the zombie's", got)
	}

	// The admin APIs see the transactional id.
	adm := tn.admin()
	ds, err := adm.DescribeTransactions(ctx, "tx-app")
	if err != nil {
		t.Fatalf("DescribeTransactions: %v", err)
	}
	d, ok := ds["tx-app"]
	if !ok || d.Err != nil || d.State != "CompleteCommit" || d.ProducerID < 0 {
		t.Fatalf("DescribeTransactions = %+v", ds)
	}
	ls, err := adm.ListTransactions(ctx, nil, []string{"CompleteCommit"})
	if err != nil {
		t.Fatalf("ListTransactions: %v", err)
	}
	if ids := ls.TransactionalIDs(); !slices.Equal(ids, []string{"tx-app"}) {
		t.Fatalf("ListTransactions(CompleteCommit) = %v", ids)
	}
	ls, err = adm.ListTransactions(ctx, nil, []string{"Ongoing"})
	if err != nil || len(ls.TransactionalIDs()) != 0 {
		t.Fatalf("ListTransactions(Ongoing) = %v, %v; want none", ls.TransactionalIDs(), err)
	}
}

func mapsEqual(a, b map[int32][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// TestAbandonedTransactionIsAbortedAfterItsTimeout: a producer that dies
// inside a transaction (here: raw requests, then silence) holds back the
// last stable offset only until its transaction.timeout.ms; the
// coordinator then aborts it and read_committed consumers move on.
func TestAbandonedTransactionIsAbortedAfterItsTimeout(t *testing.T) {
	tn := startNode(t, withTxnPartitions(3), func(s *configStatic) { s.TransactionAbortInterval = 100 * time.Millisecond })
	tn.createTopic("ab", 1, nil)
	cl := tn.client()
	ctx := ctxTimeout(t, 30*time.Second)

	var pe struct {
		id    int64
		epoch int16
	}
	waitFor(t, "the transaction coordinator", 20*time.Second, func() bool {
		req := kmsg.NewPtrInitProducerIDRequest()
		id := "abandoned"
		req.TransactionalID, req.TransactionTimeoutMillis = &id, 1000
		resp, err := req.RequestWith(ctx, cl)
		if err != nil || resp.ErrorCode != 0 {
			return false
		}
		pe.id, pe.epoch = resp.ProducerID, resp.ProducerEpoch
		return true
	})
	add := kmsg.NewPtrAddPartitionsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch = "abandoned", pe.id, pe.epoch
	at := kmsg.NewAddPartitionsToTxnRequestTopic()
	at.Topic, at.Partitions = "ab", []int32{0}
	add.Topics = append(add.Topics, at)
	addResp, err := add.RequestWith(ctx, cl)
	if err != nil || addResp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("AddPartitionsToTxn = %+v, %v", addResp, err)
	}
	// One transactional batch, then the producer goes silent.
	produceRawTxnBatch(t, cl, "ab", 0, "abandoned", pe.id, pe.epoch, "left-open")
	// A committed record after it is not visible to read_committed yet.
	plain := tn.client()
	if err := plain.ProduceSync(ctx, &kgo.Record{Topic: "ab", Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	lso := func() int64 {
		req := kmsg.NewPtrListOffsetsRequest()
		req.IsolationLevel = 1
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "ab"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = 0, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0].Partitions[0].Offset
	}
	if got := lso(); got != 0 {
		t.Fatalf("last stable offset with the transaction open = %d, want 0", got)
	}
	took := waitFor(t, "the abandoned transaction aborted", 20*time.Second, func() bool { return lso() == 3 })
	t.Logf("last stable offset moved past the abandoned transaction %v after it was checked (timeout 1s)", took.Round(time.Millisecond))
	got := valuesOf(t, tn.addr, "ab", 1, kgo.ReadCommitted())
	if !slices.Equal(got[0], []string{"after"}) {
		t.Fatalf("read_committed after the abort = %v, want only \"after\"", got)
	}
}

// produceRawTxnBatch sends one transactional batch of one record and
// fails the test unless it is appended.
func produceRawTxnBatch(t *testing.T, cl *kgo.Client, topic string, partition int32, txnID string, pid int64, epoch int16, value string) {
	t.Helper()
	resp, err := txnProduceRequest(t, topic, partition, txnID, pid, epoch, value).RequestWith(ctxTimeout(t, 10*time.Second), cl)
	if err != nil {
		t.Fatalf("produce: %v", err)
	}
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("produce: %v", kerr.ErrorForCode(code))
	}
}

// TestReadCommittedAcrossRollsAndSIGKILL: committed and aborted
// transactions spread over many small segments read back exactly after
// the broker is killed with SIGKILL and restarted (the aborted
// transactions come from the segments' .txnindex files and the producer
// state from its snapshots and recovery); a transaction left open by the
// kill is aborted after its timeout by the reloaded coordinator, and
// read_committed readers move past it.
func TestReadCommittedAcrossRollsAndSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker process")
	}
	dir, addr := t.TempDir(), freePort(t)
	args := []string{"--transaction-state-partitions", "2", "--transaction-abort-interval", "200ms"}
	srv := startChild(t, dir, addr, args...)
	adm := kadm.NewClient(kgoClient(t, addr))
	if _, err := adm.CreateTopic(ctxTimeout(t, 10*time.Second), 2, 1, map[string]*string{"segment.bytes": kadm.StringPtr("2048")}, "rolls"); err != nil {
		t.Fatal(err)
	}
	p := kgoClient(t, addr, kgo.TransactionalID("rolls-app"), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionTimeout(3*time.Second))
	var committed []string
	all := map[int32][]string{}
	for i := range 30 {
		vals := seq(fmt.Sprintf("t%02d", i), 10)
		commit := i%3 != 1
		produceTxn(t, p, "rolls", 2, vals, commit)
		if commit {
			committed = append(committed, vals...)
		}
		for part, vs := range byPartition(vals, 2) {
			all[part] = append(all[part], vs...)
		}
	}
	// Left open at the kill: one record on each partition.
	ctx := ctxTimeout(t, 30*time.Second)
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for part := int32(0); part < 2; part++ {
		if err := p.ProduceSync(ctx, &kgo.Record{Topic: "rolls", Partition: part, Value: []byte("open")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	srv.kill()
	srv = startChild(t, dir, addr, args...)

	want := map[int32][]string{}
	for part, vs := range byPartition(committed, 2) {
		want[part] = vs
	}
	// read_committed first waits for the open transaction's abort.
	if got := valuesOf(t, addr, "rolls", len(committed), kgo.ReadCommitted()); !mapsEqual(got, want) {
		t.Fatalf("read_committed after SIGKILL and restart:\n got %v\nwant %v", got, want)
	}
	for part := range all {
		all[part] = append(all[part], "open")
	}
	if got := valuesOf(t, addr, "rolls", 302, kgo.ReadUncommitted()); !mapsEqual(got, all) {
		t.Fatalf("read_uncommitted after SIGKILL and restart:\n got %v\nwant %v", got, all)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "logs", "rolls-0", "*.log"))
	idx, _ := filepath.Glob(filepath.Join(dir, "logs", "rolls-0", "*.txnindex"))
	if len(segs) < 5 || len(idx) == 0 {
		t.Fatalf("rolls-0 has %d segments and %d transaction indexes; the test needs many rolls and aborted transactions", len(segs), len(idx))
	}
	t.Logf("rolls-0: %d segments, %d .txnindex files", len(segs), len(idx))
	_ = srv
}

// TestCompactionDropsAbortedTransactions: on a compacted topic, the
// cleaner removes aborted transactional records and dedupes committed ones
// with plain records, and read_committed readers see the latest committed
// value of every key before and after cleaning.
func TestCompactionDropsAbortedTransactions(t *testing.T) {
	tn := startNode(t, withTxnPartitions(3), func(s *configStatic) { s.CleanerBackoff = 100 * time.Millisecond })
	tn.createTopic("ctx", 1, map[string]*string{
		"cleanup.policy": kadm.StringPtr("compact"), "segment.bytes": kadm.StringPtr("1024"),
		"min.cleanable.dirty.ratio": kadm.StringPtr("0.01"),
	})
	p := tn.client(kgo.TransactionalID("ctx-app"), kgo.DefaultProduceTopic("ctx"))
	plain := tn.client(kgo.DefaultProduceTopic("ctx"))
	ctx := ctxTimeout(t, 60*time.Second)
	txn := func(prefix string, keys int, commit bool) {
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for k := range keys {
			r := &kgo.Record{Key: fmt.Appendf(nil, "k%d", k), Value: fmt.Appendf(nil, "%s-%d", prefix, k)}
			if err := p.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	txn("c1", 10, true)
	txn("a1", 10, false)
	txn("c2", 5, true)
	if err := plain.ProduceSync(ctx, &kgo.Record{Key: []byte("k9"), Value: []byte("plain-9")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	txn("a2", 3, false)
	// Roll past everything above with plain records of other keys.
	for i := range 40 {
		if err := plain.ProduceSync(ctx, &kgo.Record{Key: fmt.Appendf(nil, "f%d", i), Value: []byte("filler")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	latest := func(iso kgo.IsolationLevel) (map[string]string, []string) {
		c := tn.client(kgo.ConsumeTopics("ctx"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(iso))
		out := map[string]string{}
		var values []string
		for {
			pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			fs := c.PollFetches(pctx)
			cancel()
			n := 0
			fs.EachRecord(func(r *kgo.Record) {
				n++
				out[string(r.Key)] = string(r.Value)
				values = append(values, string(r.Value))
			})
			if n == 0 {
				return out, values
			}
		}
	}
	want := map[string]string{"k0": "c2-0", "k1": "c2-1", "k2": "c2-2", "k3": "c2-3", "k4": "c2-4",
		"k5": "c1-5", "k6": "c1-6", "k7": "c1-7", "k8": "c1-8", "k9": "plain-9"}
	check := func(when string) {
		got, _ := latest(kgo.ReadCommitted())
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("%s: read_committed latest value of %s = %q, want %q (all: %v)", when, k, got[k], v, got)
			}
		}
	}
	check("before cleaning")
	// Cleaned: no aborted record left, and committed transactional values
	// superseded by later ones (c1-0 by c2-0) are gone too.
	waitFor(t, "the cleaner to remove aborted and superseded records", 30*time.Second, func() bool {
		_, vals := latest(kgo.ReadUncommitted())
		return !slices.ContainsFunc(vals, func(v string) bool { return v[0] == 'a' || v == "c1-0" || v == "c1-9" })
	})
	check("after cleaning")
}
