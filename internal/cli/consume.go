package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

type consumeFlags struct {
	fromBeginning bool
	offset        int64
	fromTimestamp string
	partitions    []int32
	count         int
	exitAtEnd     bool
	format        string
	printKey      bool
	json          bool
	isolation     string // --isolation: isolationReadUncommitted or isolationReadCommitted

	group         string // --group: consume as a group member; see consume_group.go
	groupProtocol string
	balancer      string
}

func newConsumeCommand() *cobra.Command {
	var cf consumeFlags
	cmd := silence(&cobra.Command{
		Use:   "consume TOPIC",
		Short: "Print records of a topic",
		Long: `Consume prints records of TOPIC, read directly from its partitions (no consumer
group). It starts at the log start offset unless --offset or --from-timestamp
say otherwise and runs until --count records were printed, until --exit-at-end
finds every partition at its start-time high watermark, or until interrupted.

With --group G it consumes as a member of consumer group G instead: the group
assigns the partitions, consuming resumes at the group's committed offsets (or,
with nothing committed, at the log start, or at the high watermark with
--from-beginning=false), and the offsets of printed records are committed every
5 seconds and once more on exit. --exit-at-end then ends once every partition
assigned to this member reached its start-time high watermark.
--group-protocol consumer joins with the KIP-848 protocol (the broker assigns,
with its uniform assignor for --balancer sticky or cooperative-sticky and its
range assignor for --balancer range).

--isolation read_committed reads only records of committed transactions (and
records written outside transactions): consuming stops at the last stable
offset, aborted records are skipped, and the high watermark that --offset -N,
--from-beginning=false and --exit-at-end refer to becomes the last stable
offset. The default, read_uncommitted, is Kafka's console consumer's.

--format verbs: %t topic, %p partition, %o offset, %k key, %v value,
%h headers (k=v,k2=v2), %T timestamp (Unix ms), %e leader epoch, %% percent;
escapes \n \t \r \0 \\.`,
		Args: cobra.ExactArgs(1),
	})
	client := addClientFlags(cmd.Flags(), "how long the offset lookups before consuming (and, with --group, the final commit) may take")
	fs := cmd.Flags()
	fs.BoolVar(&cf.fromBeginning, "from-beginning", true, "start at the log start offset (=false: start at the high watermark)")
	fs.Int64Var(&cf.offset, "offset", 0, "start offset: N >= 0 absolute, N < 0 that many records before the high watermark")
	fs.StringVar(&cf.fromTimestamp, "from-timestamp", "", "start at the first record at or after this time (Unix ms or RFC3339)")
	fs.Int32SliceVar(&cf.partitions, "partition", nil, "consume only this partition (repeatable; default all)")
	fs.IntVar(&cf.count, "count", 0, "exit after printing N records (0: no limit)")
	fs.BoolVar(&cf.exitAtEnd, "exit-at-end", false, "exit once every selected partition reaches the high watermark it had at start")
	fs.StringVar(&cf.format, "format", `%v\n`, "output template (see above)")
	fs.BoolVar(&cf.printKey, "print-key", false, `print "key<TAB>value" per record`)
	fs.BoolVar(&cf.json, "json", false, "print one JSON object per record")
	fs.StringVar(&cf.isolation, "isolation", isolationReadUncommitted, "read_uncommitted (every record) or read_committed (only committed transactions; stops at the last stable offset)")
	fs.StringVar(&cf.group, "group", "", "consume as a member of this consumer group, resuming from and committing its offsets")
	fs.StringVar(&cf.groupProtocol, "group-protocol", groupProtocolClassic, "with --group: classic, or consumer (KIP-848)")
	fs.StringVar(&cf.balancer, "balancer", "cooperative-sticky", "with --group: cooperative-sticky, sticky, range or roundrobin")
	cmd.MarkFlagsMutuallyExclusive("from-beginning", "offset", "from-timestamp")
	cmd.MarkFlagsMutuallyExclusive("format", "print-key", "json")
	// A group's committed offsets decide where it starts, and the group
	// decides which partitions this member reads.
	cmd.MarkFlagsMutuallyExclusive("group", "offset")
	cmd.MarkFlagsMutuallyExclusive("group", "from-timestamp")
	cmd.MarkFlagsMutuallyExclusive("group", "partition")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return runConsume(cmd, client, &cf, args[0])
	}
	return cmd
}

// --isolation values, named as Kafka's isolation.level setting.
const (
	isolationReadUncommitted = "read_uncommitted"
	isolationReadCommitted   = "read_committed"
)

// isolationLevel turns an --isolation value into kgo's level.
func isolationLevel(s string) (kgo.IsolationLevel, error) {
	switch s {
	case isolationReadUncommitted:
		return kgo.ReadUncommitted(), nil
	case isolationReadCommitted:
		return kgo.ReadCommitted(), nil
	}
	return kgo.IsolationLevel{}, fmt.Errorf("--isolation %q: want read_uncommitted or read_committed", s)
}

// parseTimestamp accepts Unix milliseconds or an RFC3339 time given to
// --flag.
func parseTimestamp(flag, s string) (int64, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms < 0 {
			return 0, fmt.Errorf("--%s %q: must not be negative", flag, s)
		}
		return ms, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("--%s %q: want Unix milliseconds or RFC3339 (2006-01-02T15:04:05Z07:00)", flag, s)
	}
	if t.UnixMilli() < 0 {
		return 0, fmt.Errorf("--%s %q: before 1970", flag, s)
	}
	return t.UnixMilli(), nil
}

// consumeRange is where consuming one partition starts and, for
// --exit-at-end, the high watermark it stops at.
type consumeRange struct {
	start, end int64
	logStart   int64 // the log start offset when the range was resolved
}

func runConsume(cmd *cobra.Command, client *clientFlags, cf *consumeFlags, topic string) error {
	if cf.count < 0 {
		return fmt.Errorf("--count must not be negative, got %d", cf.count)
	}
	level, err := isolationLevel(cf.isolation)
	if err != nil {
		return err
	}
	var (
		ms    int64
		useTS = cmd.Flags().Changed("from-timestamp")
	)
	if useTS {
		var err error
		if ms, err = parseTimestamp("from-timestamp", cf.fromTimestamp); err != nil {
			return err
		}
	}
	var format recordFormat
	if !cf.json {
		tmpl := cf.format
		if cf.printKey {
			tmpl = `%k\t%v\n`
		}
		var err error
		if format, err = parseFormat(tmpl); err != nil {
			return err
		}
	}
	for _, p := range cf.partitions {
		if p < 0 {
			return fmt.Errorf("--partition must not be negative, got %d", p)
		}
	}
	if cf.group != "" {
		return runGroupConsume(cmd, client, cf, topic, format, level)
	}
	for _, f := range []string{"group-protocol", "balancer"} {
		if cmd.Flags().Changed(f) {
			return fmt.Errorf("--%s needs --group", f)
		}
	}

	ranges, err := resolveConsumeRanges(cmd, client, cf, topic, useTS, ms)
	if err != nil {
		return client.explainTimeout(err)
	}

	offsets := make(map[int32]kgo.Offset, len(ranges))
	for p, r := range ranges {
		if cf.exitAtEnd && r.start >= r.end {
			continue // nothing to read before the start-time high watermark
		}
		offsets[p] = kgo.NewOffset().At(r.start)
	}
	if len(offsets) == 0 {
		return nil
	}

	cl, err := client.newClient(
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		// Transaction markers take offsets too: seeing them is how
		// --exit-at-end learns a partition reached its end when the
		// last offsets before the high watermark are markers.
		kgo.KeepControlRecords(),
		kgo.FetchIsolationLevel(level),
	)
	if err != nil {
		return err
	}
	defer cl.Close()

	out := bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)
	rw := newRecordWriter(out, format, cf.json)
	c := &consumer{
		cl:        cl,
		rw:        rw,
		out:       out,
		errOut:    cmd.ErrOrStderr(),
		topic:     topic,
		remaining: cf.count,
		limited:   cf.count > 0,
		exitAtEnd: cf.exitAtEnd,
		ranges:    ranges,
		active:    len(offsets),
		finished:  make(map[int32]bool, len(offsets)),
	}
	return c.consumeLoop(cmd.Context())
}

// resolveConsumeRanges looks up the topic's partitions and offsets and picks
// each selected partition's start offset.
func resolveConsumeRanges(cmd *cobra.Command, client *clientFlags, cf *consumeFlags, topic string, useTS bool, ms int64) (map[int32]consumeRange, error) {
	cl, err := client.newClient()
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(cmd.Context(), client.timeout)
	defer cancel()
	return lookupConsumeRanges(ctx, cmd, adm, cf, topic, useTS, ms)
}

// lookupConsumeRanges is resolveConsumeRanges on a caller's admin client.
func lookupConsumeRanges(ctx context.Context, cmd *cobra.Command, adm *kadm.Client, cf *consumeFlags, topic string, useTS bool, ms int64) (map[int32]consumeRange, error) {
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		return nil, topicError(topic, err)
	}
	td, ok := md.Topics[topic]
	if !ok {
		return nil, topicError(topic, kerr.UnknownTopicOrPartition)
	}
	if td.Err != nil {
		return nil, topicError(topic, td.Err)
	}
	selected := td.Partitions.Numbers()
	if len(cf.partitions) > 0 {
		selected = nil
		for _, p := range cf.partitions {
			if _, ok := td.Partitions[p]; !ok {
				return nil, topicError(topic, fmt.Errorf("partition %d does not exist (the topic has %d partitions)", p, len(td.Partitions)))
			}
			if !slices.Contains(selected, p) {
				selected = append(selected, p)
			}
		}
	}

	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, topicError(topic, fmt.Errorf("list log start offsets: %w", err))
	}
	// NB: a read_committed consumer never gets past the last stable
	// offset, so that is its end; --exit-at-end would otherwise wait
	// forever behind an open transaction.
	listEnds, endName := adm.ListEndOffsets, "high watermark"
	if cf.isolation == isolationReadCommitted {
		listEnds, endName = adm.ListCommittedOffsets, "last stable offset"
	}
	ends, err := listEnds(ctx, topic)
	if err != nil {
		return nil, topicError(topic, fmt.Errorf("list %ss: %w", endName, err))
	}
	var byTime kadm.ListedOffsets
	if useTS {
		if byTime, err = adm.ListOffsetsAfterMilli(ctx, ms, topic); err != nil {
			return nil, topicError(topic, fmt.Errorf("list offsets by time: %w", err))
		}
	}
	lookup := func(l kadm.ListedOffsets, what string, p int32) (int64, error) {
		return lookupListed(l, what, topic, p)
	}

	ranges := make(map[int32]consumeRange, len(selected))
	for _, p := range selected {
		logStart, err := lookup(starts, "log start offset", p)
		if err != nil {
			return nil, err
		}
		hwm, err := lookup(ends, endName, p)
		if err != nil {
			return nil, err
		}
		var start int64
		switch {
		case cmd.Flags().Changed("offset"):
			if cf.offset >= 0 {
				start = min(max(cf.offset, logStart), hwm)
			} else {
				start = max(hwm+cf.offset, logStart)
			}
		case useTS:
			at, err := lookup(byTime, "offset by time", p)
			if err != nil {
				return nil, err
			}
			if at < 0 {
				at = hwm // no record at or after the time
			}
			start = at
		case cf.fromBeginning:
			start = logStart
		default:
			start = hwm
		}
		ranges[p] = consumeRange{start: start, end: hwm, logStart: logStart}
	}
	return ranges, nil
}

// consumer runs one consume command's poll loop; all fields are owned by
// consumeLoop.
type consumer struct {
	cl     *kgo.Client
	rw     *recordWriter
	out    *bufio.Writer // flushed after each poll
	errOut io.Writer
	topic  string

	// Set with --group only. The client blocks rebalances from each
	// poll until flush marks what the poll printed and allows them.
	group    string
	toMark   []*kgo.Record  // per partition the last record printed (or control record passed) since the last flush
	progress *groupProgress // --exit-at-end state shared with the rebalance callbacks; nil without --exit-at-end

	limited   bool // --count given
	remaining int  // records still to print when limited

	exitAtEnd bool
	ranges    map[int32]consumeRange
	active    int            // partitions not yet at their end (exitAtEnd without --group only)
	finished  map[int32]bool // partitions that reached their end (exitAtEnd without --group only)
}

// flush writes out what was printed and, in a group, then marks it for
// committing, so no offset is committed before its record left the
// process; it then lets a pending rebalance go ahead.
func (c *consumer) flush() error {
	if err := c.out.Flush(); err != nil {
		return err
	}
	if c.group == "" {
		return nil
	}
	if len(c.toMark) > 0 {
		c.cl.MarkCommitRecords(c.toMark...)
		clear(c.toMark)
		c.toMark = c.toMark[:0]
	}
	c.cl.AllowRebalance()
	return nil
}

// consumeLoop polls until --count, --exit-at-end or ctx cancellation (a
// clean exit) or a fetch error.
func (c *consumer) consumeLoop(ctx context.Context) error {
	for {
		fetches := c.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return c.flush()
		}
		for _, fe := range fetches.Errors() {
			var (
				dataLoss *kgo.ErrDataLoss
				session  *kgo.ErrGroupSession
			)
			if errors.As(fe.Err, &dataLoss) {
				// kgo already reset to a valid offset; say so and go on.
				fmt.Fprintf(c.errOut, "strata: warning: topic %q partition %d: %v\n", fe.Topic, fe.Partition, fe.Err)
				continue
			}
			if errors.As(fe.Err, &session) && !fatalGroupError(session.Err) {
				// kgo keeps trying to rejoin.
				fmt.Fprintf(c.errOut, "strata: warning: group %q: %v\n", c.group, session.Err)
				continue
			}
			if ferr := c.flush(); ferr != nil {
				return ferr
			}
			switch {
			case session != nil:
				return groupError(c.group, session.Err)
			case fe.Partition >= 0:
				return topicError(c.topic, fmt.Errorf("partition %d: fetch: %w", fe.Partition, fe.Err))
			default:
				return topicError(c.topic, fmt.Errorf("fetch: %w", fe.Err))
			}
		}
		done, err := c.handle(fetches)
		if err != nil {
			return err
		}
		if err := c.flush(); err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

// handle prints a poll's records and reports whether the command is done.
func (c *consumer) handle(fetches kgo.Fetches) (bool, error) {
	for _, f := range fetches {
		for _, ft := range f.Topics {
			for _, fp := range ft.Partitions {
				done, err := c.handlePartition(fp)
				if done || err != nil {
					return done, err
				}
			}
		}
	}
	return false, nil
}

func (c *consumer) handlePartition(fp kgo.FetchPartition) (bool, error) {
	if c.isFinished(fp.Partition) {
		return false, nil
	}
	var last *kgo.Record // the last record handled, to mark for committing
	defer func() {
		if last != nil && c.group != "" {
			c.toMark = append(c.toMark, last)
		}
	}()
	end := c.ranges[fp.Partition].end
	for _, rec := range fp.Records {
		if c.exitAtEnd && rec.Offset >= end {
			// Appended after we started, or the offsets up to end are
			// gone (compaction): either way this partition is done.
			return c.finish(fp.Partition), nil
		}
		if !rec.Attrs.IsControl() {
			if err := c.rw.write(rec); err != nil {
				return false, err
			}
			last = rec
			if c.limited {
				c.remaining--
				if c.remaining == 0 {
					return true, nil
				}
			}
		} else {
			last = rec
		}
		if c.exitAtEnd && rec.Offset+1 >= end {
			return c.finish(fp.Partition), nil
		}
	}
	return false, nil
}

// isFinished reports whether a partition reached its end for --exit-at-end.
func (c *consumer) isFinished(p int32) bool {
	if c.progress != nil {
		return c.progress.isFinished(p)
	}
	return c.finished[p]
}

// finish marks a partition as at its end for --exit-at-end and reports
// whether every partition (in a group: every one assigned to this member)
// is.
func (c *consumer) finish(p int32) bool {
	c.cl.PauseFetchPartitions(map[string][]int32{c.topic: {p}})
	if c.progress != nil {
		return c.progress.finish(p)
	}
	c.finished[p] = true
	c.active--
	return c.active == 0
}
