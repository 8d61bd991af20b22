package partition

import (
	"errors"
	"testing"
	"time"

	"github.com/strata-io/strata/internal/storage"
)

// TestAppendAsCoordinatorStartsATransactionWithoutSequences: a
// coordinator's transactional batches (sequence -1, twice in one epoch)
// are accepted and open the producer's transaction until its marker.
func TestAppendAsCoordinatorStartsATransactionWithoutSequences(t *testing.T) {
	p := newPartition(t, false)
	now := time.Now()
	for i := range 2 {
		info, err := p.AppendAsCoordinator(txnBatch(t, 5, -1, 1), now)
		if err != nil {
			t.Fatalf("AppendAsCoordinator(pid 5 seq -1) #%d: %v", i, err)
		}
		if info.Duplicate || info.FirstOffset != int64(i) {
			t.Fatalf("AppendAsCoordinator #%d = %+v, want a new batch at %d", i, info, i)
		}
	}
	if got := p.Log().FirstUnstableOffset(); got != 0 {
		t.Fatalf("FirstUnstableOffset() = %d, want 0", got)
	}
	if _, err := p.AppendControlAsLeader(5, 0, 2, true, now); err != nil {
		t.Fatalf("AppendControlAsLeader(commit): %v", err)
	}
	if got := p.Log().FirstUnstableOffset(); got != -1 {
		t.Fatalf("FirstUnstableOffset() after the marker = %d, want -1", got)
	}
	_, err := p.AppendControlAsLeader(5, 0, 1, false, now)
	if !errors.Is(err, storage.ErrCoordinatorFenced) {
		t.Fatalf("AppendControlAsLeader(coordinator epoch 1 after 2) = %v, want ErrCoordinatorFenced", err)
	}
}
