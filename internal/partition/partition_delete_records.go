package partition

import (
	"context"
	"errors"
	"fmt"

	"github.com/strata-io/strata/internal/storage"
)

// ErrPolicyViolation: DeleteRecords on a topic whose cleanup.policy does
// not include delete (POLICY_VIOLATION, as Kafka answers).
var ErrPolicyViolation = errors.New("records of a topic without cleanup.policy=delete cannot be deleted")

// DeleteRecordsBefore raises the leader's log start offset to offset (the
// DeleteRecords API); -1 means the high watermark. It fails with a
// *NotLeaderError on a follower, storage.ErrOffsetOutOfRange when offset
// is above the high watermark (or negative other than -1), and
// ErrPolicyViolation for a topic without cleanup.policy=delete. It returns
// the offset the followers must reach (WaitLowWatermark).
func (p *Partition) DeleteRecordsBefore(offset int64) (int64, error) {
	p.roleMu.RLock()
	defer p.roleMu.RUnlock()
	p.mu.Lock()
	if !p.mu.isLeader {
		err := p.notLeaderLocked()
		p.mu.Unlock()
		return -1, err
	}
	hw := p.mu.highWatermark
	p.mu.Unlock()
	if !p.Log().Config().Delete {
		return -1, ErrPolicyViolation
	}
	if offset == -1 {
		offset = hw
	}
	if offset < 0 || offset > hw {
		return -1, fmt.Errorf("%w: delete records before %d, high watermark %d", storage.ErrOffsetOutOfRange, offset, hw)
	}
	if err := p.Log().DeleteRecordsBefore(offset); err != nil {
		return -1, err
	}
	p.mu.Lock()
	p.notifyLocked()
	p.mu.Unlock()
	return max(offset, p.Log().LogStartOffset()), nil
}

// lowWatermark is the smallest log start offset over this leader and the
// followers on live brokers (Kafka's lowWatermarkIfLeader): DeleteRecords
// completes once it reaches the requested offset. A follower that has not
// reported its log start offset in this leader epoch counts as 0.
func (p *Partition) lowWatermark() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lowWatermarkLocked()
}

func (p *Partition) lowWatermarkLocked() int64 {
	low := p.Log().LogStartOffset()
	for id, f := range p.mu.followers {
		if !p.mu.st.eligible(id, -1) {
			continue // fenced or gone: not waited for, as in Kafka
		}
		low = min(low, max(f.logStartOffset, 0))
	}
	return low
}

// WaitLowWatermark returns the low watermark once it reaches offset, or
// what it is when ctx ends (with ctx's error), or a *NotLeaderError when
// leadership moves first.
func (p *Partition) WaitLowWatermark(ctx context.Context, offset int64) (int64, error) {
	wake := make(chan struct{}, 1)
	p.AddWaiter(wake)
	defer p.RemoveWaiter(wake)
	for {
		p.mu.Lock()
		if !p.mu.isLeader {
			err := p.notLeaderLocked()
			p.mu.Unlock()
			return -1, err
		}
		low := p.lowWatermarkLocked()
		p.mu.Unlock()
		if low >= offset {
			return low, nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return low, ctx.Err()
		}
	}
}

// MaybeIncrementLogStartOffset raises a follower's log start offset to
// the leader's (from a fetch response), capped at its own high watermark
// (Kafka's follower does the same after each fetch). Calls on the leader
// and lower offsets are ignored.
func (p *Partition) MaybeIncrementLogStartOffset(leaderLogStartOffset int64) error {
	p.roleMu.RLock()
	defer p.roleMu.RUnlock()
	p.mu.Lock()
	leading, hw := p.mu.isLeader, p.mu.highWatermark
	p.mu.Unlock()
	offset := min(leaderLogStartOffset, hw)
	if leading || offset <= p.Log().LogStartOffset() {
		return nil
	}
	return p.Log().DeleteRecordsBefore(offset)
}
