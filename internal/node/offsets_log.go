package node

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/strata-io/strata/internal/clock"
	"github.com/strata-io/strata/internal/coordinator"
	"github.com/strata-io/strata/internal/group"
	"github.com/strata-io/strata/internal/partition"
	"github.com/strata-io/strata/internal/record"
	"github.com/strata-io/strata/internal/storage"
)

// offsetsTopic is Kafka's internal topic of consumer group state.
const offsetsTopic = group.OffsetsTopic

// offsetsLog is a group coordinator shard's view of its __consumer_offsets
// partition: appends as leader (transactional offset commits as a
// coordinator-origin append, markers as control batches), commits per the
// fsync policy, replays records and markers from the log start.
type offsetsLog struct {
	p *partition.Partition
}

var _ group.Log = offsetsLog{}

func (l offsetsLog) Append(recs []group.Record) (int64, error) {
	now := clock.Now()
	batch, err := buildOffsetsBatch(recs, now, -1, -1)
	if err != nil {
		return 0, err
	}
	return appendEnd(l.p.AppendAsLeader(batch, now, -1))
}

// AppendTransactional appends recs as a transactional batch of the
// producer with no sequence, as a coordinator-origin append (the group
// coordinator's TxnOffsetCommit, issue 10).
func (l offsetsLog) AppendTransactional(producerID int64, producerEpoch int16, recs []group.Record) (int64, error) {
	now := clock.Now()
	batch, err := buildOffsetsBatch(recs, now, producerID, producerEpoch)
	if err != nil {
		return 0, err
	}
	return appendEnd(l.p.AppendAsCoordinator(batch, now))
}

// AppendMarker appends the transaction marker ending the producer's
// transaction on this partition; fencing errors pass through.
func (l offsetsLog) AppendMarker(producerID int64, producerEpoch int16, coordinatorEpoch int32, commit bool) (int64, error) {
	return appendEnd(l.p.AppendControlAsLeader(producerID, producerEpoch, coordinatorEpoch, commit, clock.Now()))
}

// buildOffsetsBatch builds one batch of recs; transactional for
// producerID >= 0 (sequence -1, Kafka's NO_SEQUENCE).
func buildOffsetsBatch(recs []group.Record, now time.Time, producerID int64, producerEpoch int16) ([]byte, error) {
	b := record.NewBuilder(record.CodecNone, now.UnixMilli())
	if producerID >= 0 {
		b.SetProducer(producerID, producerEpoch, -1)
		b.SetTransactional(true)
	}
	for _, r := range recs {
		b.Add(now.UnixMilli(), r.Key, r.Value, nil)
	}
	batch, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("build %s batch: %w", offsetsTopic, err)
	}
	return batch, nil
}

// appendEnd is the offset after an append, or its error.
func appendEnd(info storage.AppendInfo, err error) (int64, error) {
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

// Replay reads the partition from its log start to its log end, as Kafka's
// coordinators load: not only to the high watermark, which lags on a new
// leader until its followers fetch in its epoch. What this leader holds
// is what its followers will hold once they truncate to it, and the last
// transitions of the previous coordinator (acknowledged once replicated
// here) may sit in that lag.
func (l offsetsLog) Replay(ctx context.Context, fn func(r coordinator.ReplayRecord) error) error {
	offset := l.p.Log().LogStartOffset()
	end := l.p.Log().LogEndOffset()
	var buf []byte
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if offset >= end {
			return nil
		}
		res, err := l.p.Log().Read(offset, replayReadBytes, end, true)
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
			if h.NumRecords == 0 {
				continue
			}
			err = record.Records(b, 64<<20, func(r *record.Record) error {
				rr := coordinator.ReplayRecord{
					Offset:        h.BaseOffset + int64(r.OffsetDelta),
					ProducerID:    h.ProducerID,
					ProducerEpoch: h.ProducerEpoch,
					Transactional: h.IsTransactional(),
				}
				if h.IsControl() {
					commit, ok := markerType(r.Key)
					if !ok {
						return nil // not a transaction marker
					}
					rr.Control, rr.Commit = true, commit
					return fn(rr)
				}
				rr.Key, rr.Value = r.Key, r.Value
				return fn(rr)
			})
			if err != nil {
				return fmt.Errorf("replay %s-%d: %w", offsetsTopic, l.p.Index, err)
			}
		}
	}
}

// markerType reads a control record's key (version int16, type int16):
// type 1 is COMMIT, 0 ABORT; ok is false for other control records.
func markerType(key []byte) (commit, ok bool) {
	if len(key) < 4 {
		return false, false
	}
	switch binary.BigEndian.Uint16(key[2:]) {
	case 0:
		return false, true
	case 1:
		return true, true
	}
	return false, false
}
