package group

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Shard statuses.
const (
	shardLoading int32 = iota
	shardActive
	shardStopped
)

// shard is one loaded partition of __consumer_offsets. Everything below
// "owned by run" is touched only by the shard's loop.
type shard struct {
	cfg         *Config // the coordinator's; never changed
	partition   int32   // set in newShard, never changed
	leaderEpoch int32   // set in newShard, never changed
	log         Log     // set in newShard, never changed
	logger      *slog.Logger

	status atomic.Int32       // shardLoading → shardActive → shardStopped
	cancel context.CancelFunc // guarded by Coordinator.mu; nil until started
	reqs   chan func()        // closures for the loop; unbuffered
	fired  chan timerFiring   // timer firings for the loop; unbuffered
	commit chan commitResult  // committer results for the loop; unbuffered
	done   chan struct{}      // closed when run returns

	commitQ struct {
		sync.Mutex
		want int64 // the highest end the loop asked to commit
	}
	commitSignal chan struct{} // buffer of one: "commitQ.want changed"

	// Owned by run.
	groups   map[string]group
	offsets  map[string]map[string]map[int32]offsetEntry // group → topic → partition
	timers   map[timerKey]*shardTimer
	timerSeq uint64
	inflight []*pendingWrite // appended, not yet committed; in log order
	// consumerOps serializes the operations of each consumer group
	// (runConsumerOp); an entry exists while one runs.
	consumerOps map[string]*consumerOpQueue
}

func newShard(c *Coordinator, partition, leaderEpoch int32, log Log) *shard {
	return &shard{
		cfg:          &c.cfg,
		partition:    partition,
		leaderEpoch:  leaderEpoch,
		log:          log,
		logger:       c.log.With("partition", partition, "leader_epoch", leaderEpoch),
		reqs:         make(chan func()),
		fired:        make(chan timerFiring),
		commit:       make(chan commitResult),
		done:         make(chan struct{}),
		commitSignal: make(chan struct{}, 1),
		groups:       make(map[string]group),
		offsets:      make(map[string]map[string]map[int32]offsetEntry),
		timers:       make(map[timerKey]*shardTimer),
		consumerOps:  make(map[string]*consumerOpQueue),
	}
}

// stop makes the shard stop serving; called with Coordinator.mu held.
func (s *shard) stop() {
	s.status.Store(shardStopped)
	if s.cancel != nil {
		s.cancel()
	}
}

// errShardStopped is what a request waiting on a stopped shard gets.
func (s *shard) errStopped() error {
	return fmt.Errorf("__consumer_offsets-%d unloaded: %w", s.partition, ErrNotCoordinator)
}

// run loads the shard, then serves it until ctx ends.
func (s *shard) run(ctx context.Context) {
	defer close(s.done)
	defer s.status.Store(shardStopped)

	start := time.Now()
	if err := s.log.Replay(ctx, s.replay); err != nil {
		if ctx.Err() == nil {
			s.logger.Error("loading group coordinator shard failed; its groups are not served here", "err", err)
		}
		return
	}

	var wg sync.WaitGroup
	wg.Go(func() { s.commitLoop(ctx) })
	defer wg.Wait()
	defer s.stopTimers()
	ticker := time.NewTicker(s.cfg.OffsetsRetentionCheckInterval)
	defer ticker.Stop()

	s.afterLoad()
	if !s.status.CompareAndSwap(shardLoading, shardActive) {
		return // unloaded while loading
	}
	s.logger.Debug("loaded group coordinator shard", "groups", len(s.groups), "duration", time.Since(start))

	for {
		select {
		case <-ctx.Done():
			return
		case fn := <-s.reqs:
			fn()
		case f := <-s.fired:
			s.onTimer(f)
		case r := <-s.commit:
			s.onCommitted(r)
		case <-ticker.C:
			s.expireOffsets()
		}
	}
}

// submit hands fn to the loop.
func (s *shard) submit(ctx context.Context, fn func()) error {
	select {
	case s.reqs <- fn:
		return nil
	case <-s.done:
		return s.errStopped()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// call runs fn on s's loop and waits for the value fn (or a later event on
// the loop) passes to reply. reply never blocks and only its first call
// counts.
func call[T any](ctx context.Context, s *shard, fn func(reply func(T))) (T, error) {
	var zero T
	ch := make(chan T, 1)
	reply := func(v T) {
		select {
		case ch <- v:
		default:
		}
	}
	if err := s.submit(ctx, func() { fn(reply) }); err != nil {
		return zero, err
	}
	select {
	case v := <-ch:
		return v, nil
	case <-s.done:
		select {
		case v := <-ch: // answered just before stopping
			return v, nil
		default:
		}
		return zero, s.errStopped()
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// Timers. A timer is identified by its key; scheduling a key replaces its
// previous timer. Firing runs fn on the loop unless the timer was replaced
// or cancelled since (the sequence number tells).

type timerKind uint8

const (
	timerJoin              timerKind = iota + 1 // group's join phase (rebalance or initial delay)
	timerSync                                   // group's pending-sync expiration
	timerHeartbeat                              // member's session (or pending member's join)
	timerConsumerSession                        // consumer group member's session
	timerConsumerRebalance                      // consumer group member's revocation deadline
)

type timerKey struct {
	kind   timerKind
	group  string
	member string
}

type timerFiring struct {
	key timerKey
	seq uint64
}

type shardTimer struct {
	t   *time.Timer
	seq uint64
	fn  func()
}

func (s *shard) schedule(key timerKey, d time.Duration, fn func()) {
	s.cancelTimer(key)
	s.timerSeq++
	seq := s.timerSeq
	t := time.AfterFunc(d, func() {
		select {
		case s.fired <- timerFiring{key: key, seq: seq}:
		case <-s.done:
		}
	})
	s.timers[key] = &shardTimer{t: t, seq: seq, fn: fn}
}

func (s *shard) cancelTimer(key timerKey) {
	if t := s.timers[key]; t != nil {
		t.t.Stop()
		delete(s.timers, key)
	}
}

func (s *shard) onTimer(f timerFiring) {
	t := s.timers[f.key]
	if t == nil || t.seq != f.seq {
		return
	}
	delete(s.timers, f.key)
	t.fn()
}

func (s *shard) stopTimers() {
	for k, t := range s.timers {
		t.t.Stop()
		delete(s.timers, k)
	}
}

// Writes. The loop appends (fast) and queues the end for the committer; the
// committer waits in Log.Commit and posts the result back; the loop then
// completes every write up to the committed end, in log order.

type pendingWrite struct {
	end  int64
	done func(err error) // runs on the loop
	then []func()        // run on the loop after done
}

type commitResult struct {
	end int64
	err error
}

// write appends recs as one batch and calls done on the loop once they are
// committed, or with the error. NB: when the append itself fails, done runs
// before write returns.
func (s *shard) write(recs []Record, done func(err error)) {
	end, err := s.log.Append(recs)
	if err != nil {
		done(fmt.Errorf("append to __consumer_offsets-%d: %w", s.partition, err))
		return
	}
	s.inflight = append(s.inflight, &pendingWrite{end: end, done: done})
	s.commitQ.Lock()
	if end > s.commitQ.want {
		s.commitQ.want = end
	}
	s.commitQ.Unlock()
	select {
	case s.commitSignal <- struct{}{}:
	default:
	}
}

// afterPendingWrites runs fn on the loop once every write appended so far
// has completed (at once when none is in flight).
func (s *shard) afterPendingWrites(fn func()) {
	if len(s.inflight) == 0 {
		fn()
		return
	}
	last := s.inflight[len(s.inflight)-1]
	last.then = append(last.then, fn)
}

func (s *shard) onCommitted(r commitResult) {
	for len(s.inflight) > 0 && s.inflight[0].end <= r.end {
		w := s.inflight[0]
		s.inflight[0] = nil
		s.inflight = s.inflight[1:]
		err := r.err
		if err != nil {
			err = fmt.Errorf("commit __consumer_offsets-%d up to %d: %w", s.partition, r.end, err)
		}
		w.done(err)
		for _, fn := range w.then {
			fn()
		}
	}
}

// commitLoop waits for commits the loop asked for; owned by run.
func (s *shard) commitLoop(ctx context.Context) {
	var committed int64 = -1
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.commitSignal:
		}
		s.commitQ.Lock()
		want := s.commitQ.want
		s.commitQ.Unlock()
		if want <= committed {
			continue
		}
		err := s.log.Commit(ctx, want)
		if err == nil {
			committed = want
		}
		select {
		case s.commit <- commitResult{end: want, err: err}:
		case <-ctx.Done():
			return
		}
	}
}

// Loading.

// replay applies one record read from the log.
func (s *shard) replay(offset int64, key, value []byte) error {
	d, err := decodeRecord(key, value)
	if err != nil {
		var unknown errUnknownRecordType
		if errors.As(err, &unknown) {
			// As Kafka: possibly left over from an aborted upgrade.
			s.logger.Warn("skipping unknown __consumer_offsets record type", "offset", offset, "type", unknown.typ)
			return nil
		}
		return fmt.Errorf("offset %d: %w", offset, err)
	}
	switch d.typ {
	case recordTypeOffsetCommitV0, recordTypeOffsetCommit:
		k := d.offsetKey
		if d.offsetValue == nil {
			s.deleteOffset(k.Group, k.Topic, k.Partition)
		} else {
			s.putOffset(k.Group, k.Topic, k.Partition, entryFromValue(d.offsetValue))
		}
	case recordTypeGroupMetadata:
		s.replayGroupMetadata(d.groupKey.Group, d.groupValue)
	default:
		if d.consumer != nil {
			s.applyConsumerRecord(d.consumer)
		}
	}
	return nil
}

// replayGroupMetadata applies a GroupMetadata record (nil value: tombstone).
func (s *shard) replayGroupMetadata(id string, v *kmsg.GroupMetadataValue) {
	if v == nil {
		if g, ok := s.groups[id]; ok && g.groupType() == groupTypeClassic {
			delete(s.groups, id)
		}
		return
	}
	if g, ok := s.groups[id]; ok && g.groupType() != groupTypeClassic {
		s.logger.Warn("classic group metadata replaces a group of another type", "group", id, "type", g.groupType())
	}
	s.groups[id] = classicGroupFromRecord(id, v)
}

// afterLoad restarts what Kafka restarts once a shard is loaded: the session
// timer of every restored member, the revocation deadline of consumer group
// members that must revoke partitions, and a rebalance of classic groups
// above group.max.size.
func (s *shard) afterLoad() {
	for _, g := range s.groups {
		if cg, ok := g.(*consumerGroup); ok {
			s.afterLoadConsumerGroup(cg)
			continue
		}
		cg, ok := g.(*classicGroup)
		if !ok {
			continue
		}
		for _, m := range cg.memberList() {
			s.scheduleHeartbeat(cg, m, m.sessionTimeout())
		}
		if len(cg.members) > s.cfg.GroupMaxSize {
			s.prepareRebalance(cg, "group is over group.max.size after loading")
		}
	}
}
