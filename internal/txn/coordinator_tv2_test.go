package txn

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/coordinator"
)

// lastValue decodes the last record logged for id.
func (l *memLog) lastValue(t *testing.T, id string) (*Metadata, int16) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.recs) - 1; i >= 0; i-- {
		if k, err := DecodeKey(l.recs[i].Key); err != nil || k != id {
			continue
		}
		m, err := DecodeValue(l.recs[i].Value)
		if err != nil {
			t.Fatalf("DecodeValue: %v", err)
		}
		return m, int16(l.recs[i].Value[0])<<8 | int16(l.recs[i].Value[1])
	}
	t.Fatalf("no record for %q", id)
	return nil, 0
}

func TestEndTxnV2BumpsTheEpoch(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	pe := h.mustInit("app")
	if err := h.c.AddPartitionsV2(ctx, "app", pe, []Partition{pa, pb}); err != nil {
		t.Fatal(err)
	}
	got, err := h.c.EndTxnV2(ctx, "app", pe, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := (ProducerIDAndEpoch{ID: pe.ID, Epoch: pe.Epoch + 1}); got != want {
		t.Fatalf("EndTxnV2 = %+v, want %+v", got, want)
	}
	h.eventually("commit complete", func() bool { return h.state("app") == kmsg.TransactionStateCompleteCommit })
	for _, mk := range h.sender.markers() {
		if mk.ProducerID != pe.ID || mk.ProducerEpoch != pe.Epoch+1 || !mk.Committed {
			t.Fatalf("marker %d/%d commit %v, want %d/%d commit", mk.ProducerID, mk.ProducerEpoch, mk.Committed, pe.ID, pe.Epoch+1)
		}
	}
	m, version := h.log.lastValue(t, "app")
	if version != valueVersionFlexible || m.ClientTransactionVersion != 2 || m.ProducerEpoch != pe.Epoch+1 {
		t.Fatalf("logged value v%d %+v, want v1 with client transaction version 2 at epoch %d", version, m, pe.Epoch+1)
	}

	wantCode(t, "AddPartitionsV2 at the old epoch", h.c.AddPartitionsV2(ctx, "app", pe, []Partition{pa}), kerr.ProducerFenced)
	if err := h.c.AddPartitionsV2(ctx, "app", got, []Partition{pa}); err != nil {
		t.Fatalf("next transaction at the bumped epoch: %v", err)
	}
	next, err := h.c.EndTxnV2(ctx, "app", got, false)
	if err != nil || next.Epoch != got.Epoch+1 {
		t.Fatalf("abort = %+v, %v; want epoch %d", next, err, got.Epoch+1)
	}

	// A version-1 end keeps the epoch.
	v1 := h.mustInit("v1")
	if err := h.c.AddPartitions(ctx, "v1", v1, []Partition{pa}); err != nil {
		t.Fatal(err)
	}
	if err := h.c.EndTxn(ctx, "v1", v1, true); err != nil {
		t.Fatal(err)
	}
	if err := h.c.AddPartitions(ctx, "v1", v1, []Partition{pa}); err != nil {
		t.Fatalf("version 1 goes on at its epoch: %v", err)
	}
}

func TestEndTxnV2Retries(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	pe := h.mustInit("app")
	if err := h.c.AddPartitionsV2(ctx, "app", pe, []Partition{pa}); err != nil {
		t.Fatal(err)
	}
	h.sender.setHold(true)
	bumped, err := h.c.EndTxnV2(ctx, "app", pe, true)
	if err != nil {
		t.Fatal(err)
	}
	if h.state("app") != kmsg.TransactionStatePrepareCommit {
		t.Fatalf("state %s, want PrepareCommit while the markers are held", h.state("app"))
	}
	// As Kafka: a retry while the end is prepared waits.
	_, err = h.c.EndTxnV2(ctx, "app", pe, true)
	wantCode(t, "retried commit while prepared", err, kerr.ConcurrentTransactions)
	_, err = h.c.EndTxnV2(ctx, "app", pe, false)
	wantCode(t, "abort while committing", err, kerr.InvalidTxnState)
	h.sender.setHold(false)
	h.eventually("commit complete", func() bool { return h.state("app") == kmsg.TransactionStateCompleteCommit })

	again, err := h.c.EndTxnV2(ctx, "app", pe, true)
	if err != nil || again != bumped {
		t.Fatalf("retried commit = %+v, %v; want success with %+v", again, err, bumped)
	}
	_, err = h.c.EndTxnV2(ctx, "app", pe, false)
	wantCode(t, "abort retried at the old epoch after a commit", err, kerr.InvalidTxnState)
	_, err = h.c.EndTxnV2(ctx, "app", bumped, true)
	wantCode(t, "commit at the new epoch with nothing ongoing", err, kerr.InvalidTxnState)
	_, err = h.c.EndTxnV2(ctx, "app", ProducerIDAndEpoch{ID: pe.ID, Epoch: pe.Epoch - 1}, true)
	wantCode(t, "commit two epochs back", err, kerr.ProducerFenced)

	// The retry is recognised after a reload too (value version 1 keeps
	// the client transaction version).
	h.load()
	again, err = h.c.EndTxnV2(ctx, "app", pe, true)
	if err != nil || again != bumped {
		t.Fatalf("retried commit after a reload = %+v, %v; want %+v", again, err, bumped)
	}
}

func TestEndTxnV2AbortsAnEmptyTransaction(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	pe := h.mustInit("app")
	_, err := h.c.EndTxnV2(ctx, "app", pe, true)
	wantCode(t, "commit with nothing ongoing", err, kerr.InvalidTxnState)
	wantCode(t, "version-1 abort with nothing ongoing", h.c.EndTxn(ctx, "app", pe, false), kerr.InvalidTxnState)

	got, err := h.c.EndTxnV2(ctx, "app", pe, false)
	if err != nil || got != (ProducerIDAndEpoch{ID: pe.ID, Epoch: pe.Epoch + 1}) {
		t.Fatalf("empty abort = %+v, %v; want epoch %d", got, err, pe.Epoch+1)
	}
	h.eventually("abort complete", func() bool { return h.state("app") == kmsg.TransactionStateCompleteAbort })
	if ms := h.sender.markers(); len(ms) != 0 {
		t.Fatalf("markers %+v for a transaction with no partition", ms)
	}
	// Again from CompleteAbort at the new epoch: bumps again.
	got2, err := h.c.EndTxnV2(ctx, "app", got, false)
	if err != nil || got2.Epoch != got.Epoch+1 {
		t.Fatalf("second empty abort = %+v, %v; want epoch %d", got2, err, got.Epoch+1)
	}
	// And a retry of it answers the same.
	h.eventually("abort complete", func() bool { return h.state("app") == kmsg.TransactionStateCompleteAbort })
	again, err := h.c.EndTxnV2(ctx, "app", got, false)
	if err != nil || again != got2 {
		t.Fatalf("retried abort = %+v, %v; want %+v", again, err, got2)
	}
}

func TestEndTxnV2RotatesAnExhaustedEpoch(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	// A transactional id near the end of its epochs, as a previous
	// coordinator logged it.
	m := &Metadata{
		ProducerID: 77, ProducerEpoch: maxEpoch - 2, PreviousProducerID: -1, NextProducerID: -1, NextProducerEpoch: -1,
		TimeoutMs: 60000, State: kmsg.TransactionStateCompleteCommit, LastUpdateTimestamp: 1, StartTimestamp: 1,
		ClientTransactionVersion: 2,
	}
	h.log.Append([]coordinator.Record{{Key: EncodeKey("app"), Value: EncodeValue(m, true)}})
	h.load()

	pe := ProducerIDAndEpoch{ID: 77, Epoch: maxEpoch - 2}
	if err := h.c.AddPartitionsV2(ctx, "app", pe, []Partition{pa}); err != nil {
		t.Fatal(err)
	}
	pe, err := h.c.EndTxnV2(ctx, "app", pe, true)
	if err != nil || pe != (ProducerIDAndEpoch{ID: 77, Epoch: maxEpoch - 1}) {
		t.Fatalf("end = %+v, %v; want 77/%d", pe, err, maxEpoch-1)
	}
	h.eventually("commit complete", func() bool { return h.state("app") == kmsg.TransactionStateCompleteCommit })

	// Epoch maxEpoch-1 is exhausted: the end rotates the producer id.
	if err := h.c.AddPartitionsV2(ctx, "app", pe, []Partition{pb}); err != nil {
		t.Fatal(err)
	}
	rotated, err := h.c.EndTxnV2(ctx, "app", pe, true)
	if err != nil || rotated.ID == 77 || rotated.Epoch != 0 {
		t.Fatalf("end at an exhausted epoch = %+v, %v; want a new producer id at epoch 0", rotated, err)
	}
	h.eventually("commit complete", func() bool { return h.state("app") == kmsg.TransactionStateCompleteCommit })
	ms := h.sender.markers()
	if last := ms[len(ms)-1]; last.ProducerID != 77 || last.ProducerEpoch != maxEpoch {
		t.Fatalf("marker %d/%d, want the old id at %d", last.ProducerID, last.ProducerEpoch, maxEpoch)
	}
	logged, _ := h.log.lastValue(t, "app")
	if logged.ProducerID != rotated.ID || logged.ProducerEpoch != 0 || logged.PreviousProducerID != 77 || logged.NextProducerID != -1 {
		t.Fatalf("completed state %+v, want %d/0 with previous producer id 77", logged, rotated.ID)
	}

	// A retry of the end that rotated names the old id.
	h.load()
	again, err := h.c.EndTxnV2(ctx, "app", pe, true)
	if err != nil || again != rotated {
		t.Fatalf("retried end = %+v, %v; want %+v", again, err, rotated)
	}
	wantCode(t, "the old id adds", h.c.AddPartitionsV2(ctx, "app", pe, []Partition{pa}), kerr.InvalidProducerIDMapping)
	if err := h.c.AddPartitionsV2(ctx, "app", rotated, []Partition{pa}); err != nil {
		t.Fatalf("the new id adds: %v", err)
	}
}

func TestTimedOutV2TransactionAbortIsARetry(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	pe, err := h.c.InitProducerID(ctx, "slow", 50, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.c.AddPartitionsV2(ctx, "slow", pe, []Partition{pa}); err != nil {
		t.Fatal(err)
	}
	h.eventually("timed-out abort", func() bool { return h.state("slow") == kmsg.TransactionStateCompleteAbort })
	_, err = h.c.EndTxnV2(ctx, "slow", pe, true)
	wantCode(t, "commit by the timed-out producer", err, kerr.InvalidTxnState)
	got, err := h.c.EndTxnV2(ctx, "slow", pe, false)
	if err != nil || got != (ProducerIDAndEpoch{ID: pe.ID, Epoch: pe.Epoch + 1}) {
		t.Fatalf("abort by the timed-out producer = %+v, %v; want success at epoch %d", got, err, pe.Epoch+1)
	}
	if err := h.c.AddPartitionsV2(ctx, "slow", got, []Partition{pa}); err != nil {
		t.Fatalf("the producer goes on at the epoch the abort gave: %v", err)
	}
}

func TestTimedOutV2TransactionRotatesAnExhaustedEpoch(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	m := &Metadata{
		ProducerID: 77, ProducerEpoch: maxEpoch - 1, PreviousProducerID: -1, NextProducerID: -1, NextProducerEpoch: -1,
		TimeoutMs: 50, State: kmsg.TransactionStateCompleteCommit, LastUpdateTimestamp: 1, StartTimestamp: 1,
		ClientTransactionVersion: 2,
	}
	h.log.Append([]coordinator.Record{{Key: EncodeKey("slow"), Value: EncodeValue(m, true)}})
	h.load()
	pe := ProducerIDAndEpoch{ID: 77, Epoch: maxEpoch - 1}
	if err := h.c.AddPartitionsV2(ctx, "slow", pe, []Partition{pa}); err != nil {
		t.Fatal(err)
	}
	h.eventually("timed-out abort", func() bool { return h.state("slow") == kmsg.TransactionStateCompleteAbort })
	got, err := h.c.EndTxnV2(ctx, "slow", pe, false)
	if err != nil || got.ID == 77 || got.Epoch != 0 {
		t.Fatalf("abort by the timed-out producer = %+v, %v; want a new producer id at epoch 0", got, err)
	}
}
