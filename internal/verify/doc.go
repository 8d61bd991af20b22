// Package verify is the library behind `strata verify`: a Jepsen-style
// workload that runs against any Kafka-compatible cluster, records a
// history of everything its clients did and saw, and a checker that finds
// anomalies in that history.
//
// Run creates (or reuses) a topic, starts producers of three kinds
// (idempotent, non-idempotent with retries, transactional with a seeded
// mix of commits and aborts) writing unique values to every partition at
// a steady total rate, and consumers reading at the same time: assigned
// partitions, and groups with the classic and the KIP-848 consumer
// protocol, each read_committed or read_uncommitted. Every send,
// acknowledgement, transaction step, poll, offset commit and rebalance
// callback becomes an Event in the History with its time (monotonic, as
// an offset from the run's start). An optional Nemesis injects faults
// during the load and reports its fault windows. After the load Run lets
// the consumers catch up for at most SettleTimeout, then reads every
// partition in full twice, read_uncommitted and read_committed, from where
// the run started.
//
// A value is "<run tag>-<producer>-<seq>" (and "-<txn>" for a
// transactional producer's records), so each one is unique in the run and
// names who sent it, in which order, in which transaction. Records of the
// topic that do not carry the run's tag (an earlier run, another writer)
// are ignored by the checker.
//
// Check turns a History into a Result: the anomalies with Jepsen's names,
// each with a concrete example, and per-second series for reports. The
// anomaly types and their exact definitions are listed on the Anomaly
// type. Results are written as a text summary, JSON, or (WriteHTML) a
// self-contained HTML page with a timeline.
//
// Goroutines: Run starts one per producer, one per consumer client, one
// for the nemesis and one progress ticker; all of them have stopped when
// Run returns.
package verify
