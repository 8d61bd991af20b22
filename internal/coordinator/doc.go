// Package coordinator is the runtime shared by the broker's log-backed
// coordinators (consumer groups in internal/group; transactions and share
// groups to come), after Apache Kafka's coordinator-common
// CoordinatorRuntime.
//
// A coordinator keeps its state in an internal topic (__consumer_offsets,
// __transaction_state), sharded by partition: the broker that leads a
// partition coordinates the keys that hash to it (PartitionFor). The
// runtime hosts one shard per partition led here and gives each a single
// owner goroutine that loads it by replaying the partition, then runs every
// state change, writes its records, and answers its requests only once
// those records are committed.
//
// # What it owns and what it leaves to others
//
// The runtime owns:
//   - the set of hosted partitions, following leadership: the node calls
//     Load when this broker becomes leader of a partition (a newer leader
//     epoch replaces an older shard, an older or equal one is ignored) and
//     Unload when it stops being leader. Lookups answer with errors
//     wrapping ErrLoadInProgress while a shard replays and ErrNotCoordinator
//     when the partition is not hosted here (or its load failed);
//   - each shard's loop (Loop): replay, then one event at a time: closures
//     submitted by requests (Submit, Call), timer firings (Schedule,
//     CancelTimer), commit completions, and a periodic Tick;
//   - the write path: Loop.Write appends on the loop (fast), a committer
//     goroutine waits in Log.Commit, and the loop completes the writes in
//     log order once committed (write, then commit, then answer);
//     AfterPendingWrites defers work until every write so far completed.
//     Loop.WriteTransactional and Loop.WriteMarker write the same way a
//     transactional batch of a producer (no sequence: Kafka's
//     AppendOrigin.COORDINATOR) and the COMMIT/ABORT marker that decides
//     it, ordered with the loop's other writes (issue 10).
//
// # Replay and transactions
//
// Log.Replay yields ReplayRecords: each record with its batch's producer
// id and epoch and whether the batch is transactional, and each control
// batch as one entry with Control set (Commit tells COMMIT from ABORT).
// The loop passes records to Shard.Replay and markers to
// MarkerShard.ReplayMarker; a shard that never writes transactional
// batches (the transaction coordinator) implements only Shard, ignores
// ProducerID and never sees a marker. A MarkerShard keeps a transactional
// record pending until its producer's marker: COMMIT applies it, ABORT
// drops it.
//
// It leaves to the state machine (a Shard: groups, transactions) what the
// records mean: decoding and applying each record at load (Replay), what
// to restart once loaded (Loaded), periodic work such as expiry (Tick), and
// which records each request writes. It leaves to the node the Log of each
// partition (append as leader, commit per the fsync policy and the ISR,
// replay from the log start) and the calls to Load and Unload; to the
// coordinator packages the mapping of its errors to their own sentinels
// and to Kafka codes.
//
// # Main types
//
//   - Runtime[S]: the hosted shards of one coordinator, keyed by partition.
//   - Loop: one hosted partition: its status, its owner goroutine, its
//     timers and its writes in flight. The state machine reaches the loop
//     through it.
//   - Shard: the interface a coordinator's per-partition state implements.
//   - MarkerShard: a Shard that also replays transaction markers.
//   - Log, Record, ReplayRecord: a partition as a loop sees it.
//
// # Goroutines
//
// Runtime.Run owns every goroutine of the package and returns after all of
// them exit:
//   - one loop per hosted partition (Loop.run): replays the Log, then owns
//     the shard's state. It stops when the partition is unloaded (or a
//     newer load replaces it) or Run's context ends.
//   - one committer per loop (Loop.commitLoop), started and awaited by the
//     loop: it waits in Log.Commit so that the loop never blocks on fsync
//     or replication, and posts each result back to the loop.
//   - short-lived time.AfterFunc goroutines that deliver a timer firing to
//     the loop or give up when the loop stops.
//
// Request goroutines block in Call until the loop answers; the wait also
// ends when the request's context ends or the loop stops (ErrNotCoordinator).
package coordinator
