package storage

import (
	"fmt"
	"sort"
	"time"
)

// AppendControlAsLeader appends the transaction marker that ends producer
// producerID's ongoing transaction (commit or abort), as the transaction
// coordinator's WriteTxnMarkers asks the partition leader: one control
// batch whose record carries the marker and coordinatorEpoch. A marker
// with a producer epoch older than the log's gives ErrProducerFenced, one
// from an older coordinator epoch ErrCoordinatorFenced. A marker for a
// producer with no ongoing transaction is appended and changes only the
// producer's epochs. An ABORT marker adds the transaction to the segment's
// aborted-transaction index.
func (l *Log) AppendControlAsLeader(producerID int64, producerEpoch int16, coordinatorEpoch int32, commit bool, leaderEpoch int32, now time.Time) (AppendInfo, error) {
	batch, err := buildControlBatch(producerID, producerEpoch, coordinatorEpoch, commit, now.UnixMilli())
	if err != nil {
		return AppendInfo{FirstOffset: -1, LastOffset: -1, LogAppendTime: -1, LogStartOffset: -1}, fmt.Errorf("build transaction marker: %w", err)
	}
	return l.AppendAsLeader(batch, leaderEpoch, now)
}

// HasOngoingTxn reports whether producer producerID has an ongoing
// transaction on this log in epoch producerEpoch (Kafka's
// hasOngoingTransaction): its transactional batches need no verification.
func (l *Log) HasOngoingTxn(producerID int64, producerEpoch int16) bool {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	e := l.producers.producers[producerID]
	return e != nil && e.CurrentTxnFirstOffset >= 0 && e.Epoch == producerEpoch
}

// StartTxnVerification begins a transaction verification of producer
// producerID in producerEpoch (KIP-890 part 1, Kafka's
// maybeStartTransactionVerification): it returns nil when the producer has
// an ongoing transaction in that epoch here (nothing to verify), else the
// guard to hand to AppendVerifiedAsLeader once the coordinator confirmed
// the partition. A verification already in progress in the same epoch is
// shared (concurrent produces of one producer); one in another epoch is
// replaced, which fails appends holding the old guard. Guards go when a
// marker or transaction start of the producer is appended, when the
// producer state is reloaded, and after producer.id.expiration.ms.
func (l *Log) StartTxnVerification(producerID int64, producerEpoch int16, now time.Time) *VerificationGuard {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	s := l.producers
	if e := s.producers[producerID]; e != nil && e.CurrentTxnFirstOffset >= 0 && e.Epoch == producerEpoch {
		return nil
	}
	if g := s.verifying[producerID]; g != nil && g.epoch == producerEpoch {
		return g
	}
	if s.verifying == nil {
		s.verifying = make(map[int64]*VerificationGuard)
	}
	g := &VerificationGuard{producerID: producerID, epoch: producerEpoch, startedMs: now.UnixMilli()}
	s.verifying[producerID] = g
	return g
}

// FirstUnstableOffset returns the first offset of the oldest ongoing
// transaction, -1 if there is none.
func (l *Log) FirstUnstableOffset() int64 { return l.firstUnstable.Load() }

// LastStableOffset returns the offset below which every transaction is
// decided, given the partition's high watermark: the smaller of the high
// watermark and the first unstable offset (KIP-98). read_committed fetches
// stop there.
func (l *Log) LastStableOffset(highWatermark int64) int64 {
	if fu := l.firstUnstable.Load(); fu >= 0 && fu < highWatermark {
		return fu
	}
	return highWatermark
}

// publishTxnsLocked records what an append's producer-state commit
// completed: the aborted transactions go to the active segment's index
// (which holds their markers) and the first unstable offset is published.
// The caller holds appendMu.
func (l *Log) publishTxnsLocked(aborted []AbortedTxn) {
	if len(aborted) > 0 {
		l.mu.Lock()
		l.active.txns = append(l.active.txns, aborted...)
		l.mu.Unlock()
	}
	l.firstUnstable.Store(l.producers.firstUnstableOffset())
}

// AbortedTransactions returns the aborted transactions that overlap
// [fetchOffset, upperBound): those whose marker is at or above fetchOffset
// and whose first offset is below upperBound, oldest marker first. It reads
// the indexes of the segment holding fetchOffset and later ones until an
// entry's last stable offset reaches upperBound (Kafka's
// collectAbortedTransactions). A read_committed fetch passes its fetch
// offset and the end of what it returns.
func (l *Log) AbortedTransactions(fetchOffset, upperBound int64) ([]AbortedTxn, error) {
	l.mu.RLock()
	if l.mu.closed {
		l.mu.RUnlock()
		return nil, ErrLogClosed
	}
	segs := l.mu.segments
	first := max(sort.Search(len(segs), func(i int) bool { return segs[i].base > fetchOffset })-1, 0)
	views := make([]segView, 0, len(segs)-first)
	// NB: segments at or above upperBound are searched too: they can hold
	// the marker of a transaction that began below it.
	for _, s := range segs[first:] {
		views = append(views, s.viewLocked())
	}
	l.mu.RUnlock()

	var out []AbortedTxn
	for i := range views {
		v := &views[i]
		entries := v.txns
		if v.sealed {
			if v.txnCount == 0 {
				continue
			}
			var err error
			if entries, err = v.seg.readTxnIndex(v.next); err != nil {
				return nil, err
			}
		}
		var done bool
		if out, done = collectAbortedTxns(out, entries, fetchOffset, upperBound); done {
			break
		}
	}
	return out, nil
}

// ProducerInfo is one active producer of a log, as DescribeProducers
// shows it (KIP-664).
type ProducerInfo struct {
	ProducerID            int64
	ProducerEpoch         int16
	LastSequence          int32 // -1 if none in the current epoch
	LastTimestamp         int64 // unix ms of its latest batch, -1 if none
	CoordinatorEpoch      int32 // of its last transaction marker, -1 if none
	CurrentTxnStartOffset int64 // first offset of its ongoing transaction, -1 if none
}

// ActiveProducers returns the producers the log remembers (those not yet
// expired by producer.id.expiration.ms), by producer id.
func (l *Log) ActiveProducers() []ProducerInfo {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	out := make([]ProducerInfo, 0, len(l.producers.producers))
	for _, e := range l.producers.producers {
		out = append(out, ProducerInfo{
			ProducerID: e.ProducerID, ProducerEpoch: e.Epoch, LastSequence: e.lastSeq(),
			LastTimestamp: e.LastTimestamp, CoordinatorEpoch: e.CoordinatorEpoch,
			CurrentTxnStartOffset: e.CurrentTxnFirstOffset,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ProducerID < out[j].ProducerID })
	return out
}
