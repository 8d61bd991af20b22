// Package controller is the active controller: it turns admin requests
// (create/delete topics, create partitions, alter configs, broker
// registration, producer id blocks, the cluster id) into metadata records,
// proposes them to the metadata quorum and returns once they are applied.
//
// It owns decisions, not state: the current metadata Image lives in a
// metadata.Loader that the raft node applies committed entries to, and the
// controller validates each request against the Loader's latest image. When
// an operation returns, the Loader has published the new image, so every
// subscriber (the broker's partition reconciler...) has already seen it.
//
// # Goroutines
//
// Run is the controller's one event loop. Operations called from any
// goroutine send a closure to the loop and wait for its reply, so
// validation and proposal are serialized: no two operations interleave
// between reading the image and proposing. Run returns when its context
// ends. Operations called while Run is not running wait for it until their
// own context ends.
//
// Errors are this package's sentinels (ErrTopicExists, ErrInvalidTopic...),
// wrapped with detail; the Kafka API layer maps them to error codes.
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

// Config configures a Controller.
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
}

// Controller validates admin requests and turns them into metadata records.
type Controller struct {
	cfg    Config       // set in New, never changed
	logger *slog.Logger // set in New, never changed
	// ops carries operations to the loop in Run. Unbuffered.
	ops chan op
}

// op is one operation run by the loop. ctx is the caller's context, also
// cancelled when Run stops.
type op func(ctx context.Context)

// New checks cfg and returns a Controller. It starts nothing.
func New(cfg Config) (*Controller, error) {
	if cfg.Quorum == nil || cfg.Loader == nil {
		return nil, errors.New("controller: Quorum and Loader are required")
	}
	if cfg.NodeID < 0 {
		return nil, fmt.Errorf("controller: negative node id %d", cfg.NodeID)
	}
	if cfg.Defaults.NumPartitions == 0 {
		cfg.Defaults.NumPartitions = 1
	}
	if cfg.Defaults.ReplicationFactor == 0 {
		cfg.Defaults.ReplicationFactor = 1
	}
	if cfg.Defaults.NumPartitions < 0 || cfg.Defaults.ReplicationFactor < 0 {
		return nil, errors.New("controller: negative default partitions or replication factor")
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Controller{
		cfg:    cfg,
		logger: logger.With("component", "controller", "node_id", cfg.NodeID),
		ops:    make(chan op),
	}, nil
}

// Image returns the latest metadata image. It never blocks.
func (c *Controller) Image() *metadata.Image { return c.cfg.Loader.Image() }

// Subscribe registers fn for every new image, in apply order (see
// metadata.Loader.Subscribe). NB: fn runs on the raft apply goroutine and
// must not call Controller operations.
func (c *Controller) Subscribe(fn metadata.Subscriber) { c.cfg.Loader.Subscribe(fn) }

// Run executes operations one at a time until ctx is cancelled.
func (c *Controller) Run(ctx context.Context) error {
	for {
		select {
		case o := <-c.ops:
			o(ctx)
		case <-ctx.Done():
			return nil
		}
	}
}

// do runs fn on the loop with a context that ends when either the caller's
// ctx or Run's ends, and waits for it. It returns ctx's error if the loop
// did not pick the operation up in time.
func (c *Controller) do(ctx context.Context, fn func(ctx context.Context)) error {
	done := make(chan struct{})
	o := func(runCtx context.Context) {
		defer close(done)
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
// caught up, and returns the image to validate against.
func (c *Controller) begin(ctx context.Context) (*metadata.Image, error) {
	if !c.cfg.Quorum.IsLeader() {
		return nil, ErrNotController
	}
	if err := c.cfg.Quorum.WaitReady(ctx); err != nil {
		return nil, c.quorumError(err)
	}
	return c.Image(), nil
}

// propose encodes recs as one batch and proposes it.
func (c *Controller) propose(ctx context.Context, recs []metadata.Record) error {
	data, err := metadata.EncodeBatch(recs)
	if err != nil {
		return fmt.Errorf("controller: %w", err)
	}
	if _, err := c.cfg.Quorum.Propose(ctx, data); err != nil {
		return c.quorumError(err)
	}
	return nil
}

func (c *Controller) quorumError(err error) error {
	if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrStopped) {
		return fmt.Errorf("%w: %w", ErrNotController, err)
	}
	return fmt.Errorf("controller: %w", err)
}

// EnsureClusterID sets a random cluster id if the metadata has none yet.
// The id is 16 random bytes in unpadded base64url, like Kafka's.
func (c *Controller) EnsureClusterID(ctx context.Context) error {
	var opErr error
	if err := c.do(ctx, func(ctx context.Context) {
		img, err := c.begin(ctx)
		if err != nil {
			opErr = err
			return
		}
		if img.ClusterID() != "" {
			return
		}
		id, err := metadata.NewUUID(c.cfg.Rand)
		if err != nil {
			opErr = fmt.Errorf("controller: cluster id: %w", err)
			return
		}
		if opErr = c.propose(ctx, []metadata.Record{&metadata.ClusterIDRecord{ClusterID: id.String()}}); opErr == nil {
			c.logger.Info("cluster id created", "cluster_id", id.String())
		}
	}); err != nil {
		return err
	}
	return opErr
}

// BrokerRegistration is what a broker tells the controller about itself.
type BrokerRegistration struct {
	NodeID int32
	// IncarnationID is random per process start; zero is allowed.
	IncarnationID metadata.UUID
	Host          string
	Port          int32
	Rack          string
}

// RegisterBroker registers or re-registers a broker, unfenced, with a new
// broker epoch (readable from the image once this returns).
func (c *Controller) RegisterBroker(ctx context.Context, reg BrokerRegistration) error {
	if reg.NodeID < 0 {
		return fmt.Errorf("%w: negative broker id %d", ErrInvalidRequest, reg.NodeID)
	}
	if reg.Host == "" || reg.Port <= 0 || reg.Port > math.MaxUint16 {
		return fmt.Errorf("%w: broker %d address %q:%d", ErrInvalidRequest, reg.NodeID, reg.Host, reg.Port)
	}
	var opErr error
	if err := c.do(ctx, func(ctx context.Context) {
		img, err := c.begin(ctx)
		if err != nil {
			opErr = err
			return
		}
		// Every registration is proposed after the image reached Index,
		// and is applied at a higher index, so Index+1 increases from one
		// registration to the next, as a broker epoch must.
		epoch := int64(img.Index()) + 1
		if prev, ok := img.Broker(reg.NodeID); ok && prev.BrokerEpoch >= epoch {
			epoch = prev.BrokerEpoch + 1
		}
		opErr = c.propose(ctx, []metadata.Record{&metadata.RegisterBrokerRecord{
			NodeID: reg.NodeID, IncarnationID: reg.IncarnationID, BrokerEpoch: epoch,
			Host: reg.Host, Port: reg.Port, Rack: reg.Rack,
		}})
		if opErr == nil {
			c.logger.Info("broker registered", "broker_id", reg.NodeID, "host", reg.Host, "port", reg.Port, "broker_epoch", epoch)
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
