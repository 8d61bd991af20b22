package cli

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strata-io/strata/internal/groupinfo"
)

// resetTarget is the way reset-offsets picks each partition's new offset.
type resetTarget int

const (
	resetToEarliest resetTarget = iota
	resetToLatest
	resetToOffset
	resetToDatetime
	resetShiftBy
)

// resetTargetFlags are the flags that choose a resetTarget, exactly one of
// which must be given.
var resetTargetFlags = []string{"to-earliest", "to-latest", "to-offset", "to-datetime", "shift-by"}

type resetFlags struct {
	topics     []string
	allTopics  bool
	toEarliest bool
	toLatest   bool
	toOffset   int64
	toDatetime string
	shiftBy    int64
	dryRun     bool
}

func newGroupResetOffsetsCommand(cf *clientFlags) *cobra.Command {
	var rf resetFlags
	cmd := silence(&cobra.Command{
		Use:   "reset-offsets GROUP (--topic T[:P,P...]... | --all-topics) (--to-earliest | --to-latest | --to-offset N | --to-datetime TS | --shift-by N) [--dry-run]",
		Short: "Set a group's committed offsets (only while the group has no members)",
		Long: `Reset-offsets computes new committed offsets for the chosen partitions, prints
them next to the current ones and commits them (unless --dry-run).

New offsets are clamped into [log start offset, high watermark]. --to-datetime
takes the first offset whose record is at or after the time (the high watermark
when there is none); --shift-by moves the committed offset by N (negative N
moves back) and fails for partitions with nothing committed. --all-topics
means every partition the group has committed offsets for.

Like kafka-consumer-groups.sh, it refuses to run, --dry-run included, unless the
group is Empty, Dead or unknown: a live member would overwrite the new offsets
with its own commits.`,
		Args: cobra.ExactArgs(1),
	})
	fs := cmd.Flags()
	fs.StringArrayVar(&rf.topics, "topic", nil, "topic to reset, all partitions (T) or some (T:0,2); repeatable")
	fs.BoolVar(&rf.allTopics, "all-topics", false, "reset every partition the group has committed offsets for")
	fs.BoolVar(&rf.toEarliest, "to-earliest", false, "reset to the log start offset")
	fs.BoolVar(&rf.toLatest, "to-latest", false, "reset to the high watermark")
	fs.Int64Var(&rf.toOffset, "to-offset", 0, "reset to offset N")
	fs.StringVar(&rf.toDatetime, "to-datetime", "", "reset to the first record at or after this time (RFC3339 or Unix ms)")
	fs.Int64Var(&rf.shiftBy, "shift-by", 0, "move the committed offset by N (negative: back)")
	fs.BoolVar(&rf.dryRun, "dry-run", false, "print the new offsets without committing them")
	cmd.MarkFlagsOneRequired("topic", "all-topics")
	cmd.MarkFlagsMutuallyExclusive("topic", "all-topics")
	cmd.MarkFlagsOneRequired(resetTargetFlags...)
	cmd.MarkFlagsMutuallyExclusive(resetTargetFlags...)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return runResetOffsets(cmd, cf, &rf, args[0])
	}
	return cmd
}

// chosenTarget returns the target the flags name; cobra has already made
// sure exactly one of them was given.
func (rf *resetFlags) chosenTarget(fs *pflag.FlagSet) (resetTarget, int64, error) {
	switch {
	case fs.Changed("to-earliest"):
		if !rf.toEarliest {
			return 0, 0, errors.New("--to-earliest=false names no reset target")
		}
		return resetToEarliest, 0, nil
	case fs.Changed("to-latest"):
		if !rf.toLatest {
			return 0, 0, errors.New("--to-latest=false names no reset target")
		}
		return resetToLatest, 0, nil
	case fs.Changed("to-offset"):
		if rf.toOffset < 0 {
			return 0, 0, fmt.Errorf("--to-offset must not be negative, got %d", rf.toOffset)
		}
		return resetToOffset, rf.toOffset, nil
	case fs.Changed("to-datetime"):
		ms, err := parseTimestamp("to-datetime", rf.toDatetime)
		return resetToDatetime, ms, err
	default:
		return resetShiftBy, rf.shiftBy, nil
	}
}

// parseTopicPartitions parses --topic values, T or T:P,P..., into a map
// from topic to the partitions named; a nil list means every partition.
func parseTopicPartitions(given []string) (map[string][]int32, error) {
	out := make(map[string][]int32, len(given))
	for _, s := range given {
		topic, list, hasList := strings.Cut(s, ":")
		if topic == "" {
			return nil, fmt.Errorf("--topic %q: want TOPIC or TOPIC:P,P...", s)
		}
		if !hasList {
			out[topic] = nil
			continue
		}
		var ps []int32
		for f := range strings.SplitSeq(list, ",") {
			p, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
			if err != nil || p < 0 {
				return nil, fmt.Errorf("--topic %q: partition %q is not a non-negative number", s, f)
			}
			ps = append(ps, int32(p))
		}
		prev, seen := out[topic]
		if seen && prev == nil {
			continue // the whole topic was asked for already
		}
		ps = append(prev, ps...)
		slices.Sort(ps)
		out[topic] = slices.Compact(ps)
	}
	return out, nil
}

// resetRow is one partition's line in the reset-offsets table.
type resetRow struct {
	topic     string
	partition int32
	current   int64 // -1: nothing committed
	next      int64
}

func runResetOffsets(cmd *cobra.Command, cf *clientFlags, rf *resetFlags, group string) error {
	target, arg, err := rf.chosenTarget(cmd.Flags())
	if err != nil {
		return err
	}
	var selected map[string][]int32
	if !rf.allTopics {
		if selected, err = parseTopicPartitions(rf.topics); err != nil {
			return err
		}
	}
	return withClients(cmd, cf, func(ctx context.Context, cl *kgo.Client, adm *kadm.Client) error {
		described, err := groupinfo.Describe(ctx, cl, adm, []string{group}, nil)
		if err != nil {
			return groupError(group, err)
		}
		switch d := described[group]; {
		case errors.Is(d.Err, kerr.GroupIDNotFound):
			// No such group yet: committing creates it, Empty.
		case d.Err != nil:
			return groupError(group, d.Err)
		case d.State == "Empty" || d.State == "Dead":
		default:
			return groupError(group, fmt.Errorf("offsets can be reset only while the group is inactive (Empty), but it is %s with %d members; stop its consumers first",
				d.State, len(d.Members)))
		}

		committed, err := committedOffsets(ctx, adm, group)
		if err != nil {
			return groupError(group, err)
		}
		parts, err := resetPartitions(ctx, adm, group, selected, committed)
		if err != nil {
			return err
		}
		rows, err := computeResets(ctx, adm, parts, committed, target, arg)
		if err != nil {
			return err
		}

		var errs []error
		if !rf.dryRun {
			errs = commitResets(ctx, adm, group, rows)
		}
		tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TOPIC\tPARTITION\tCURRENT-OFFSET\tNEW-OFFSET")
		for _, r := range rows {
			current := "-"
			if r.current >= 0 {
				current = strconv.FormatInt(r.current, 10)
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\n", r.topic, r.partition, current, r.next)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		switch {
		case len(errs) > 0:
			return joinLine(errs)
		case rf.dryRun:
			_, err = fmt.Fprintf(cmd.ErrOrStderr(), "dry run: nothing committed for group %q\n", group)
		default:
			_, err = fmt.Fprintf(cmd.ErrOrStderr(), "committed new offsets for %d partitions of group %q\n", len(rows), group)
		}
		return err
	})
}

// resetPartitions resolves the partitions to reset: those named by --topic
// (checked against the cluster's metadata), or with selected nil
// (--all-topics) those the group has committed offsets for.
func resetPartitions(ctx context.Context, adm *kadm.Client, group string, selected map[string][]int32, committed kadm.OffsetResponses) (kadm.TopicsSet, error) {
	parts := make(kadm.TopicsSet)
	if selected == nil {
		committed.Each(func(o kadm.OffsetResponse) {
			if o.Err == nil {
				parts.Add(o.Topic, o.Partition)
			}
		})
		if len(parts) == 0 {
			return nil, groupError(group, errors.New("no committed offsets to reset; name topics with --topic"))
		}
		return parts, nil
	}
	topics := make([]string, 0, len(selected))
	for t := range selected {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	md, err := adm.Metadata(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("describe topics: %w", err)
	}
	var errs []error
	for _, t := range topics {
		td, ok := md.Topics[t]
		switch {
		case !ok:
			errs = append(errs, topicError(t, kerr.UnknownTopicOrPartition))
			continue
		case td.Err != nil:
			errs = append(errs, topicError(t, td.Err))
			continue
		}
		ps := selected[t]
		if ps == nil {
			ps = td.Partitions.Numbers()
		}
		for _, p := range ps {
			if _, ok := td.Partitions[p]; !ok {
				errs = append(errs, topicError(t, fmt.Errorf("partition %d does not exist (the topic has %d partitions)", p, len(td.Partitions))))
				continue
			}
			parts.Add(t, p)
		}
	}
	if len(errs) > 0 {
		return nil, joinLine(errs)
	}
	return parts, nil
}

// lookupListed returns a partition's offset from a ListOffsets answer; what
// names the kind of offset for the error.
func lookupListed(l kadm.ListedOffsets, what, topic string, p int32) (int64, error) {
	o, ok := l.Lookup(topic, p)
	switch {
	case !ok:
		return 0, topicError(topic, fmt.Errorf("partition %d: no %s in the ListOffsets response", p, what))
	case o.Err != nil:
		return 0, topicError(topic, fmt.Errorf("partition %d: list %s: %w", p, what, o.Err))
	}
	return o.Offset, nil
}

// computeResets picks each partition's new offset, sorted by topic and
// partition.
func computeResets(ctx context.Context, adm *kadm.Client, parts kadm.TopicsSet, committed kadm.OffsetResponses, target resetTarget, arg int64) ([]resetRow, error) {
	topics := parts.Topics()
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list log start offsets: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list high watermarks: %w", err)
	}
	var byTime kadm.ListedOffsets
	if target == resetToDatetime {
		// kadm answers partitions without such a record with the
		// high watermark.
		if byTime, err = adm.ListOffsetsAfterMilli(ctx, arg, topics...); err != nil {
			return nil, fmt.Errorf("list offsets by time: %w", err)
		}
	}
	var (
		rows []resetRow
		errs []error
	)
	for _, t := range parts.Sorted() {
		for _, p := range t.Partitions {
			row, err := computeReset(t.Topic, p, starts, ends, byTime, committed, target, arg)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			rows = append(rows, row)
		}
	}
	if len(errs) > 0 {
		return nil, joinLine(errs)
	}
	return rows, nil
}

func computeReset(topic string, p int32, starts, ends, byTime kadm.ListedOffsets, committed kadm.OffsetResponses, target resetTarget, arg int64) (resetRow, error) {
	row := resetRow{topic: topic, partition: p, current: -1}
	if c, ok := committed.Lookup(topic, p); ok && c.Err == nil {
		row.current = c.At
	}
	logStart, err := lookupListed(starts, "log start offset", topic, p)
	if err != nil {
		return row, err
	}
	hwm, err := lookupListed(ends, "high watermark", topic, p)
	if err != nil {
		return row, err
	}
	var next int64
	switch target {
	case resetToEarliest:
		next = logStart
	case resetToLatest:
		next = hwm
	case resetToOffset:
		next = arg
	case resetToDatetime:
		if next, err = lookupListed(byTime, "offset by time", topic, p); err != nil {
			return row, err
		}
		if next < 0 {
			next = hwm
		}
	case resetShiftBy:
		if row.current < 0 {
			return row, topicError(topic, fmt.Errorf("partition %d: nothing committed to shift", p))
		}
		next = addClamped(row.current, arg)
	}
	row.next = min(max(next, logStart), hwm)
	return row, nil
}

// addClamped adds without overflowing int64.
func addClamped(a, b int64) int64 {
	switch {
	case b > 0 && a > math.MaxInt64-b:
		return math.MaxInt64
	case b < 0 && a < math.MinInt64-b:
		return math.MinInt64
	}
	return a + b
}

// commitResets commits the new offsets and returns one error per failed
// partition.
func commitResets(ctx context.Context, adm *kadm.Client, group string, rows []resetRow) []error {
	offsets := make(kadm.Offsets)
	for _, r := range rows {
		offsets.Add(kadm.Offset{Topic: r.topic, Partition: r.partition, At: r.next, LeaderEpoch: -1})
	}
	resps, err := adm.CommitOffsets(ctx, group, offsets)
	if err != nil {
		return []error{groupError(group, fmt.Errorf("commit offsets: %w", err))}
	}
	var errs []error
	for _, r := range resps.Sorted() {
		if r.Err != nil {
			errs = append(errs, groupError(group, topicError(r.Topic, fmt.Errorf("partition %d: commit: %w", r.Partition, r.Err))))
		}
	}
	for _, r := range rows {
		if _, ok := resps.Lookup(r.topic, r.partition); !ok {
			errs = append(errs, groupError(group, topicError(r.topic, fmt.Errorf("partition %d: missing from the OffsetCommit response", r.partition))))
		}
	}
	return errs
}
