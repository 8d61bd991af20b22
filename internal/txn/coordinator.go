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
	// bg holds the shards' producer id allocations (allocateSparePID); Run
	// waits for them after the loops stopped.
	bg sync.WaitGroup
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
	c.bg.Wait()
	return err
}

func (c *Coordinator) runCtx() context.Context {
	c.run.Lock()
	defer c.run.Unlock()
	return c.run.ctx
}

// FinalizedTransactionVersion is the transaction.version feature level of
// every Strata cluster: the only level this binary implements end to end.
// The controller finalizes it in the metadata log when it bootstraps a
// cluster and refuses any other level (metadata.SupportedFeatures gives
// 2-2), so the coordinator may rely on it.
const FinalizedTransactionVersion int16 = 2

// flexible reports whether records are written in the flexible value
// version: as Kafka's TransactionStateManager, per cluster, whenever the
// finalized transaction.version is 2 or above, for every transactional id
// (whichever version its client speaks). Only the flexible version keeps
// ClientTransactionVersion and the next producer id across a load.
func (c *Coordinator) flexible() bool { return FinalizedTransactionVersion >= 2 }

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
// one if none is (AddPartitionsToTxn v0-3 and AddOffsetsToTxn from a
// client: transaction version 0 or 1, which Kafka records as 0).
func (c *Coordinator) AddPartitions(ctx context.Context, id string, pe ProducerIDAndEpoch, parts []Partition) error {
	return c.addPartitions(ctx, id, pe, parts, 0)
}

// AddPartitionsV2 is AddPartitions for a producer at transaction version
// 2 (KIP-890 part 2): a partition leader adding the partition of a Produce
// v12+, or a group coordinator the __consumer_offsets partition of a
// TxnOffsetCommit v5+ (AddPartitionsToTxn v4+ without VerifyOnly). The
// transaction then ends with an epoch bump.
func (c *Coordinator) AddPartitionsV2(ctx context.Context, id string, pe ProducerIDAndEpoch, parts []Partition) error {
	return c.addPartitions(ctx, id, pe, parts, 2)
}

func (c *Coordinator) addPartitions(ctx context.Context, id string, pe ProducerIDAndEpoch, parts []Partition, tv int16) error {
	if id == "" {
		return fmt.Errorf("%w: empty transactional id", kerr.InvalidRequest)
	}
	err, cerr := call(ctx, c, id, func(s *shard, reply func(error)) { s.addPartitions(id, pe, parts, tv, reply) })
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

// EndTxn commits or aborts the ongoing transaction of id (EndTxn v0-4:
// transaction version 1, the producer keeps its epoch). It answers once
// the transaction completed or endReplyWait after PrepareCommit or
// PrepareAbort is logged; the markers follow.
func (c *Coordinator) EndTxn(ctx context.Context, id string, pe ProducerIDAndEpoch, commit bool) error {
	_, err := c.endTxn(ctx, id, pe, commit, 0)
	return err
}

// EndTxnV2 is EndTxn v5+ (transaction version 2, KIP-890 part 2): every
// end bumps the producer epoch, rotating to a new producer id when the
// epoch is exhausted, and an abort with no transaction ongoing is allowed
// (it bumps too). It returns the producer id and epoch the producer goes
// on with; a retry of an end that happened gets them again.
func (c *Coordinator) EndTxnV2(ctx context.Context, id string, pe ProducerIDAndEpoch, commit bool) (ProducerIDAndEpoch, error) {
	return c.endTxn(ctx, id, pe, commit, 2)
}

type endResult struct {
	pe      ProducerIDAndEpoch
	err     error
	needPID bool // the shard needs a new producer id to go on
}

func (c *Coordinator) endTxn(ctx context.Context, id string, pe ProducerIDAndEpoch, commit bool, tv int16) (ProducerIDAndEpoch, error) {
	none := ProducerIDAndEpoch{ID: -1, Epoch: -1}
	if id == "" {
		return none, fmt.Errorf("%w: empty transactional id", kerr.InvalidRequest)
	}
	newPID := int64(-1)
	for range 3 {
		res, err := call(ctx, c, id, func(s *shard, reply func(endResult)) {
			s.endTxnFromClient(id, pe, commit, tv, newPID, reply)
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
