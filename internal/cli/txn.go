package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newTxnCommand() *cobra.Command {
	cmd, cf := newParentCommand("txn", "List and describe transactions (KIP-664)",
		"how long the whole command may wait for the cluster")
	cmd.AddCommand(
		newTxnListCommand(cf),
		newTxnDescribeCommand(cf),
	)
	return cmd
}

// txnError prefixes err with the transactional id it is about.
func txnError(txnID string, err error) error {
	return fmt.Errorf("transactional id %q: %w", txnID, err)
}

// requireAPI fails with a readable error when some broker does not serve
// the request at all; kgo's own errors for that ("broker is too old", or
// INVALID_REQUEST from a FindCoordinator it cannot answer) do not say what
// is missing.
func requireAPI(ctx context.Context, adm *kadm.Client, key kmsg.Key) error {
	ok, err := clusterSupports(ctx, adm, key, 0)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("the cluster does not serve %s (KIP-664): at least one broker lacks it", key.Name())
	}
	return nil
}

// txnStates are the states --state accepts, spelled as brokers report them
// (Kafka's TransactionState names).
var txnStates = []string{"Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort", "Dead", "PrepareEpochFence"}

// normalizeTxnStates checks --state values case-insensitively and returns
// them spelled as brokers report them.
func normalizeTxnStates(given []string) ([]string, error) {
	var out []string
	for _, s := range given {
		i := slices.IndexFunc(txnStates, func(known string) bool { return strings.EqualFold(known, s) })
		if i < 0 {
			return nil, fmt.Errorf("--state %q: want one of %s", s, strings.Join(txnStates, ", "))
		}
		if !slices.Contains(out, txnStates[i]) {
			out = append(out, txnStates[i])
		}
	}
	return out, nil
}

// txnListFilter is what `txn list` asks the brokers to filter on.
type txnListFilter struct {
	states      []string       // ListTransactions v1+; filtered here again for older brokers
	producerIDs []int64        // v0+
	durationMs  int64          // v1+; -1: no filter
	pattern     *regexp.Regexp // v2+ (KIP-1152); filtered here again for older brokers; nil: none
}

// listedTxn is one transaction of a ListTransactions answer, also its
// --json shape.
type listedTxn struct {
	TransactionalID string `json:"transactional_id"`
	Coordinator     int32  `json:"coordinator"`
	ProducerID      int64  `json:"producer_id"`
	State           string `json:"state"`
}

// listTxns asks every broker for the transactions it coordinates. Brokers
// that failed are left out of the list and their errors returned with it.
//
// NB: a broker drops the filter fields its ListTransactions version lacks
// and answers unfiltered. States and the pattern are filtered here again;
// the duration cannot be (the answer carries no start time), so a broker
// too old for it is an error rather than a silently longer list.
func listTxns(ctx context.Context, cl *kgo.Client, f txnListFilter) ([]listedTxn, error) {
	req := kmsg.NewPtrListTransactionsRequest()
	req.StateFilters = f.states
	req.ProducerIDFilters = f.producerIDs
	req.DurationFilterMillis = f.durationMs
	if f.pattern != nil {
		p := f.pattern.String()
		req.TransactionalIDPattern = &p
	}
	var (
		txns []listedTxn
		errs []error
	)
	for _, shard := range cl.RequestSharded(ctx, req) {
		node := shard.Meta.NodeID
		if shard.Err != nil {
			errs = append(errs, fmt.Errorf("list transactions on broker %d: %w", node, shard.Err))
			continue
		}
		resp := shard.Resp.(*kmsg.ListTransactionsResponse)
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			errs = append(errs, fmt.Errorf("list transactions on broker %d: %w", node, err))
			continue
		}
		if f.durationMs >= 0 && resp.Version < 1 {
			errs = append(errs, fmt.Errorf("list transactions on broker %d: --duration-ms needs ListTransactions v1 (Kafka 3.8+), the broker answered v%d", node, resp.Version))
			continue
		}
		for _, ts := range resp.TransactionStates {
			lt := listedTxn{TransactionalID: ts.TransactionalID, Coordinator: node, ProducerID: ts.ProducerID, State: ts.TransactionState}
			if len(f.states) > 0 && !slices.ContainsFunc(f.states, func(s string) bool { return strings.EqualFold(s, lt.State) }) {
				continue
			}
			if f.pattern != nil && !f.pattern.MatchString(lt.TransactionalID) {
				continue
			}
			txns = append(txns, lt)
		}
	}
	slices.SortFunc(txns, func(a, b listedTxn) int { return strings.Compare(a.TransactionalID, b.TransactionalID) })
	return txns, joinLine(errs)
}

func newTxnListCommand(cf *clientFlags) *cobra.Command {
	var (
		states      []string
		producerIDs []int64
		durationMs  int64
		pattern     string
		asJSON      bool
	)
	cmd := silence(&cobra.Command{
		Use:   "list",
		Short: "List transactional ids with their coordinator, producer id and transaction state",
		Args:  cobra.NoArgs,
	})
	fs := cmd.Flags()
	fs.StringSliceVar(&states, "state", nil, "only transactions in this state (repeatable or comma-separated): "+strings.Join(txnStates, ", "))
	fs.Int64SliceVar(&producerIDs, "producer-id", nil, "only transactions of this producer id (repeatable or comma-separated)")
	fs.Int64Var(&durationMs, "duration-ms", -1, "only transactions running for at least this many milliseconds (ListTransactions v1+)")
	fs.StringVar(&pattern, "pattern", "", "only transactional ids matching this RE2 regular expression")
	fs.BoolVar(&asJSON, "json", false, "print one JSON object per transaction")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		f := txnListFilter{producerIDs: producerIDs, durationMs: -1}
		var err error
		if f.states, err = normalizeTxnStates(states); err != nil {
			return err
		}
		if cmd.Flags().Changed("duration-ms") {
			if durationMs < 0 {
				return fmt.Errorf("--duration-ms must not be negative, got %d", durationMs)
			}
			f.durationMs = durationMs
		}
		for _, id := range producerIDs {
			if id < 0 {
				return fmt.Errorf("--producer-id must not be negative, got %d", id)
			}
		}
		if pattern != "" {
			if f.pattern, err = regexp.Compile(pattern); err != nil {
				return fmt.Errorf("--pattern %q: %w", pattern, err)
			}
		}
		return withClients(cmd, cf, func(ctx context.Context, cl *kgo.Client, adm *kadm.Client) error {
			if err := requireAPI(ctx, adm, kmsg.ListTransactions); err != nil {
				return err
			}
			txns, listErr := listTxns(ctx, cl, f)
			if listErr != nil && len(txns) == 0 {
				return listErr
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				for _, lt := range txns {
					if err := enc.Encode(lt); err != nil {
						return err
					}
				}
				return listErr
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TRANSACTIONAL-ID\tCOORDINATOR\tPRODUCER-ID\tSTATE")
			for _, lt := range txns {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", lt.TransactionalID, lt.Coordinator, lt.ProducerID, orDash(lt.State))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			return listErr
		})
	}
	return cmd
}

// describedTxn is what `txn describe` shows of one transactional id, also
// its --json shape. Times are Unix milliseconds; StartTimestamp is -1 when
// no transaction is open.
type describedTxn struct {
	TransactionalID string             `json:"transactional_id"`
	Coordinator     int32              `json:"coordinator"`
	State           string             `json:"state"`
	ProducerID      int64              `json:"producer_id"`
	ProducerEpoch   int16              `json:"producer_epoch"`
	TimeoutMs       int32              `json:"timeout_ms"`
	StartTimestamp  int64              `json:"start_timestamp"`
	DurationMs      *int64             `json:"duration_ms"` // since StartTimestamp; null when it is -1
	Partitions      map[string][]int32 `json:"partitions"`  // in the transaction (while preparing: those still without markers)
}

func newDescribedTxn(d kadm.DescribedTransaction, now time.Time) describedTxn {
	dt := describedTxn{
		TransactionalID: d.TxnID,
		Coordinator:     d.Coordinator,
		State:           d.State,
		ProducerID:      d.ProducerID,
		ProducerEpoch:   d.ProducerEpoch,
		TimeoutMs:       d.TimeoutMillis,
		StartTimestamp:  d.StartTimestamp,
		Partitions:      make(map[string][]int32),
	}
	if d.StartTimestamp >= 0 {
		ms := max(now.UnixMilli()-d.StartTimestamp, 0)
		dt.DurationMs = &ms
	}
	for _, tp := range d.Topics.Sorted() {
		if len(tp.Partitions) > 0 {
			dt.Partitions[tp.Topic] = tp.Partitions
		}
	}
	return dt
}

func newTxnDescribeCommand(cf *clientFlags) *cobra.Command {
	var asJSON bool
	cmd := silence(&cobra.Command{
		Use:   "describe TRANSACTIONAL-ID...",
		Short: "Show a transactional id's state, producer id and epoch, timeout, start time and partitions",
		Args:  cobra.MinimumNArgs(1),
	})
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per transactional id")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		ids := dedupe(args)
		return withAdmin(cmd, cf, func(ctx context.Context, adm *kadm.Client) error {
			if err := requireAPI(ctx, adm, kmsg.DescribeTransactions); err != nil {
				return err
			}
			described, err := adm.DescribeTransactions(ctx, ids...)
			var se *kadm.ShardErrors
			if err != nil && !errors.As(err, &se) {
				return fmt.Errorf("describe transactions: %w", err)
			}
			now := time.Now()
			var (
				rows []describedTxn
				errs []error
			)
			for _, id := range ids {
				d, ok := described[id]
				switch {
				case !ok && err != nil:
					errs = append(errs, txnError(id, err))
				case !ok:
					errs = append(errs, txnError(id, errors.New("missing from the DescribeTransactions response")))
				case d.Err != nil:
					errs = append(errs, txnError(id, d.Err))
				default:
					rows = append(rows, newDescribedTxn(d, now))
				}
			}
			if err := writeDescribedTxns(cmd.OutOrStdout(), rows, asJSON); err != nil {
				return err
			}
			return joinLine(errs)
		})
	}
	return cmd
}

// writeDescribedTxns prints one table row (or JSON object) per
// transactional id, in the order given. A table is printed only when there
// is a row.
func writeDescribedTxns(w io.Writer, rows []describedTxn, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	if len(rows) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TRANSACTIONAL-ID\tCOORDINATOR\tSTATE\tPRODUCER-ID\tPRODUCER-EPOCH\tTIMEOUT-MS\tSTART-TIME\tDURATION-MS\tPARTITIONS")
	for _, r := range rows {
		start, duration := "-", "-"
		if r.StartTimestamp >= 0 {
			start = time.UnixMilli(r.StartTimestamp).UTC().Format("2006-01-02T15:04:05.000Z")
		}
		if r.DurationMs != nil {
			duration = strconv.FormatInt(*r.DurationMs, 10)
		}
		ts := make(kadm.TopicsSet)
		for t, ps := range r.Partitions {
			ts.Add(t, ps...)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", r.TransactionalID, r.Coordinator, orDash(r.State),
			r.ProducerID, r.ProducerEpoch, r.TimeoutMs, start, duration, formatAssignment(ts))
	}
	return tw.Flush()
}
