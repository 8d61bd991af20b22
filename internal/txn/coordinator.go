package txn

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/strata-io/strata/internal/coordinator"
)

// Coordinator is the transaction coordinator of one node: it routes each
// request to the shard of its transactional id, hosted by the coordinator
// runtime, and sends the markers of the transactions it completes.
type Coordinator struct {
	cfg     Config                       // set in New, never changed
	rt      *coordinator.Runtime[*shard] // set in New, never changed
	markers *markerManager               // set in New, never changed

	run struct {
		sync.Mutex
		ctx context.Context // Run's context; Background until Run starts
	}
}

// New returns a coordinator; it starts nothing. Zero Config fields take
// DefaultConfig's values; Markers and ProducerIDs are required.
func New(cfg Config) *Coordinator {
	cfg = cfg.withDefaults()
	c := &Coordinator{cfg: cfg}
	c.run.ctx = context.Background()
	c.markers = newMarkerManager(cfg)
	c.rt = coordinator.New(coordinator.Config{
		Logger:       cfg.Logger.With("component", "txn", "node_id", cfg.NodeID),
		Topic:        TransactionStateTopic,
		TickInterval: min(cfg.AbortTimedOutInterval, cfg.RemoveExpiredInterval),
	}, func(l *coordinator.Loop) *shard { return newShard(c, l) })
	return c
}

// Run owns the shard loops and the marker sender until ctx is cancelled;
// on return all have stopped.
func (c *Coordinator) Run(ctx context.Context) error {
	c.run.Lock()
	c.run.ctx = ctx
	c.run.Unlock()
	var wg sync.WaitGroup
	wg.Go(func() { c.markers.run(ctx) })
	err := c.rt.Run(ctx)
	wg.Wait()
	return err
}

func (c *Coordinator) runCtx() context.Context {
	c.run.Lock()
	defer c.run.Unlock()
	return c.run.ctx
}

// flexible reports whether records are written in the flexible value
// version (transaction.version 2); not yet.
func (c *Coordinator) flexible() bool { return false }

// PartitionFor returns the __transaction_state partition of id, as Kafka
// computes it.
func (c *Coordinator) PartitionFor(id string) int32 {
	return coordinator.PartitionFor(id, c.cfg.NumPartitions)
}

// Load starts loading the shard of a __transaction_state partition led
// here at leaderEpoch (the coordinator epoch its markers carry).
func (c *Coordinator) Load(partition, leaderEpoch int32, log coordinator.Log) {
	c.rt.Load(partition, leaderEpoch, log)
}

// Unload stops serving a __transaction_state partition.
func (c *Coordinator) Unload(partition int32) { c.rt.Unload(partition) }

func (c *Coordinator) shardFor(id string) (*shard, error) {
	return c.rt.Shard(c.PartitionFor(id))
}

// call runs fn on the loop of id's shard.
func call[T any](ctx context.Context, c *Coordinator, id string, fn func(s *shard, reply func(T))) (T, error) {
	var zero T
	s, err := c.shardFor(id)
	if err != nil {
		return zero, err
	}
	return coordinator.Call(ctx, s.loop, func(reply func(T)) { fn(s, reply) })
}

// validateTimeout checks a producer's transaction.timeout.ms.
func (c *Coordinator) validateTimeout(ms int32) error {
	if ms <= 0 || time.Duration(ms)*time.Millisecond > c.cfg.MaxTimeout {
		return fmt.Errorf("%w: %d ms (transaction.max.timeout.ms is %d)", kerr.InvalidTransactionTimeout, ms, c.cfg.MaxTimeout.Milliseconds())
	}
	return nil
}

// ProducerIDAndEpoch is a producer's identity.
type ProducerIDAndEpoch struct {
	ID    int64
	Epoch int16
}

type initResult struct {
	pe      ProducerIDAndEpoch
	err     error
	needPID bool // the shard needs a new producer id to go on
}

// InitProducerID gives the producer of transactional id its producer id
// and a new epoch, fencing any older producer of the id, and aborts the
// transaction that producer left open (answering CONCURRENT_TRANSACTIONS
// meanwhile, so that the client retries). expected is the id and epoch
// the producer already has (KIP-360), nil for none.
func (c *Coordinator) InitProducerID(ctx context.Context, id string, timeoutMs int32, expected *ProducerIDAndEpoch) (ProducerIDAndEpoch, error) {
	none := ProducerIDAndEpoch{ID: -1, Epoch: -1}
	if id == "" {
		return none, fmt.Errorf("%w: empty transactional id", kerr.InvalidRequest)
	}
	if err := c.validateTimeout(timeoutMs); err != nil {
		return none, err
	}
	newPID := int64(-1)
	for range 3 {
		res, err := call(ctx, c, id, func(s *shard, reply func(initResult)) {
			s.initProducerID(id, timeoutMs, expected, newPID, reply)
		})
		if err != nil {
			return none, err
		}
		if !res.needPID {
			if res.err != nil {
				return none, res.err
			}
			return res.pe, nil
		}
		if newPID, err = c.cfg.ProducerIDs(ctx); err != nil {
			return none, fmt.Errorf("%w: allocating a producer id: %v", kerr.CoordinatorNotAvailable, err)
		}
	}
	return none, fmt.Errorf("%w: producer id allocation raced", kerr.ConcurrentTransactions)
}

// AddPartitions adds partitions to the ongoing transaction of id, starting
// one if none is (AddPartitionsToTxn, AddOffsetsToTxn).
func (c *Coordinator) AddPartitions(ctx context.Context, id string, pe ProducerIDAndEpoch, parts []Partition) error {
	if id == "" {
		return fmt.Errorf("%w: empty transactional id", kerr.InvalidRequest)
	}
	err, cerr := call(ctx, c, id, func(s *shard, reply func(error)) { s.addPartitions(id, pe, parts, reply) })
	if cerr != nil {
		return cerr
	}
	return err
}

// VerifyPartitions reports for each of parts whether it is in the ongoing
// transaction of id at pe (AddPartitionsToTxn v4+ verify-only, KIP-890):
// nil for those in it. A non-nil error applies to every partition.
func (c *Coordinator) VerifyPartitions(ctx context.Context, id string, pe ProducerIDAndEpoch, parts []Partition) (map[Partition]error, error) {
	type result struct {
		per map[Partition]error
		err error
	}
	res, err := call(ctx, c, id, func(s *shard, reply func(result)) {
		per, err := s.verifyPartitions(id, pe, parts)
		reply(result{per, err})
	})
	if err != nil {
		return nil, err
	}
	return res.per, res.err
}

// EndTxn commits or aborts the ongoing transaction of id (EndTxn, v0-4
// semantics): it answers once PrepareCommit/PrepareAbort is logged; the
// markers follow.
func (c *Coordinator) EndTxn(ctx context.Context, id string, pe ProducerIDAndEpoch, commit bool) error {
	if id == "" {
		return fmt.Errorf("%w: empty transactional id", kerr.InvalidRequest)
	}
	err, cerr := call(ctx, c, id, func(s *shard, reply func(error)) { s.endTxnFromClient(id, pe, commit, reply) })
	if cerr != nil {
		return cerr
	}
	return err
}
