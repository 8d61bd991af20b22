package controller

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync/atomic"
	"time"

	"github.com/strata-io/strata/internal/metadata"
	"github.com/strata-io/strata/internal/raft"
)

// Sentinel errors. The API layer maps each to a Kafka error code.
var (
	ErrTopicExists              = errors.New("topic already exists")
	ErrUnknownTopic             = errors.New("unknown topic")
	ErrUnknownTopicID           = fmt.Errorf("%w id", ErrUnknownTopic)
	ErrInvalidTopic             = errors.New("invalid topic")
	ErrInvalidPartitions        = errors.New("invalid number of partitions")
	ErrInvalidReplicationFactor = errors.New("invalid replication factor")
	ErrInvalidReplicaAssignment = errors.New("invalid replica assignment")
	// ErrInvalidConfig wraps config.ErrInvalidConfig or
	// config.ErrUnknownConfig when the registry rejected the config.
	ErrInvalidConfig = errors.New("invalid config")
	// ErrNotController wraps raft's *NotLeaderError when the quorum said so.
	ErrNotController         = errors.New("not the active controller")
	ErrInvalidRequest        = errors.New("invalid request")
	ErrTopicDeletionDisabled = errors.New("topic deletion is disabled (delete.topic.enable=false)")

	// ErrUnknownTopicOrPartition wraps ErrUnknownTopic: the topic exists
	// but not the partition, or the topic is unknown by name.
	ErrUnknownTopicOrPartition = fmt.Errorf("%w or partition", ErrUnknownTopic)

	// Broker lifecycle (BrokerRegistration, BrokerHeartbeat).
	ErrBrokerNotRegistered = errors.New("broker is not registered")
	// ErrStaleBrokerEpoch: the request carries a broker epoch other than
	// the broker's current registration.
	ErrStaleBrokerEpoch = errors.New("stale broker epoch")
	// ErrDuplicateBrokerRegistration: another incarnation of the broker id
	// is registered and still heartbeating.
	ErrDuplicateBrokerRegistration = errors.New("broker id is registered by another live incarnation")

	// AlterPartition.
	ErrNotLeaderOrFollower  = errors.New("broker is not the partition leader")
	ErrFencedLeaderEpoch    = errors.New("fenced leader epoch")
	ErrInvalidUpdateVersion = errors.New("stale partition epoch")
	ErrIneligibleReplica    = errors.New("ineligible replica in the new ISR")

	// ElectLeaders (KIP-460).
	ErrElectionNotNeeded           = errors.New("election not needed")
	ErrPreferredLeaderNotAvailable = errors.New("preferred leader not available")
	ErrEligibleLeadersNotAvailable = errors.New("eligible leaders not available")

	// Features (KIP-584). UpdateFeatures refusals are ErrInvalidUpdateVersion.
	// ErrUnsupportedFeatureLevel: a registering broker's software does not
	// support a finalized feature level.
	ErrUnsupportedFeatureLevel = errors.New("unsupported finalized feature level")
)

// maxPartitionsPerRequest bounds the records one request can produce, like
// Kafka's limit on records per user operation.
const maxPartitionsPerRequest = 10000

// Quorum is the metadata quorum as the controller uses it; *raft.Node
// implements it.
type Quorum interface {
	// Propose replicates one entry and returns once it is applied locally.
	Propose(ctx context.Context, data []byte) (index uint64, err error)
	// WaitReady returns once the local state has caught up with the
	// committed log.
	WaitReady(ctx context.Context) error
	// IsLeader reports whether this node may propose.
	IsLeader() bool
	// AddNonvoter lets node id, reachable at addr, follow the log without
	// voting (a broker-only node); a no-op when it already does.
	AddNonvoter(ctx context.Context, id int32, addr string) error
}

var (
	_ Quorum            = (*raft.Node)(nil)
	_ raft.StateMachine = (*metadata.Loader)(nil)
)

// Defaults are the broker settings that shape new topics.
type Defaults struct {
	// NumPartitions is used when a topic is created with -1 partitions
	// (num.partitions). Default 1.
	NumPartitions int32
	// ReplicationFactor is used when a topic is created with replication
	// factor -1 (default.replication.factor). Default 1.
	ReplicationFactor int16
	// StaticBrokerConfigs are this broker's static Kafka configs
	// (delete.topic.enable, log.retention.hours...), the lowest layer when
	// resolving a config's current value.
	StaticBrokerConfigs map[string]string
}

// Config configures a Controller. Build it from DefaultConfig: zero
// durations take their defaults in New, but a zero AutoLeaderRebalance
// turns automatic preferred leader election off.
type Config struct {
	NodeID int32
	// Quorum proposes records; Loader is the state machine that Quorum
	// applies them to. Both are required.
	Quorum Quorum
	Loader *metadata.Loader
	Logger *slog.Logger
	// Defaults for new topics; zero fields take their defaults.
	Defaults Defaults
	// Rand supplies topic ids, the cluster id and placement offsets; nil
	// means crypto/rand. Tests pass a seeded source.
	Rand io.Reader

	// BrokerSessionTimeout (broker.session.timeout.ms): a broker without a
	// heartbeat for this long is fenced. Default 9s.
	BrokerSessionTimeout time.Duration
	// BrokerHeartbeatInterval (broker.heartbeat.interval.ms) is what
	// brokers are told to heartbeat at. Default 2s.
	BrokerHeartbeatInterval time.Duration
	// AutoLeaderRebalance (auto.leader.rebalance.enable) moves leadership
	// back to the preferred replica every LeaderImbalanceCheckInterval
	// (leader.imbalance.check.interval.seconds, default 300s). Strata has
	// no imbalance threshold: every partition whose preferred replica can
	// lead is moved.
	AutoLeaderRebalance          bool
	LeaderImbalanceCheckInterval time.Duration
	// UncleanLeaderElection is the cluster default of
	// unclean.leader.election.enable, used when neither the topic, the
	// dynamic broker configs nor StaticBrokerConfigs set it.
	UncleanLeaderElection bool
	// PropagationTimeout, when positive, makes admin operations answer
	// only once every live broker has applied their change, or this long
	// after it committed (see awaitBrokers). Zero answers at commit.
	PropagationTimeout time.Duration
	// Now reads the clock; nil means time.Now. Timers come from package
	// time, so tests run the controller under testing/synctest.
	Now func() time.Time
	// Metrics times the event loop; nil records nothing.
	Metrics *Metrics
}

// DefaultConfig returns Kafka's defaults for the broker lifecycle
// settings; NodeID, Quorum and Loader must still be set.
func DefaultConfig() Config {
	return Config{
		BrokerSessionTimeout:         9 * time.Second,
		BrokerHeartbeatInterval:      2 * time.Second,
		AutoLeaderRebalance:          true,
		LeaderImbalanceCheckInterval: 300 * time.Second,
	}
}

// Validate reports every problem with the lifecycle settings at once.
func (cfg Config) Validate() error {
	var errs []error
	if cfg.Quorum == nil || cfg.Loader == nil {
		errs = append(errs, errors.New("Quorum and Loader are required"))
	}
	if cfg.NodeID < 0 {
		errs = append(errs, fmt.Errorf("negative node id %d", cfg.NodeID))
	}
	if cfg.Defaults.NumPartitions < 0 || cfg.Defaults.ReplicationFactor < 0 {
		errs = append(errs, errors.New("negative default partitions or replication factor"))
	}
	if cfg.BrokerSessionTimeout < 0 || cfg.BrokerHeartbeatInterval < 0 || cfg.LeaderImbalanceCheckInterval < 0 {
		errs = append(errs, errors.New("negative broker session timeout, heartbeat interval or leader imbalance check interval"))
	}
	if cfg.BrokerSessionTimeout > 0 && cfg.BrokerHeartbeatInterval > 0 && cfg.BrokerHeartbeatInterval >= cfg.BrokerSessionTimeout {
		errs = append(errs, fmt.Errorf("broker heartbeat interval %s must be shorter than the session timeout %s", cfg.BrokerHeartbeatInterval, cfg.BrokerSessionTimeout))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("controller config: %w", err)
	}
	return nil
}

// Controller validates admin requests and turns them into metadata records.
type Controller struct {
	cfg    Config       // set in New, never changed
	logger *slog.Logger // set in New, never changed
	// ops carries operations to the loop in Run. Unbuffered.
	ops chan op

	// live is the broker liveness state; owned by the loop in Run (read
	// and written only by operations and ticks running there).
	live liveness
	// applied is what each broker reported applying; see propagation.
	applied *propagation
	// proposed is the highest raft index this controller proposed;
	// written on the loop, read by doAdmin off it.
	proposed atomic.Uint64
	// dirs is what brokers reported of their log directories; owned by
	// the loop in Run, like live.
	dirs logDirState
}

// op is one operation run by the loop. ctx is the caller's context, also
// cancelled when Run stops.
type op func(ctx context.Context)

// New checks cfg and returns a Controller. It starts nothing.
func New(cfg Config) (*Controller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := DefaultConfig()
	if cfg.BrokerSessionTimeout == 0 {
		cfg.BrokerSessionTimeout = d.BrokerSessionTimeout
	}
	if cfg.BrokerHeartbeatInterval == 0 {
		cfg.BrokerHeartbeatInterval = min(d.BrokerHeartbeatInterval, cfg.BrokerSessionTimeout/2)
	}
	if cfg.LeaderImbalanceCheckInterval == 0 {
		cfg.LeaderImbalanceCheckInterval = d.LeaderImbalanceCheckInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Defaults.NumPartitions == 0 {
		cfg.Defaults.NumPartitions = 1
	}
	if cfg.Defaults.ReplicationFactor == 0 {
		cfg.Defaults.ReplicationFactor = 1
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Controller{
		cfg:     cfg,
		logger:  logger.With("component", "controller", "node_id", cfg.NodeID),
		ops:     make(chan op),
		live:    newLiveness(),
		applied: newPropagation(),
	}, nil
}

// HeartbeatInterval is the interval brokers are told to heartbeat at.
func (c *Controller) HeartbeatInterval() time.Duration { return c.cfg.BrokerHeartbeatInterval }

// SessionTimeout is the broker session timeout.
func (c *Controller) SessionTimeout() time.Duration { return c.cfg.BrokerSessionTimeout }

// Image returns the latest metadata image. It never blocks.
func (c *Controller) Image() *metadata.Image { return c.cfg.Loader.Image() }

// IsActive reports whether this node is the active controller (leads the
// metadata quorum).
func (c *Controller) IsActive() bool { return c.cfg.Quorum.IsLeader() }

// Subscribe registers fn for every new image, in apply order (see
// metadata.Loader.Subscribe). NB: fn runs on the raft apply goroutine and
// must not call Controller operations.
func (c *Controller) Subscribe(fn metadata.Subscriber) { c.cfg.Loader.Subscribe(fn) }

// Run executes operations one at a time, checks broker liveness and, with
// AutoLeaderRebalance, preferred leaders, until ctx is cancelled.
func (c *Controller) Run(ctx context.Context) error {
	liveTick := time.NewTicker(c.livenessCheckInterval())
	defer liveTick.Stop()
	var rebalance <-chan time.Time
	if c.cfg.AutoLeaderRebalance {
		t := time.NewTicker(c.cfg.LeaderImbalanceCheckInterval)
		defer t.Stop()
		rebalance = t.C
	}
	for {
		select {
		case o := <-c.ops:
			o(ctx)
		case <-liveTick.C:
			c.checkLiveness(ctx)
		case <-rebalance:
			c.rebalanceLeaders(ctx)
		case <-ctx.Done():
			return nil
		}
	}
}

// livenessCheckInterval is how often the loop looks for expired broker
// sessions: a ninth of the session timeout (1s by default), so a broker is
// fenced between BrokerSessionTimeout and 10/9 of it after its last
// heartbeat.
func (c *Controller) livenessCheckInterval() time.Duration {
	return max(c.cfg.BrokerSessionTimeout/9, time.Millisecond)
}

// do runs fn on the loop with a context that ends when either the caller's
// ctx or Run's ends, and waits for it. It returns ctx's error if the loop
// did not pick the operation up in time.
func (c *Controller) do(ctx context.Context, fn func(ctx context.Context)) error {
	done := make(chan struct{})
	queued := c.cfg.Metrics.now()
	o := func(runCtx context.Context) {
		defer close(done)
		defer c.cfg.Metrics.eventDone(c.cfg.Metrics.eventStart(queued))
		opCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		stop := context.AfterFunc(runCtx, cancel)
		defer stop()
		fn(opCtx)
	}
	select {
	case c.ops <- o:
	case <-ctx.Done():
		return fmt.Errorf("controller: %w", ctx.Err())
	}
	<-done
	return nil
}

// begin checks that this node may act as controller and that its image is
// caught up, and returns the image to validate against. Run on the loop.
func (c *Controller) begin(ctx context.Context) (*metadata.Image, error) {
	if !c.cfg.Quorum.IsLeader() {
		c.deactivate()
		return nil, ErrNotController
	}
	if err := c.cfg.Quorum.WaitReady(ctx); err != nil {
		return nil, c.quorumError(err)
	}
	// Two heartbeat intervals, at least 2s: time for a live previous
	// controller to learn of this one and heartbeat it.
	grace := min(max(2*c.cfg.BrokerHeartbeatInterval, 2*time.Second), c.cfg.BrokerSessionTimeout)
	if c.live.activate(c.cfg.Now(), c.cfg.NodeID, c.cfg.BrokerSessionTimeout, grace) {
		attrs := []any{"brokers", len(c.Image().Brokers())}
		if c.live.previous >= 0 {
			attrs = append(attrs, "previous_controller", c.live.previous, "previous_controller_grace", grace)
		}
		c.logger.Info("active controller: broker session clocks start now", attrs...)
	}
	return c.Image(), nil
}

// leaderReporter is what a Quorum may also offer: the leader it knows of.
type leaderReporter interface {
	Leader() (id int32, addr string)
}

// deactivate notes that this node is not the active controller, and which
// node is, when the quorum says.
func (c *Controller) deactivate() {
	leader := int32(-1)
	if lr, ok := c.cfg.Quorum.(leaderReporter); ok {
		leader, _ = lr.Leader()
	}
	c.live.deactivate(leader)
}

// propose encodes recs as one batch and proposes it.
func (c *Controller) propose(ctx context.Context, recs []metadata.Record) error {
	_, err := c.proposeIndex(ctx, recs)
	return err
}

// proposeIndex is propose that also returns the batch's raft index.
func (c *Controller) proposeIndex(ctx context.Context, recs []metadata.Record) (uint64, error) {
	data, err := metadata.EncodeBatch(recs)
	if err != nil {
		return 0, fmt.Errorf("controller: %w", err)
	}
	index, err := c.cfg.Quorum.Propose(ctx, data)
	if err != nil {
		return 0, c.quorumError(err)
	}
	if index > c.proposed.Load() { // written only here, on the loop
		c.proposed.Store(index)
	}
	return index, nil
}

func (c *Controller) quorumError(err error) error {
	if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrStopped) {
		return fmt.Errorf("%w: %w", ErrNotController, err)
	}
	return fmt.Errorf("controller: %w", err)
}

// EnsureClusterID sets a random cluster id if the metadata has none yet,
// and with it the finalized feature levels of a new cluster
// (metadata.BootstrapFeatures). The id is 16 random bytes in unpadded
// base64url, like Kafka's. A cluster created before Strata kept features
// gets them now, with eligible leader replicas off (as Kafka leaves them
// on an upgraded cluster).
func (c *Controller) EnsureClusterID(ctx context.Context) error {
	var opErr error
	if err := c.do(ctx, func(ctx context.Context) {
		img, err := c.begin(ctx)
		if err != nil {
			opErr = err
			return
		}
		if img.ClusterID() != "" {
			opErr = c.bootstrapFeatures(ctx, img)
			return
		}
		id, err := metadata.NewUUID(c.cfg.Rand)
		if err != nil {
			opErr = fmt.Errorf("controller: cluster id: %w", err)
			return
		}
		recs := append([]metadata.Record{&metadata.ClusterIDRecord{ClusterID: id.String()}}, metadata.BootstrapFeatures()...)
		if opErr = c.propose(ctx, recs); opErr == nil {
			c.logger.Info("cluster id created", "cluster_id", id.String(), "features", c.Image().FinalizedFeatures())
		}
	}); err != nil {
		return err
	}
	return opErr
}

// maxProducerIDBlock bounds one allocation.
const maxProducerIDBlock = 1 << 20

// AllocateProducerIDs reserves n consecutive producer ids and returns the
// first. Blocks go through the metadata log, so an id is never handed out
// twice, across restarts and controller changes (KIP-730).
func (c *Controller) AllocateProducerIDs(ctx context.Context, n int64) (first int64, err error) {
	if n <= 0 || n > maxProducerIDBlock {
		return 0, fmt.Errorf("%w: producer id block of %d", ErrInvalidRequest, n)
	}
	var opErr error
	if err := c.do(ctx, func(ctx context.Context) {
		img, err := c.begin(ctx)
		if err != nil {
			opErr = err
			return
		}
		first = img.NextProducerID()
		if first > math.MaxInt64-n {
			opErr = errors.New("controller: producer id space exhausted")
			return
		}
		opErr = c.propose(ctx, []metadata.Record{&metadata.ProducerIDsRecord{NextProducerID: first + n}})
	}); err != nil {
		return 0, err
	}
	if opErr != nil {
		return 0, opErr
	}
	return first, nil
}

// randIntn returns a uniform-enough value in [0, n) from the configured
// source; n must be positive.
func (c *Controller) randIntn(n int) (int, error) {
	var b [8]byte
	if _, err := io.ReadFull(c.cfg.Rand, b[:]); err != nil {
		return 0, fmt.Errorf("controller: random: %w", err)
	}
	return int(binary.BigEndian.Uint64(b[:]) % uint64(n)), nil
}
