// Package txn is the transaction coordinator (KIP-98; see
// docs/design/transactions.md): one shard per __transaction_state partition
// this broker leads, on the coordinator runtime shared with the group
// coordinator (internal/coordinator), each the state machine of the
// transactional ids that hash to its partition.
//
// # State machine
//
// Per transactional id (Kafka's TransactionMetadata): producer id and
// epoch, timeout, state, the partitions of the ongoing transaction.
//
//	Empty/CompleteCommit/CompleteAbort --AddPartitions--> Ongoing
//	Ongoing --EndTxn(commit)--> PrepareCommit --markers--> CompleteCommit
//	Ongoing --EndTxn(abort), timeout, new producer--> PrepareAbort --markers--> CompleteAbort
//	Empty/Complete* --idle transactional.id.expiration.ms--> removed (tombstone)
//
// Every transition is written to the partition and committed before it is
// applied or answered; while one is being written the id's other calls get
// CONCURRENT_TRANSACTIONS (adds of the same transaction wait instead). A
// new producer of an id (InitProducerId) fences the old one with an epoch
// bump, aborting its open transaction at the new epoch first (Kafka's
// PrepareEpochFence, which is never logged). The markers of a prepared end
// go to every partition's leader through the marker manager (markers.go),
// batched per broker and retried until written; a shard loaded after a
// failover sends the markers of every prepared transaction again.
// Transaction version 2 (KIP-890 part 2): an EndTxn v5 bumps the epoch on
// every end (a new producer id once it is exhausted) and partitions are
// added by the brokers (Produce v12, TxnOffsetCommit v5).
//
// # Records
//
// __transaction_state records use Kafka's own schemas (TransactionLogKey
// and TransactionLogValue, as franz-go's kmsg TxnMetadataKey /
// TxnMetadataValue encode them), so that Kafka's tools read the topic and
// a log written by one reads in the other. docs/format/transaction-state.md
// is the spec; change it, records.go and TestRecordEncodingIsKafkas
// together.
//
// Key (version 0):
//
//	version int16 = 0 | transactional id: int16 length + UTF-8
//
// Value, version 0 (non-flexible) or 1 (flexible, with the KIP-890 and
// KIP-939 tagged fields); Kafka 4 writes 1 only while the cluster's
// transaction.version is 2 or more, and so does Encode:
//
//	version int16 | producer id int64 | producer epoch int16 |
//	timeout ms int32 | state int8 | partitions: [topic, [partition int32]] |
//	last update ms int64 | start ms int64 | (v1: tagged fields)
//
// A null value is a tombstone: the transactional id expired.
//
// # Goroutines
//
// Coordinator.Run owns them all: the runtime's shard loops (each shard's
// state is touched only on its loop), the marker manager's dispatcher with
// its request and completion goroutines, and the producer id allocations a
// shard starts for a timed-out transaction whose epoch is exhausted.
package txn
