package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/strata-io/strata/internal/group"
	"github.com/strata-io/strata/internal/partition"
	"github.com/strata-io/strata/internal/record"
	"github.com/strata-io/strata/internal/storage"
)

// offsetsTopic is Kafka's internal topic of consumer group state.
const offsetsTopic = group.OffsetsTopic

// offsetsLog is a group coordinator shard's view of its __consumer_offsets
// partition: appends as leader, commits per the fsync policy, replays from
// the log start.
type offsetsLog struct {
	p *partition.Partition
}

var _ group.Log = offsetsLog{}

func (l offsetsLog) Append(recs []group.Record) (int64, error) {
	now := time.Now()
	b := record.NewBuilder(record.CodecNone, now.UnixMilli())
	for _, r := range recs {
		b.Add(now.UnixMilli(), r.Key, r.Value, nil)
	}
	batch, err := b.Build()
	if err != nil {
		return 0, fmt.Errorf("build %s batch: %w", offsetsTopic, err)
	}
	info, err := l.p.AppendAsLeader(batch, now, -1)
	if errors.Is(err, storage.ErrLogClosed) {
		// The partition was removed or moved: this node no longer
		// coordinates its groups.
		return 0, fmt.Errorf("%w: %w", group.ErrNotCoordinator, err)
	}
	if err != nil {
		return 0, err
	}
	return info.LastOffset + 1, nil
}

func (l offsetsLog) Commit(ctx context.Context, end int64) error {
	// NB: the wait is an fsync at most (single node: this broker is the
	// whole ISR), so ctx is not needed to bound it.
	if err := l.p.WaitCommitted(ctx, end, -1); err != nil {
		if errors.Is(err, storage.ErrLogClosed) {
			return fmt.Errorf("%w: %w", group.ErrNotCoordinator, err)
		}
		return err
	}
	return nil
}

// replayReadBytes bounds one read during replay.
const replayReadBytes = 1 << 20

func (l offsetsLog) Replay(ctx context.Context, fn func(offset int64, key, value []byte) error) error {
	offset := l.p.Log().LogStartOffset()
	var buf []byte
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		res, err := l.p.Read(offset, replayReadBytes, true, false)
		if err != nil {
			return fmt.Errorf("replay %s-%d at %d: %w", offsetsTopic, l.p.Index, offset, err)
		}
		if res.Size == 0 {
			return nil
		}
		if buf, err = res.AppendTo(buf[:0]); err != nil {
			return err
		}
		for rest := buf; len(rest) > 0; {
			b, r, err := record.NextBatch(rest)
			if err != nil {
				return fmt.Errorf("replay %s-%d: %w", offsetsTopic, l.p.Index, err)
			}
			rest = r
			h, err := record.ValidateBatch(b)
			if err != nil {
				return fmt.Errorf("replay %s-%d: %w", offsetsTopic, l.p.Index, err)
			}
			offset = h.NextOffset()
			if h.IsControl() || h.NumRecords == 0 {
				continue
			}
			err = record.Records(b, 64<<20, func(r *record.Record) error {
				return fn(h.BaseOffset+int64(r.OffsetDelta), r.Key, r.Value)
			})
			if err != nil {
				return fmt.Errorf("replay %s-%d: %w", offsetsTopic, l.p.Index, err)
			}
		}
	}
}
