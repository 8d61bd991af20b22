package storage

import "testing"

func TestAppendAsCoordinatorSkipsSequenceChecks(t *testing.T) {
	_, l, _ := testLog(t, testLogConfig())

	// A coordinator writes transactional batches with sequence -1: the
	// same sequence twice in one epoch is neither a gap nor a duplicate.
	for i := range 2 {
		info, err := l.AppendAsCoordinator(buildBatch(t, spec(2).inTxn(7, 3, -1)), 1, t0)
		if err != nil {
			t.Fatalf("AppendAsCoordinator(pid 7 epoch 3 seq -1) #%d: %v", i, err)
		}
		if info.Duplicate || info.FirstOffset != int64(2*i) {
			t.Fatalf("AppendAsCoordinator #%d = %+v, want a new batch at %d", i, info, 2*i)
		}
	}
	if got := l.FirstUnstableOffset(); got != 0 {
		t.Fatalf("FirstUnstableOffset() after two transactional batches = %d, want 0", got)
	}
	ps := l.ActiveProducers()
	if len(ps) != 1 || ps[0].ProducerID != 7 || ps[0].CurrentTxnStartOffset != 0 {
		t.Fatalf("ActiveProducers() = %+v, want producer 7 with a transaction from 0", ps)
	}

	// An older epoch is fenced for a coordinator too.
	_, err := l.AppendAsCoordinator(buildBatch(t, spec(1).inTxn(7, 2, -1)), 1, t0)
	wantErr(t, "AppendAsCoordinator(old epoch 2)", err, ErrInvalidProducerEpoch)

	if _, err := l.AppendControlAsLeader(7, 3, 0, true, 1, t0); err != nil {
		t.Fatalf("AppendControlAsLeader(commit): %v", err)
	}
	if got := l.FirstUnstableOffset(); got != -1 {
		t.Fatalf("FirstUnstableOffset() after the commit marker = %d, want -1", got)
	}
	if ps := l.ActiveProducers(); ps[0].CurrentTxnStartOffset != -1 || ps[0].CoordinatorEpoch != 0 {
		t.Fatalf("ActiveProducers() after the marker = %+v, want no transaction, coordinator epoch 0", ps)
	}
}
