package node

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/coordinator"
	"github.com/strata-io/strata/internal/group"
	"github.com/strata-io/strata/internal/kafkaapi"
	"github.com/strata-io/strata/internal/metadata"
)

// transactionStateTopic is the transaction coordinator's log.
const transactionStateTopic = "__transaction_state"

// txnVerifier implements kafkaapi.TxnVerifier (KIP-890 part 1): it asks
// the coordinator of a transactional id, the leader of its
// __transaction_state partition, with AddPartitionsToTxn v4+ VerifyOnly
// whether partitions are in the producer's ongoing transaction, or, in
// add mode (KIP-890 part 2: Produce v12+, and the group coordinator's
// TxnOffsetCommit v5+ through addOffsetsPartition), with VerifyOnly false
// to add them. One
// request per produce (Kafka batches the produces of all producers per
// coordinator broker; a later step if it shows in profiles).
//
// NB: the local broker is reached over its own listener like any other
// (controllerChannel.RequestTo dials the registered endpoint); a
// shortcut to the local coordinator would save the round trip.
type txnVerifier struct {
	// coordinatorOf returns the broker leading txnID's
	// __transaction_state partition, or the error code to answer
	// (COORDINATOR_NOT_AVAILABLE while there is none).
	coordinatorOf func(txnID string) (int32, int16)
	requestTo     func(ctx context.Context, brokerID int32, req kmsg.Request) (kmsg.Response, error)
}

var _ kafkaapi.TxnVerifier = (*txnVerifier)(nil)

// newTxnVerifier verifies with requestTo (controllerChannel.RequestTo),
// finding coordinators in the image image returns (the controller's).
func newTxnVerifier(image func() *metadata.Image, requestTo func(ctx context.Context, brokerID int32, req kmsg.Request) (kmsg.Response, error)) *txnVerifier {
	return &txnVerifier{
		coordinatorOf: func(txnID string) (int32, int16) { return txnCoordinatorOf(image(), txnID) },
		requestTo:     requestTo,
	}
}

// txnCoordinatorOf is the leader of txnID's __transaction_state partition
// in img, as Kafka's AddPartitionsToTxnManager finds it.
func txnCoordinatorOf(img *metadata.Image, txnID string) (int32, int16) {
	topic, ok := img.TopicByName(transactionStateTopic)
	if !ok || len(topic.Partitions) == 0 {
		return -1, kerr.CoordinatorNotAvailable.Code
	}
	p, ok := topic.Partition(coordinator.PartitionFor(txnID, int32(len(topic.Partitions))))
	if !ok || p.Leader < 0 {
		return -1, kerr.CoordinatorNotAvailable.Code
	}
	return p.Leader, 0
}

// VerifyTxnPartitions implements kafkaapi.TxnVerifier.
func (v *txnVerifier) VerifyTxnPartitions(ctx context.Context, transactionalID string, producerID int64, producerEpoch int16, partitions map[string][]int32, add bool) (map[string]map[int32]int16, error) {
	leader, code := v.coordinatorOf(transactionalID)
	if code != 0 {
		return allCodes(partitions, code), nil
	}
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.Version = 5
	tx := kmsg.NewAddPartitionsToTxnRequestTransaction()
	tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, tx.VerifyOnly = transactionalID, producerID, producerEpoch, !add
	for _, topic := range slices.Sorted(maps.Keys(partitions)) {
		rt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
		rt.Topic, rt.Partitions = topic, partitions[topic]
		tx.Topics = append(tx.Topics, rt)
	}
	req.Transactions = append(req.Transactions, tx)
	kresp, err := v.requestTo(ctx, leader, req)
	if err != nil {
		return nil, fmt.Errorf("verify transaction %q with coordinator %d: %w", transactionalID, leader, err)
	}
	resp, ok := kresp.(*kmsg.AddPartitionsToTxnResponse)
	if !ok {
		return nil, fmt.Errorf("verify transaction %q: coordinator %d answered %T", transactionalID, leader, kresp)
	}
	if resp.Version < 4 {
		// NB: Kafka skips verification when the coordinator cannot do it;
		// every Strata broker can, so this is a broker still starting.
		return nil, fmt.Errorf("verify transaction %q: coordinator %d speaks AddPartitionsToTxn v%d, verification needs v4", transactionalID, leader, resp.Version)
	}
	if resp.ErrorCode != 0 {
		code := resp.ErrorCode
		if code == kerr.ClusterAuthorizationFailed.Code {
			// Kafka keeps this from the client: the verification did not
			// complete.
			code = kerr.InvalidTxnState.Code
		}
		return allCodes(partitions, code), nil
	}
	out := make(map[string]map[int32]int16, len(partitions))
	for _, rtx := range resp.Transactions {
		if rtx.TransactionalID != transactionalID {
			continue
		}
		for _, rt := range rtx.Topics {
			if out[rt.Topic] == nil {
				out[rt.Topic] = make(map[int32]int16, len(rt.Partitions))
			}
			for _, rp := range rt.Partitions {
				out[rt.Topic][rp.Partition] = rp.ErrorCode
			}
		}
	}
	// A partition missing from the answer is not in the transaction: the
	// caller answers INVALID_TXN_STATE for it.
	return out, nil
}

// addOffsetsPartition implements group.TxnPartitionAdder: it adds
// partition of __consumer_offsets to the transaction (TxnOffsetCommit
// v5+).
func (v *txnVerifier) addOffsetsPartition(ctx context.Context, transactionalID string, producerID int64, producerEpoch int16, partition int32) int16 {
	codes, err := v.VerifyTxnPartitions(ctx, transactionalID, producerID, producerEpoch, map[string][]int32{group.OffsetsTopic: {partition}}, true)
	if err != nil {
		return kerr.NetworkException.Code
	}
	if code, ok := codes[group.OffsetsTopic][partition]; ok {
		return code
	}
	return kerr.InvalidTxnState.Code
}

// allCodes answers every partition with code.
func allCodes(partitions map[string][]int32, code int16) map[string]map[int32]int16 {
	out := make(map[string]map[int32]int16, len(partitions))
	for topic, ps := range partitions {
		out[topic] = make(map[int32]int16, len(ps))
		for _, p := range ps {
			out[topic][p] = code
		}
	}
	return out
}
