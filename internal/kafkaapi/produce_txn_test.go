package kafkaapi

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fakeVerifier answers transaction verifications from a table and records
// the questions.
type fakeVerifier struct {
	mu    sync.Mutex
	calls []map[string][]int32
	adds  []bool                     // per call: asked to add (Produce v12+), not only verify
	codes map[string]map[int32]int16 // nil: every partition is in the transaction
	err   error
	// during runs inside the call, between the guard and the append.
	during func()
}

func (v *fakeVerifier) VerifyTxnPartitions(_ context.Context, _ string, _ int64, _ int16, partitions map[string][]int32, add bool) (map[string]map[int32]int16, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.calls = append(v.calls, partitions)
	v.adds = append(v.adds, add)
	if v.during != nil {
		v.during()
	}
	if v.err != nil {
		return nil, v.err
	}
	out := make(map[string]map[int32]int16)
	for topic, ps := range partitions {
		out[topic] = make(map[int32]int16)
		for _, p := range ps {
			out[topic][p] = v.codes[topic][p]
		}
	}
	return out, nil
}

func (v *fakeVerifier) takeCalls() []map[string][]int32 {
	v.mu.Lock()
	defer v.mu.Unlock()
	c := v.calls
	v.calls = nil
	return c
}

// txnTarget is one partition of a transactional produce.
type txnTarget struct {
	topic     string
	partition int32
	records   []byte
}

func txnProduce(t *testing.T, h *Handler, version int16, txnID *string, targets ...txnTarget) []partErr {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis, req.TransactionID = version, -1, 5000, txnID
	for _, tg := range targets {
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = tg.topic
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition, rp.Records = tg.partition, tg.records
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
	}
	rc := &reqCtx{ctx: t.Context(), hdr: hdrVersion(version), log: slog.New(slog.DiscardHandler)}
	resp := await(t, h.produce(rc, req)).(*kmsg.ProduceResponse)
	var out []partErr
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			out = append(out, partErr{rt.Topic, rp.Partition, rp.ErrorCode})
		}
	}
	return out
}

func strp(s string) *string { return &s }

// TestProduceTransactional: transactional batches are verified with the
// coordinator before they start a transaction on a partition (one call for
// the whole request), appended only when it confirms, and not verified
// again while the transaction is ongoing.
func TestProduceTransactional(t *testing.T) {
	wh := newWireHandler(t)
	hostPartition(t, wh.h, "u", 0)
	u0, _ := wh.h.partitions.Get("u", 0)
	t0 := wh.p
	id := strp("txn-a")

	t.Run("without a verifier batches append unverified", func(t *testing.T) {
		got := txnProduce(t, wh.h, 11, id, txnTarget{"t", 0, txnBatch(t, 100, 0, 0)})
		if diff := cmp.Diff([]partErr{{"t", 0, 0}}, got); diff != "" {
			t.Fatalf("produce without a verifier (-want +got):\n%s", diff)
		}
		if !t0.Log().HasOngoingTxn(100, 0) {
			t.Error("t-0 has no ongoing transaction for producer 100 after the produce")
		}
	})

	v := &fakeVerifier{}
	wh.h.SetTxnVerifier(v)
	t.Run("verified batches are appended", func(t *testing.T) {
		leo := t0.LogEndOffset()
		got := txnProduce(t, wh.h, 11, id, txnTarget{"t", 0, txnBatch(t, 1, 0, 0)}, txnTarget{"u", 0, txnBatch(t, 1, 0, 0)})
		if diff := cmp.Diff([]partErr{{"t", 0, 0}, {"u", 0, 0}}, got); diff != "" {
			t.Fatalf("verified produce (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]map[string][]int32{{"t": {0}, "u": {0}}}, v.takeCalls()); diff != "" {
			t.Errorf("verification calls (-want +got):\n%s", diff)
		}
		if t0.LogEndOffset() != leo+1 || !t0.Log().HasOngoingTxn(1, 0) || !u0.Log().HasOngoingTxn(1, 0) {
			t.Errorf("after the verified produce: t-0 grew by %d, ongoing on t-0 %v, u-0 %v; want 1, true, true",
				t0.LogEndOffset()-leo, t0.Log().HasOngoingTxn(1, 0), u0.Log().HasOngoingTxn(1, 0))
		}
	})
	t.Run("ongoing transactions are not verified again", func(t *testing.T) {
		got := txnProduce(t, wh.h, 11, id, txnTarget{"t", 0, txnBatch(t, 1, 0, 1)}, txnTarget{"u", 0, txnBatch(t, 1, 0, 1)})
		if diff := cmp.Diff([]partErr{{"t", 0, 0}, {"u", 0, 0}}, got); diff != "" {
			t.Fatalf("produce continuing the transaction (-want +got):\n%s", diff)
		}
		if calls := v.takeCalls(); len(calls) != 0 {
			t.Errorf("produce continuing the transaction asked the coordinator: %v", calls)
		}
	})

	tests := []struct {
		name    string
		version int16
		give    int16 // the coordinator's code for t-0
		giveErr error
		want    int16
	}{
		{"not in the transaction", 11, kerr.InvalidTxnState.Code, nil, kerr.InvalidTxnState.Code},
		{"producer fenced", 11, kerr.ProducerFenced.Code, nil, kerr.InvalidProducerEpoch.Code},
		{"not coordinator", 11, kerr.NotCoordinator.Code, nil, kerr.NotEnoughReplicas.Code},
		{"coordinator loading", 9, kerr.CoordinatorLoadInProgress.Code, nil, kerr.NotEnoughReplicas.Code},
		{"concurrent transactions", 11, kerr.ConcurrentTransactions.Code, nil, kerr.NotEnoughReplicas.Code},
		{"coordinator unreachable", 11, 0, errors.New("dial: connection refused"), kerr.NotEnoughReplicas.Code},
		{"abortable for a new client", 11, kerr.TransactionAbortable.Code, nil, kerr.TransactionAbortable.Code},
		{"abortable for an old client", 10, kerr.TransactionAbortable.Code, nil, kerr.InvalidTxnState.Code},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pid := int64(10 + i)
			v.codes = map[string]map[int32]int16{"t": {0: tt.give}}
			v.err = tt.giveErr
			defer func() { v.codes, v.err = nil, nil }()
			leo := t0.LogEndOffset()
			got := txnProduce(t, wh.h, tt.version, id, txnTarget{"t", 0, txnBatch(t, pid, 0, 0)}, txnTarget{"u", 0, txnBatch(t, pid, 0, 0)})
			wantU := int16(0)
			if tt.giveErr != nil {
				wantU = tt.want
			}
			want := []partErr{{"t", 0, tt.want}, {"u", 0, wantU}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("produce v%d with coordinator answer %v, %v (-want +got):\n%s", tt.version, kerr.ErrorForCode(tt.give), tt.giveErr, diff)
			}
			if t0.LogEndOffset() != leo || t0.Log().HasOngoingTxn(pid, 0) {
				t.Errorf("refused partition t-0: log grew by %d, ongoing transaction %v; want nothing appended", t0.LogEndOffset()-leo, t0.Log().HasOngoingTxn(pid, 0))
			}
			if len(v.takeCalls()) != 1 {
				t.Error("want exactly one verification call for the request")
			}
		})
	}

	t.Run("marker between verification and append", func(t *testing.T) {
		const pid = 50
		v.during = func() {
			if _, err := t0.AppendControlAsLeader(pid, 0, 0, false, time.Now()); err != nil {
				t.Errorf("abort marker during verification: %v", err)
			}
		}
		defer func() { v.during = nil }()
		leo := t0.LogEndOffset()
		got := txnProduce(t, wh.h, 11, id, txnTarget{"t", 0, txnBatch(t, pid, 0, 0)})
		if diff := cmp.Diff([]partErr{{"t", 0, kerr.InvalidTxnState.Code}}, got); diff != "" {
			t.Errorf("produce with a marker during verification (-want +got):\n%s", diff)
		}
		if n := t0.LogEndOffset() - leo; n != 1 {
			t.Errorf("log grew by %d, want 1 (the marker only)", n)
		}
		if calls := v.takeCalls(); len(calls) != 1 {
			t.Errorf("verification calls = %v, want one", calls)
		}
	})

	t.Run("request-wide checks", func(t *testing.T) {
		got := txnProduce(t, wh.h, 11, nil, txnTarget{"t", 0, txnBatch(t, 60, 0, 0)}, txnTarget{"u", 0, oneBatch(t)})
		want := []partErr{{"t", 0, kerr.TransactionalIDAuthorizationFailed.Code}, {"u", 0, kerr.TransactionalIDAuthorizationFailed.Code}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("transactional batch without a transactional id (-want +got):\n%s", diff)
		}
		got = txnProduce(t, wh.h, 11, id, txnTarget{"t", 0, txnBatch(t, 61, 0, 0)}, txnTarget{"u", 0, txnBatch(t, 62, 0, 0)})
		want = []partErr{{"t", 0, kerr.InvalidProducerIDMapping.Code}, {"u", 0, kerr.InvalidProducerIDMapping.Code}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("batches of two producers (-want +got):\n%s", diff)
		}
		if calls := v.takeCalls(); len(calls) != 0 {
			t.Errorf("refused requests asked the coordinator: %v", calls)
		}
		// A transactional id with plain batches appends them, as in Kafka.
		got = txnProduce(t, wh.h, 11, id, txnTarget{"u", 0, oneBatch(t)})
		if diff := cmp.Diff([]partErr{{"u", 0, 0}}, got); diff != "" {
			t.Errorf("plain batch with a transactional id (-want +got):\n%s", diff)
		}
	})

	t.Run("control batches from clients are refused", func(t *testing.T) {
		// Take a marker's bytes from the log and send them back.
		if _, err := t0.AppendControlAsLeader(70, 0, 0, true, time.Now()); err != nil {
			t.Fatal(err)
		}
		res, err := t0.Read(t0.LogEndOffset()-1, 1<<20, true, false)
		if err != nil {
			t.Fatal(err)
		}
		marker, err := res.AppendTo(nil)
		if err != nil {
			t.Fatal(err)
		}
		got := txnProduce(t, wh.h, 11, id, txnTarget{"t", 0, marker})
		if diff := cmp.Diff([]partErr{{"t", 0, kerr.InvalidRecord.Code}}, got); diff != "" {
			t.Errorf("produce of a control batch (-want +got):\n%s", diff)
		}
	})
}

// TestProduceTransactionalKeepsConnectionOrder: a connection's pipelined
// produces append in order even when the first waits for its verification
// (Kafka serves one request of a connection at a time): the second, with
// the next sequence, must not reach the log first.
func TestProduceTransactionalKeepsConnectionOrder(t *testing.T) {
	wh := newWireHandler(t)
	first := make(chan struct{})
	var once sync.Once
	v := &slowFirstVerifier{release: first, once: &once}
	wh.h.SetTxnVerifier(v)
	id := strp("txn-order")
	mk := func(seq int32) *kmsg.ProduceRequest {
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis, req.TransactionID = 11, -1, 5000, id
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition, rp.Records = 0, txnBatch(t, 7, 0, seq)
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return req
	}
	rc := &reqCtx{ctx: t.Context(), hdr: hdrVersion(11), log: slog.New(slog.DiscardHandler)}
	// The reader goroutine hands both requests to the handler one after
	// the other; the first verification is slow.
	go func() { time.Sleep(50 * time.Millisecond); close(first) }()
	r1 := wh.h.produce(rc, mk(0))
	r2 := wh.h.produce(rc, mk(1))
	for i, r := range []kmsg.Response{await(t, r1), await(t, r2)} {
		p := r.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
		if p.ErrorCode != 0 || p.BaseOffset != int64(i) {
			t.Fatalf("produce %d = offset %d, %v; want offset %d, no error", i, p.BaseOffset, kerr.ErrorForCode(p.ErrorCode), i)
		}
	}
}

// slowFirstVerifier confirms every partition; its first answer waits for
// release.
type slowFirstVerifier struct {
	release chan struct{}
	once    *sync.Once
}

func (v *slowFirstVerifier) VerifyTxnPartitions(_ context.Context, _ string, _ int64, _ int16, partitions map[string][]int32, _ bool) (map[string]map[int32]int16, error) {
	v.once.Do(func() { <-v.release })
	out := make(map[string]map[int32]int16)
	for topic, ps := range partitions {
		out[topic] = make(map[int32]int16)
		for _, p := range ps {
			out[topic][p] = 0
		}
	}
	return out, nil
}

// TestProduceV12AddsPartitionsToTheTransaction: Produce v12+ (a client at
// transaction version 2, which sends no AddPartitionsToTxn) asks the
// coordinator to add the partition; v11 and below only verify.
func TestProduceV12AddsPartitionsToTheTransaction(t *testing.T) {
	wh := newWireHandler(t)
	t0 := wh.p
	v := &fakeVerifier{}
	wh.h.SetTxnVerifier(v)
	id := strp("txn-v2")

	got := txnProduce(t, wh.h, 11, id, txnTarget{"t", 0, txnBatch(t, 7, 0, 0)})
	if diff := cmp.Diff([]partErr{{"t", 0, 0}}, got); diff != "" {
		t.Fatalf("v11 produce (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]bool{false}, v.adds); diff != "" {
		t.Fatalf("v11 asks (-want +got):\n%s", diff)
	}

	// The next epoch (as after an EndTxn v5) starts a new transaction.
	v.adds = nil
	if _, err := t0.AppendControlAsLeader(7, 1, 0, true, time.Now()); err != nil {
		t.Fatal(err)
	}
	got = txnProduce(t, wh.h, 12, id, txnTarget{"t", 0, txnBatch(t, 7, 1, 0)})
	if diff := cmp.Diff([]partErr{{"t", 0, 0}}, got); diff != "" {
		t.Fatalf("v12 produce (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]bool{true}, v.adds); diff != "" {
		t.Fatalf("v12 asks (-want +got):\n%s", diff)
	}
	if !t0.Log().HasOngoingTxn(7, 1) {
		t.Error("no ongoing transaction for producer 7 epoch 1 after the v12 produce")
	}
	// A refused add fails the produce as a refused verification does.
	v.adds, v.codes = nil, map[string]map[int32]int16{"t": {0: kerr.ProducerFenced.Code}}
	got = txnProduce(t, wh.h, 12, id, txnTarget{"t", 0, txnBatch(t, 7, 2, 0)})
	if diff := cmp.Diff([]partErr{{"t", 0, kerr.InvalidProducerEpoch.Code}}, got); diff != "" {
		t.Fatalf("v12 produce refused by the coordinator (-want +got):\n%s", diff)
	}
}
