package kafkaapi

import "context"

// TxnVerifier asks the transaction coordinator of a transactional id
// whether partitions are in the ongoing transaction of producerID in
// producerEpoch (KIP-890 part 1: AddPartitionsToTxn v4+ with VerifyOnly),
// or, with add, to add them to it (KIP-890 part 2, for Produce v12+:
// AddPartitionsToTxn v5 without VerifyOnly, Kafka's "addPartition"
// operation; the transaction starts if none is ongoing).
// The answer holds a Kafka error code per topic and partition, 0 for a
// partition in the transaction; a partition missing from it counts as
// INVALID_TXN_STATE. An error means the coordinator could not be asked
// (no coordinator, a network failure): every partition is answered with a
// retriable code then.
type TxnVerifier interface {
	VerifyTxnPartitions(ctx context.Context, transactionalID string, producerID int64, producerEpoch int16, partitions map[string][]int32, add bool) (map[string]map[int32]int16, error)
}

// SetTxnVerifier makes Produce verify transactional batches with v before
// they may start a transaction on a partition. Call it before the handler
// serves. Without one (unit tests, a broker without a transaction
// coordinator) transactional batches are appended unverified.
func (h *Handler) SetTxnVerifier(v TxnVerifier) { h.txnVerifier = v }
