// Package bench measures a Kafka-compatible cluster the way
// kafka-producer-perf-test and kafka-consumer-perf-test do, with franz-go
// clients. It backs `strata bench produce|consume|e2e`; internal/cli only
// turns flags into a Config and prints the Result.
//
// Workloads (Run with a Config):
//
//   - produce: Producers kgo clients send Count records (or for Duration)
//     of RecordSize random bytes, cut from a buffer generated before the
//     run, at Rate records/s (0: unlimited; pacing is even, each record
//     has a due time start + n/rate). Latency is the time from the Produce
//     call to the promise. The first failed record stops the producers;
//     records already handed to kgo still finish, and Run returns
//     ErrRecordsFailed.
//     With Transactional, each producer has its own transactional id
//     (strata-bench-PID-STARTNANOS-N), begins a transaction before its
//     first record and after each commit, and commits every TxnRecords
//     records (and the rest at the end, also when interrupted) once they
//     are acknowledged (Flush, then EndTransaction); a failed record
//     aborts the open transaction. Result counts committed Transactions
//     and TransactionsPerSecond.
//   - consume: Consumers clients read Count records (or for Duration)
//     from the log start, or as members of Group from its committed
//     offsets, with Isolation read_uncommitted or read_committed. Run
//     fails when no record arrived for Timeout.
//   - e2e: one consumer starts at the log end, then producers send at Rate
//     with the send time (Unix nanoseconds, big-endian) in the first 8
//     bytes of each value; latency is the receipt time minus that stamp.
//
// A Result holds records, bytes, elapsed time, records/s and MB/s (MB is
// 10^6 bytes), latency percentiles from a Histogram, the error count, one
// Interval per second, and, when Config.BrokerPID names a local broker,
// its CPU time (utime+stime from /proc/PID/stat at 100 ticks a second) per
// GB (10^9 bytes) moved and its peak RSS, sampled every 100ms from
// /proc/PID/status by an RSSSampler, next to the kernel's VmHWM. FindBroker
// finds that process from the bootstrap addresses. WriteChart draws the
// per-second series as SVG.
//
// Histogram keeps durations to three significant decimal digits (at most
// 1% error) in a fixed 8,200 counters covering 0 to 100s; values with three
// significant digits are reported exactly.
//
// Goroutines. Run starts and stops all of its own before it returns: a
// progress loop that closes each one-second interval and writes the
// progress line, the RSS sampler when a broker PID is set, one goroutine
// per producer client (produceLoop) and per consumer client (pollLoop), and
// the kgo clients' own, which are closed before Run returns. Produce
// promises run on kgo goroutines and add to the shared recorder under its
// mutex.
package bench
