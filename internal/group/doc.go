// Package group is the group coordinator: consumer groups of the classic
// protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup), consumer groups
// of the KIP-848 consumer protocol (ConsumerGroupHeartbeat,
// ConsumerGroupDescribe) with server-side assignors, and committed offsets
// (OffsetCommit, OffsetFetch, OffsetDelete) including transactional ones
// (TxnOffsetCommit, CompleteTransaction for the markers), plus the admin
// APIs over all of them (DescribeGroups, ListGroups, DeleteGroups). Groups and offsets
// are durable as records of the internal topic __consumer_offsets, in
// Apache Kafka's own record schemas so that Kafka tools can read the topic
// (spec: docs/format/consumer-offsets.md).
//
// # What it owns and what it leaves to others
//
// The package owns the state machines of groups and the in-memory view of
// committed offsets, sharded like Kafka by the partition of
// __consumer_offsets that a group id hashes to (PartitionFor). It does not
// own that topic: the node creates it, and calls Load when this broker
// becomes leader of one of its partitions and Unload when it stops being
// leader (or the topic goes away). It does not run its shards either: the
// shared coordinator runtime (internal/coordinator) hosts them, replays
// each partition into its shard at load, runs the shard's single owner
// loop, its timers and its writes (write, then commit, then answer), and
// follows leadership by leader epoch. A shard reads and writes its
// partition only through the Log interface, which the node implements
// over partition.Partition, so coordinator ownership follows partition
// leadership. kafkaapi decodes requests, calls the Coordinator methods and
// answers FindCoordinator from Status.
//
// # Deliberate exception to STYLE
//
// Like Kafka's GroupCoordinatorService, the Coordinator takes kmsg requests
// and returns complete kmsg responses at the request's version, with the
// Kafka error codes (kerr) already chosen. Group protocol errors are part of
// the protocol's data (per member, per partition, per group), and routing
// them through Go errors to kafkaapi/errors.go would duplicate the
// coordinator's state machine there. Go errors remain for what crosses into
// the node: Status returns errors wrapping ErrNotCoordinator or
// ErrLoadInProgress, and a Log signals lost leadership by returning an error
// wrapping ErrNotCoordinator.
//
// # Main types
//
//   - Coordinator: routes each request to the shard that owns its group,
//     through its coordinator.Runtime; maps the runtime's routing errors to
//     ErrNotCoordinator and ErrLoadInProgress.
//   - shard: the state of one loaded partition of __consumer_offsets, the
//     coordinator.Shard of the runtime: its groups and its offsets, the
//     replay of their records, what restarts after load, and offset expiry
//     (its Tick). Its coordinator.Loop carries its timers and writes.
//   - group: what the shared paths (offsets, admin APIs, expiry) need from a
//     group of either type. classicGroup (classic_group.go) and
//     consumerGroup (consumer_group*.go) implement it. A group id names at
//     most one group, of one type; groups are not migrated between the
//     protocols, but an empty group of one type gives way to the other, as
//     in Kafka.
//   - the assignors of consumer groups (assignor.go): "uniform" (balanced
//     and sticky, the default) and "range" (per-topic ranges,
//     co-partitioned).
//
// # Goroutines
//
// The package starts none of its own: Coordinator.Run runs the
// coordinator runtime, which owns one loop per loaded shard (with its
// committer and its timers; see internal/coordinator) and returns after
// all of them exit. On a shard's loop run its record replay at load,
// every request's closure, the timers (session, rebalance, initial delay,
// pending sync; consumer groups add session and revocation timers), and
// the offset-expiry check every OffsetsRetentionCheckInterval.
//
// Request goroutines (the connection's) block in the Coordinator methods
// until their answer is ready: a JoinGroup until the rebalance completes, a
// write until its records are committed. Every wait also ends when the
// request's context is cancelled or the shard stops (NOT_COORDINATOR).
//
// # Durability
//
// A state change Kafka persists is appended to the shard's Log and
// committed before the request is answered. Consumer groups change only by
// applying their records once committed, with the code that replays them
// at load, and each group's operations run one after another (an operation
// waits for the previous one's write), so a consumer group in memory is
// always what its committed records say. Effects of offset records and
// tombstones are applied to memory when their write commits, in log order,
// so memory never holds an offset the log does not; a failed write is
// answered with Kafka's error and leaves memory as it was. Load replays the
// log from its start (later records win, tombstones delete) and restores
// groups as Kafka does: a classic group with members comes back Stable, a
// consumer group with its epochs and assignments, and every member's
// session timer restarts.
//
// Transactional offsets (KIP-98, KIP-447; txn_offsets.go) are written by
// TxnOffsetCommit as a transactional batch of the producer and kept
// pending per producer id; CompleteTransaction writes the producer's
// COMMIT or ABORT marker through the same loop and, once committed, moves
// the pending offsets into the committed ones or drops them. Replay does
// the same from the batches and markers (the shard is a
// coordinator.MarkerShard), so a new coordinator shows exactly what the
// old one did. Pending offsets are invisible to OffsetFetch; with
// require_stable their partitions answer UNSTABLE_OFFSET_COMMIT.
//
// # Record encoding (spec: docs/format/consumer-offsets.md, format 2)
//
// Keys and values are Kafka's, big-endian, each starting with an int16
// version; the key version is the record type:
//
//	key   type 0/1 OffsetCommitKey:  int16 1 | string group | string topic | int32 partition
//	value        OffsetCommitValue:  int16 3 | int64 offset | int32 leader epoch |
//	                                 string metadata | int64 commit timestamp
//	                                 (version 1 instead of 3, with int64 expire timestamp and
//	                                 no leader epoch, when the commit set a retention time)
//	key   type 2 GroupMetadataKey:   int16 2 | string group
//	value        GroupMetadataValue: int16 3 | string protocol type | int32 generation |
//	                                 nullable string protocol | nullable string leader |
//	                                 int64 current state timestamp | members
//	key   types 3-8, 16: int16 type | string group [| string member id or regex]
//	value                int16 0 | flexible fields (compact strings and arrays, tagged
//	                     fields): ConsumerGroupMetadata (3), ...PartitionMetadata (4),
//	                     ...MemberMetadata (5), ...TargetAssignmentMetadata (6),
//	                     ...TargetAssignmentMember (7), ...CurrentMemberAssignment (8),
//	                     ...RegularExpression (16); hand-encoded in consumer_group_records.go
//
// A null value is a tombstone. Unknown key types are skipped on load with a
// warning (as Kafka does); a known type that does not decode fails the load.
package group
