package group

import (
	"context"
	"slices"

	"github.com/strata-io/strata/internal/coordinator"
)

// Log is a shard's __consumer_offsets partition, implemented by the node
// over partition.Partition. A Log signals lost leadership by returning an
// error wrapping ErrNotCoordinator.
type Log = coordinator.Log

// ClientInfo identifies the client of a request; JoinGroup records it in the
// member (DescribeGroups shows it).
type ClientInfo struct {
	ClientID string
	// ClientHost is the client's address as Kafka shows it: "/" + IP.
	ClientHost string
}

type clientInfoKey struct{}

// WithClientInfo returns a context carrying ci; kafkaapi wraps the request
// context with it before calling JoinGroup.
func WithClientInfo(ctx context.Context, ci ClientInfo) context.Context {
	return context.WithValue(ctx, clientInfoKey{}, ci)
}

func clientInfoFrom(ctx context.Context) ClientInfo {
	ci, _ := ctx.Value(clientInfoKey{}).(ClientInfo)
	return ci
}

// Coordinator is the group coordinator of one node: it routes each request
// to the shard of its group, hosted by the coordinator runtime.
type Coordinator struct {
	cfg Config                       // set in NewCoordinator, never changed
	rt  *coordinator.Runtime[*shard] // set in NewCoordinator, never changed
	// addTxnPartition is set by SetTxnPartitionAdder before serving.
	addTxnPartition TxnPartitionAdder
}

// NewCoordinator returns a coordinator; it starts nothing. Start cfg from
// DefaultConfig: a nil Logger and zero NumPartitions, OffsetsRetention,
// OffsetsRetentionCheckInterval, GroupMaxSize, session timeout bounds,
// GroupNewMemberJoinTimeout and the ConsumerGroup fields take its values,
// but zero GroupInitialRebalanceDelay and OffsetMetadataMaxBytes mean zero.
// Unknown ConsumerGroupAssignors are dropped (Validate reports them).
func NewCoordinator(cfg Config) *Coordinator {
	def := DefaultConfig()
	if cfg.Logger == nil {
		cfg.Logger = def.Logger
	}
	if cfg.NumPartitions <= 0 {
		cfg.NumPartitions = def.NumPartitions
	}
	if cfg.OffsetsRetention <= 0 {
		cfg.OffsetsRetention = def.OffsetsRetention
	}
	if cfg.OffsetsRetentionCheckInterval <= 0 {
		cfg.OffsetsRetentionCheckInterval = def.OffsetsRetentionCheckInterval
	}
	if cfg.GroupMaxSize <= 0 {
		cfg.GroupMaxSize = def.GroupMaxSize
	}
	if cfg.GroupMinSessionTimeout <= 0 {
		cfg.GroupMinSessionTimeout = def.GroupMinSessionTimeout
	}
	if cfg.GroupMaxSessionTimeout <= 0 {
		cfg.GroupMaxSessionTimeout = def.GroupMaxSessionTimeout
	}
	if cfg.GroupNewMemberJoinTimeout <= 0 {
		cfg.GroupNewMemberJoinTimeout = def.GroupNewMemberJoinTimeout
	}
	if cfg.ConsumerGroupSessionTimeout <= 0 {
		cfg.ConsumerGroupSessionTimeout = def.ConsumerGroupSessionTimeout
	}
	if cfg.ConsumerGroupHeartbeatInterval <= 0 {
		cfg.ConsumerGroupHeartbeatInterval = def.ConsumerGroupHeartbeatInterval
	}
	if cfg.ConsumerGroupMaxSize <= 0 {
		cfg.ConsumerGroupMaxSize = def.ConsumerGroupMaxSize
	}
	cfg.ConsumerGroupAssignors = slices.DeleteFunc(slices.Clone(cfg.ConsumerGroupAssignors), func(name string) bool {
		return assignorFor(name) == nil
	})
	if len(cfg.ConsumerGroupAssignors) == 0 {
		cfg.ConsumerGroupAssignors = def.ConsumerGroupAssignors
	}
	c := &Coordinator{cfg: cfg}
	c.rt = coordinator.New(coordinator.Config{
		Logger:       cfg.Logger.With("component", "group", "node_id", cfg.NodeID),
		Topic:        OffsetsTopic,
		TickInterval: cfg.OffsetsRetentionCheckInterval, // offset expiry
	}, func(l *coordinator.Loop) *shard { return newShard(&c.cfg, l) })
	return c
}

// Run owns the shard loops (each runs its own offset-expiry check) until ctx
// is cancelled; on return every shard has stopped. Shards loaded before Run
// start when it starts.
func (c *Coordinator) Run(ctx context.Context) error {
	return c.rt.Run(ctx)
}

// PartitionFor returns the __consumer_offsets partition of groupID, as
// Kafka computes it: abs(Java String.hashCode(groupID)) %
// NumPartitions, the hash taken over UTF-16 code units and abs(MinInt32)
// being 0. NB: invalid UTF-8 counts as U+FFFD, as Java decodes it.
func (c *Coordinator) PartitionFor(groupID string) int32 {
	return coordinator.PartitionFor(groupID, c.cfg.NumPartitions)
}

// Load starts loading the shard of a __consumer_offsets partition in the
// background: it replays log, then serves. Requests meanwhile get
// COORDINATOR_LOAD_IN_PROGRESS. A Load for a partition already loaded or
// loading at leaderEpoch or newer is ignored; an older shard is unloaded
// first.
func (c *Coordinator) Load(partition int32, leaderEpoch int32, log Log) {
	c.rt.Load(partition, leaderEpoch, log)
}

// Unload stops serving the shard of a __consumer_offsets partition
// (leadership moved, topic gone). Its requests then get NOT_COORDINATOR,
// waiting ones included.
func (c *Coordinator) Unload(partition int32) {
	c.rt.Unload(partition)
}

// Status returns nil when this node coordinates groupID and its shard is
// loaded, else an error wrapping ErrNotCoordinator or ErrLoadInProgress.
func (c *Coordinator) Status(groupID string) error {
	_, err := c.shardFor(groupID)
	return err
}

// shardFor returns the loaded shard of groupID.
func (c *Coordinator) shardFor(groupID string) (*shard, error) {
	p := c.PartitionFor(groupID)
	return c.shard(p)
}

func (c *Coordinator) shard(p int32) (*shard, error) {
	s, err := c.rt.Shard(p)
	return s, routingErr(err)
}

// shards returns every shard registered here, loading ones included.
func (c *Coordinator) shards() []*shard {
	return c.rt.Shards()
}

// groupsByShard splits group ids by partition, keeping request order within
// each partition and the order partitions first appear in.
func (c *Coordinator) groupsByShard(ids []string) (order []int32, byPartition map[int32][]int) {
	byPartition = make(map[int32][]int)
	for i, id := range ids {
		p := c.PartitionFor(id)
		if _, ok := byPartition[p]; !ok {
			order = append(order, p)
		}
		byPartition[p] = append(byPartition[p], i)
	}
	return order, byPartition
}
