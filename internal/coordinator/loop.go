package coordinator

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Status is where a Loop is in its life.
type Status int32

// Loop statuses, in the only order they go through.
const (
	Loading Status = iota // replaying the log; requests are refused
	Active                // serving
	Stopped               // unloaded, replaced, failed to load, or Run ended
)

// Loop is one hosted partition: the goroutine that owns its shard, the
// shard's timers and its writes in flight. Everything below "owned by run"
// is touched only by the loop; the shard calls Write, Schedule,
// CancelTimer and AfterPendingWrites from the loop only.
type Loop struct {
	topic       string        // set in newLoop, never changed
	partition   int32         // set in newLoop, never changed
	leaderEpoch int32         // set in newLoop, never changed
	tick        time.Duration // set in newLoop, never changed
	log         Log           // set in newLoop, never changed
	logger      *slog.Logger  // set in newLoop, never changed
	shard       Shard         // set in Runtime.Load before the loop starts, never changed

	status atomic.Int32       // Loading → Active → Stopped
	cancel context.CancelFunc // guarded by Runtime.mu; nil until started
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
	timers   map[any]*loopTimer
	timerSeq uint64
	inflight []*pendingWrite // appended, not yet committed; in log order
}

func newLoop(cfg Config, logger *slog.Logger, partition, leaderEpoch int32, log Log) *Loop {
	return &Loop{
		topic:        cfg.Topic,
		partition:    partition,
		leaderEpoch:  leaderEpoch,
		tick:         cfg.TickInterval,
		log:          log,
		logger:       logger.With("partition", partition, "leader_epoch", leaderEpoch),
		reqs:         make(chan func()),
		fired:        make(chan timerFiring),
		commit:       make(chan commitResult),
		done:         make(chan struct{}),
		commitSignal: make(chan struct{}, 1),
		timers:       make(map[any]*loopTimer),
	}
}

// Partition is the partition the loop hosts.
func (l *Loop) Partition() int32 { return l.partition }

// LeaderEpoch is the leader epoch the partition was loaded at.
func (l *Loop) LeaderEpoch() int32 { return l.leaderEpoch }

// Logger is the runtime's logger with the partition and leader epoch.
func (l *Loop) Logger() *slog.Logger { return l.logger }

// Status is the loop's status now.
func (l *Loop) Status() Status { return Status(l.status.Load()) }

// stop makes the loop stop serving; called with Runtime.mu held.
func (l *Loop) stop() {
	l.status.Store(int32(Stopped))
	if l.cancel != nil {
		l.cancel()
	}
}

// errStopped is what a request waiting on a stopped loop gets.
func (l *Loop) errStopped() error {
	return fmt.Errorf("%s-%d unloaded: %w", l.topic, l.partition, ErrNotCoordinator)
}

// run loads the shard, then serves it until ctx ends.
func (l *Loop) run(ctx context.Context) {
	defer close(l.done)
	defer l.status.Store(int32(Stopped))

	start := time.Now()
	if err := l.log.Replay(ctx, l.replay); err != nil {
		if ctx.Err() == nil {
			l.logger.Error("loading coordinator shard failed; it is not served here", "err", err)
		}
		return
	}

	var wg sync.WaitGroup
	wg.Go(func() { l.commitLoop(ctx) })
	defer wg.Wait()
	defer l.stopTimers()
	var tick <-chan time.Time
	if l.tick > 0 {
		ticker := time.NewTicker(l.tick)
		defer ticker.Stop()
		tick = ticker.C
	}

	l.shard.Loaded()
	if !l.status.CompareAndSwap(int32(Loading), int32(Active)) {
		return // unloaded while loading
	}
	l.logger.Debug("loaded coordinator shard", "duration", time.Since(start))

	for {
		select {
		case <-ctx.Done():
			return
		case fn := <-l.reqs:
			fn()
		case f := <-l.fired:
			l.onTimer(f)
		case r := <-l.commit:
			l.onCommitted(r)
		case <-tick:
			l.shard.Tick()
		}
	}
}

// replay routes one replayed entry: records to the shard's Replay,
// markers to its ReplayMarker when it is a MarkerShard.
func (l *Loop) replay(r ReplayRecord) error {
	if !r.Control {
		return l.shard.Replay(r)
	}
	if ms, ok := l.shard.(MarkerShard); ok {
		return ms.ReplayMarker(r)
	}
	return nil
}

// Submit hands fn to the loop, which runs it unless it stops first (an
// error wrapping ErrNotCoordinator) or ctx ends (ctx's error).
func (l *Loop) Submit(ctx context.Context, fn func()) error {
	select {
	case l.reqs <- fn:
		return nil
	case <-l.done:
		return l.errStopped()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Call runs fn on l's loop and waits for the value fn (or a later event on
// the loop, such as a commit) passes to reply. reply never blocks and only
// its first call counts. A loop that stops first fails the call with an
// error wrapping ErrNotCoordinator; an ended ctx with ctx's error.
func Call[T any](ctx context.Context, l *Loop, fn func(reply func(T))) (T, error) {
	var zero T
	ch := make(chan T, 1)
	reply := func(v T) {
		select {
		case ch <- v:
		default:
		}
	}
	if err := l.Submit(ctx, func() { fn(reply) }); err != nil {
		return zero, err
	}
	select {
	case v := <-ch:
		return v, nil
	case <-l.done:
		select {
		case v := <-ch: // answered just before stopping
			return v, nil
		default:
		}
		return zero, l.errStopped()
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// Timers. A timer is identified by its key; scheduling a key replaces its
// previous timer. Firing runs fn on the loop unless the timer was replaced
// or cancelled since (the sequence number tells). Timers end with the loop.

type timerFiring struct {
	key any
	seq uint64
}

type loopTimer struct {
	t   *time.Timer
	seq uint64
	fn  func()
}

// Schedule runs fn on the loop after d, replacing the timer of key if one
// is pending. key must be comparable (the shard's own key type keeps its
// keys apart from anything else). Call it on the loop.
func (l *Loop) Schedule(key any, d time.Duration, fn func()) {
	l.CancelTimer(key)
	l.timerSeq++
	seq := l.timerSeq
	t := time.AfterFunc(d, func() {
		select {
		case l.fired <- timerFiring{key: key, seq: seq}:
		case <-l.done:
		}
	})
	l.timers[key] = &loopTimer{t: t, seq: seq, fn: fn}
}

// CancelTimer cancels the timer of key, if any. Call it on the loop.
func (l *Loop) CancelTimer(key any) {
	if t := l.timers[key]; t != nil {
		t.t.Stop()
		delete(l.timers, key)
	}
}

func (l *Loop) onTimer(f timerFiring) {
	t := l.timers[f.key]
	if t == nil || t.seq != f.seq {
		return
	}
	delete(l.timers, f.key)
	t.fn()
}

func (l *Loop) stopTimers() {
	for k, t := range l.timers {
		t.t.Stop()
		delete(l.timers, k)
	}
}
