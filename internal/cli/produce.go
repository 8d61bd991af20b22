package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
)

// produceBufferedBytes bounds the bytes of records read from stdin but not
// yet acknowledged; with kgo's default MaxBufferedRecords it keeps a large
// input from being held in memory.
const produceBufferedBytes = 64 << 20

type produceFlags struct {
	delimiter      string
	keySeparator   string
	headers        []string
	partition      int32
	acks           string
	compression    string
	linger         time.Duration
	idempotent     bool
	maxRecordBytes int
}

func newProduceCommand() *cobra.Command {
	var pf produceFlags
	cmd := silence(&cobra.Command{
		Use:   "produce TOPIC",
		Short: "Produce records read from stdin, one per line",
		Long: `Produce reads standard input and sends one record per line (or per --delimiter).
It waits until every record is acknowledged, prints "produced N records" to
stderr, and fails with the first error if any record could not be produced.`,
		Args: cobra.ExactArgs(1),
	})
	cf := addClientFlags(cmd.Flags(), "how long each record may wait to be acknowledged")
	fs := cmd.Flags()
	fs.StringVar(&pf.delimiter, "delimiter", `\n`, `record delimiter (escapes \n \t \r \0 \\ allowed)`)
	fs.StringVar(&pf.keySeparator, "key-separator", "", "split each line into key and value at the first SEP (lines without SEP get a null key)")
	fs.StringArrayVar(&pf.headers, "header", nil, "header key=value added to every record (repeatable)")
	fs.Int32Var(&pf.partition, "partition", -1, "produce every record to partition P (-1: pick by key with the client partitioner)")
	fs.StringVar(&pf.acks, "acks", "all", "required acknowledgements: all, 1 or 0")
	fs.StringVar(&pf.compression, "compression", "none", "batch compression: none, gzip, snappy, lz4 or zstd")
	fs.DurationVar(&pf.linger, "linger", 10*time.Millisecond, "how long a partition waits to fill a batch")
	fs.BoolVar(&pf.idempotent, "idempotent", true, "idempotent producer (needs --acks all; off by default for other acks)")
	fs.IntVar(&pf.maxRecordBytes, "max-record-bytes", 1<<20, "longest accepted input record, key included")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return runProduce(cmd, cf, &pf, args[0])
	}
	return cmd
}

// producerOpts turns the flags into kgo options.
func (pf *produceFlags) producerOpts(cmd *cobra.Command) ([]kgo.Opt, error) {
	var opts []kgo.Opt
	idempotent := pf.idempotent
	switch pf.acks {
	case "all", "-1":
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case "1", "0":
		if cmd.Flags().Changed("idempotent") && pf.idempotent {
			return nil, fmt.Errorf("--idempotent needs --acks all, got --acks %s", pf.acks)
		}
		idempotent = false
		if pf.acks == "1" {
			opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()))
		} else {
			opts = append(opts, kgo.RequiredAcks(kgo.NoAck()))
		}
	default:
		return nil, fmt.Errorf("--acks %q: want all, 1 or 0", pf.acks)
	}
	if !idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	var codec kgo.CompressionCodec
	switch pf.compression {
	case "none":
		codec = kgo.NoCompression()
	case "gzip":
		codec = kgo.GzipCompression()
	case "snappy":
		codec = kgo.SnappyCompression()
	case "lz4":
		codec = kgo.Lz4Compression()
	case "zstd":
		codec = kgo.ZstdCompression()
	default:
		return nil, fmt.Errorf("--compression %q: want none, gzip, snappy, lz4 or zstd", pf.compression)
	}
	opts = append(opts, kgo.ProducerBatchCompression(codec))
	if pf.linger < 0 || pf.linger > time.Minute {
		return nil, fmt.Errorf("--linger must be between 0 and 1m, got %s", pf.linger)
	}
	opts = append(opts, kgo.ProducerLinger(pf.linger))
	if cmd.Flags().Changed("partition") {
		if pf.partition < 0 {
			return nil, fmt.Errorf("--partition must not be negative, got %d", pf.partition)
		}
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	opts = append(opts, kgo.MaxBufferedBytes(produceBufferedBytes))
	return opts, nil
}

// produceTally collects promise results; promises run on kgo goroutines.
type produceTally struct {
	wg sync.WaitGroup // one count per record handed to Produce

	mu struct {
		sync.Mutex
		acked    int64
		failed   int64
		firstErr error // first delivery error, with its partition when known
	}
}

func (t *produceTally) promise(r *kgo.Record, err error) {
	defer t.wg.Done()
	t.mu.Lock()
	defer t.mu.Unlock()
	if err == nil {
		t.mu.acked++
		return
	}
	t.mu.failed++
	if t.mu.firstErr == nil {
		if r.Partition >= 0 {
			err = fmt.Errorf("partition %d: %w", r.Partition, err)
		}
		t.mu.firstErr = err
	}
}

func (t *produceTally) failedYet() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mu.failed > 0
}

func runProduce(cmd *cobra.Command, cf *clientFlags, pf *produceFlags, topic string) error {
	delim := []byte(unescape(pf.delimiter))
	if len(delim) == 0 {
		return errors.New("--delimiter must not be empty")
	}
	keySep := []byte(unescape(pf.keySeparator))
	if pf.maxRecordBytes <= 0 {
		return fmt.Errorf("--max-record-bytes must be positive, got %d", pf.maxRecordBytes)
	}
	var headers []kgo.RecordHeader
	for _, h := range pf.headers {
		k, v, err := splitKeyValue("header", h)
		if err != nil {
			return err
		}
		headers = append(headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	opts, err := pf.producerOpts(cmd)
	if err != nil {
		return err
	}
	// As kafka-console-producer (allow.auto.create.topics=true): a broker
	// with auto.create.topics.enable creates a missing topic.
	opts = append(opts, kgo.RecordDeliveryTimeout(cf.timeout), kgo.AllowAutoTopicCreation())
	cl, err := cf.newClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()

	ctx := cmd.Context()
	var tally produceTally
	sc := bufio.NewScanner(cmd.InOrStdin())
	// NB: the scanner's limit is the larger of max and the initial
	// buffer's capacity, so the buffer must not start bigger than max.
	maxToken := pf.maxRecordBytes + len(delim)
	sc.Buffer(make([]byte, 0, min(64<<10, maxToken)), maxToken)
	sc.Split(splitOn(delim))
	var (
		sent    int64
		readErr error
	)
	for sc.Scan() && !tally.failedYet() && ctx.Err() == nil {
		line := sc.Bytes()
		if len(line) > pf.maxRecordBytes {
			readErr = fmt.Errorf("record %d is longer than --max-record-bytes %d", sent+1, pf.maxRecordBytes)
			break
		}
		r := &kgo.Record{Topic: topic, Headers: headers}
		if pf.partition >= 0 {
			r.Partition = pf.partition
		}
		// NB: the scanner reuses its buffer and kgo keeps the slices
		// until the promise runs, so copy.
		if k, v, ok := bytes.Cut(line, keySep); ok && len(keySep) > 0 {
			r.Key, r.Value = bytes.Clone(k), bytes.Clone(v)
		} else {
			r.Value = bytes.Clone(line)
		}
		tally.wg.Add(1)
		cl.Produce(ctx, r, tally.promise)
		sent++
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		readErr = fmt.Errorf("record %d is longer than --max-record-bytes %d", sent+1, pf.maxRecordBytes)
	} else if err != nil {
		readErr = err
	}
	if err := cl.Flush(ctx); err != nil {
		// Cancelled: fail whatever is still buffered so every promise runs.
		cl.Close()
	}
	tally.wg.Wait()

	tally.mu.Lock()
	acked, failed, firstErr := tally.mu.acked, tally.mu.failed, tally.mu.firstErr
	tally.mu.Unlock()

	summary := fmt.Sprintf("produced %d records", acked)
	if failed > 0 {
		summary += fmt.Sprintf(", %d failed", failed)
	}
	if _, err := fmt.Fprintln(cmd.ErrOrStderr(), summary); err != nil {
		return err
	}
	switch {
	case ctx.Err() != nil:
		return topicError(topic, fmt.Errorf("produce interrupted: %w", context.Cause(ctx)))
	case firstErr != nil:
		return topicError(topic, fmt.Errorf("produce: %w", cf.explainDeliveryTimeout(firstErr)))
	case readErr != nil:
		return fmt.Errorf("read stdin: %w", readErr)
	}
	return nil
}

// explainDeliveryTimeout says which flag bounded a record that timed out.
func (f *clientFlags) explainDeliveryTimeout(err error) error {
	if errors.Is(err, kgo.ErrRecordTimeout) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("not acknowledged within --timeout %s: %w", f.timeout, err)
	}
	return err
}

// splitOn is a bufio.SplitFunc that cuts at delim. Data after the last
// delimiter is a final record; a trailing delimiter makes no empty record.
func splitOn(delim []byte) bufio.SplitFunc {
	return func(data []byte, atEOF bool) (int, []byte, error) {
		if atEOF && len(data) == 0 {
			return 0, nil, nil
		}
		if i := bytes.Index(data, delim); i >= 0 {
			return i + len(delim), data[:i], nil
		}
		if atEOF {
			return len(data), data, nil
		}
		return 0, nil, nil
	}
}
