package txn

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/coordinator"
)

// memLog is an in-memory __transaction_state partition: every append is
// committed at once unless failCommits is set.
type memLog struct {
	mu          sync.Mutex
	recs        []coordinator.Record
	failCommits bool
}

func (l *memLog) Append(recs []coordinator.Record) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, recs...)
	return int64(len(l.recs)), nil
}

func (l *memLog) Commit(ctx context.Context, end int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failCommits {
		return errors.New("not enough replicas")
	}
	return nil
}

func (l *memLog) AppendTransactional(int64, int16, []coordinator.Record) (int64, error) {
	return 0, errors.New("__transaction_state has no transactional writes")
}

func (l *memLog) AppendMarker(int64, int16, int32, bool) (int64, error) {
	return 0, errors.New("__transaction_state has no markers")
}

func (l *memLog) Replay(ctx context.Context, fn func(r coordinator.ReplayRecord) error) error {
	l.mu.Lock()
	recs := slices.Clone(l.recs)
	l.mu.Unlock()
	for i, r := range recs {
		if err := fn(coordinator.ReplayRecord{Offset: int64(i), Key: r.Key, Value: r.Value, ProducerID: -1}); err != nil {
			return err
		}
	}
	return nil
}

// states returns the states logged for id, in order.
func (l *memLog) states(t *testing.T, id string) []string {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.recs {
		k, err := DecodeKey(r.Key)
		if err != nil || k != id {
			continue
		}
		m, err := DecodeValue(r.Value)
		if err != nil {
			t.Fatalf("DecodeValue: %v", err)
		}
		if m == nil {
			out = append(out, "tombstone")
			continue
		}
		out = append(out, m.State.String())
	}
	return out
}

// fakeSender answers WriteTxnMarkers from every broker; all partitions are
// led by broker 1. While hold is set, requests wait for it to be cleared.
type fakeSender struct {
	mu    sync.Mutex
	reqs  []*kmsg.WriteTxnMarkersRequest
	code  int16 // the answer for every partition
	hold  chan struct{}
	gone  map[Partition]bool
	count atomic.Int32
}

func (f *fakeSender) Leader(p Partition) (int32, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return 1, !f.gone[p]
}

func (f *fakeSender) WriteTxnMarkers(ctx context.Context, broker int32, req *kmsg.WriteTxnMarkersRequest) (*kmsg.WriteTxnMarkersResponse, error) {
	f.mu.Lock()
	hold := f.hold
	f.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, req)
	f.count.Add(1)
	resp := req.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
	for _, m := range req.Markers {
		rm := kmsg.NewWriteTxnMarkersResponseMarker()
		rm.ProducerID = m.ProducerID
		for _, t := range m.Topics {
			rt := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
				rp.Partition, rp.ErrorCode = p, f.code
				rt.Partitions = append(rt.Partitions, rp)
			}
			rm.Topics = append(rm.Topics, rt)
		}
		resp.Markers = append(resp.Markers, rm)
	}
	return resp, nil
}

func (f *fakeSender) setHold(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if on && f.hold == nil {
		f.hold = make(chan struct{})
	}
	if !on && f.hold != nil {
		close(f.hold)
		f.hold = nil
	}
}

// markers returns every marker sent so far as "pid/epoch/commit/coordEpoch topic-partition".
func (f *fakeSender) markers() []kmsg.WriteTxnMarkersRequestMarker {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []kmsg.WriteTxnMarkersRequestMarker
	for _, r := range f.reqs {
		out = append(out, r.Markers...)
	}
	return out
}

type harness struct {
	t      *testing.T
	c      *Coordinator
	log    *memLog
	sender *fakeSender
	nextID atomic.Int64
	epoch  int32 // leader epoch of the next load
}

func newHarness(t *testing.T, tweak func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, log: &memLog{}, sender: &fakeSender{gone: map[Partition]bool{}}, epoch: 5}
	h.nextID.Store(1000)
	cfg := Config{
		NumPartitions:         1,
		ProducerIDs:           func(context.Context) (int64, error) { return h.nextID.Add(1) - 1, nil },
		Markers:               h.sender,
		MarkerRetryBackoff:    5 * time.Millisecond,
		AbortTimedOutInterval: 10 * time.Millisecond,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	h.c = New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.c.Run(ctx) }()
	t.Cleanup(func() {
		h.sender.setHold(false)
		cancel()
		<-done
	})
	h.load()
	return h
}

// load (re)loads partition 0 from the log at a newer leader epoch and
// waits until it serves.
func (h *harness) load() {
	h.t.Helper()
	h.epoch++
	h.c.Load(0, h.epoch, h.log)
	h.eventually("loaded", func() bool { _, err := h.c.rt.Shard(0); return err == nil })
}

func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (h *harness) init(id string, expected *ProducerIDAndEpoch) (ProducerIDAndEpoch, error) {
	return h.c.InitProducerID(context.Background(), id, 60000, expected)
}

func (h *harness) mustInit(id string) ProducerIDAndEpoch {
	h.t.Helper()
	pe, err := h.init(id, nil)
	if err != nil {
		h.t.Fatalf("InitProducerID(%q): %v", id, err)
	}
	return pe
}

func (h *harness) state(id string) kmsg.TransactionState {
	h.t.Helper()
	d, err := h.c.Describe(context.Background(), id)
	if err != nil {
		h.t.Fatalf("Describe(%q): %v", id, err)
	}
	return d.State
}

func wantCode(t *testing.T, what string, err error, want *kerr.Error) {
	t.Helper()
	if got := Code(err); got != want.Code {
		t.Fatalf("%s: got %v (code %d), want %s", what, err, got, want.Message)
	}
}

var (
	pa = Partition{Topic: "a", Partition: 0}
	pb = Partition{Topic: "b", Partition: 1}
)

func TestInitProducerIDFencesOlderProducers(t *testing.T) {
	h := newHarness(t, nil)
	first := h.mustInit("app")
	if first != (ProducerIDAndEpoch{ID: 1000, Epoch: 0}) {
		t.Fatalf("first InitProducerID = %+v, want id 1000 epoch 0", first)
	}
	second := h.mustInit("app")
	if second != (ProducerIDAndEpoch{ID: 1000, Epoch: 1}) {
		t.Fatalf("second InitProducerID = %+v, want id 1000 epoch 1", second)
	}
	ctx := context.Background()
	wantCode(t, "AddPartitions at the fenced epoch", h.c.AddPartitions(ctx, "app", first, []Partition{pa}), kerr.ProducerFenced)
	wantCode(t, "AddPartitions with another producer id", h.c.AddPartitions(ctx, "app", ProducerIDAndEpoch{ID: 7, Epoch: 1}, []Partition{pa}), kerr.InvalidProducerIDMapping)
	wantCode(t, "AddPartitions for an unknown id", h.c.AddPartitions(ctx, "nobody", second, []Partition{pa}), kerr.InvalidProducerIDMapping)
	wantCode(t, "EndTxn with nothing ongoing", h.c.EndTxn(ctx, "app", second, true), kerr.InvalidTxnState)

	// KIP-360: the current producer re-initializing with its id and epoch
	// gets the next epoch; a retry of that bump gets the same answer; a
	// stale epoch is fenced.
	third, err := h.init("app", &second)
	if err != nil || third != (ProducerIDAndEpoch{ID: 1000, Epoch: 2}) {
		t.Fatalf("InitProducerID(expected %+v) = %+v, %v; want epoch 2", second, third, err)
	}
	retry, err := h.init("app", &second)
	if err != nil || retry != third {
		t.Fatalf("retried InitProducerID(expected %+v) = %+v, %v; want %+v", second, retry, err, third)
	}
	_, err = h.init("app", &first)
	wantCode(t, "InitProducerID with a stale epoch", err, kerr.ProducerFenced)

	_, err = h.c.InitProducerID(ctx, "app", 0, nil)
	wantCode(t, "InitProducerID with timeout 0", err, kerr.InvalidTransactionTimeout)
	_, err = h.c.InitProducerID(ctx, "app", int32((16 * time.Minute).Milliseconds()), nil)
	wantCode(t, "InitProducerID above transaction.max.timeout.ms", err, kerr.InvalidTransactionTimeout)
	_, err = h.c.InitProducerID(ctx, "", 1000, nil)
	wantCode(t, "InitProducerID with an empty id", err, kerr.InvalidRequest)
}

func TestCommitSendsMarkersThenCompletes(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	pe := h.mustInit("app")
	if err := h.c.AddPartitions(ctx, "app", pe, []Partition{pa}); err != nil {
		t.Fatalf("AddPartitions: %v", err)
	}
	if err := h.c.AddPartitions(ctx, "app", pe, []Partition{pb, pa}); err != nil {
		t.Fatalf("AddPartitions: %v", err)
	}
	d, _ := h.c.Describe(ctx, "app")
	if d.State != kmsg.TransactionStateOngoing || !slices.Equal(d.Partitions, []Partition{pa, pb}) || d.StartTimestamp <= 0 {
		t.Fatalf("Describe = %+v, want Ongoing with a-0, b-1", d)
	}
	per, err := h.c.VerifyPartitions(ctx, "app", pe, []Partition{pa, {Topic: "c", Partition: 0}})
	if err != nil || per[pa] != nil || Code(per[Partition{Topic: "c"}]) != kerr.InvalidTxnState.Code {
		t.Fatalf("VerifyPartitions = %v, %v; want a-0 in, c-0 INVALID_TXN_STATE", per, err)
	}

	h.sender.setHold(true)
	if err := h.c.EndTxn(ctx, "app", pe, true); err != nil {
		t.Fatalf("EndTxn(commit): %v", err)
	}
	// Markers are in flight: other transitions must wait.
	if got := h.state("app"); got != kmsg.TransactionStatePrepareCommit {
		t.Fatalf("state while markers are sent = %s, want PrepareCommit", got)
	}
	wantCode(t, "AddPartitions while committing", h.c.AddPartitions(ctx, "app", pe, []Partition{pa}), kerr.ConcurrentTransactions)
	wantCode(t, "EndTxn(commit) again while committing", h.c.EndTxn(ctx, "app", pe, true), kerr.ConcurrentTransactions)
	wantCode(t, "EndTxn(abort) while committing", h.c.EndTxn(ctx, "app", pe, false), kerr.InvalidTxnState)
	_, err = h.init("app", nil)
	wantCode(t, "InitProducerID while committing", err, kerr.ConcurrentTransactions)
	h.sender.setHold(false)

	h.eventually("CompleteCommit", func() bool { return h.state("app") == kmsg.TransactionStateCompleteCommit })
	ms := h.sender.markers()
	if len(ms) != 1 {
		t.Fatalf("markers sent = %+v, want one batched marker", ms)
	}
	m := ms[0]
	if m.ProducerID != pe.ID || m.ProducerEpoch != pe.Epoch || !m.Committed || m.CoordinatorEpoch != h.epoch || len(m.Topics) != 2 {
		t.Fatalf("marker = %+v, want commit of producer %+v at coordinator epoch %d on a and b", m, pe, h.epoch)
	}
	if got, want := h.log.states(t, "app"), []string{"Empty", "Ongoing", "Ongoing", "PrepareCommit", "CompleteCommit"}; !slices.Equal(got, want) {
		t.Fatalf("logged states = %v, want %v", got, want)
	}
	// A retry of the commit that completed succeeds; the other outcome
	// does not.
	if err := h.c.EndTxn(ctx, "app", pe, true); err != nil {
		t.Fatalf("EndTxn(commit) retried after completion: %v", err)
	}
	wantCode(t, "EndTxn(abort) after commit", h.c.EndTxn(ctx, "app", pe, false), kerr.InvalidTxnState)
	// The next transaction starts from CompleteCommit.
	if err := h.c.AddPartitions(ctx, "app", pe, []Partition{pb}); err != nil {
		t.Fatalf("AddPartitions for the next transaction: %v", err)
	}
	if d, _ := h.c.Describe(ctx, "app"); !slices.Equal(d.Partitions, []Partition{pb}) {
		t.Fatalf("next transaction's partitions = %v, want only b-1", d.Partitions)
	}
}

func TestNewProducerAbortsOngoingTransaction(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	old := h.mustInit("app")
	if err := h.c.AddPartitions(ctx, "app", old, []Partition{pa}); err != nil {
		t.Fatalf("AddPartitions: %v", err)
	}
	_, err := h.init("app", nil)
	wantCode(t, "InitProducerID over an ongoing transaction", err, kerr.ConcurrentTransactions)
	h.eventually("CompleteAbort", func() bool { return h.state("app") == kmsg.TransactionStateCompleteAbort })
	ms := h.sender.markers()
	if len(ms) != 1 || ms[0].Committed || ms[0].ProducerEpoch != old.Epoch+1 {
		t.Fatalf("markers = %+v, want one abort at epoch %d", ms, old.Epoch+1)
	}
	// The old producer is fenced; the new one gets the epoch after the
	// fencing one.
	wantCode(t, "EndTxn by the fenced producer", h.c.EndTxn(ctx, "app", old, true), kerr.ProducerFenced)
	pe := h.mustInit("app")
	if pe.Epoch != old.Epoch+2 {
		t.Fatalf("InitProducerID after the abort = %+v, want epoch %d", pe, old.Epoch+2)
	}
}

func TestTimedOutTransactionIsAborted(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	pe, err := h.c.InitProducerID(ctx, "slow", 50, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.c.AddPartitions(ctx, "slow", pe, []Partition{pa}); err != nil {
		t.Fatal(err)
	}
	h.eventually("timed-out abort", func() bool { return h.state("slow") == kmsg.TransactionStateCompleteAbort })
	ms := h.sender.markers()
	if len(ms) != 1 || ms[0].Committed || ms[0].ProducerEpoch != pe.Epoch+1 {
		t.Fatalf("markers = %+v, want one abort at the fencing epoch %d", ms, pe.Epoch+1)
	}
	wantCode(t, "EndTxn by the timed-out producer", h.c.EndTxn(ctx, "slow", pe, true), kerr.ProducerFenced)
}

func TestReloadResendsMarkersOfPreparedTransactions(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	pe := h.mustInit("app")
	if err := h.c.AddPartitions(ctx, "app", pe, []Partition{pa, pb}); err != nil {
		t.Fatal(err)
	}
	h.sender.setHold(true)
	if err := h.c.EndTxn(ctx, "app", pe, false); err != nil {
		t.Fatal(err)
	}
	// Leadership moves (the coordinator's shard is reloaded at a newer
	// epoch): the new shard sends the markers again, with its epoch.
	h.load()
	h.sender.setHold(false)
	h.eventually("CompleteAbort after reload", func() bool { return h.state("app") == kmsg.TransactionStateCompleteAbort })
	var epochs []int32
	for _, m := range h.sender.markers() {
		if m.Committed {
			t.Fatalf("marker %+v commits an aborted transaction", m)
		}
		epochs = append(epochs, m.CoordinatorEpoch)
	}
	if !slices.Contains(epochs, h.epoch) {
		t.Fatalf("coordinator epochs of the markers = %v, want one from the reloaded shard (%d)", epochs, h.epoch)
	}
	// The state survives a reload too.
	h.load()
	if got := h.state("app"); got != kmsg.TransactionStateCompleteAbort {
		t.Fatalf("state after another reload = %s", got)
	}
	if got, err := h.init("app", &pe); err != nil || got.Epoch != pe.Epoch+1 {
		t.Fatalf("InitProducerID after reload = %+v, %v", got, err)
	}
}

func TestMarkersForDeletedPartitionsAreSkipped(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	pe := h.mustInit("app")
	if err := h.c.AddPartitions(ctx, "app", pe, []Partition{pa, pb}); err != nil {
		t.Fatal(err)
	}
	h.sender.mu.Lock()
	h.sender.gone[pb] = true
	h.sender.code = kerr.NotLeaderForPartition.Code // a-0's leader is moving
	h.sender.mu.Unlock()
	if err := h.c.EndTxn(ctx, "app", pe, true); err != nil {
		t.Fatal(err)
	}
	h.eventually("retries", func() bool { return h.sender.count.Load() >= 3 })
	if got := h.state("app"); got != kmsg.TransactionStatePrepareCommit {
		t.Fatalf("state while a-0 refuses its marker = %s", got)
	}
	h.sender.mu.Lock()
	h.sender.code = 0
	h.sender.mu.Unlock()
	h.eventually("CompleteCommit", func() bool { return h.state("app") == kmsg.TransactionStateCompleteCommit })
	for _, m := range h.sender.markers() {
		for _, tp := range m.Topics {
			if tp.Topic == "b" {
				t.Fatalf("marker sent to deleted partition b-1: %+v", m)
			}
		}
	}
}

func TestExpiredTransactionalIDsAreRemoved(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Now().UnixMilli())
	h := newHarness(t, func(c *Config) {
		c.IDExpiration = time.Hour
		c.RemoveExpiredInterval = 20 * time.Millisecond
		c.Now = func() time.Time { return time.UnixMilli(now.Load()) }
	})
	ctx := context.Background()
	h.mustInit("idle")
	pe := h.mustInit("busy")
	if err := h.c.AddPartitions(ctx, "busy", pe, []Partition{pa}); err != nil {
		t.Fatal(err)
	}
	now.Add(2 * time.Hour.Milliseconds())
	// Ticks run every 10ms of real time; removal runs once the fake clock
	// passed RemoveExpiredInterval. "busy" is Ongoing: it times out and
	// is aborted, and is not removed in the same pass.
	h.eventually("idle removed", func() bool {
		_, err := h.c.Describe(ctx, "idle")
		return Code(err) == kerr.TransactionalIDNotFound.Code
	})
	if got := h.log.states(t, "idle"); got[len(got)-1] != "tombstone" {
		t.Fatalf("logged states of idle = %v, want a tombstone last", got)
	}
	h.load()
	_, err := h.c.Describe(ctx, "idle")
	wantCode(t, "Describe of the removed id after reload", err, kerr.TransactionalIDNotFound)
}

func TestListFilters(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	a := h.mustInit("a")
	h.mustInit("b")
	if err := h.c.AddPartitions(ctx, "a", a, []Partition{pa}); err != nil {
		t.Fatal(err)
	}
	ids := func(f ListFilter) []string {
		ls, err := h.c.List(ctx, f)
		if err != nil {
			t.Fatalf("List(%+v): %v", f, err)
		}
		var out []string
		for _, l := range ls {
			out = append(out, l.ID)
		}
		return out
	}
	if got := ids(ListFilter{}); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("List() = %v", got)
	}
	if got := ids(ListFilter{States: []kmsg.TransactionState{kmsg.TransactionStateOngoing}}); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("List(Ongoing) = %v", got)
	}
	if got := ids(ListFilter{ProducerIDs: []int64{a.ID}}); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("List(producer %d) = %v", a.ID, got)
	}
	// "b" never started a transaction: Kafka's filter compares with start
	// -1 and lists it; "a", started just now, is out.
	if got := ids(ListFilter{MinDurationMs: time.Hour.Milliseconds()}); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("List(longer than 1h) = %v", got)
	}
}

// TestEndTxnAnswersOnceComplete: with healthy leaders the EndTxn answer
// waits for the markers, so the producer's next call finds the
// transaction complete rather than CONCURRENT_TRANSACTIONS; with markers
// stuck it answers after endReplyWait anyway.
func TestEndTxnAnswersOnceComplete(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	pe := h.mustInit("app")
	if err := h.c.AddPartitions(ctx, "app", pe, []Partition{pa}); err != nil {
		t.Fatal(err)
	}
	if err := h.c.EndTxn(ctx, "app", pe, true); err != nil {
		t.Fatal(err)
	}
	if got := h.state("app"); got != kmsg.TransactionStateCompleteCommit {
		t.Fatalf("state right after EndTxn = %s, want CompleteCommit", got)
	}
	if err := h.c.AddPartitions(ctx, "app", pe, []Partition{pa}); err != nil {
		t.Fatalf("AddPartitions right after EndTxn: %v", err)
	}
	h.sender.setHold(true)
	start := time.Now()
	if err := h.c.EndTxn(ctx, "app", pe, false); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < endReplyWait {
		t.Fatalf("EndTxn with markers held answered after %v, before endReplyWait %v", took, endReplyWait)
	}
	if got := h.state("app"); got != kmsg.TransactionStatePrepareAbort {
		t.Fatalf("state with markers held = %s, want PrepareAbort", got)
	}
}

// TestConcurrentAddPartitionsWait: adds of one transaction sent at once
// (franz-go sends one per broker) are served one after the other, none
// answered CONCURRENT_TRANSACTIONS.
func TestConcurrentAddPartitionsWait(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	pe := h.mustInit("app")
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			errs <- h.c.AddPartitions(ctx, "app", pe, []Partition{{Topic: "t", Partition: int32(i)}})
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent AddPartitions: %v", err)
		}
	}
	d, _ := h.c.Describe(ctx, "app")
	if len(d.Partitions) != 8 {
		t.Fatalf("partitions after the adds = %v, want 8", d.Partitions)
	}
}
