package txn

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// noEpoch is Kafka's RecordBatch.NO_PRODUCER_EPOCH.
const noEpoch int16 = -1

// maxEpoch is the highest producer epoch.
const maxEpoch int16 = 1<<15 - 1

// epochExhausted reports whether epoch leaves no room for the bump a fence
// needs, as Kafka's TransactionMetadata.isEpochExhausted: the last two
// epochs are kept for it.
func epochExhausted(epoch int16) bool { return epoch >= maxEpoch-1 }

// txnMeta is the coordinator's state of one transactional id: what the
// log says (Metadata) plus what lives only in memory. Owned by its shard's
// loop.
type txnMeta struct {
	id string
	Metadata
	// lastProducerEpoch is the epoch before the last InitProducerId bump,
	// so that a retry of that bump gets the same answer (KIP-360). Not
	// logged: -1 after a load, as in Kafka.
	lastProducerEpoch int16
	// pending is the state a transition being written moves to; none
	// (writing false) lets another start. Kafka's pendingState.
	pending        kmsg.TransactionState
	writing        bool
	markersPending bool // markers of the prepared end are being sent
	// sparePID is a producer id allocated for the rotation of a
	// timed-out version-2 transaction whose epoch is exhausted (-1:
	// none); allocating is set while one is being allocated.
	sparePID   int64
	allocating bool
	// completed run once the prepared end is complete (its markers
	// written and Complete* logged), or when the shard stops (never).
	completed []func()
}

func newTxnMeta(id string, m *Metadata) *txnMeta {
	return &txnMeta{id: id, Metadata: *m, lastProducerEpoch: noEpoch, sparePID: -1}
}

// hasPartition reports whether p is in the transaction.
func (t *txnMeta) hasPartition(p Partition) bool {
	return slices.Contains(t.Partitions, p)
}

// snapshot returns a copy of the logged state to change for a transition.
func (t *txnMeta) snapshot() Metadata {
	m := t.Metadata
	m.Partitions = slices.Clone(t.Partitions)
	return m
}

// validProducerID reports whether a request naming (pid, epoch) in
// InitProducerId may go on to the epoch checks (Kafka's
// isValidProducerId): the state was just created, the id is the current
// one, or it is the previous one and that epoch was exhausted (a retry of
// the bump that rotated the id).
func (t *txnMeta) validProducerID(pid int64, epoch int16) bool {
	return t.ProducerEpoch == noEpoch || pid == t.ProducerID ||
		(pid == t.PreviousProducerID && epochExhausted(epoch))
}

// prepareIncrementEpoch is InitProducerId's bump from a quiet state
// (Kafka's prepareIncrementProducerEpoch): expected is the epoch the
// producer says it has, or noEpoch when it says none. A retry of the last
// bump gets the same epoch again.
func (t *txnMeta) prepareIncrementEpoch(timeoutMs int32, expected int16, hasExpected bool, now int64) (Metadata, int16, error) {
	if epochExhausted(t.ProducerEpoch) {
		return Metadata{}, 0, fmt.Errorf("%w: producer %d epoch %d exhausted", kerr.InvalidTxnState, t.ProducerID, t.ProducerEpoch)
	}
	next, last := t.ProducerEpoch+1, t.ProducerEpoch
	if hasExpected && t.ProducerEpoch != noEpoch && expected != t.ProducerEpoch {
		if expected != t.lastProducerEpoch {
			return Metadata{}, 0, fmt.Errorf("%w: producer %d epoch %d, the coordinator has %d", kerr.ProducerFenced, t.ProducerID, expected, t.ProducerEpoch)
		}
		next, last = t.ProducerEpoch, t.lastProducerEpoch // retried bump
	}
	m := t.snapshot()
	m.ProducerEpoch, m.TimeoutMs, m.State = next, timeoutMs, kmsg.TransactionStateEmpty
	m.Partitions, m.StartTimestamp, m.LastUpdateTimestamp = nil, -1, now
	return m, last, nil
}

// prepareRotateID gives the transactional id a new producer id at epoch 0
// once its epoch is exhausted (Kafka's prepareProducerIdRotation).
func (t *txnMeta) prepareRotateID(newPID int64, timeoutMs int32, now int64, recordLast bool) (Metadata, int16) {
	m := t.snapshot()
	m.PreviousProducerID = -1
	if recordLast {
		m.PreviousProducerID = t.ProducerID
	}
	m.ProducerID, m.ProducerEpoch, m.TimeoutMs, m.State = newPID, 0, timeoutMs, kmsg.TransactionStateEmpty
	m.Partitions, m.StartTimestamp, m.LastUpdateTimestamp = nil, -1, now
	return m, noEpoch
}

// fenceEpoch is the epoch an ongoing transaction is aborted at so that its
// producer is fenced (Kafka's prepareFenceProducerEpoch). Kafka's
// PrepareEpochFence state is never logged: the abort writes PrepareAbort
// at the new epoch, and memory changes only once that write committed, so
// a failed attempt leaves nothing to undo.
func (t *txnMeta) fenceEpoch() (int16, error) {
	if t.ProducerEpoch == maxEpoch {
		return 0, fmt.Errorf("%w: producer %d epoch %d cannot be fenced", kerr.InvalidTxnState, t.ProducerID, t.ProducerEpoch)
	}
	return t.ProducerEpoch + 1, nil
}

// prepareAddPartitions adds parts to the transaction, starting it when
// none is ongoing (Kafka's prepareAddPartitions); tv is the transaction
// version of the producer that adds.
func (t *txnMeta) prepareAddPartitions(parts []Partition, tv int16, now int64) Metadata {
	m := t.snapshot()
	m.ClientTransactionVersion = tv
	switch t.State {
	case kmsg.TransactionStateEmpty, kmsg.TransactionStateCompleteCommit, kmsg.TransactionStateCompleteAbort:
		m.StartTimestamp = now
		m.Partitions = nil
	}
	for _, p := range parts {
		if !slices.Contains(m.Partitions, p) {
			m.Partitions = append(m.Partitions, p)
		}
	}
	m.State, m.LastUpdateTimestamp = kmsg.TransactionStateOngoing, now
	return m
}

// prepareEnd moves a transaction to PrepareCommit or PrepareAbort at
// epoch (Kafka's prepareAbortOrCommit). Transaction version 2 bumps the
// epoch on every end, and when the epoch is exhausted nextPID is the
// producer id the transaction completes with (-1: none); it may end a
// transaction that added no partition (an abort), whose start is then
// now.
func (t *txnMeta) prepareEnd(commit bool, epoch int16, nextPID int64, tv int16, now int64) Metadata {
	m := t.snapshot()
	m.ProducerEpoch, m.NextProducerID, m.NextProducerEpoch, m.ClientTransactionVersion = epoch, nextPID, noEpoch, tv
	if t.State != kmsg.TransactionStateOngoing {
		m.Partitions, m.StartTimestamp = nil, now
	}
	m.State = kmsg.TransactionStatePrepareAbort
	if commit {
		m.State = kmsg.TransactionStatePrepareCommit
	}
	m.LastUpdateTimestamp = now
	return m
}

// prepareComplete moves a prepared transaction to CompleteCommit or
// CompleteAbort once its markers are written everywhere; an end that
// rotated the producer id completes with the next id at epoch 0, and the
// old one becomes the previous id (a retry of the end may name it).
func (t *txnMeta) prepareComplete(now int64) Metadata {
	m := t.snapshot()
	if t.NextProducerID >= 0 {
		m.PreviousProducerID, m.ProducerID, m.ProducerEpoch = t.ProducerID, t.NextProducerID, 0
		m.NextProducerID, m.NextProducerEpoch = -1, noEpoch
	}
	m.State = kmsg.TransactionStateCompleteAbort
	if t.State == kmsg.TransactionStatePrepareCommit {
		m.State = kmsg.TransactionStateCompleteCommit
	}
	m.Partitions, m.LastUpdateTimestamp = nil, now
	return m
}

// quiet reports whether the transactional id has no transaction in
// progress.
func quiet(s kmsg.TransactionState) bool {
	switch s {
	case kmsg.TransactionStateEmpty, kmsg.TransactionStateCompleteCommit, kmsg.TransactionStateCompleteAbort:
		return true
	}
	return false
}

// preparing reports whether s waits for its markers.
func preparing(s kmsg.TransactionState) bool {
	return s == kmsg.TransactionStatePrepareCommit || s == kmsg.TransactionStatePrepareAbort
}
