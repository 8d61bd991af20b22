package txn

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/coordinator"
	"github.com/strata-io/strata/internal/failpoint"
)

// shard is the state of one loaded partition of __transaction_state: the
// transactional ids that hash to it. The coordinator runtime runs it:
// every method runs on the loop, which also carries its timers and writes.
type shard struct {
	c      *Coordinator      // never changed
	loop   *coordinator.Loop // never changed
	logger *slog.Logger      // never changed

	// Owned by the loop.
	txns        map[string]*txnMeta
	lastExpiry  time.Time // last removal of expired transactional ids
	retryWrites int       // completions waiting to be written again (tests)
}

var _ coordinator.Shard = (*shard)(nil)

func newShard(c *Coordinator, l *coordinator.Loop) *shard {
	return &shard{c: c, loop: l, logger: l.Logger(), txns: make(map[string]*txnMeta), lastExpiry: c.cfg.Now()}
}

func (s *shard) now() int64 { return s.c.cfg.Now().UnixMilli() }

// Replay applies one record read at load. __transaction_state holds no
// transactional batches or markers: producer ids are ignored.
func (s *shard) Replay(r coordinator.ReplayRecord) error {
	offset := r.Offset
	id, err := DecodeKey(r.Key)
	if err == nil {
		var m *Metadata
		if m, err = DecodeValue(r.Value); err == nil {
			if m == nil {
				delete(s.txns, id)
			} else {
				s.txns[id] = newTxnMeta(id, m)
			}
			return nil
		}
	}
	if errors.Is(err, ErrUnknownVersion) {
		// As Kafka: a newer version's record, skipped.
		s.logger.Warn("skipping __transaction_state record of an unknown version", "offset", offset, "err", err)
		return nil
	}
	return fmt.Errorf("offset %d: %w", offset, err)
}

// Loaded finishes what the previous coordinator left prepared: the markers
// of every transaction in PrepareCommit or PrepareAbort are sent again.
// Ongoing transactions keep their timeouts (Tick aborts them).
func (s *shard) Loaded() {
	n := 0
	for _, t := range s.txns {
		if preparing(t.State) {
			s.sendMarkers(t)
			n++
		}
	}
	s.logger.Debug("restored transactions", "transactional_ids", len(s.txns), "completing", n)
}

// Tick aborts timed-out transactions and, every RemoveExpiredInterval,
// removes expired transactional ids.
func (s *shard) Tick() {
	s.abortTimedOut()
	if now := s.c.cfg.Now(); now.Sub(s.lastExpiry) >= s.c.cfg.RemoveExpiredInterval {
		s.lastExpiry = now
		s.removeExpired()
	}
}

// write logs next as t's new state and applies it once committed; done
// gets the write's error. Another transition of t waits (its callers
// answer CONCURRENT_TRANSACTIONS) until this one completes.
func (s *shard) write(t *txnMeta, next Metadata, done func(error)) {
	t.writing, t.pending = true, next.State
	rec := coordinator.Record{Key: EncodeKey(t.id), Value: EncodeValue(&next, s.c.flexible())}
	s.loop.Write([]coordinator.Record{rec}, func(err error) {
		t.writing = false
		if err == nil {
			t.Metadata = next
		} else {
			s.logger.Warn("writing transaction state failed", "transactional_id", t.id, "state", next.State, "err", err)
		}
		done(err)
	})
}

// endTxn writes PrepareCommit or PrepareAbort at epoch (with nextPID and
// tv as prepareEnd takes them), answers prepared, then sends the markers;
// their acknowledgement completes the transaction.
func (s *shard) endTxn(t *txnMeta, commit bool, epoch int16, nextPID int64, tv int16, prepared func(error)) {
	next := t.prepareEnd(commit, epoch, nextPID, tv, s.now())
	fence := epoch != t.ProducerEpoch
	s.write(t, next, func(err error) {
		if err != nil {
			prepared(err)
			return
		}
		if fence {
			t.lastProducerEpoch = noEpoch
		}
		prepared(nil)
		s.sendMarkers(t)
	})
}

// sendMarkers hands t's markers to the marker manager; once every partition
// has its marker the transaction is completed.
func (s *shard) sendMarkers(t *txnMeta) {
	if t.markersPending || failpoint.Inject(failpoint.TxnBeforeMarkers) {
		return
	}
	t.markersPending = true
	pid, epoch, state := t.ProducerID, t.ProducerEpoch, t.State
	sent := time.Now()
	j := &markerJob{
		id: t.id, pid: pid, epoch: epoch, coordEpoch: s.loop.LeaderEpoch(),
		commit: state == kmsg.TransactionStatePrepareCommit,
		stale:  func() bool { return s.loop.Status() == coordinator.Stopped },
	}
	j.done = func() {
		if failpoint.Inject(failpoint.TxnAfterMarkers) {
			return
		}
		// NB: fails only when the loop stopped; the next coordinator
		// sends the markers again.
		_ = s.loop.Submit(s.c.runCtx(), func() {
			s.logger.Debug("transaction markers written", "transactional_id", t.id, "took", time.Since(sent))
			t.markersPending = false
			s.complete(t, pid, epoch, state)
		})
	}
	s.c.markers.send(j, t.Partitions)
}

// completeRetryKey is the timer of a completion whose write failed.
type completeRetryKey struct{ id string }

// complete writes CompleteCommit or CompleteAbort for t once its markers
// are written, unless t moved on meanwhile. A failed write is retried
// while this coordinator serves the partition.
func (s *shard) complete(t *txnMeta, pid int64, epoch int16, state kmsg.TransactionState) {
	if s.txns[t.id] != t || t.ProducerID != pid || t.ProducerEpoch != epoch || t.State != state {
		return
	}
	if t.writing {
		s.loop.AfterPendingWrites(func() { s.complete(t, pid, epoch, state) })
		return
	}
	s.write(t, t.prepareComplete(s.now()), func(err error) {
		if err == nil {
			done := t.completed
			t.completed = nil
			for _, fn := range done {
				fn()
			}
			return
		}
		s.retryWrites++
		s.loop.Schedule(completeRetryKey{t.id}, s.c.cfg.MarkerRetryBackoff, func() {
			s.retryWrites--
			s.complete(t, pid, epoch, state)
		})
	})
}

// abortTimedOut aborts every ongoing transaction older than its timeout,
// at a new epoch so that its producer is fenced (Kafka's
// abortTimedOutTransactions).
func (s *shard) abortTimedOut() {
	now := s.now()
	for _, t := range s.txns {
		if t.State != kmsg.TransactionStateOngoing || t.writing || t.StartTimestamp+int64(t.TimeoutMs) > now {
			continue
		}
		epoch, err := t.fenceEpoch()
		if err != nil {
			s.logger.Warn("cannot abort timed-out transaction", "transactional_id", t.id, "err", err)
			continue
		}
		nextPID := int64(-1)
		if t.ClientTransactionVersion >= 2 && epochExhausted(t.ProducerEpoch) {
			// Version 2: the producer goes on after the abort (its
			// EndTxn(abort) is answered as a retry), so an exhausted
			// epoch rotates the producer id as a client's end does.
			if t.sparePID < 0 {
				s.allocateSparePID(t)
				continue
			}
			nextPID, t.sparePID = t.sparePID, -1
		}
		s.logger.Info("aborting timed-out transaction", "transactional_id", t.id, "producer_id", t.ProducerID,
			"producer_epoch", t.ProducerEpoch, "timeout_ms", t.TimeoutMs)
		s.endTxn(t, false, epoch, nextPID, t.ClientTransactionVersion, func(error) {})
	}
}

// allocateSparePID gets a producer id for t off the loop (the allocation
// may ask the controller); the next Tick uses it.
func (s *shard) allocateSparePID(t *txnMeta) {
	if t.allocating {
		return
	}
	t.allocating = true
	ctx := s.c.runCtx()
	// NB: owned by Coordinator.Run (c.bg); it ends with ctx at the latest.
	s.c.bg.Go(func() {
		pid, err := s.c.cfg.ProducerIDs(ctx)
		// NB: fails only when the loop stopped.
		_ = s.loop.Submit(ctx, func() {
			t.allocating = false
			if err != nil {
				s.logger.Warn("allocating a producer id for a timed-out transaction failed", "transactional_id", t.id, "err", err)
				return
			}
			t.sparePID = pid
		})
	})
}

// removeExpired forgets transactional ids idle for IDExpiration: a
// tombstone is written, then the id is dropped (Kafka's
// removeExpiredTransactionalIds).
func (s *shard) removeExpired() {
	now := s.now()
	limit := s.c.cfg.IDExpiration.Milliseconds()
	for id, t := range s.txns {
		if !quiet(t.State) || t.writing || t.LastUpdateTimestamp+limit > now {
			continue
		}
		t.writing, t.pending = true, kmsg.TransactionStateDead
		s.loop.Write([]coordinator.Record{{Key: EncodeKey(id)}}, func(err error) {
			t.writing = false
			if err != nil {
				s.logger.Warn("removing expired transactional id failed", "transactional_id", id, "err", err)
				return
			}
			if s.txns[id] == t {
				delete(s.txns, id)
			}
		})
	}
}
