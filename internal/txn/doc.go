// Package txn will be the transaction coordinator (issue 10, see
// docs/design/transactions.md). Today it holds the records of the
// __transaction_state topic, in Kafka's own schemas (TransactionLogKey and
// TransactionLogValue, as franz-go's kmsg TxnMetadataKey/TxnMetadataValue
// encode them), so that Kafka's tools read the topic and a log written by
// one reads in the other. docs/format/transaction-state.md is the spec;
// change it, this comment and TestRecordEncodingIsKafkas together.
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
// A null value is a tombstone: the transactional id expired. The package
// starts no goroutines.
package txn
