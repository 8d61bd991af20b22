package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/strata-io/strata/internal/verify"
)

const verifyLong = `Verify runs a Jepsen-style workload against any Kafka-compatible cluster and
checks what its clients saw.

Producers write unique values to every partition of --topic at --rate
records/s in total: --producers idempotent ones, --non-idempotent ones (acks=all
with retries), and --transactional ones whose transactions (1 to 10 records on
up to three partitions) commit, or abort with probability --abort-ratio.
Meanwhile --consumers read: "assign" clients read every partition from where
the run started; "group-classic" and "group-consumer" (KIP-848) groups of
MEMBERS clients (default 2; the last one leaves and rejoins once) commit after
every poll. Each is read_committed or read_uncommitted. Every send,
acknowledgement, transaction step, poll, commit and rebalance is recorded with
its time. After --duration the producers stop, consumers get --settle-timeout
to see every acknowledged record, and every partition is read back in full
(read_uncommitted and read_committed).

The checker reports, with Jepsen's names and one concrete example each:
lost-write, unseen, duplicate, inconsistent-offsets, aborted-read (G1a),
precommitted-read, torn-transaction, poll-skip, nonmonotonic-poll,
nonmonotonic-send, committed-offset-regression and group-double-consume.
Duplicates written by non-idempotent producers' retries are reported as
information, not anomalies.

--nemesis runs a command with "sh -c" every --nemesis-interval during the
load (for example a broker restart); each run is a fault window in the
reports, with its output. --seed makes the workload's choices (partitions,
transaction sizes, commits and aborts, the group member restart) repeatable.

The summary goes to stdout (--json: one JSON object instead); --report writes
a self-contained HTML page with a timeline, --history the raw history as JSON
(durations and times in both JSON forms are nanoseconds; times count from the
run's start).
Exit status: 0 clean, 1 anomalies found, 2 the run could not be made or not
fully checked (the cluster was unreachable, a final read did not complete).`

// ExitError asks main to exit with Code after printing Err.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// cannotRun marks err as an inability to run (exit status 2).
func cannotRun(err error) error {
	if err == nil {
		return nil
	}
	return &ExitError{Code: 2, Err: err}
}

type verifyFlags struct {
	cfg             verify.Config
	consumers       string
	jsonOut         bool
	report          string
	history         string
	nemesis         string
	nemesisInterval time.Duration
	quiet           bool
}

func newVerifyCommand() *cobra.Command {
	var vf verifyFlags
	cmd := silence(&cobra.Command{
		Use:   "verify",
		Short: "Run a Jepsen-style workload and check the cluster kept its promises",
		Long:  verifyLong,
		Args:  cobra.NoArgs,
	})
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cannotRun(err) })
	cf := addClientFlags(cmd.Flags(), "how long one record may wait for its acknowledgement")
	fs := cmd.Flags()
	var defaults []string
	for _, s := range verify.DefaultConsumers() {
		defaults = append(defaults, s.String())
	}
	fs.StringVar(&vf.cfg.Topic, "topic", "", "topic to write and read (default strata-verify-SEED; created when missing)")
	fs.Int32Var(&vf.cfg.Partitions, "partitions", 6, "partitions of the topic when it is created")
	fs.Int16Var(&vf.cfg.ReplicationFactor, "replication-factor", 0, "replication factor of the topic when it is created (0: 3, or fewer brokers; min.insync.replicas=2 from 3 on)")
	fs.DurationVar(&vf.cfg.Duration, "duration", 60*time.Second, "length of the load phase")
	fs.IntVar(&vf.cfg.Rate, "rate", 500, "records per second over all producers")
	fs.Int64Var(&vf.cfg.Seed, "seed", 0, "seed of every random choice (default: from the clock, printed in the summary)")
	fs.IntVar(&vf.cfg.Producers, "producers", 2, "idempotent producers")
	fs.IntVar(&vf.cfg.NonIdempotent, "non-idempotent", 0, "non-idempotent producers (acks=all, retries on)")
	fs.IntVar(&vf.cfg.Transactional, "transactional", 1, "transactional producers")
	fs.Float64Var(&vf.cfg.AbortRatio, "abort-ratio", 0.2, "share of transactions aborted")
	fs.StringVar(&vf.consumers, "consumers", strings.Join(defaults, ","), "comma-separated MODE:ISOLATION[:MEMBERS]; MODE assign, group-classic or group-consumer; ISOLATION read_committed or read_uncommitted")
	fs.DurationVar(&vf.cfg.SettleTimeout, "settle-timeout", 60*time.Second, "after the load, how long consumers may take to see every acknowledged record; keep it above the groups' session timeout (a member that could not leave during a fault holds its partitions until its session expires)")
	fs.StringVar(&vf.nemesis, "nemesis", "", `command run with "sh -c" every --nemesis-interval during the load (e.g. a broker restart)`)
	fs.DurationVar(&vf.nemesisInterval, "nemesis-interval", 10*time.Second, "time between the starts of two --nemesis runs")
	fs.BoolVar(&vf.jsonOut, "json", false, "print the result as one JSON object")
	fs.StringVar(&vf.report, "report", "", "write an HTML report with a timeline to this file")
	fs.StringVar(&vf.history, "history", "", "write the recorded history as JSON to this file")
	fs.BoolVar(&vf.quiet, "quiet", false, "print no progress lines")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if !cmd.Flags().Changed("seed") {
			vf.cfg.Seed = time.Now().UnixNano() % 1_000_000_000
		}
		if cmd.Flags().Changed("abort-ratio") && vf.cfg.AbortRatio == 0 {
			vf.cfg.AbortRatio = -1 // the library's "none"; 0 means its default
		}
		return runVerify(cmd, cf, &vf)
	}
	return cmd
}

func runVerify(cmd *cobra.Command, cf *clientFlags, vf *verifyFlags) error {
	cfg := vf.cfg
	seeds, err := cf.seeds()
	if err != nil {
		return cannotRun(err)
	}
	if err := cf.checkLogin(seeds); err != nil {
		return cannotRun(err)
	}
	switch {
	case cfg.Partitions <= 0:
		return cannotRun(fmt.Errorf("--partitions must be positive, got %d", cfg.Partitions))
	case cfg.Duration <= 0:
		return cannotRun(fmt.Errorf("--duration must be positive, got %s", cfg.Duration))
	case cfg.Rate <= 0:
		return cannotRun(fmt.Errorf("--rate must be positive, got %d", cfg.Rate))
	case cfg.SettleTimeout <= 0:
		return cannotRun(fmt.Errorf("--settle-timeout must be positive, got %s", cfg.SettleTimeout))
	case cfg.Producers+cfg.NonIdempotent+cfg.Transactional == 0:
		return cannotRun(errors.New("no producers: set --producers, --non-idempotent or --transactional"))
	}
	cfg.Bootstrap = seeds
	cfg.ClientOpts = cf.connOpts(seeds)
	cfg.RecordTimeout = cf.timeout
	if cfg.Consumers, err = verify.ParseConsumerSpecs(vf.consumers); err != nil {
		return cannotRun(fmt.Errorf("--consumers: %w", err))
	}
	if vf.nemesis != "" {
		if vf.nemesisInterval <= 0 {
			return cannotRun(fmt.Errorf("--nemesis-interval must be positive, got %s", vf.nemesisInterval))
		}
		cfg.Nemesis = verify.CommandNemesis{Command: vf.nemesis, Interval: vf.nemesisInterval}
	}
	stderr := cmd.ErrOrStderr()
	if !vf.quiet {
		cfg.Logf = func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
	}

	h, err := verify.Run(cmd.Context(), cfg)
	if err != nil {
		return cannotRun(cf.explainTimeout(err))
	}
	res := verify.Check(h)
	var outErr error
	if vf.jsonOut {
		outErr = res.WriteJSON(cmd.OutOrStdout())
	} else {
		outErr = res.WriteSummary(cmd.OutOrStdout())
	}
	if vf.history != "" {
		outErr = errors.Join(outErr, writeFileWith(vf.history, "--history", func(f *os.File) error {
			enc := json.NewEncoder(f)
			return enc.Encode(h)
		}))
	}
	if vf.report != "" {
		outErr = errors.Join(outErr, writeFileWith(vf.report, "--report", func(f *os.File) error {
			return verify.WriteHTML(f, h, res)
		}))
	}
	total := 0
	for _, n := range res.Counts {
		total += n
	}
	switch {
	case total > 0:
		return &ExitError{Code: 1, Err: errors.Join(fmt.Errorf("verify: %d anomalies found (seed %d)", total, res.Seed), outErr)}
	case !res.OK():
		return cannotRun(errors.Join(fmt.Errorf("verify: the history could not be fully checked (seed %d)", res.Seed), outErr))
	}
	return cannotRun(outErr)
}

// writeFileWith creates path and fills it with write; flag names the
// option in errors.
func writeFileWith(path, flag string, write func(*os.File) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("%s: %w", flag, err)
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s %s: %w", flag, path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%s %s: %w", flag, path, err)
	}
	return nil
}
