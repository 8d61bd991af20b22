// Package cli holds the client subcommands of the strata binary: topic and
// consumer-group administration, a line-oriented producer and a consumer,
// cluster status, the benchmark tool (internal/bench) and the Jepsen-style
// checker (internal/verify; it exits through ExitError: 1 on anomalies, 2
// when it cannot run). They speak the
// Kafka protocol through franz-go (kgo for data, kadm for admin), so they
// work against any Kafka-compatible cluster, not only strata.
//
// Commands returns fresh cobra commands; cmd/strata adds them to its root
// next to `serve`. The package reads flags only: the default for
// --bootstrap comes from DefaultBootstrap, which main may set (for example
// from STRATA_BOOTSTRAP via internal/config) before calling Commands.
//
//	strata topic create NAME [--partitions N] [--replication-factor N] [--config k=v]... [--if-not-exists]
//	strata topic list [--internal]
//	strata topic describe NAME...
//	strata topic delete NAME...
//	strata topic alter-partitions NAME --partitions N
//	strata topic reassign NAME --partition P (--replicas 3,2,1 | --cancel) [--wait]
//	strata group list [--state STATE]... [--type classic|consumer]
//	strata group describe GROUP...
//	strata group reset-offsets GROUP (--topic T[:P,P...]... | --all-topics)
//	    (--to-earliest | --to-latest | --to-offset N | --to-datetime TS | --shift-by N) [--dry-run]
//	strata group delete GROUP...
//	strata txn list [--state S]... [--producer-id ID]... [--duration-ms N] [--pattern RE] [--json]
//	strata txn describe TRANSACTIONAL-ID... [--json]
//	strata produce TOPIC [--key-separator SEP] [--header k=v]... [--partition P] [--acks all|1|0] ...
//	strata consume TOPIC [--offset N | --from-timestamp T] [--partition P]... [--count N] [--exit-at-end] [--isolation L] ...
//	strata consume TOPIC --group G [--group-protocol classic|consumer] [--balancer B] [--count N] [--exit-at-end] [--isolation L] ...
//	strata cluster status [--json]
//	strata bench produce|consume|e2e [--topic T] [--count N | --duration D] [--record-size B] ... [--json] [--chart F.svg]
//	strata bench produce --transactional [--txn-records N] ...; strata bench consume --isolation read_committed ...
//	strata verify [--duration D] [--rate N] [--seed N] [--consumers SPEC] [--nemesis CMD] [--json] [--report F.html] [--history F.json] (internal/verify)
//	strata console [--listen 127.0.0.1:9645]   (the web console, internal/console, until interrupted)
//	strata proxy [--listen 127.0.0.1:8082]     (the Confluent REST Proxy API, internal/restproxy, until interrupted)
//
// Every command takes --bootstrap (comma-separated host:port list) and
// --timeout (persistent flags of the topic and group commands, so they may
// follow any of their subcommands). For topic and group commands the timeout
// bounds the whole command; for produce it bounds the delivery of each
// record; for consume it bounds the offset lookups made before consuming
// starts and, with --group, the final commit (consuming itself runs until
// --count, --exit-at-end or cancellation of the command's context). main should run the root with ExecuteContext and a context
// cancelled on SIGINT/SIGTERM: consume then exits 0 with what it printed,
// and produce reports the interruption after its in-flight records settle.
//
// Errors. Commands set SilenceUsage and SilenceErrors and return errors whose
// text is one line, such as
//
//	topic "orders": TOPIC_ALREADY_EXISTS: Topic with this name already exists.
//
// Kafka error codes appear by their protocol name (from kerr), followed by
// the broker's error message when it sent one. main prints ErrorLine(err) to
// stderr and exits non-zero. The errors still wrap the kerr values, so
// errors.Is(err, kerr.TopicAlreadyExists) works.
//
// Output. Data and tables go to the command's OutOrStdout; summaries
// ("produced N records") go to ErrOrStderr, so stdout stays pipeable.
//
// Produce reads standard input as a stream: records are split on
// --delimiter (default newline; a trailing delimiter does not make an empty
// last record, but an empty line in the middle is an empty record), and
// kgo's buffer limits (MaxBufferedRecords, MaxBufferedBytes) bound how much
// is in flight; Produce blocks when the buffer is full. A record longer than
// --max-record-bytes (default 1 MiB) stops the input with an error. A line
// without the --key-separator gets a null key. After the first failed record no more
// input is read; the command waits for the records already sent and reports
// the first error.
//
// Groups. Both group protocols are handled: describe asks
// ConsumerGroupDescribe (KIP-848) first and falls back to DescribeGroups
// when the group is not a KIP-848 group or the broker lacks the API; list
// reads the group type from ListGroups v5+ (older brokers: every group is
// classic) and describes each listed group for its protocol and member
// count. Describe prints a "Key: value" header line, a members table
// (assignment as "topic:0,1 other:3") and an offsets table with one row per
// partition the group committed or a member owns:
//
//	TOPIC   PARTITION  COMMITTED-OFFSET  LOG-END-OFFSET  LAG  MEMBER-ID
//	orders  0          4                 7               3    member-1
//
// where LOG-END-OFFSET is the high watermark from ListOffsets, LAG is
// LOG-END-OFFSET minus COMMITTED-OFFSET, and "-" stands for none. Groups are
// separated by a blank line. Reset-offsets clamps new offsets into
// [LogStartOffset, HighWatermark] and, like kafka-consumer-groups.sh,
// refuses (even with --dry-run) unless the group is Empty, Dead or unknown.
//
// Transactions (KIP-664). List asks every broker (ListTransactions v0-2)
// for the transactional ids it coordinates and prints
//
//	TRANSACTIONAL-ID  COORDINATOR  PRODUCER-ID  STATE
//
// --state (v1+), --producer-id (v0+), --duration-ms (v1+: transactions open
// at least that long) and --pattern (v2+, RE2) filter on the broker; states
// and the pattern are filtered again here for brokers too old to, and
// --duration-ms against such a broker is an error. Describe
// (DescribeTransactions v0, through the coordinator of each id) prints one
// row per id: coordinator, state, producer id and epoch, timeout, start time
// (UTC) and how long ago that was, and the partitions in the transaction
// (formatted like a group member's assignment). An unknown id is reported
// as TRANSACTIONAL_ID_NOT_FOUND after the others are printed. With --json
// both print one object per transaction (times in Unix milliseconds,
// start_timestamp -1 and duration_ms null when none is open).
//
// Consume without --group assigns partitions directly. Start offsets are
// resolved up front with ListOffsets: --offset N >= 0 is clamped into
// [LogStartOffset, HighWatermark], --offset -N starts N records before the
// high watermark (not before the log start), --from-timestamp starts at the
// first record at or after the time (or at the high watermark when there is
// none), and --from-beginning=false without other flags starts at the high
// watermark. With --exit-at-end, records at or past the start-time high
// watermark are not printed. Control records (transaction markers) are never
// printed but count towards --exit-at-end progress.
//
// --isolation read_committed (default read_uncommitted, as Kafka's console
// consumer) fetches with that isolation level in both modes: aborted
// records are dropped and fetching stops at the last stable offset. The
// "high watermark" above is then the last stable offset (ListOffsets with
// read_committed), so --exit-at-end does not wait behind an open
// transaction.
//
// Consume --group G joins the group (kgo.ConsumerGroup; --group-protocol
// consumer adds kgo.ServerSideBalancer after checking that the cluster
// advertises ConsumerGroupHeartbeat v1, since kgo would otherwise fall back
// to classic quietly) and resumes at G's committed offsets; without a commit
// it starts at the log start, or at the high watermark with
// --from-beginning=false (--offset, --from-timestamp and --partition are
// refused). It commits only the offsets of records it printed (or control
// records it passed): they are marked after each poll's output is flushed,
// autocommitted every 5s, committed when partitions are revoked and once
// more on exit, whose failure is the command's error. Rebalances wait while
// a poll is printed (kgo.BlockRebalanceOnPoll). --exit-at-end ends once
// every partition assigned to this member reached the high watermark it had
// when the command started (judged from G's commits at start).
//
// --json prints one object per record:
//
//	{"topic":"t","partition":0,"offset":5,"timestamp":1700000000000,"leader_epoch":0,
//	 "key":"k","value":"v","headers":[{"key":"h","value":"x"}]}
//
// timestamp is Unix milliseconds. key, value and header values are JSON
// strings when the bytes are valid UTF-8 and null when the bytes are null;
// otherwise they are standard base64 and the object carries a sibling marker
// "key_encoding":"base64", "value_encoding":"base64" or, in a header,
// "value_encoding":"base64". Header keys are strings on the wire already.
//
// Cluster status prints the cluster id, the active controller (from
// DescribeCluster), every broker with its address, rack and whether it is
// fenced (DescribeCluster v2 includes fenced brokers; older brokers list
// only live ones), and counts over every partition of every topic:
// under-replicated (ISR smaller than the replicas), under-min-ISR (ISR
// smaller than the topic's min.insync.replicas from DescribeConfigs) and
// offline (no leader). --json prints the same as one object.
//
// Goroutines. The package starts none of its own; the kgo clients it creates
// run their goroutines and are closed before each command returns. With
// consume --group --exit-at-end, kgo's group goroutine calls the rebalance
// callbacks of groupProgress, whose state is guarded by its mutex.
package cli
