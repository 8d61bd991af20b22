package storage

import "errors"

// Sentinel errors. The API layer maps them to Kafka error codes with errors.Is.
var (
	// ErrOffsetOutOfRange: a read, truncation or DeleteRecords offset lies
	// outside [LogStartOffset, LogEndOffset].
	ErrOffsetOutOfRange = errors.New("offset out of range")
	// ErrOutOfOrderSequence: an idempotent producer's batch does not continue
	// its sequence (OUT_OF_ORDER_SEQUENCE_NUMBER).
	ErrOutOfOrderSequence = errors.New("out of order sequence number")
	// ErrInvalidProducerEpoch: a batch carries a producer epoch older than the
	// one the log has seen (INVALID_PRODUCER_EPOCH).
	ErrInvalidProducerEpoch = errors.New("invalid producer epoch")
	// ErrProducerFenced: a transaction marker carries a producer epoch older
	// than the one the log has seen (PRODUCER_FENCED, or
	// INVALID_PRODUCER_EPOCH for versions that predate it).
	ErrProducerFenced = errors.New("producer fenced")
	// ErrCoordinatorFenced: a transaction marker comes from a coordinator
	// epoch older than the last marker's (TRANSACTION_COORDINATOR_FENCED).
	ErrCoordinatorFenced = errors.New("transaction coordinator fenced")
	// ErrTxnNotVerified: a transactional batch would start a transaction
	// the transaction coordinator has not confirmed for this partition
	// (KIP-890 part 1): no verification, or its guard was dropped by a
	// marker since (INVALID_TXN_STATE).
	ErrTxnNotVerified = errors.New("transactional batch is not part of a verified ongoing transaction")
	// ErrOffsetMismatch: a follower append starts below the log end offset.
	ErrOffsetMismatch = errors.New("append offset does not match log end offset")
	// ErrLogClosed: the log (or its directory) was closed or deleted.
	ErrLogClosed = errors.New("log closed")
	// ErrCorruptLog: bytes read from disk failed validation where they must
	// be trusted (a checkpoint, or a segment below the recovery point). The
	// log directory should go offline. Batches handed to Append* with broken
	// framing give record.ErrCorrupt instead.
	ErrCorruptLog = errors.New("corrupt log")
	// ErrStorageFailed: a write or fsync failed. The log refuses further
	// writes because the page cache may have dropped data it cannot re-send
	// (KAFKA_STORAGE_ERROR); the log directory goes offline.
	ErrStorageFailed = errors.New("storage failed")
)
