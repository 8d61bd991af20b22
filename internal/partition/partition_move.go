package partition

import (
	"fmt"
	"math"

	"github.com/strata-io/strata/internal/storage"
)

// Moving a replica between log directories (AlterReplicaLogDirs, KIP-113):
// the mover fills a future log from the current one with CopyToFuture while
// the partition serves as usual, then SwapLog copies the rest with appends
// stopped and makes the future log current, as Kafka's
// ReplicaAlterLogDirsThread does.

// copyChunkBytes bounds one read of a copy step.
const copyChunkBytes = 1 << 20

// CopyToFuture copies to future, in order and with offsets and epochs
// kept, up to maxBytes of what the current log holds beyond future's log
// end offset. It first settles divergence the way a follower does: a future
// log behind the current log's start restarts at it, and one whose latest
// epoch ends earlier in the current log (the current log was truncated) is
// truncated to where the epochs agree. caughtUp reports that future holds
// the whole current log.
func (p *Partition) CopyToFuture(future *storage.Log, maxBytes int) (caughtUp bool, err error) {
	// Shared: appends continue, truncations and role changes wait.
	p.roleMu.RLock()
	defer p.roleMu.RUnlock()
	return copyLog(p.Log(), future, maxBytes)
}

func copyLog(cur, future *storage.Log, maxBytes int) (bool, error) {
	if err := reconcileFuture(cur, future); err != nil {
		return false, err
	}
	for copied := 0; copied < maxBytes; {
		from, end := future.LogEndOffset(), cur.LogEndOffset()
		if from >= end {
			return true, nil
		}
		r, err := cur.Read(from, copyChunkBytes, math.MaxInt64, true)
		if err != nil {
			return false, fmt.Errorf("read %s at %d: %w", cur.TopicPartition(), from, err)
		}
		if r.Size == 0 {
			// Nothing readable at from although below the end (a compacted
			// gap at the tail cannot happen: the active segment is never
			// cleaned); report rather than spin.
			return false, fmt.Errorf("read %s at %d: no batch below the log end offset %d", cur.TopicPartition(), from, end)
		}
		b, err := r.AppendTo(nil)
		if err != nil {
			return false, err
		}
		if _, err := future.AppendAsFollower(b); err != nil {
			return false, fmt.Errorf("append to future log of %s at %d: %w", cur.TopicPartition(), from, err)
		}
		copied += len(b)
	}
	return future.LogEndOffset() >= cur.LogEndOffset(), nil
}

// reconcileFuture makes future a prefix of cur again after cur changed
// under it (retention, DeleteRecords, truncation).
func reconcileFuture(cur, future *storage.Log) error {
	if future.LogEndOffset() < cur.LogStartOffset() || future.LogEndOffset() > cur.LogEndOffset() {
		return future.TruncateFullyAndStartAt(cur.LogStartOffset())
	}
	if epoch := future.LatestEpoch(); epoch >= 0 {
		// Where the current log's history of epochs up to epoch ends: a
		// future log longer than that holds records truncated away.
		e, end := cur.EndOffsetForEpoch(epoch)
		if e < 0 {
			return future.TruncateFullyAndStartAt(cur.LogStartOffset())
		}
		if end < future.LogEndOffset() {
			if err := future.TruncateTo(end); err != nil {
				return err
			}
		}
	}
	if lso := cur.LogStartOffset(); lso > future.LogStartOffset() && lso <= future.LogEndOffset() {
		return future.DeleteRecordsBefore(lso)
	}
	return nil
}

// SwapLog completes a move: with appends, truncations and role changes
// stopped, it copies what future still lacks, makes it durable, calls
// commit (which makes future current on disk and retires the current
// log) and serves from future unless commit failed.
func (p *Partition) SwapLog(future *storage.Log, commit func() error) error {
	p.roleMu.Lock()
	defer p.roleMu.Unlock()
	cur := p.Log()
	for {
		caughtUp, err := copyLog(cur, future, math.MaxInt)
		if err != nil {
			return err
		}
		if caughtUp {
			break
		}
	}
	if cur.LogEndOffset() != future.LogEndOffset() || cur.LogStartOffset() != future.LogStartOffset() {
		return fmt.Errorf("swap log of %s: future log [%d, %d) differs from current [%d, %d)", cur.TopicPartition(),
			future.LogStartOffset(), future.LogEndOffset(), cur.LogStartOffset(), cur.LogEndOffset())
	}
	if err := future.Sync(future.LogEndOffset()); err != nil {
		return err
	}
	p.mu.Lock()
	future.SetHighWatermark(p.mu.highWatermark)
	p.mu.Unlock()
	future.SetConfig(cur.Config())
	// Serve from future before commit closes cur: readers that loaded cur
	// and find it closed read again from future.
	p.log.Store(future)
	if err := commit(); err != nil {
		p.log.Store(cur)
		return err
	}
	return nil
}
