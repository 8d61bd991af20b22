package txn

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The transitions requests ask for, run on the shard's loop. Each checks
// the request against the state as Kafka's TransactionCoordinator does,
// then writes the new state and answers once it is committed.

func errConcurrent(t *txnMeta) error {
	return fmt.Errorf("%w: transactional id %q is in state %s", kerr.ConcurrentTransactions, t.id, t.State)
}

// producerMismatch checks a request's producer id and epoch against t.
func producerMismatch(t *txnMeta, pe ProducerIDAndEpoch) error {
	if t.ProducerID != pe.ID {
		return fmt.Errorf("%w: transactional id %q has producer id %d, not %d", kerr.InvalidProducerIDMapping, t.id, t.ProducerID, pe.ID)
	}
	if t.ProducerEpoch != pe.Epoch {
		return fmt.Errorf("%w: producer %d epoch %d, the coordinator has %d", kerr.ProducerFenced, pe.ID, pe.Epoch, t.ProducerEpoch)
	}
	return nil
}

func (s *shard) initProducerID(id string, timeoutMs int32, expected *ProducerIDAndEpoch, newPID int64, reply func(initResult)) {
	fail := func(err error) { reply(initResult{err: err}) }
	now := s.now()
	t := s.txns[id]
	if t == nil {
		if newPID < 0 {
			reply(initResult{needPID: true})
			return
		}
		t = newTxnMeta(id, &Metadata{
			ProducerID: newPID, ProducerEpoch: noEpoch, PreviousProducerID: -1, NextProducerID: -1, NextProducerEpoch: -1,
			TimeoutMs: timeoutMs, State: kmsg.TransactionStateEmpty, LastUpdateTimestamp: now, StartTimestamp: -1,
		})
		s.txns[id] = t
		newPID = -1
	}
	if t.writing {
		fail(errConcurrent(t))
		return
	}
	if expected != nil && !t.validProducerID(expected.ID, expected.Epoch) {
		fail(fmt.Errorf("%w: producer %d epoch %d is not the current producer %d of %q", kerr.ProducerFenced, expected.ID, expected.Epoch, t.ProducerID, id))
		return
	}
	switch {
	case quiet(t.State):
		var next Metadata
		var last int16
		if epochExhausted(t.ProducerEpoch) && (expected == nil || expected.Epoch == t.ProducerEpoch) {
			if newPID < 0 {
				reply(initResult{needPID: true})
				return
			}
			next, last = t.prepareRotateID(newPID, timeoutMs, now, expected != nil)
		} else {
			var err error
			var exp int16 = noEpoch
			if expected != nil {
				exp = expected.Epoch
			}
			if next, last, err = t.prepareIncrementEpoch(timeoutMs, exp, expected != nil, now); err != nil {
				fail(err)
				return
			}
		}
		s.write(t, next, func(err error) {
			if err != nil {
				fail(err)
				return
			}
			t.lastProducerEpoch = last
			reply(initResult{pe: ProducerIDAndEpoch{ID: t.ProducerID, Epoch: t.ProducerEpoch}})
		})
	case t.State == kmsg.TransactionStateOngoing:
		// A new producer of the id: abort the old one's transaction at a
		// new epoch (fencing it) and have the client retry; the retry
		// bumps the epoch again once the abort completed.
		epoch, err := t.fenceEpoch()
		if err != nil {
			fail(err)
			return
		}
		s.logger.Info("fencing producer and aborting its transaction", "transactional_id", id, "producer_id", t.ProducerID, "producer_epoch", t.ProducerEpoch)
		s.endTxn(t, false, epoch, -1, t.ClientTransactionVersion, func(err error) {
			if err == nil {
				err = errConcurrent(t)
			}
			fail(err)
		})
	default: // preparing: the end in progress must complete first
		fail(errConcurrent(t))
	}
}

func (s *shard) addPartitions(id string, pe ProducerIDAndEpoch, parts []Partition, tv int16, reply func(error)) {
	t := s.txns[id]
	if t == nil {
		reply(fmt.Errorf("%w: transactional id %q is unknown", kerr.InvalidProducerIDMapping, id))
		return
	}
	if err := producerMismatch(t, pe); err != nil {
		reply(err)
		return
	}
	if t.writing && t.pending == kmsg.TransactionStateOngoing {
		// Another add of this transaction is being written (franz-go
		// adds the partitions of each broker with its own request, all at
		// once): wait for it rather than answer CONCURRENT_TRANSACTIONS,
		// which costs the client a backoff.
		s.loop.AfterPendingWrites(func() { s.addPartitions(id, pe, parts, tv, reply) })
		return
	}
	if t.writing || preparing(t.State) {
		reply(errConcurrent(t))
		return
	}
	if t.State == kmsg.TransactionStateOngoing {
		all := true
		for _, p := range parts {
			if !t.hasPartition(p) {
				all = false
				break
			}
		}
		if all {
			reply(nil)
			return
		}
	}
	s.write(t, t.prepareAddPartitions(parts, tv, s.now()), reply)
}

func (s *shard) verifyPartitions(id string, pe ProducerIDAndEpoch, parts []Partition) (map[Partition]error, error) {
	t := s.txns[id]
	if t == nil {
		return nil, fmt.Errorf("%w: transactional id %q is unknown", kerr.InvalidProducerIDMapping, id)
	}
	if err := producerMismatch(t, pe); err != nil {
		return nil, err
	}
	if preparing(t.State) {
		return nil, errConcurrent(t)
	}
	per := make(map[Partition]error, len(parts))
	for _, p := range parts {
		if t.State != kmsg.TransactionStateOngoing || !t.hasPartition(p) {
			per[p] = fmt.Errorf("%w: %s-%d is not in the transaction of %q", kerr.InvalidTxnState, p.Topic, p.Partition, id)
			continue
		}
		per[p] = nil
	}
	return per, nil
}

// endTxnFromClient checks an EndTxn against t as Kafka's
// handleEndTransaction does and ends the transaction. tv is the request's
// transaction version (2 for EndTxn v5+); t.ClientTransactionVersion, the
// version of the transaction's last transition, decides what a retry
// looks like. newPID is a fresh producer id for a version-2 end that must
// rotate (-1: none yet; the reply asks for one).
func (s *shard) endTxnFromClient(id string, pe ProducerIDAndEpoch, commit bool, tv int16, newPID int64, reply func(endResult)) {
	fail := func(err error) { reply(endResult{err: err}) }
	t := s.txns[id]
	if t == nil {
		fail(fmt.Errorf("%w: transactional id %q is unknown", kerr.InvalidProducerIDMapping, id))
		return
	}
	current := func() { reply(endResult{pe: ProducerIDAndEpoch{ID: t.ProducerID, Epoch: t.ProducerEpoch}}) }
	// With version 2 every end bumps the epoch, so a retry of an end that
	// happened carries the epoch before the bump (or, when the end
	// rotated the producer id, the previous id at the last epoch).
	v2 := t.ClientTransactionVersion >= 2
	retryOnOverflow := v2 && pe.ID == t.PreviousProducerID && pe.Epoch == maxEpoch-1 && t.ProducerEpoch == 0
	retryOnBump := v2 && pe.ID == t.ProducerID && pe.Epoch == t.ProducerEpoch-1
	retry := retryOnOverflow || retryOnBump
	if t.ProducerID != pe.ID && !retryOnOverflow {
		fail(fmt.Errorf("%w: transactional id %q has producer id %d, not %d", kerr.InvalidProducerIDMapping, t.id, t.ProducerID, pe.ID))
		return
	}
	validEpoch := pe.Epoch == t.ProducerEpoch
	if v2 && (preparing(t.State) || t.State == kmsg.TransactionStateCompleteCommit || t.State == kmsg.TransactionStateCompleteAbort) {
		validEpoch = validEpoch || retry
	}
	if !validEpoch {
		fail(fmt.Errorf("%w: producer %d epoch %d, the coordinator has %d", kerr.ProducerFenced, pe.ID, pe.Epoch, t.ProducerEpoch))
		return
	}
	if t.writing {
		fail(errConcurrent(t))
		return
	}
	invalid := func() {
		fail(fmt.Errorf("%w: %s of transactional id %q in state %s", kerr.InvalidTxnState, endName(commit), id, t.State))
	}
	end := func() {
		if tv < 2 {
			s.endTxnAndWait(t, commit, t.ProducerEpoch, -1, tv, func(err error) { reply(endResult{pe: pe, err: err}) })
			return
		}
		if t.ProducerEpoch == maxEpoch {
			// Only a fence leaves an epoch here, and the next
			// InitProducerId rotates the producer id.
			fail(fmt.Errorf("%w: producer %d epoch %d cannot be bumped", kerr.ProducerFenced, t.ProducerID, t.ProducerEpoch))
			return
		}
		next := int64(-1)
		if epochExhausted(t.ProducerEpoch) {
			if newPID < 0 {
				reply(endResult{needPID: true})
				return
			}
			next = newPID
		}
		s.endTxnAndWait(t, commit, t.ProducerEpoch+1, next, 2, func(err error) {
			if err != nil {
				fail(err)
				return
			}
			// The producer goes on as the completed state has it: the
			// bumped epoch, or the next producer id at epoch 0.
			// (Prepared: NextProducerID is set when rotating; complete:
			// the id and epoch are the new ones.)
			npe := ProducerIDAndEpoch{ID: t.ProducerID, Epoch: t.ProducerEpoch}
			if t.NextProducerID >= 0 {
				npe = ProducerIDAndEpoch{ID: t.NextProducerID, Epoch: 0}
			}
			reply(endResult{pe: npe})
		})
	}
	switch t.State {
	case kmsg.TransactionStateOngoing:
		end()
	case kmsg.TransactionStateCompleteCommit, kmsg.TransactionStateCompleteAbort:
		same := commit == (t.State == kmsg.TransactionStateCompleteCommit)
		switch {
		case tv < 2 && !v2:
			// A retry of the end that completed: success if it asks for
			// the same outcome.
			if same {
				current()
				return
			}
			invalid()
		case retry:
			if same {
				current()
				return
			}
			invalid()
		case !commit && tv >= 2:
			// Version 2 allows aborting with no transaction ongoing
			// (the client cannot know whether a produce added a
			// partition); it bumps the epoch like any end.
			end()
		default:
			invalid()
		}
	case kmsg.TransactionStateEmpty:
		if !commit && tv >= 2 {
			end()
			return
		}
		invalid()
	case kmsg.TransactionStatePrepareCommit, kmsg.TransactionStatePrepareAbort:
		if commit == (t.State == kmsg.TransactionStatePrepareCommit) {
			fail(errConcurrent(t))
			return
		}
		invalid()
	default:
		invalid()
	}
}

// endTxnAndWait prepares the end and answers once the transaction is
// complete or endReplyWait after the end is prepared, whichever is first.
//
// NB: Kafka answers once PrepareCommit/PrepareAbort is logged. The answer
// waits a little longer here, for the markers and the completion (a few
// milliseconds when the leaders are healthy): a client's next
// AddPartitionsToTxn then finds the transaction complete instead of
// CONCURRENT_TRANSACTIONS and a backoff (franz-go and the Java client
// sleep 20 ms). It never waits past endReplyWait: markers to an
// unavailable leader keep being sent after the answer, as in Kafka.
func (s *shard) endTxnAndWait(t *txnMeta, commit bool, epoch int16, nextPID int64, tv int16, reply func(error)) {
	s.endTxn(t, commit, epoch, nextPID, tv, func(err error) {
		if err != nil {
			reply(err)
			return
		}
		s.loop.Schedule(endReplyKey{t.id}, endReplyWait, func() { reply(nil) })
		t.completed = append(t.completed, func() {
			s.loop.CancelTimer(endReplyKey{t.id})
			reply(nil)
		})
	})
}

// endReplyWait bounds how long EndTxn's answer waits for the markers once
// the end is prepared.
const endReplyWait = 50 * time.Millisecond

// endReplyKey is the timer of an EndTxn answer waiting for completion.
type endReplyKey struct{ id string }

func endName(commit bool) string {
	if commit {
		return "commit"
	}
	return "abort"
}
