package bench

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Workload names what a run measures.
type Workload string

const (
	// WorkloadProduce produces records as fast as allowed and measures the
	// time from each Produce call to its acknowledgement.
	WorkloadProduce Workload = "produce"
	// WorkloadConsume reads records that are already in the topic.
	WorkloadConsume Workload = "consume"
	// WorkloadE2E produces at a rate and consumes in the same process,
	// measuring the time from send to receipt.
	WorkloadE2E Workload = "e2e"
)

// Isolation levels of Config.Isolation, named as Kafka's isolation.level.
const (
	IsolationReadUncommitted = "read_uncommitted"
	IsolationReadCommitted   = "read_committed"
)

// maxRecordSize bounds Config.RecordSize; Kafka brokers refuse far smaller
// batches by default, so this only keeps a typo from allocating gigabytes.
const maxRecordSize = 64 << 20

// stampSize is the length of the send-time stamp at the start of each e2e
// record value: Unix nanoseconds, big-endian.
const stampSize = 8

// Config describes one benchmark run. Run does not change it.
type Config struct {
	Workload Workload

	// ClientOpts are the connection options every client of the run gets:
	// seed brokers, client ID, dial and retry timeouts, TLS or SASL. Run
	// adds the producer and consumer options below to them.
	ClientOpts []kgo.Opt

	// Topic is created when missing (produce and e2e) with Partitions and
	// ReplicationFactor; -1 takes the broker's default.
	Topic             string
	Partitions        int32
	ReplicationFactor int16

	// RecordSize is the length of each record value in bytes (no key).
	// e2e needs at least 8: the send time is stamped into the first 8.
	RecordSize int

	// Count is the number of records to produce or consume (0: no limit);
	// Duration bounds the run (0: no limit). At least one must be set;
	// with both, whichever comes first ends the run. For e2e both bound
	// the producer; the run then waits for the consumer to catch up.
	Count    int64
	Duration time.Duration

	// Producer settings.
	Acks          string        // "all", "1" or "0"
	Linger        time.Duration // how long a partition waits to fill a batch
	BatchMaxBytes int32         // largest batch before compression; 0: kgo's default (about 1 MB)
	Compression   string        // none, gzip, snappy, lz4 or zstd
	Producers     int           // concurrent producer clients, each with an equal share of Count and Rate
	Rate          float64       // records per second over all producers; 0: as fast as possible

	// Transactional makes each producer of the produce workload
	// transactional, with a transactional id unique to the run and the
	// producer. Each producer commits a transaction every TxnRecords
	// records (and one for the rest at the end), after its records are
	// acknowledged, as the Java producer's commitTransaction does.
	Transactional bool
	TxnRecords    int

	// Consumer settings. Without Group, consume assigns the topic's
	// partitions round-robin to Consumers clients and reads from the log
	// start; with Group, Consumers clients join it and resume at its
	// committed offsets (the log start when it has none), committing what
	// they count. e2e always runs one consumer from the log end.
	Consumers int
	Group     string
	// Isolation is the consume workload's isolation level:
	// IsolationReadUncommitted or IsolationReadCommitted.
	Isolation string

	// Timeout bounds the wait for each record's acknowledgement (produce
	// and e2e) and the wait for records to arrive (consume and e2e: the run
	// fails when no record came for this long).
	Timeout time.Duration

	// BrokerPID, when not 0, is a local broker process whose CPU time and
	// memory Run reports (see FindBroker).
	BrokerPID int

	// Progress, when not nil, gets one line a second: records/s and MB/s
	// of the last second and the p99 latency so far. With
	// ProgressInPlace each line overwrites the previous one (a carriage
	// return, for terminals) and the last is ended with a newline.
	Progress        io.Writer
	ProgressInPlace bool

	// Seed seeds the random payload, so runs are repeatable.
	Seed uint64
}

// DefaultConfig returns the defaults of the strata bench command for w.
func DefaultConfig(w Workload) Config {
	cfg := Config{
		Workload:          w,
		Topic:             "strata-bench",
		Partitions:        -1,
		ReplicationFactor: -1,
		RecordSize:        1024,
		Count:             1_000_000,
		Acks:              "all",
		Linger:            10 * time.Millisecond,
		Compression:       "none",
		Producers:         1,
		TxnRecords:        1000,
		Consumers:         1,
		Isolation:         IsolationReadUncommitted,
		Timeout:           30 * time.Second,
		Seed:              1,
	}
	if w == WorkloadE2E {
		cfg.Count = 10_000
		cfg.Rate = 1000
	}
	return cfg
}

// Validate reports every problem with cfg at once.
func (cfg *Config) Validate() error {
	var errs []error
	switch cfg.Workload {
	case WorkloadProduce, WorkloadConsume, WorkloadE2E:
	default:
		errs = append(errs, fmt.Errorf("workload %q: want produce, consume or e2e", cfg.Workload))
	}
	if cfg.Topic == "" {
		errs = append(errs, errors.New("topic is empty"))
	}
	if cfg.Partitions == 0 || cfg.Partitions < -1 {
		errs = append(errs, fmt.Errorf("partitions must be positive or -1, got %d", cfg.Partitions))
	}
	if cfg.ReplicationFactor == 0 || cfg.ReplicationFactor < -1 {
		errs = append(errs, fmt.Errorf("replication factor must be positive or -1, got %d", cfg.ReplicationFactor))
	}
	minSize := 0
	if cfg.Workload == WorkloadE2E {
		minSize = stampSize
	}
	if cfg.RecordSize < minSize || cfg.RecordSize > maxRecordSize {
		errs = append(errs, fmt.Errorf("record size must be between %d and %d bytes, got %d", minSize, maxRecordSize, cfg.RecordSize))
	}
	if cfg.Count < 0 {
		errs = append(errs, fmt.Errorf("count must not be negative, got %d", cfg.Count))
	}
	if cfg.Duration < 0 {
		errs = append(errs, fmt.Errorf("duration must not be negative, got %s", cfg.Duration))
	}
	if cfg.Count == 0 && cfg.Duration == 0 {
		errs = append(errs, errors.New("set a count or a duration"))
	}
	switch cfg.Acks {
	case "all", "1", "0":
	default:
		errs = append(errs, fmt.Errorf("acks %q: want all, 1 or 0", cfg.Acks))
	}
	if cfg.Linger < 0 || cfg.Linger > time.Minute {
		errs = append(errs, fmt.Errorf("linger must be between 0 and 1m, got %s", cfg.Linger))
	}
	if cfg.BatchMaxBytes != 0 && (cfg.BatchMaxBytes < 512 || cfg.BatchMaxBytes > 1<<30) {
		errs = append(errs, fmt.Errorf("batch size must be between 512 and %d bytes (or 0 for the default), got %d", 1<<30, cfg.BatchMaxBytes))
	}
	if _, err := compressionCodec(cfg.Compression); err != nil {
		errs = append(errs, err)
	}
	if cfg.Producers < 1 || cfg.Producers > 1024 {
		errs = append(errs, fmt.Errorf("producers must be between 1 and 1024, got %d", cfg.Producers))
	}
	if cfg.Rate < 0 || cfg.Rate != cfg.Rate {
		errs = append(errs, fmt.Errorf("rate must not be negative, got %v", cfg.Rate))
	}
	if cfg.Transactional {
		if cfg.Workload != WorkloadProduce {
			errs = append(errs, fmt.Errorf("transactional is for the produce workload, not %s", cfg.Workload))
		}
		if cfg.Acks != "all" {
			errs = append(errs, fmt.Errorf("transactional producers are idempotent and need acks all, got acks %s", cfg.Acks))
		}
		if cfg.TxnRecords < 1 {
			errs = append(errs, fmt.Errorf("txn records must be positive, got %d", cfg.TxnRecords))
		}
	}
	switch cfg.Isolation {
	case IsolationReadUncommitted:
	case IsolationReadCommitted:
		if cfg.Workload != WorkloadConsume {
			errs = append(errs, fmt.Errorf("isolation %s is for the consume workload, not %s", cfg.Isolation, cfg.Workload))
		}
	default:
		errs = append(errs, fmt.Errorf("isolation %q: want read_uncommitted or read_committed", cfg.Isolation))
	}
	if cfg.Consumers < 1 || cfg.Consumers > 1024 {
		errs = append(errs, fmt.Errorf("consumers must be between 1 and 1024, got %d", cfg.Consumers))
	}
	if cfg.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout must be positive, got %s", cfg.Timeout))
	}
	if cfg.BrokerPID < 0 {
		errs = append(errs, fmt.Errorf("broker pid must not be negative, got %d", cfg.BrokerPID))
	}
	return errors.Join(errs...)
}

func compressionCodec(name string) (kgo.CompressionCodec, error) {
	switch name {
	case "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("compression %q: want none, gzip, snappy, lz4 or zstd", name)
}

// producerOpts are the kgo options of every producer client.
func (cfg *Config) producerOpts() []kgo.Opt {
	codec, _ := compressionCodec(cfg.Compression) // checked by Validate
	opts := []kgo.Opt{
		kgo.ProducerBatchCompression(codec),
		kgo.ProducerLinger(cfg.Linger),
		kgo.RecordDeliveryTimeout(cfg.Timeout),
		// NB: an unkeyed record goes to a partition chosen when it is
		// buffered; kgo's default sticky partitioner fills one batch at
		// a time, like the Java producer.
	}
	switch cfg.Acks {
	case "all":
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case "1":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	case "0":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	}
	if cfg.BatchMaxBytes > 0 {
		opts = append(opts, kgo.ProducerBatchMaxBytes(cfg.BatchMaxBytes))
	}
	return opts
}
