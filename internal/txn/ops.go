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
		s.endTxn(t, false, epoch, func(err error) {
			if err == nil {
				err = errConcurrent(t)
			}
			fail(err)
		})
	default: // preparing: the end in progress must complete first
		fail(errConcurrent(t))
	}
}

func (s *shard) addPartitions(id string, pe ProducerIDAndEpoch, parts []Partition, reply func(error)) {
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
		s.loop.AfterPendingWrites(func() { s.addPartitions(id, pe, parts, reply) })
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
	s.write(t, t.prepareAddPartitions(parts, s.now()), reply)
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

func (s *shard) endTxnFromClient(id string, pe ProducerIDAndEpoch, commit bool, reply func(error)) {
	t := s.txns[id]
	if t == nil {
		reply(fmt.Errorf("%w: transactional id %q is unknown", kerr.InvalidProducerIDMapping, id))
		return
	}
	if err := producerMismatch(t, pe); err != nil {
		reply(err)
		return
	}
	if t.writing {
		reply(errConcurrent(t))
		return
	}
	invalid := func() {
		reply(fmt.Errorf("%w: %s of transactional id %q in state %s", kerr.InvalidTxnState, endName(commit), id, t.State))
	}
	switch t.State {
	case kmsg.TransactionStateOngoing:
		// NB: Kafka answers once PrepareCommit/PrepareAbort is logged. The
		// answer waits a little longer here, for the markers and the
		// completion (a few milliseconds when the leaders are healthy):
		// a client's next AddPartitionsToTxn then finds the transaction
		// complete instead of CONCURRENT_TRANSACTIONS and a backoff
		// (franz-go and the Java client sleep 20 ms). It never waits past
		// endReplyWait: markers to an unavailable leader keep being sent
		// after the answer, as in Kafka.
		s.endTxn(t, commit, t.ProducerEpoch, func(err error) {
			if err != nil {
				reply(err)
				return
			}
			s.loop.Schedule(endReplyKey{id}, endReplyWait, func() { reply(nil) })
			t.completed = append(t.completed, func() {
				s.loop.CancelTimer(endReplyKey{id})
				reply(nil)
			})
		})
	case kmsg.TransactionStateCompleteCommit, kmsg.TransactionStateCompleteAbort:
		// A retry of the end that completed: success if it asks for the
		// same outcome.
		if commit == (t.State == kmsg.TransactionStateCompleteCommit) {
			reply(nil)
			return
		}
		invalid()
	case kmsg.TransactionStatePrepareCommit, kmsg.TransactionStatePrepareAbort:
		if commit == (t.State == kmsg.TransactionStatePrepareCommit) {
			reply(errConcurrent(t))
			return
		}
		invalid()
	default:
		invalid()
	}
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
