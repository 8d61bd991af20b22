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

--format verbs: %t topic, %p partition, %o offset, %k key, %v value,
%h headers (k=v,k2=v2), %T timestamp (Unix ms), %e leader epoch, %% percent;
escapes \n \t \r \0 \\.`,
		Args: cobra.ExactArgs(1),
	})
	client := addClientFlags(cmd.Flags(), "how long the offset lookups before consuming may take")
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
	cmd.MarkFlagsMutuallyExclusive("from-beginning", "offset", "from-timestamp")
	cmd.MarkFlagsMutuallyExclusive("format", "print-key", "json")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return runConsume(cmd, client, &cf, args[0])
	}
	return cmd
}

// parseTimestamp accepts Unix milliseconds or an RFC3339 time.
func parseTimestamp(s string) (int64, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms < 0 {
			return 0, fmt.Errorf("--from-timestamp %q: must not be negative", s)
		}
		return ms, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("--from-timestamp %q: want Unix milliseconds or RFC3339 (2006-01-02T15:04:05Z07:00)", s)
	}
	if t.UnixMilli() < 0 {
		return 0, fmt.Errorf("--from-timestamp %q: before 1970", s)
	}
	return t.UnixMilli(), nil
}

// consumeRange is where consuming one partition starts and, for
// --exit-at-end, the high watermark it stops at.
type consumeRange struct {
	start, end int64
}

func runConsume(cmd *cobra.Command, client *clientFlags, cf *consumeFlags, topic string) error {
	if cf.count < 0 {
		return fmt.Errorf("--count must not be negative, got %d", cf.count)
	}
	var (
		ms    int64
		useTS = cmd.Flags().Changed("from-timestamp")
	)
	if useTS {
		var err error
		if ms, err = parseTimestamp(cf.fromTimestamp); err != nil {
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
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, topicError(topic, fmt.Errorf("list high watermarks: %w", err))
	}
	var byTime kadm.ListedOffsets
	if useTS {
		if byTime, err = adm.ListOffsetsAfterMilli(ctx, ms, topic); err != nil {
			return nil, topicError(topic, fmt.Errorf("list offsets by time: %w", err))
		}
	}
	lookup := func(l kadm.ListedOffsets, what string, p int32) (int64, error) {
		o, ok := l.Lookup(topic, p)
		switch {
		case !ok:
			return 0, topicError(topic, fmt.Errorf("partition %d: no %s in the ListOffsets response", p, what))
		case o.Err != nil:
			return 0, topicError(topic, fmt.Errorf("partition %d: list %s: %w", p, what, o.Err))
		}
		return o.Offset, nil
	}

	ranges := make(map[int32]consumeRange, len(selected))
	for _, p := range selected {
		logStart, err := lookup(starts, "log start offset", p)
		if err != nil {
			return nil, err
		}
		hwm, err := lookup(ends, "high watermark", p)
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
		ranges[p] = consumeRange{start: start, end: hwm}
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

	limited   bool // --count given
	remaining int  // records still to print when limited

	exitAtEnd bool
	ranges    map[int32]consumeRange
	active    int            // partitions not yet at their end (exitAtEnd only)
	finished  map[int32]bool // partitions that reached their end (exitAtEnd only)
}

// consumeLoop polls until --count, --exit-at-end or ctx cancellation (a
// clean exit) or a fetch error.
func (c *consumer) consumeLoop(ctx context.Context) error {
	for {
		fetches := c.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return c.out.Flush()
		}
		for _, fe := range fetches.Errors() {
			var dataLoss *kgo.ErrDataLoss
			if errors.As(fe.Err, &dataLoss) {
				// kgo already reset to a valid offset; say so and go on.
				fmt.Fprintf(c.errOut, "strata: warning: topic %q partition %d: %v\n", fe.Topic, fe.Partition, fe.Err)
				continue
			}
			if ferr := c.out.Flush(); ferr != nil {
				return ferr
			}
			if fe.Partition >= 0 {
				return topicError(c.topic, fmt.Errorf("partition %d: fetch: %w", fe.Partition, fe.Err))
			}
			return topicError(c.topic, fmt.Errorf("fetch: %w", fe.Err))
		}
		done, err := c.handle(fetches)
		if err != nil {
			return err
		}
		if err := c.out.Flush(); err != nil {
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
	if c.finished[fp.Partition] {
		return false, nil
	}
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
			if c.limited {
				c.remaining--
				if c.remaining == 0 {
					return true, nil
				}
			}
		}
		if c.exitAtEnd && rec.Offset+1 >= end {
			return c.finish(fp.Partition), nil
		}
	}
	return false, nil
}

// finish marks a partition as at its end for --exit-at-end and reports
// whether every partition is.
func (c *consumer) finish(p int32) bool {
	c.finished[p] = true
	c.cl.PauseFetchPartitions(map[string][]int32{c.topic: {p}})
	c.active--
	return c.active == 0
}
