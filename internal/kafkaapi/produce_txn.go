package kafkaapi

// Transactional produce (KIP-98), its verification (KIP-890 part 1) and,
// from Produce v12, the implicit add of its partitions to the transaction
// (KIP-890 part 2, transaction version 2).
// A produce with a transactional id carries the transactional batches of
// one producer. Before a transactional batch may start a transaction on a
// partition (its producer has none ongoing there in its epoch), the
// leader asks the transaction coordinator whether the partition is in the
// producer's ongoing transaction (TxnVerifier: AddPartitionsToTxn v4+
// verify-only) and appends only if so; from Produce v12 (a client at
// transaction version 2, which sends no AddPartitionsToTxn) it asks the
// coordinator to add the partition instead (AddPartitionsToTxn v5
// without VerifyOnly, Kafka's AddPartitionsToTxnManager "addPartition"
// operation), starting the transaction if none is ongoing; v11 and below
// keep verify-only. A storage.VerificationGuard taken
// before asking makes the append fail if a marker ended the transaction
// meanwhile. All the partitions of one request are verified with one call.
// Without a TxnVerifier the batches are appended unverified.
//
// Codes, as Kafka's ReplicaManager and AddPartitionsToTxnManager give them
// to a producer: INVALID_TXN_STATE ("Partition was not added to the
// transaction") when the coordinator says no; PRODUCER_FENCED from the
// coordinator becomes INVALID_PRODUCER_EPOCH; TRANSACTION_ABORTABLE
// becomes INVALID_TXN_STATE below Produce v11, which introduced it;
// NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS,
// CONCURRENT_TRANSACTIONS and a coordinator that cannot be reached
// (NETWORK_EXCEPTION) become NOT_ENOUGH_REPLICAS, which every client
// retries without refreshing metadata. A transactional batch without a
// transactional id fails the whole request with
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED, batches of two producers with
// INVALID_PRODUCER_ID_MAPPING.
//
// Difference from Kafka: an acks=0 request that needs verification closes
// the connection (see produce).

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// producerOf collects the producers of a request's transactional batches.
type producerOf struct {
	n     int // 0: no transactional batch; 2: more than one producer
	id    int64
	epoch int16
}

func (p *producerOf) add(id int64, epoch int16) {
	switch {
	case p.n == 0:
		p.n, p.id, p.epoch = 1, id, epoch
	case p.id != id || p.epoch != epoch:
		p.n = 2
	}
}

// requestError is the error code of the whole request, 0 if none.
func (p *producerOf) requestError(transactionalID *string) int16 {
	switch {
	case p.n == 0:
		return 0
	case transactionalID == nil:
		return kerr.TransactionalIDAuthorizationFailed.Code
	case p.n > 1:
		return kerr.InvalidProducerIDMapping.Code
	}
	return 0
}

// startTxnVerification marks the transactional targets for a verified
// append and takes a guard on those whose producer has no ongoing
// transaction there; it returns those partitions, by topic, to ask the
// coordinator about (none without a verifier).
func (h *Handler) startTxnVerification(req *kmsg.ProduceRequest, targets []produceTarget, producer producerOf) map[string][]int32 {
	if h.txnVerifier == nil || req.TransactionID == nil || producer.n != 1 {
		return nil
	}
	var ask map[string][]int32
	for i := range targets {
		t := &targets[i]
		if !t.txn {
			continue
		}
		t.verified = true
		if !t.p.IsLeader() {
			continue // the append answers NOT_LEADER_OR_FOLLOWER
		}
		if t.guard = t.p.StartTxnVerification(producer.id, producer.epoch); t.guard != nil {
			if ask == nil {
				ask = make(map[string][]int32)
			}
			ask[t.topic] = append(ask[t.topic], t.p.Index)
		}
	}
	return ask
}

// verifyTxnTargets asks the coordinator about the partitions in ask and
// fails the targets it did not confirm.
func (h *Handler) verifyTxnTargets(rc *reqCtx, req *kmsg.ProduceRequest, targets []produceTarget, ask map[string][]int32, producer producerOf) {
	ctx, cancel := context.WithTimeout(rc.ctx, txnVerifyTimeout)
	// Produce v12+ comes from a client at transaction version 2, which
	// sends no AddPartitionsToTxn: the partition is added here.
	add := req.Version >= 12
	codes, err := h.txnVerifier.VerifyTxnPartitions(ctx, *req.TransactionID, producer.id, producer.epoch, ask, add)
	cancel()
	if err != nil {
		rc.log.Debug("transaction verification failed", "transactional_id", *req.TransactionID, "err", err)
	}
	for i := range targets {
		t := &targets[i]
		if t.guard == nil {
			continue
		}
		code := kerr.NetworkException.Code
		if err == nil {
			code = kerr.InvalidTxnState.Code
			if c, ok := codes[t.topic][t.p.Index]; ok {
				code = c
			}
		}
		if code == 0 {
			continue
		}
		rc.log.Debug("transactional produce refused by verification", "transactional_id", *req.TransactionID,
			"producer_id", producer.id, "producer_epoch", producer.epoch, "topic", t.topic, "partition", t.p.Index, "error", kerr.ErrorForCode(code))
		code, msg := verificationCode(req.Version, code)
		t.rp.ErrorCode = code
		if req.Version >= 8 {
			t.rp.ErrorMessage = &msg
		}
		t.rp.LogStartOffset = t.p.Log().LogStartOffset()
	}
}

// verificationCode turns the coordinator's answer for a partition into the
// produce error code and message Kafka gives.
func verificationCode(version, code int16) (int16, string) {
	switch code {
	case kerr.InvalidTxnState.Code:
		return code, "Partition was not added to the transaction"
	case kerr.ProducerFenced.Code:
		code = kerr.InvalidProducerEpoch.Code
	case kerr.TransactionAbortable.Code:
		if version < 11 {
			code = kerr.InvalidTxnState.Code
		}
	case kerr.NetworkException.Code, kerr.NotCoordinator.Code, kerr.CoordinatorNotAvailable.Code,
		kerr.CoordinatorLoadInProgress.Code, kerr.ConcurrentTransactions.Code:
		// Older clients do not retry these on a produce; every client
		// retries NOT_ENOUGH_REPLICAS, without a metadata refresh.
		return kerr.NotEnoughReplicas.Code, fmt.Sprintf("Unable to verify the partition has been added to the transaction. Underlying error: %s", kerr.ErrorForCode(code))
	}
	return code, fmt.Sprintf("transaction verification: %s", kerr.ErrorForCode(code))
}
