package storage

import (
	"context"
	"errors"
	"time"
)

// cleanerLoop runs compaction rounds until ctx ends. Every CleanerInterval
// (log.cleaner.backoff.ms) it runs a round: it repeatedly picks the
// filthiest log (see filthiestLog) not yet cleaned in the round and runs
// one pass on it, until no log qualifies. A log whose pass met corruption
// is left alone until the directory is reopened (Kafka's uncleanable
// partitions, KIP-346). Passes run on this goroutine, one at a time;
// cancelling ctx stops the pass under way at its next batch.
func (d *LogDir) cleanerLoop(ctx context.Context) {
	uncleanable := make(map[*Log]bool) // owned by this loop
	t := time.NewTimer(d.cfg.CleanerInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d.cleanRound(ctx, uncleanable)
		t.Reset(d.cfg.CleanerInterval)
	}
}

// cleanRound cleans, once each and filthiest first, the logs that need it.
func (d *LogDir) cleanRound(ctx context.Context, uncleanable map[*Log]bool) {
	done := make(map[*Log]bool)
	for ctx.Err() == nil {
		now := d.now()
		l := d.filthiestLog(now, func(l *Log) bool { return done[l] || uncleanable[l] })
		if l == nil {
			return
		}
		done[l] = true
		st, err := l.compact(ctx, now)
		switch {
		case err == nil:
			d.logger.Debug("cleaned log", "topic", l.tp.Topic, "partition", l.tp.Partition,
				"offset", st.EndOffset, "segments", st.SegmentsRead, "records_removed", st.RecordsRemoved)
		case errors.Is(err, ErrCorruptLog):
			d.logger.Error("log cleaner found corruption; the partition is left uncleaned",
				"topic", l.tp.Topic, "partition", l.tp.Partition, "err", err)
			uncleanable[l] = true
		case errors.Is(err, ErrLogClosed), errors.Is(err, ErrStorageFailed),
			errors.Is(err, errCleanAborted), ctx.Err() != nil:
			// Deleted, failed (already reported) or changed meanwhile, or
			// stopping: the next round decides again.
		default:
			d.logger.Warn("log cleaner", "topic", l.tp.Topic, "partition", l.tp.Partition, "err", err)
		}
	}
}

// filthiestLog returns the compacted log with the highest dirty ratio
// among those with something cleanable whose ratio reaches
// MinCleanableDirtyRatio or whose oldest dirty batch is older than
// MaxCompactionLag (Kafka's LogCleanerManager.grabFilthiestCompactedLog),
// skipping those skip reports; nil if none.
func (d *LogDir) filthiestLog(now time.Time, skip func(*Log) bool) *Log {
	var best *Log
	bestRatio := -1.0
	for _, l := range d.Logs() {
		if skip(l) || !l.Config().Compact {
			continue
		}
		p, err := l.cleanablePlan(now)
		if err != nil || !p.cleanable() {
			continue
		}
		ratio := p.dirtyRatio()
		if ratio < p.cfg.MinCleanableDirtyRatio {
			if due, err := p.mustCleanNow(now); err != nil || !due {
				continue
			}
		}
		if ratio > bestRatio {
			best, bestRatio = l, ratio
		}
	}
	return best
}
