// Package metadata owns Strata's cluster metadata model: the typed records
// of the metadata log, the immutable Image they build, the Delta between two
// images, snapshots, and the Loader that applies committed log entries and
// publishes each new image to subscribers.
//
// It leaves consensus to internal/raft (this package imports nothing from
// hashicorp) and decisions to internal/controller, which validates admin
// requests against the latest Image and proposes records.
//
// # Main types
//
//   - Record: ClusterIDRecord, RegisterBrokerRecord, TopicRecord,
//     PartitionRecord, RemoveTopicRecord, ConfigRecord, ProducerIDsRecord,
//     BrokerRegistrationChangeRecord (fence/unfence, controlled shutdown),
//     UnregisterBrokerRecord, FeatureLevelRecord, ClientQuotaRecord
//     (client quotas by user, client id and ip entity).
//     UnregisterBrokerRecord, FeatureLevelRecord, AccessControlEntryRecord
//     and RemoveAccessControlEntryRecord (ACLs, kept as ACLs: one value
//     shared by images until an ACL changes).
//   - Image: an immutable snapshot of the metadata at one raft index.
//     Image.Apply returns a new Image (copy-on-write: maps and topics are
//     copied when a batch first writes them) and a Delta.
//   - Delta: what changed (brokers, topics created/deleted, partitions
//     created/changed, configs changed, producer ids).
//   - Loader: implements raft.StateMachine; publishes Image+Delta to
//     Subscribers synchronously, in index order.
//
// # Goroutines
//
// None. Loader methods Apply/Snapshot/Restore run on the raft FSM goroutine,
// and subscribers run there too.
//
// # Encoding (format version 1; spec in docs/format/metadata-records.md)
//
// All integers are big-endian. A string is a uvarint byte length followed by
// the bytes; a nullable string is uvarint(length+1), 0 meaning null; an int32
// array is a uvarint count followed by the elements; a bool is one byte, 0 or
// 1; a UUID is 16 raw bytes.
//
// A record frame:
//
//	+---------------+-------------+----------------+------------------+
//	| frame version | record type | record version | fields           |
//	| uint8 = 1     | uint8       | uint8          | per type/version |
//	+---------------+-------------+----------------+------------------+
//
// A batch, the payload of one raft log entry, applied atomically:
//
//	+---------------+------------------+------------------------------------+
//	| batch version | record count     | count x (uvarint length, frame)    |
//	| uint8 = 1     | uvarint          |                                    |
//	+---------------+------------------+------------------------------------+
//
// A snapshot, the image as the batch of records that rebuilds it:
//
//	+--------+----------+--------------+-------+--------------------------+
//	| "STMS" | version  | raft index   | batch | CRC-32C (Castagnoli) of  |
//	| 4 B    | uint8 =1 | uint64       |       | all preceding bytes, u32 |
//	+--------+----------+--------------+-------+--------------------------+
//
// Decoding consumes its input exactly (trailing bytes are corruption),
// bounds every allocation by the input length, and never panics. A type or
// version newer than this build knows fails with ErrUnknownRecord rather
// than being skipped, so an old binary never silently drops metadata.
package metadata
