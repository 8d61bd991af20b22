package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// errDone is the cause with which a consume run's context is cancelled when
// it reached its count or duration.
var errDone = errors.New("done")

// quota hands out how many more records the consumers may count, so several
// consumers together stop at exactly the limit.
type quota struct {
	limit atomic.Int64 // math.MaxInt64: none (yet)
	taken atomic.Int64
}

func newQuota(limit int64) *quota {
	q := &quota{}
	if limit <= 0 {
		limit = math.MaxInt64
	}
	q.limit.Store(limit)
	return q
}

// reserve takes up to n and returns how many were taken and whether the
// limit is reached.
func (q *quota) reserve(n int) (int, bool) {
	for {
		cur, lim := q.taken.Load(), q.limit.Load()
		if cur >= lim {
			return 0, true
		}
		take := min(int64(n), lim-cur)
		if q.taken.CompareAndSwap(cur, cur+take) {
			return int(take), cur+take >= lim
		}
	}
}

func (q *quota) full() bool { return q.taken.Load() >= q.limit.Load() }

// consumer is one consuming client's loop. With stamp it takes the latency
// of each record from the send time in its first 8 bytes (e2e).
type consumer struct {
	cl       *kgo.Client
	group    bool            // mark counted records for commit
	quota    *quota          // shared by all consumers of the run
	rec      *recorder       // shared
	stamp    bool            // e2e
	progress chan<- struct{} // buffer 1; a non-blocking send after each counted poll
	stop     context.CancelCauseFunc
}

// pollLoop polls until ctx is done, the quota is full, or a fetch fails.
func (c *consumer) pollLoop(ctx context.Context) {
	var lat []time.Duration
	for {
		fs := c.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		var ferr error
		fs.EachError(func(topic string, p int32, err error) {
			if ferr == nil {
				ferr = fmt.Errorf("fetch %s[%d]: %w", topic, p, err)
			}
		})
		if ferr != nil {
			c.rec.fail(ferr)
			c.stop(ferr)
			return
		}
		recs := fs.Records()
		if len(recs) == 0 {
			continue
		}
		now := time.Now()
		take, full := c.quota.reserve(len(recs))
		recs = recs[:take]
		var bytes int64
		lat = lat[:0]
		for _, r := range recs {
			bytes += int64(len(r.Key) + len(r.Value))
			if c.stamp && len(r.Value) >= stampSize {
				sent := int64(binary.BigEndian.Uint64(r.Value))
				lat = append(lat, time.Duration(now.UnixNano()-sent))
			}
		}
		if take > 0 {
			c.rec.addBatch(now, int64(take), bytes, lat)
			if c.group {
				c.cl.MarkCommitRecords(recs...)
			}
			select {
			case c.progress <- struct{}{}:
			default:
			}
		}
		if full {
			c.stop(errDone)
			return
		}
	}
}

// runConsume reads cfg.Count records (or for cfg.Duration) with
// cfg.Consumers clients: without a group from the log start, with the
// partitions dealt round-robin; with a group, from its committed offsets.
func runConsume(ctx context.Context, cfg *Config, partitions []int32, rec *recorder) error {
	cctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	q := newQuota(cfg.Count)
	progress := make(chan struct{}, 1)

	var clients []*kgo.Client
	defer func() {
		for _, cl := range clients {
			cl.Close()
		}
	}()
	level := kgo.ReadUncommitted()
	if cfg.Isolation == IsolationReadCommitted {
		level = kgo.ReadCommitted()
	}
	for i := range cfg.Consumers {
		opts := append(slices.Clone(cfg.ClientOpts), kgo.FetchIsolationLevel(level))
		if cfg.Group == "" {
			offsets := make(map[int32]kgo.Offset)
			for j, p := range partitions {
				if j%cfg.Consumers == i {
					offsets[p] = kgo.NewOffset().AtStart()
				}
			}
			opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{cfg.Topic: offsets}))
		} else {
			opts = append(opts,
				kgo.ConsumerGroup(cfg.Group),
				kgo.ConsumeTopics(cfg.Topic),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
				kgo.AutoCommitMarks(),
			)
		}
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return fmt.Errorf("create consumer: %w", err)
		}
		clients = append(clients, cl)
	}

	var wg sync.WaitGroup
	for _, cl := range clients {
		c := &consumer{cl: cl, group: cfg.Group != "", quota: q, rec: rec, progress: progress, stop: stop}
		wg.Go(func() { c.pollLoop(cctx) })
	}
	var deadline <-chan time.Time
	if cfg.Duration > 0 {
		t := time.NewTimer(cfg.Duration)
		defer t.Stop()
		deadline = t.C
	}
	awaitConsumers(cctx, stop, progress, deadline, nil, cfg.Timeout, func() string {
		if cfg.Count > 0 {
			return fmt.Sprintf("%d of %d records consumed", rec.records(), cfg.Count)
		}
		return fmt.Sprintf("%d records consumed", rec.records())
	})
	wg.Wait()

	err := context.Cause(cctx)
	if ctx.Err() != nil || errors.Is(err, errDone) {
		err = nil
	}
	if cfg.Group != "" {
		// Commit what was counted; the clients leave the group on Close.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Timeout)
		defer cancel()
		for _, cl := range clients {
			if cerr := cl.CommitMarkedOffsets(cctx); cerr != nil {
				err = errors.Join(err, fmt.Errorf("group %q: commit: %w", cfg.Group, cerr))
			}
		}
	}
	return err
}

// awaitConsumers waits until ctx is done (a consumer reached the count or
// failed), deadline fires (the duration is over), or no record came for
// idle, and cancels ctx with the reason. Each value on progress restarts
// the idle timer; check, when not nil, runs after each and may end the wait
// by returning true.
func awaitConsumers(ctx context.Context, stop context.CancelCauseFunc, progress <-chan struct{}, deadline <-chan time.Time, check func() bool, idle time.Duration, describe func() string) {
	t := time.NewTimer(idle)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-deadline:
			stop(errDone)
			return
		case <-progress:
			t.Reset(idle)
		case <-t.C:
			stop(fmt.Errorf("no records arrived for --timeout %s (%s)", idle, describe()))
			return
		}
		if check != nil && check() {
			stop(errDone)
			return
		}
	}
}
