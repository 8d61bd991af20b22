// Package cli holds the client subcommands of the strata binary: topic
// administration, a line-oriented producer and a consumer. They speak the
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
//	strata produce TOPIC [--key-separator SEP] [--header k=v]... [--partition P] [--acks all|1|0] ...
//	strata consume TOPIC [--offset N | --from-timestamp T] [--partition P]... [--count N] [--exit-at-end] ...
//
// Every command takes --bootstrap (comma-separated host:port list) and
// --timeout (persistent flags of the topic group, so they may follow any
// topic subcommand). For topic commands the timeout bounds the whole
// command; for produce it bounds the delivery of each record; for consume it
// bounds the offset lookups made before consuming starts (consuming itself
// runs until --count, --exit-at-end or cancellation of the command's
// context). main should run the root with ExecuteContext and a context
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
// Consume assigns partitions directly (no consumer group). Start offsets are
// resolved up front with ListOffsets: --offset N >= 0 is clamped into
// [LogStartOffset, HighWatermark], --offset -N starts N records before the
// high watermark (not before the log start), --from-timestamp starts at the
// first record at or after the time (or at the high watermark when there is
// none), and --from-beginning=false without other flags starts at the high
// watermark. With --exit-at-end, records at or past the start-time high
// watermark are not printed. Control records (transaction markers) are never
// printed but count towards --exit-at-end progress.
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
// Goroutines. The package starts none of its own; the kgo clients it creates
// run their goroutines and are closed before each command returns.
package cli
