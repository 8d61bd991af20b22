package group

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"
)

// OffsetsTopic is Kafka's internal topic holding group state and
// committed offsets; each of its partitions is one coordinator shard.
const OffsetsTopic = "__consumer_offsets"

// Config configures the Coordinator. Field comments give Kafka's name and
// default.
type Config struct {
	NodeID int32
	Logger *slog.Logger

	// NumPartitions is offsets.topic.num.partitions (50). It must match the
	// partition count of __consumer_offsets, and never change.
	NumPartitions int32
	// OffsetsRetention is offsets.retention.minutes (7 days).
	OffsetsRetention time.Duration
	// OffsetsRetentionCheckInterval is offsets.retention.check.interval.ms
	// (10 minutes).
	OffsetsRetentionCheckInterval time.Duration
	// OffsetMetadataMaxBytes is offset.metadata.max.bytes (4096).
	OffsetMetadataMaxBytes int
	// GroupMaxSize is group.max.size (MaxInt32).
	GroupMaxSize int
	// GroupMinSessionTimeout is group.min.session.timeout.ms (6s).
	GroupMinSessionTimeout time.Duration
	// GroupMaxSessionTimeout is group.max.session.timeout.ms (30 minutes).
	GroupMaxSessionTimeout time.Duration
	// GroupInitialRebalanceDelay is group.initial.rebalance.delay.ms (3s).
	GroupInitialRebalanceDelay time.Duration
	// GroupNewMemberJoinTimeout bounds how long a new member's JoinGroup may
	// stay parked (Kafka's internal group.classic.new.member.join.timeout,
	// 5 minutes); a member that never completes its first join is removed
	// after it.
	GroupNewMemberJoinTimeout time.Duration

	// PartitionExists reports whether a topic partition exists; OffsetCommit
	// for others gets UNKNOWN_TOPIC_OR_PARTITION. Nil accepts every
	// partition.
	PartitionExists func(topic string, partition int32) bool

	// Consumer groups (KIP-848).

	// ConsumerGroupSessionTimeout is group.consumer.session.timeout.ms
	// (45s): a member that does not heartbeat for this long is fenced.
	ConsumerGroupSessionTimeout time.Duration
	// ConsumerGroupHeartbeatInterval is group.consumer.heartbeat.interval.ms
	// (5s), the interval members are told to heartbeat at.
	ConsumerGroupHeartbeatInterval time.Duration
	// GroupConfigs returns a group's dynamic config overrides (config
	// resource type 32, KIP-848) by Kafka name; consumer.session.timeout.ms
	// and consumer.heartbeat.interval.ms replace the two settings above for
	// that group. Called on the shard loops at every ConsumerGroupHeartbeat,
	// so it should be cheap (the node reads its current metadata image).
	// Callers do not modify the map. Nil means no group has overrides.
	GroupConfigs func(groupID string) map[string]string
	// ConsumerGroupMaxSize is group.consumer.max.size (MaxInt32).
	ConsumerGroupMaxSize int
	// ConsumerGroupAssignors is group.consumer.assignors: the server-side
	// assignors members may ask for, the first being the default
	// (UniformAssignor, RangeAssignor).
	ConsumerGroupAssignors []string
	// Topics returns the cluster's topics by name. Consumer groups call it
	// on their shard loops for every ConsumerGroupHeartbeat (to see
	// subscribed topics appear, grow or go) and when they describe
	// assignments, so it should be cheap: the node can return the map of
	// its current metadata image. Callers do not modify the map. Nil means
	// no topic exists, so consumer groups assign nothing.
	Topics func() map[string]TopicInfo
}

// TopicInfo is what consumer groups need to know of a topic.
type TopicInfo struct {
	ID         [16]byte
	Partitions int32
}

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		Logger:                        slog.New(slog.DiscardHandler),
		NumPartitions:                 50,
		OffsetsRetention:              7 * 24 * time.Hour,
		OffsetsRetentionCheckInterval: 10 * time.Minute,
		OffsetMetadataMaxBytes:        4096,
		GroupMaxSize:                  math.MaxInt32,
		GroupMinSessionTimeout:        6 * time.Second,
		GroupMaxSessionTimeout:        30 * time.Minute,
		GroupInitialRebalanceDelay:    3 * time.Second,
		GroupNewMemberJoinTimeout:     5 * time.Minute,

		ConsumerGroupSessionTimeout:    45 * time.Second,
		ConsumerGroupHeartbeatInterval: 5 * time.Second,
		ConsumerGroupMaxSize:           math.MaxInt32,
		ConsumerGroupAssignors:         []string{UniformAssignor, RangeAssignor},
	}
}

// Validate reports every invalid field at once.
func (c Config) Validate() error {
	var errs []error
	if c.Logger == nil {
		errs = append(errs, errors.New("group: Logger is required"))
	}
	if c.NumPartitions <= 0 {
		errs = append(errs, fmt.Errorf("group: offsets.topic.num.partitions must be positive, got %d", c.NumPartitions))
	}
	if c.OffsetsRetention <= 0 {
		errs = append(errs, fmt.Errorf("group: offsets.retention.minutes must be positive, got %v", c.OffsetsRetention))
	}
	if c.OffsetsRetentionCheckInterval <= 0 {
		errs = append(errs, fmt.Errorf("group: offsets.retention.check.interval.ms must be positive, got %v", c.OffsetsRetentionCheckInterval))
	}
	if c.OffsetMetadataMaxBytes < 0 {
		errs = append(errs, fmt.Errorf("group: offset.metadata.max.bytes must not be negative, got %d", c.OffsetMetadataMaxBytes))
	}
	if c.GroupMaxSize < 1 {
		errs = append(errs, fmt.Errorf("group: group.max.size must be at least 1, got %d", c.GroupMaxSize))
	}
	if c.GroupMinSessionTimeout <= 0 || c.GroupMaxSessionTimeout < c.GroupMinSessionTimeout {
		errs = append(errs, fmt.Errorf("group: need 0 < group.min.session.timeout.ms (%v) <= group.max.session.timeout.ms (%v)", c.GroupMinSessionTimeout, c.GroupMaxSessionTimeout))
	}
	if c.GroupInitialRebalanceDelay < 0 {
		errs = append(errs, fmt.Errorf("group: group.initial.rebalance.delay.ms must not be negative, got %v", c.GroupInitialRebalanceDelay))
	}
	if c.GroupNewMemberJoinTimeout <= 0 {
		errs = append(errs, fmt.Errorf("group: new member join timeout must be positive, got %v", c.GroupNewMemberJoinTimeout))
	}
	if c.ConsumerGroupHeartbeatInterval <= 0 || c.ConsumerGroupSessionTimeout <= c.ConsumerGroupHeartbeatInterval {
		errs = append(errs, fmt.Errorf("group: need 0 < group.consumer.heartbeat.interval.ms (%v) < group.consumer.session.timeout.ms (%v)", c.ConsumerGroupHeartbeatInterval, c.ConsumerGroupSessionTimeout))
	}
	if c.ConsumerGroupMaxSize < 1 {
		errs = append(errs, fmt.Errorf("group: group.consumer.max.size must be at least 1, got %d", c.ConsumerGroupMaxSize))
	}
	if len(c.ConsumerGroupAssignors) == 0 {
		errs = append(errs, errors.New("group: group.consumer.assignors must name at least one assignor"))
	}
	for i, name := range c.ConsumerGroupAssignors {
		switch {
		case assignorFor(name) == nil:
			errs = append(errs, fmt.Errorf("group: group.consumer.assignors: unknown assignor %q (known: %s, %s)", name, UniformAssignor, RangeAssignor))
		case slices.Contains(c.ConsumerGroupAssignors[:i], name):
			errs = append(errs, fmt.Errorf("group: group.consumer.assignors: %q listed twice", name))
		}
	}
	return errors.Join(errs...)
}
