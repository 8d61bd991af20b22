package coordinator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Sentinels. Coordinator packages wrap them in their own (the group
// coordinator's ErrNotCoordinator, ...) for their callers.
var (
	// ErrNotCoordinator: the partition is not hosted here (never loaded,
	// unloaded, replaced by a newer load, or its load failed).
	ErrNotCoordinator = errors.New("not the coordinator")
	// ErrLoadInProgress: the partition's shard is still replaying its log.
	ErrLoadInProgress = errors.New("coordinator is loading")
)

// Record is one record of a coordinator's internal topic; a nil Value is a
// tombstone.
type Record struct{ Key, Value []byte }

// ReplayRecord is one entry of a partition as Log.Replay reads it: a
// record of a data batch, or the transaction marker of a control batch
// (Control set; Key and Value nil).
type ReplayRecord struct {
	Offset     int64
	Key, Value []byte
	// ProducerID and ProducerEpoch are the batch's producer; ProducerID is
	// -1 for a batch written without one (Loop.Write).
	ProducerID    int64
	ProducerEpoch int16
	// Transactional: the record belongs to a transactional batch
	// (Loop.WriteTransactional); it takes effect only if a COMMIT marker
	// of its producer follows it, and an ABORT marker drops it.
	Transactional bool
	// Control: this is a transaction marker ending ProducerID's
	// transaction on the partition, a COMMIT when Commit is set.
	Control bool
	Commit  bool
}

// Log is a hosted partition as its loop sees it, implemented by the node
// over partition.Partition. Each append writes one batch that holds one
// offset per record: record i of recs lands at end-len(recs)+i.
type Log interface {
	// Append appends recs as one batch (atomically) and returns the offset
	// after it.
	Append(recs []Record) (end int64, err error)
	// AppendTransactional appends recs as one transactional batch of the
	// producer (no sequence: the coordinator's own append, Kafka's
	// AppendOrigin.COORDINATOR) and returns the offset after it. A
	// producer epoch older than the partition's is refused.
	AppendTransactional(producerID int64, producerEpoch int16, recs []Record) (end int64, err error)
	// AppendMarker appends the control batch (COMMIT or ABORT) that ends
	// the producer's transaction on the partition, written by
	// coordinatorEpoch, and returns the offset after it. Markers of an
	// older producer epoch or coordinator epoch are refused (the node's
	// Log passes storage.ErrProducerFenced and ErrCoordinatorFenced).
	AppendMarker(producerID int64, producerEpoch int16, coordinatorEpoch int32, commit bool) (end int64, err error)
	// Commit returns once every record before end is committed (durable per
	// the fsync policy).
	Commit(ctx context.Context, end int64) error
	// Replay calls fn for every record and every transaction marker from
	// the log start to the committed end, in offset order.
	Replay(ctx context.Context, fn func(r ReplayRecord) error) error
}

// Shard is the state machine of one hosted partition: a coordinator's
// state (groups and offsets, transactions). Its methods, and every closure
// the loop runs, are called on the partition's loop only.
type Shard interface {
	// Replay applies one committed data record read at load, in offset
	// order (never a marker: see MarkerShard). An error fails the load:
	// the partition is then not served here.
	Replay(r ReplayRecord) error
	// Loaded runs once replay is complete, before the first request: it
	// restarts what the records imply (timers, pending work). It may write.
	Loaded()
	// Tick runs every Config.TickInterval once loaded.
	Tick()
}

// MarkerShard is a Shard that writes transactional batches and so must
// see the transaction markers that decide them. The loop passes it each
// marker at load, in offset order with the records; a Shard that does not
// implement it never sees markers.
type MarkerShard interface {
	Shard
	// ReplayMarker applies one committed marker (r.Control is set). An
	// error fails the load.
	ReplayMarker(r ReplayRecord) error
}

// Config describes the coordinator a Runtime serves.
type Config struct {
	// Logger receives the runtime's logs; the coordinator's own logger
	// (component, node_id). Nil discards them.
	Logger *slog.Logger
	// Topic names the internal topic, in errors and logs.
	Topic string
	// TickInterval is how often a loaded shard's Tick runs; zero never.
	TickInterval time.Duration
}

// Runtime hosts the shards of one coordinator, one per partition led here.
type Runtime[S Shard] struct {
	cfg      Config          // set in New, never changed
	newShard func(l *Loop) S // set in New, never changed
	log      *slog.Logger    // set in New, never changed

	mu struct {
		sync.Mutex
		loops   map[int32]*Loop
		runCtx  context.Context // nil until Run starts
		stopped bool            // Run has returned or is returning
	}
	wg sync.WaitGroup // loops started by Run or Load
}

// New returns a runtime whose Load builds each partition's state with
// newShard, given the partition's loop; it starts nothing.
func New[S Shard](cfg Config, newShard func(l *Loop) S) *Runtime[S] {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Runtime[S]{cfg: cfg, newShard: newShard, log: cfg.Logger}
	r.mu.loops = make(map[int32]*Loop)
	return r
}

// Run owns the loops until ctx is cancelled; on return every loop has
// stopped. Partitions loaded before Run start when it starts.
func (r *Runtime[S]) Run(ctx context.Context) error {
	r.mu.Lock()
	if r.mu.runCtx != nil || r.mu.stopped {
		r.mu.Unlock()
		return errors.New("coordinator: Runtime.Run called twice")
	}
	r.mu.runCtx = ctx
	for _, l := range r.mu.loops {
		r.startLocked(l)
	}
	r.mu.Unlock()

	<-ctx.Done()

	r.mu.Lock()
	r.mu.stopped = true
	for p, l := range r.mu.loops {
		l.stop()
		delete(r.mu.loops, p)
	}
	r.mu.Unlock()
	r.wg.Wait()
	return nil
}

// startLocked starts l's loop under Run's context.
func (r *Runtime[S]) startLocked(l *Loop) {
	ctx, cancel := context.WithCancel(r.mu.runCtx)
	l.cancel = cancel
	r.wg.Go(func() { l.run(ctx) })
}

// Load starts loading partition in the background: its loop replays log
// into a new shard, then serves. Lookups meanwhile get ErrLoadInProgress.
// A Load for a partition already loaded or loading at leaderEpoch or newer
// is ignored; an older one is unloaded first.
func (r *Runtime[S]) Load(partition, leaderEpoch int32, log Log) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mu.stopped {
		r.log.Warn("load after coordinator stopped", "partition", partition)
		return
	}
	if old := r.mu.loops[partition]; old != nil {
		if old.leaderEpoch >= leaderEpoch {
			r.log.Debug("ignoring load of an already loaded shard", "partition", partition, "leader_epoch", leaderEpoch)
			return
		}
		old.stop()
	}
	l := newLoop(r.cfg, r.log, partition, leaderEpoch, log)
	l.shard = r.newShard(l)
	r.mu.loops[partition] = l
	if r.mu.runCtx != nil {
		r.startLocked(l)
	}
	r.log.Debug("loading coordinator shard", "partition", partition, "leader_epoch", leaderEpoch)
}

// Unload stops serving partition (leadership moved, topic gone). Lookups
// then get ErrNotCoordinator, and so do requests waiting in Call.
func (r *Runtime[S]) Unload(partition int32) {
	r.mu.Lock()
	l := r.mu.loops[partition]
	delete(r.mu.loops, partition)
	r.mu.Unlock()
	if l != nil {
		l.stop()
		r.log.Info("unloaded coordinator shard", "partition", partition)
	}
}

// Shard returns the shard of partition when it is loaded here, else an
// error wrapping ErrNotCoordinator or ErrLoadInProgress.
func (r *Runtime[S]) Shard(partition int32) (S, error) {
	r.mu.Lock()
	l := r.mu.loops[partition]
	r.mu.Unlock()
	var zero S
	if l == nil {
		return zero, fmt.Errorf("%s-%d: %w", r.cfg.Topic, partition, ErrNotCoordinator)
	}
	switch l.Status() {
	case Loading:
		return zero, fmt.Errorf("%s-%d: %w", r.cfg.Topic, partition, ErrLoadInProgress)
	case Active:
		return l.shard.(S), nil
	default:
		return zero, fmt.Errorf("%s-%d: %w", r.cfg.Topic, partition, ErrNotCoordinator)
	}
}

// Shards returns every shard hosted here, loading and failed ones
// included; each one's Loop tells its status.
func (r *Runtime[S]) Shards() []S {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]S, 0, len(r.mu.loops))
	for _, l := range r.mu.loops {
		out = append(out, l.shard.(S))
	}
	return out
}
