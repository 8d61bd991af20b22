package kafkaapi

import (
	"context"
	"errors"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/strata-io/strata/internal/partition"
	"github.com/strata-io/strata/internal/record"
	"github.com/strata-io/strata/internal/storage"
	"github.com/strata-io/strata/internal/txn"
)

// Sentinels detected in this package.
var (
	errMessageTooLarge  = errors.New("batch larger than max.message.bytes")
	errInvalidTimestamp = errors.New("timestamp out of range")
)

// codeTable maps every sentinel the handlers can see to its Kafka error.
// Order matters only where one error wraps another.
var codeTable = []struct {
	err  error
	kerr *kerr.Error
}{
	// A corrupt batch found on disk: the replica cannot serve it, and the
	// broker moves its leadership away (KAFKA_STORAGE_ERROR, retriable, so
	// clients go to the new leader). First: a batch record validation
	// refused wraps record.ErrCorrupt, never this.
	{storage.ErrCorruptLog, kerr.KafkaStorageError},
	{errMessageTooLarge, kerr.MessageTooLarge},
	{errInvalidTimestamp, kerr.InvalidTimestamp},
	{record.ErrCorrupt, kerr.CorruptMessage},
	{record.ErrInvalid, kerr.InvalidRecord},
	{record.ErrUnsupported, kerr.UnsupportedCompressionType},
	{record.ErrTooLarge, kerr.CorruptMessage},
	{storage.ErrOffsetOutOfRange, kerr.OffsetOutOfRange},
	{storage.ErrOutOfOrderSequence, kerr.OutOfOrderSequenceNumber},
	{storage.ErrInvalidProducerEpoch, kerr.InvalidProducerEpoch},
	{storage.ErrProducerFenced, kerr.ProducerFenced},
	{storage.ErrCoordinatorFenced, kerr.TransactionCoordinatorFenced},
	{storage.ErrTxnNotVerified, kerr.InvalidTxnState},
	{storage.ErrLogClosed, kerr.NotLeaderForPartition},
	{storage.ErrStorageFailed, kerr.KafkaStorageError},
	{partition.ErrNotLeader, kerr.NotLeaderForPartition},
	{partition.ErrNotEnoughReplicasAfterAppend, kerr.NotEnoughReplicasAfterAppend},
	{partition.ErrNotEnoughReplicas, kerr.NotEnoughReplicas},
	{partition.ErrPolicyViolation, kerr.PolicyViolation},
	{context.DeadlineExceeded, kerr.RequestTimedOut},
	{partition.ErrFencedLeaderEpoch, kerr.FencedLeaderEpoch},
	{partition.ErrUnknownLeaderEpoch, kerr.UnknownLeaderEpoch},
}

// errorCode turns an error into a Kafka error code. Unrecognised errors
// become UNKNOWN_SERVER_ERROR and are logged with the request context.
func errorCode(log *slog.Logger, err error) int16 {
	if err == nil {
		return 0
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	for _, e := range codeTable {
		if errors.Is(err, e.err) {
			return e.kerr.Code
		}
	}
	for _, e := range extraCodes {
		if errors.Is(err, e.err) {
			return e.kerr.Code
		}
	}
	log.Error("unexpected error answered as UNKNOWN_SERVER_ERROR", "err", err)
	return kerr.UnknownServerError.Code
}

// txnCode is the Kafka code of a transaction coordinator error for a
// request of version; versions below fencedSince get INVALID_PRODUCER_EPOCH
// for PRODUCER_FENCED (KIP-588), as Kafka answers older clients. Failures
// that are not Kafka's own (a write to __transaction_state that failed)
// are logged.
func txnCode(rc *reqCtx, err error, version, fencedSince int16) int16 {
	code := txn.Code(err)
	var ke *kerr.Error
	if code == kerr.CoordinatorNotAvailable.Code && !errors.As(err, &ke) {
		rc.log.Warn("transaction coordinator failed", "err", err)
	}
	if code == kerr.ProducerFenced.Code && version < fencedSince {
		code = kerr.InvalidProducerEpoch.Code
	}
	return code
}
