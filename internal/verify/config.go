package verify

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Consumer modes (ConsumerSpec.Mode).
const (
	ModeAssign        = "assign"         // ConsumePartitions over every partition, from where the run started
	ModeGroupClassic  = "group-classic"  // a consumer group with the classic protocol (cooperative-sticky)
	ModeGroupConsumer = "group-consumer" // a consumer group with the KIP-848 consumer protocol
)

// Isolation levels (ConsumerSpec.Isolation).
const (
	ReadCommitted   = "read_committed"
	ReadUncommitted = "read_uncommitted"
)

// Config describes one run. Zero values get documented defaults.
type Config struct {
	Bootstrap  []string  // seed brokers
	ClientOpts []kgo.Opt // extra client options (TLS, SASL, dialer) applied to every client

	// Topic defaults to "strata-verify-<seed>"; it is created if missing
	// with Partitions, ReplicationFactor and, when ReplicationFactor >= 3,
	// min.insync.replicas=2. An existing topic keeps its partitions.
	Topic             string
	Partitions        int32 // default 6
	ReplicationFactor int16 // default min(3, live brokers)

	Duration time.Duration // load phase length, default 60s
	Rate     int           // total produce attempts per second across producers, default 500
	// Seed drives value choice, partition choice, transaction sizes and
	// commit/abort choices, and group member restarts; printed in every
	// report. 0 is a valid seed.
	Seed int64

	Producers     int // idempotent producers (acks=all); default 2 when all three counts are 0
	NonIdempotent int // additional non-idempotent producers (acks=all, retries on)
	Transactional int // transactional producers; default 1 when all three counts are 0
	// AbortRatio is the share of transactions a transactional producer
	// aborts (default 0.2; a negative value means 0).
	AbortRatio float64

	// Consumers default to one assign read_committed, one classic group
	// read_committed and one KIP-848 group read_uncommitted. When the
	// cluster lacks KIP-848 and Consumers was left empty, the KIP-848
	// group becomes a classic one (noted in the history); an explicit
	// group-consumer spec then makes Run fail.
	Consumers []ConsumerSpec

	// SettleTimeout bounds how long, after the load stops, Run waits for
	// every consumer to see every acknowledged record it should see
	// (default 60s). It should outlast the groups' session timeout: a
	// member that closed while its coordinator was down could not leave,
	// and keeps its partitions until the session expires (45s by default
	// for KIP-848 groups, group.consumer.session.timeout.ms).
	SettleTimeout time.Duration
	Nemesis       Nemesis // optional; faults injected during the load phase

	// RecordTimeout bounds how long one record may wait for its
	// acknowledgement (kgo's RecordDeliveryTimeout), default 30s.
	RecordTimeout time.Duration
	// TxnRecords is the largest number of records in one transaction; each
	// transaction's size is drawn from [1, TxnRecords] (default 10).
	TxnRecords int

	Logf func(format string, args ...any) // optional progress log
}

// ConsumerSpec is one consumer of the run: a single client in assign mode,
// or a group of Members clients.
type ConsumerSpec struct {
	Mode      string // "assign" | "group-classic" | "group-consumer"
	Isolation string // "read_committed" | "read_uncommitted"
	// Members is the number of group members (group modes; default 2).
	// The last member leaves and rejoins as a new client once, at a
	// seeded time in the middle of the load, so groups rebalance.
	Members int
}

// String renders s as ParseConsumerSpecs reads it.
func (s ConsumerSpec) String() string {
	out := s.Mode + ":" + s.Isolation
	if s.Mode != ModeAssign && s.Members > 0 {
		out += ":" + strconv.Itoa(s.Members)
	}
	return out
}

// ParseConsumerSpecs reads a comma-separated list of MODE:ISOLATION[:MEMBERS]
// (for example "assign:read_committed,group-consumer:read_uncommitted:3").
// ISOLATION defaults to read_committed.
func ParseConsumerSpecs(s string) ([]ConsumerSpec, error) {
	var out []ConsumerSpec
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		f := strings.Split(part, ":")
		if len(f) > 3 {
			return nil, fmt.Errorf("consumer %q: want MODE:ISOLATION[:MEMBERS]", part)
		}
		spec := ConsumerSpec{Mode: f[0], Isolation: ReadCommitted}
		if len(f) > 1 {
			spec.Isolation = f[1]
		}
		if len(f) > 2 {
			n, err := strconv.Atoi(f[2])
			if err != nil || n < 1 {
				return nil, fmt.Errorf("consumer %q: members must be a positive number", part)
			}
			if spec.Mode == ModeAssign {
				return nil, fmt.Errorf("consumer %q: assign mode has no members", part)
			}
			spec.Members = n
		}
		if err := spec.validate(); err != nil {
			return nil, err
		}
		out = append(out, spec)
	}
	if len(out) == 0 {
		return nil, errors.New("no consumers given")
	}
	return out, nil
}

func (s ConsumerSpec) validate() error {
	switch s.Mode {
	case ModeAssign, ModeGroupClassic, ModeGroupConsumer:
	default:
		return fmt.Errorf("consumer mode %q: want assign, group-classic or group-consumer", s.Mode)
	}
	switch s.Isolation {
	case ReadCommitted, ReadUncommitted:
	default:
		return fmt.Errorf("consumer isolation %q: want read_committed or read_uncommitted", s.Isolation)
	}
	if s.Members < 0 {
		return fmt.Errorf("consumer %s: members must not be negative", s.Mode)
	}
	return nil
}

// DefaultConsumers are the consumers of a Config without any.
func DefaultConsumers() []ConsumerSpec {
	return []ConsumerSpec{
		{Mode: ModeAssign, Isolation: ReadCommitted},
		{Mode: ModeGroupClassic, Isolation: ReadCommitted, Members: 2},
		{Mode: ModeGroupConsumer, Isolation: ReadUncommitted, Members: 2},
	}
}

// withDefaults returns cfg with zero values replaced by the defaults, or
// an error naming the first invalid setting.
func (cfg Config) withDefaults() (Config, error) {
	if len(cfg.Bootstrap) == 0 {
		return cfg, errors.New("no bootstrap brokers")
	}
	if cfg.Topic == "" {
		cfg.Topic = fmt.Sprintf("strata-verify-%d", cfg.Seed)
	}
	if cfg.Partitions == 0 {
		cfg.Partitions = 6
	}
	if cfg.Partitions < 0 {
		return cfg, fmt.Errorf("partitions must be positive, got %d", cfg.Partitions)
	}
	if cfg.ReplicationFactor < 0 {
		return cfg, fmt.Errorf("replication factor must be positive, got %d", cfg.ReplicationFactor)
	}
	if cfg.Duration == 0 {
		cfg.Duration = 60 * time.Second
	}
	if cfg.Duration < 0 {
		return cfg, fmt.Errorf("duration must be positive, got %s", cfg.Duration)
	}
	if cfg.Rate == 0 {
		cfg.Rate = 500
	}
	if cfg.Rate < 0 || cfg.Rate > 1_000_000 {
		return cfg, fmt.Errorf("rate must be between 1 and 1000000 records/s, got %d", cfg.Rate)
	}
	if cfg.Producers < 0 || cfg.NonIdempotent < 0 || cfg.Transactional < 0 {
		return cfg, errors.New("producer counts must not be negative")
	}
	if cfg.Producers == 0 && cfg.NonIdempotent == 0 && cfg.Transactional == 0 {
		cfg.Producers, cfg.Transactional = 2, 1
	}
	if cfg.Producers+cfg.NonIdempotent+cfg.Transactional > 100 {
		return cfg, errors.New("at most 100 producers")
	}
	if cfg.AbortRatio == 0 {
		cfg.AbortRatio = 0.2
	}
	if cfg.AbortRatio < 0 {
		cfg.AbortRatio = 0
	}
	if cfg.AbortRatio > 1 {
		return cfg, fmt.Errorf("abort ratio must be between 0 and 1, got %g", cfg.AbortRatio)
	}
	if len(cfg.Consumers) == 0 {
		cfg.Consumers = DefaultConsumers()
	} else {
		cfg.Consumers = append([]ConsumerSpec(nil), cfg.Consumers...)
	}
	for i := range cfg.Consumers {
		if err := cfg.Consumers[i].validate(); err != nil {
			return cfg, err
		}
		if cfg.Consumers[i].Mode == ModeAssign {
			cfg.Consumers[i].Members = 1
		} else if cfg.Consumers[i].Members == 0 {
			cfg.Consumers[i].Members = 2
		}
		if cfg.Consumers[i].Members > 20 {
			return cfg, fmt.Errorf("consumer %s: at most 20 members", cfg.Consumers[i])
		}
	}
	if len(cfg.Consumers) > 20 {
		return cfg, errors.New("at most 20 consumers")
	}
	if cfg.SettleTimeout == 0 {
		cfg.SettleTimeout = 60 * time.Second
	}
	if cfg.SettleTimeout < 0 {
		return cfg, fmt.Errorf("settle timeout must be positive, got %s", cfg.SettleTimeout)
	}
	if cfg.RecordTimeout == 0 {
		cfg.RecordTimeout = 30 * time.Second
	}
	if cfg.RecordTimeout < time.Second {
		return cfg, fmt.Errorf("record timeout must be at least 1s, got %s", cfg.RecordTimeout)
	}
	if cfg.TxnRecords == 0 {
		cfg.TxnRecords = 10
	}
	if cfg.TxnRecords < 1 {
		return cfg, fmt.Errorf("records per transaction must be positive, got %d", cfg.TxnRecords)
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	return cfg, nil
}
