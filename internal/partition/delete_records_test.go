package partition

import (
	"errors"
	"testing"

	"github.com/strata-io/strata/internal/storage"
)

func TestDeleteRecordsAndLowWatermark(t *testing.T) {
	p, clock, _ := newLeader(t, 1)
	end := mustAppend(t, p, 10, 1)
	p.UpdateFollower(2, -1, end, 0, clock.Now())
	p.UpdateFollower(3, -1, 6, 0, clock.Now())
	if hw := p.HighWatermark(); hw != 6 {
		t.Fatalf("HighWatermark = %d, want 6", hw)
	}
	if _, err := p.DeleteRecordsBefore(7); !errors.Is(err, storage.ErrOffsetOutOfRange) {
		t.Fatalf("DeleteRecordsBefore(7) above the high watermark = %v, want ErrOffsetOutOfRange", err)
	}
	want, err := p.DeleteRecordsBefore(-1)
	if err != nil || want != 6 {
		t.Fatalf("DeleteRecordsBefore(-1) = %d, %v; want 6 (the high watermark)", want, err)
	}
	if low := p.lowWatermark(); low != 0 {
		t.Fatalf("LowWatermark before the followers report = %d, want 0", low)
	}
	p.UpdateFollower(2, -1, end, 6, clock.Now())
	p.UpdateFollower(3, -1, 6, 4, clock.Now())
	if low := p.lowWatermark(); low != 4 {
		t.Fatalf("LowWatermark with followers at 6 and 4 = %d, want 4", low)
	}
	// A fenced follower is not waited for.
	st := p.State()
	st.ReplicaEpochs = []int64{1, 1, -1}
	if err := p.MakeLeader(st); err != nil {
		t.Fatal(err)
	}
	if low := p.lowWatermark(); low != 6 {
		t.Fatalf("LowWatermark with follower 3 fenced = %d, want 6", low)
	}

	// A follower raises its log start offset to the leader's, capped at
	// its own high watermark.
	src := newPartition(t, false)
	mustAppend(t, src, 10, 1)
	f := newFollower(t)
	if err := f.AppendAsFollower(leaderLog(t, src), 3); err != nil {
		t.Fatal(err)
	}
	if err := f.MaybeIncrementLogStartOffset(5); err != nil {
		t.Fatalf("MaybeIncrementLogStartOffset(5): %v", err)
	}
	if lso := f.Log().LogStartOffset(); lso != 3 {
		t.Fatalf("follower log start offset = %d, want 3 (its high watermark)", lso)
	}
	if err := f.MaybeIncrementLogStartOffset(2); err != nil || f.Log().LogStartOffset() != 3 {
		t.Fatalf("a lower leader log start offset moved the follower's: %d, %v", f.Log().LogStartOffset(), err)
	}
}
