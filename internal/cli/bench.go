package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/strata-io/strata/internal/bench"
)

const benchLong = `Bench measures a cluster the way kafka-producer-perf-test and
kafka-consumer-perf-test do, with franz-go clients:

  produce  send --count records (or for --duration) of --record-size random
           bytes from --producers clients at --rate records/s (0: as fast as
           possible); latency is from the Produce call to the acknowledgement
  consume  read --count records (or for --duration) from the start of the
           topic, or as members of --group from its committed offsets
  e2e      produce at --rate and consume in the same process; latency is the
           receipt time minus the send time stamped in each record

produce --transactional makes each producer transactional (a transactional id
unique to the run and producer) and commits a transaction every --txn-records
records, after they are acknowledged; the summary's throughput line then adds
transactions committed per second. consume --isolation read_committed counts
only records of committed transactions.

Each second a progress line goes to stderr (records/s and MB/s of that second,
p99 latency so far). At the end a summary goes to stdout: records, bytes,
elapsed time, records/s, MB/s, latency p50/p90/p99/p99.9/max, and errors; with
--json it is one JSON object instead. MB is 10^6 bytes, GB 10^9 bytes.

When the broker runs on this machine (--broker-pid, or found automatically:
exactly one other process named strata listening on the bootstrap port), the
summary adds its CPU time during the run, CPU seconds per GB moved, the peak
RSS sampled every 100ms, and its VmHWM.

The command exits non-zero when any record failed, when consuming saw no
record for --timeout, or when interrupted (after printing the summary).`

// benchFlags are the flags of one bench subcommand.
type benchFlags struct {
	jsonOut   bool
	chart     string
	brokerPID int
	quiet     bool
}

func newBenchCommand() *cobra.Command {
	cmd, cf := newParentCommand("bench", "Measure produce, consume and end-to-end throughput and latency",
		"produce and e2e: how long a record may wait to be acknowledged; consume and e2e: how long to wait for records before failing; also bounds topic setup")
	cmd.Long = benchLong
	cmd.AddCommand(
		newBenchWorkloadCommand(cf, bench.WorkloadProduce, "Produce records as fast as allowed and measure acknowledgement latency"),
		newBenchWorkloadCommand(cf, bench.WorkloadConsume, "Consume records from a topic and measure throughput"),
		newBenchWorkloadCommand(cf, bench.WorkloadE2E, "Produce at a rate, consume in the same process, and measure end-to-end latency"),
	)
	return cmd
}

func newBenchWorkloadCommand(cf *clientFlags, w bench.Workload, short string) *cobra.Command {
	cfg := bench.DefaultConfig(w)
	var bf benchFlags
	cmd := silence(&cobra.Command{
		Use:   string(w),
		Short: short,
		Long:  short + ".\n\n" + benchLong,
		Args:  cobra.NoArgs,
	})
	fs := cmd.Flags()
	fs.StringVar(&cfg.Topic, "topic", cfg.Topic, "topic to use")
	fs.Int64Var(&cfg.Count, "count", cfg.Count, "records to move (0: no limit; with --duration alone the default is no limit)")
	fs.DurationVar(&cfg.Duration, "duration", 0, "how long to run (0: until --count)")
	if w != bench.WorkloadConsume {
		fs.Int32Var(&cfg.Partitions, "partitions", cfg.Partitions, "partitions of the topic when it must be created (-1: broker default)")
		fs.Int16Var(&cfg.ReplicationFactor, "replication-factor", cfg.ReplicationFactor, "replication factor of the topic when it must be created (-1: broker default)")
		fs.IntVar(&cfg.RecordSize, "record-size", cfg.RecordSize, "bytes in each record value: random letters A-Z cut from a buffer made before the run")
		fs.StringVar(&cfg.Acks, "acks", cfg.Acks, "required acknowledgements: all, 1 or 0 (all is idempotent)")
		fs.DurationVar(&cfg.Linger, "linger", cfg.Linger, "how long a partition waits to fill a batch")
		fs.Int32Var(&cfg.BatchMaxBytes, "batch-size", 0, "largest record batch in bytes before compression (0: the client default, about 1 MB)")
		fs.StringVar(&cfg.Compression, "compression", cfg.Compression, "batch compression: none, gzip, snappy, lz4 or zstd")
		fs.IntVar(&cfg.Producers, "producers", cfg.Producers, "concurrent producer clients, each with an equal share of --count and --rate")
		fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "target records per second over all producers, paced evenly (0: unlimited)")
	}
	if w == bench.WorkloadProduce {
		fs.BoolVar(&cfg.Transactional, "transactional", false, "make each producer transactional (a transactional id unique to the run and producer), committing every --txn-records records")
		fs.IntVar(&cfg.TxnRecords, "txn-records", cfg.TxnRecords, "with --transactional: records per transaction and producer")
	}
	if w == bench.WorkloadConsume {
		fs.IntVar(&cfg.Consumers, "consumers", cfg.Consumers, "concurrent consumer clients (without --group, at most one per partition)")
		fs.StringVar(&cfg.Group, "group", "", "consume as members of this group, from its committed offsets, committing what is counted")
		fs.StringVar(&cfg.Isolation, "isolation", cfg.Isolation, "read_uncommitted (every record) or read_committed (only committed transactions)")
	}
	fs.BoolVar(&bf.jsonOut, "json", false, "print the summary as one JSON object")
	fs.StringVar(&bf.chart, "chart", "", "write an SVG chart of throughput and p99 latency per second to this file")
	fs.IntVar(&bf.brokerPID, "broker-pid", 0, "report CPU and memory of this local broker process (0: find it by the bootstrap port; -1: off)")
	fs.BoolVar(&bf.quiet, "quiet", false, "print no progress lines")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if cmd.Flags().Changed("duration") && !cmd.Flags().Changed("count") {
			cfg.Count = 0
		}
		if cmd.Flags().Changed("txn-records") && !cfg.Transactional {
			return errors.New("--txn-records needs --transactional")
		}
		return runBench(cmd, cf, cfg, &bf)
	}
	return cmd
}

func runBench(cmd *cobra.Command, cf *clientFlags, cfg bench.Config, bf *benchFlags) error {
	seeds, err := cf.seeds()
	if err != nil {
		return err
	}
	cfg.ClientOpts = cf.connOpts(seeds)
	cfg.Timeout = cf.timeout
	stderr := cmd.ErrOrStderr()
	if !bf.quiet {
		cfg.Progress = stderr
		cfg.ProgressInPlace = isTerminal(stderr)
	}
	switch {
	case bf.brokerPID > 0:
		cfg.BrokerPID = bf.brokerPID
	case bf.brokerPID == 0:
		pid, err := bench.FindBroker(seeds)
		if err != nil && !bf.quiet {
			// Not fatal: the run goes on without broker figures.
			fmt.Fprintf(stderr, "no broker figures: %v (pass --broker-pid)\n", err)
		}
		cfg.BrokerPID = pid
	case bf.brokerPID < -1:
		return fmt.Errorf("--broker-pid must be a process id, 0 or -1, got %d", bf.brokerPID)
	}
	if err := cfg.Validate(); err != nil {
		return benchFlagError(err)
	}

	res, runErr := bench.Run(cmd.Context(), cfg)
	if res == nil {
		return cf.explainTimeout(runErr)
	}
	var outErr error
	if bf.jsonOut {
		outErr = json.NewEncoder(cmd.OutOrStdout()).Encode(res)
	} else {
		outErr = res.WriteText(cmd.OutOrStdout())
	}
	if bf.chart != "" {
		outErr = errors.Join(outErr, writeChartFile(bf.chart, res))
	}
	return joinLine(nonNil(runErr, outErr))
}

// benchFlagError names the flags of Config.Validate's problems.
func benchFlagError(err error) error {
	return fmt.Errorf("invalid flags: %w", err)
}

func writeChartFile(path string, res *bench.Result) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--chart: %w", err)
	}
	if err := bench.WriteChart(f, res); err != nil {
		f.Close()
		return fmt.Errorf("--chart %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("--chart %s: %w", path, err)
	}
	return nil
}

func nonNil(errs ...error) []error {
	var out []error
	for _, e := range errs {
		if e != nil {
			out = append(out, e)
		}
	}
	return out
}

// isTerminal reports whether w is a character device, such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
