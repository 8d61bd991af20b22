package group

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"unicode/utf16"
)

// Log is a shard's __consumer_offsets partition, implemented by the node
// over partition.Partition.
type Log interface {
	// Append appends recs as one batch (atomically) and returns the offset
	// after it.
	Append(recs []Record) (end int64, err error)
	// Commit returns once every record before end is committed (durable per
	// the fsync policy).
	Commit(ctx context.Context, end int64) error
	// Replay calls fn for every record from the log start to the committed
	// end, in offset order.
	Replay(ctx context.Context, fn func(offset int64, key, value []byte) error) error
}

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

// Coordinator is the group coordinator of one node.
type Coordinator struct {
	cfg Config       // set in NewCoordinator, never changed
	log *slog.Logger // set in NewCoordinator, never changed

	mu struct {
		sync.Mutex
		shards  map[int32]*shard
		runCtx  context.Context // nil until Run starts
		stopped bool            // Run has returned or is returning
	}
	wg sync.WaitGroup // shard loops started by Run or Load
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
	c := &Coordinator{cfg: cfg, log: cfg.Logger.With("component", "group", "node_id", cfg.NodeID)}
	c.mu.shards = make(map[int32]*shard)
	return c
}

// Run owns the shard loops (each runs its own offset-expiry check) until ctx
// is cancelled; on return every shard has stopped. Shards loaded before Run
// start when it starts.
func (c *Coordinator) Run(ctx context.Context) error {
	c.mu.Lock()
	if c.mu.runCtx != nil || c.mu.stopped {
		c.mu.Unlock()
		return errors.New("group: Coordinator.Run called twice")
	}
	c.mu.runCtx = ctx
	for _, s := range c.mu.shards {
		c.startLocked(s)
	}
	c.mu.Unlock()

	<-ctx.Done()

	c.mu.Lock()
	c.mu.stopped = true
	for p, s := range c.mu.shards {
		s.stop()
		delete(c.mu.shards, p)
	}
	c.mu.Unlock()
	c.wg.Wait()
	return nil
}

// startLocked starts s's loop under Run's context.
func (c *Coordinator) startLocked(s *shard) {
	ctx, cancel := context.WithCancel(c.mu.runCtx)
	s.cancel = cancel
	c.wg.Go(func() { s.run(ctx) })
}

// PartitionFor returns the __consumer_offsets partition of groupID, as
// Kafka computes it: abs(Java String.hashCode(groupID)) %
// NumPartitions, the hash taken over UTF-16 code units and abs(MinInt32)
// being 0. NB: invalid UTF-8 counts as U+FFFD, as Java decodes it.
func (c *Coordinator) PartitionFor(groupID string) int32 {
	return partitionFor(groupID, c.cfg.NumPartitions)
}

func partitionFor(groupID string, n int32) int32 {
	if n <= 0 {
		return 0
	}
	h := javaStringHashCode(groupID)
	if h == -1<<31 {
		h = 0
	} else if h < 0 {
		h = -h
	}
	return h % n
}

// javaStringHashCode is java.lang.String.hashCode: s[0]*31^(n-1) + ... +
// s[n-1] over UTF-16 code units, in int32 arithmetic.
func javaStringHashCode(s string) int32 {
	var h int32
	for _, r := range s {
		if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			h = 31*h + int32(r1)
			h = 31*h + int32(r2)
			continue
		}
		h = 31*h + int32(r)
	}
	return h
}

// Load starts loading the shard of a __consumer_offsets partition in the
// background: it replays log, then serves. Requests meanwhile get
// COORDINATOR_LOAD_IN_PROGRESS. A Load for a partition already loaded or
// loading at leaderEpoch or newer is ignored; an older shard is unloaded
// first.
func (c *Coordinator) Load(partition int32, leaderEpoch int32, log Log) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.stopped {
		c.log.Warn("load after coordinator stopped", "partition", partition)
		return
	}
	if old := c.mu.shards[partition]; old != nil {
		if old.leaderEpoch >= leaderEpoch {
			c.log.Debug("ignoring load of an already loaded shard", "partition", partition, "leader_epoch", leaderEpoch)
			return
		}
		old.stop()
	}
	s := newShard(c, partition, leaderEpoch, log)
	c.mu.shards[partition] = s
	if c.mu.runCtx != nil {
		c.startLocked(s)
	}
	c.log.Debug("loading group coordinator shard", "partition", partition, "leader_epoch", leaderEpoch)
}

// Unload stops serving the shard of a __consumer_offsets partition
// (leadership moved, topic gone). Its requests then get NOT_COORDINATOR,
// waiting ones included.
func (c *Coordinator) Unload(partition int32) {
	c.mu.Lock()
	s := c.mu.shards[partition]
	delete(c.mu.shards, partition)
	c.mu.Unlock()
	if s != nil {
		s.stop()
		c.log.Info("unloaded group coordinator shard", "partition", partition)
	}
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
	c.mu.Lock()
	s := c.mu.shards[p]
	c.mu.Unlock()
	if s == nil {
		return nil, fmt.Errorf("__consumer_offsets-%d: %w", p, ErrNotCoordinator)
	}
	switch s.status.Load() {
	case shardLoading:
		return nil, fmt.Errorf("__consumer_offsets-%d: %w", p, ErrLoadInProgress)
	case shardActive:
		return s, nil
	default:
		return nil, fmt.Errorf("__consumer_offsets-%d: %w", p, ErrNotCoordinator)
	}
}

// shards returns every shard registered here, loading ones included.
func (c *Coordinator) shards() []*shard {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*shard, 0, len(c.mu.shards))
	for _, s := range c.mu.shards {
		out = append(out, s)
	}
	return out
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
