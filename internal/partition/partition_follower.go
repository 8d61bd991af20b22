package partition

import (
	"fmt"
)

// AppendAsFollower appends batches fetched from the leader (offsets and
// epochs kept; the first may start above the log end offset, after a
// compacted stretch) and sets the high watermark to min(leaderHW, log end
// offset), never lowering it. Empty batches only update the high watermark.
// With SyncBeforeAck the records are made durable before it returns, so the
// next fetch offset reports only durable records to the leader. It fails
// with ErrNotFollower on the leader.
func (p *Partition) AppendAsFollower(batches []byte, leaderHW int64) error {
	p.roleMu.RLock()
	defer p.roleMu.RUnlock()
	if p.IsLeader() {
		return ErrNotFollower
	}
	if len(batches) > 0 {
		info, err := p.Log().AppendAsFollower(batches)
		if err != nil {
			return err
		}
		if p.cfg.SyncBeforeAck {
			if err := p.Log().Sync(info.LastOffset + 1); err != nil {
				return err
			}
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if hw := min(leaderHW, p.Log().LogEndOffset()); hw > p.mu.highWatermark {
		p.setHighWatermarkLocked(hw)
	} else if len(batches) > 0 {
		p.notifyLocked()
	}
	return nil
}

// TruncateTo drops the follower's records at and above offset (a divergent
// tail, KIP-101/KIP-279) and lowers the high watermark to the new log end
// offset if it was above. It fails with ErrNotFollower on the leader.
func (p *Partition) TruncateTo(offset int64) error {
	p.roleMu.Lock()
	defer p.roleMu.Unlock()
	if p.IsLeader() {
		return ErrNotFollower
	}
	if err := p.Log().TruncateTo(offset); err != nil {
		return fmt.Errorf("truncate to %d: %w", offset, err)
	}
	p.mu.Lock()
	p.capHighWatermarkLocked()
	p.mu.Unlock()
	return nil
}

// TruncateFullyAndStartAt empties the follower's log and restarts it at
// offset (the leader's log start offset passed the follower's log end
// offset). The high watermark becomes offset.
func (p *Partition) TruncateFullyAndStartAt(offset int64) error {
	p.roleMu.Lock()
	defer p.roleMu.Unlock()
	if p.IsLeader() {
		return ErrNotFollower
	}
	if err := p.Log().TruncateFullyAndStartAt(offset); err != nil {
		return fmt.Errorf("truncate fully and start at %d: %w", offset, err)
	}
	p.mu.Lock()
	p.setHighWatermarkLocked(offset)
	p.mu.Unlock()
	return nil
}
