package verify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// setupTimeout bounds each setup step (reaching the cluster, creating the
// topic, waiting for leaders) and each final read.
const setupTimeout = 30 * time.Second

// Run creates the topic if needed, runs the load with consumers, stops
// producing, lets consumers drain for SettleTimeout, does a final full read
// of every partition (read_uncommitted and read_committed), and returns
// the recorded history. Run returns an error only when it could not run at
// all (it cannot reach the cluster, the topic cannot be created, ctx was
// cancelled); anomalies are found by Check.
func Run(ctx context.Context, cfg Config) (*History, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	base := append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Bootstrap...),
		kgo.ClientID("strata-verify"),
		// NB: franz-go waits 5s between metadata refreshes by default;
		// after a leader moves that is seconds of needless errors.
		kgo.MetadataMinAge(time.Second),
		kgo.RetryBackoffFn(func(tries int) time.Duration {
			return min(100*time.Millisecond<<min(max(tries-1, 0), 4), time.Second)
		}),
	}, cfg.ClientOpts...)

	admCl, err := kgo.NewClient(base...)
	if err != nil {
		return nil, fmt.Errorf("create client: %w", err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)

	h := &History{
		Version: HistoryVersion, Seed: cfg.Seed, RunTag: newRunTag(), Topic: cfg.Topic,
		Bootstrap: cfg.Bootstrap, Duration: cfg.Duration, Rate: cfg.Rate, AbortRatio: cfg.AbortRatio,
		SettleTimeout: cfg.SettleTimeout,
	}
	consumers, err := setupCluster(ctx, adm, &cfg, h)
	if err != nil {
		return nil, err
	}
	h.Consumers = consumers
	cfg.Logf("verify: topic %s, %d partitions, seed %d, run tag %s", cfg.Topic, len(h.StartOffsets), cfg.Seed, h.RunTag)

	rec := newRecorder(h, len(consumers))
	faults := newFaultRecorder(rec.start)
	w := &workload{cfg: cfg, base: base, rec: rec, h: h, partitions: int32(len(h.StartOffsets)), loadStarted: make(chan struct{})}

	// Consumers first, so groups are joining while producers start.
	stopConsumers, consumersDone := context.WithCancel(context.Background())
	defer consumersDone()
	var cwg sync.WaitGroup
	for i, spec := range consumers {
		w.startConsumer(stopConsumers, &cwg, i, spec)
	}
	w.waitAssigned(ctx, 15*time.Second)

	loadCtx, endLoad := context.WithTimeout(ctx, cfg.Duration)
	defer endLoad()
	w.loadStartTime = time.Now()
	h.LoadStart = w.loadStartTime.Sub(rec.start)
	close(w.loadStarted)
	var pwg sync.WaitGroup
	idx := 0
	for _, kind := range []struct {
		kind string
		n    int
	}{{KindIdempotent, cfg.Producers}, {KindNonIdempotent, cfg.NonIdempotent}, {KindTransactional, cfg.Transactional}} {
		for range kind.n {
			p := w.newProducer(kind.kind, idx)
			pwg.Go(func() { p.run(loadCtx) })
			idx++
		}
	}
	var nemesisErr error
	var nwg sync.WaitGroup
	if cfg.Nemesis != nil {
		nwg.Go(func() { nemesisErr = cfg.Nemesis.Run(loadCtx, faults) })
	}
	var twg sync.WaitGroup
	twg.Go(func() { progressLoop(loadCtx, cfg.Logf, rec) })

	<-loadCtx.Done()
	h.LoadEnd = rec.since()
	twg.Wait()
	cfg.Logf("verify: load phase over at %s; waiting for producers to finish", h.LoadEnd.Round(time.Millisecond))
	pwg.Wait()
	nwg.Wait()
	if nemesisErr != nil {
		rec.note("nemesis: %v", nemesisErr)
	}
	h.Faults = faults.windows(rec.since())
	if err := ctx.Err(); err != nil {
		consumersDone()
		cwg.Wait()
		return nil, fmt.Errorf("interrupted: %w", err)
	}

	w.settle(ctx)
	consumersDone()
	cwg.Wait()
	h.SettleEnd = rec.since()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("interrupted: %w", err)
	}

	cfg.Logf("verify: reading every partition back")
	w.finalCommitted(ctx, adm)
	w.finalRead(ctx, adm)
	h.End = rec.since()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("interrupted: %w", err)
	}
	return h, nil
}

// newRunTag returns 8 random hex digits that prefix every value of a run.
func newRunTag() string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// setupCluster reaches the cluster, creates the topic when missing, waits
// for every partition to have a leader, and records where each partition
// ends now (h.StartOffsets). It returns the consumers to run: cfg's, with
// a default KIP-848 group turned classic when the cluster lacks KIP-848.
func setupCluster(ctx context.Context, adm *kadm.Client, cfg *Config, h *History) ([]ConsumerSpec, error) {
	sctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	meta, err := adm.BrokerMetadata(sctx)
	if err != nil {
		return nil, fmt.Errorf("reach cluster %v: %w", cfg.Bootstrap, err)
	}
	if cfg.ReplicationFactor == 0 {
		cfg.ReplicationFactor = int16(min(3, len(meta.Brokers)))
	}

	consumers := cfg.Consumers
	if slices.ContainsFunc(consumers, func(s ConsumerSpec) bool { return s.Mode == ModeGroupConsumer }) {
		ok, err := supportsKIP848(sctx, adm)
		if err != nil {
			return nil, err
		}
		if !ok {
			if !slices.Equal(consumers, DefaultConsumers()) {
				return nil, errors.New("the cluster does not support KIP-848 consumer groups (no ConsumerGroupHeartbeat v1): drop the group-consumer consumers")
			}
			for i := range consumers {
				if consumers[i].Mode == ModeGroupConsumer {
					consumers[i].Mode = ModeGroupClassic
				}
			}
			h.Notes = append(h.Notes, "the cluster does not support KIP-848 consumer groups: the default group-consumer consumer ran as group-classic")
		}
	}

	var configs map[string]*string
	if cfg.ReplicationFactor >= 3 {
		two := "2"
		configs = map[string]*string{"min.insync.replicas": &two}
	}
	resp, err := adm.CreateTopic(sctx, cfg.Partitions, cfg.ReplicationFactor, configs, cfg.Topic)
	switch {
	case err == nil:
	case errors.Is(err, kerr.TopicAlreadyExists):
		h.Notes = append(h.Notes, fmt.Sprintf("topic %s existed; the run uses its partitions and reads only from the offsets where it started", cfg.Topic))
	default:
		if resp.ErrMessage != "" {
			err = fmt.Errorf("%w: %s", err, resp.ErrMessage)
		}
		return nil, fmt.Errorf("create topic %s: %w", cfg.Topic, err)
	}

	// Wait until every partition has a leader and answers ListOffsets.
	for {
		n, ready, err := topicReady(sctx, adm, cfg.Topic)
		if err == nil && ready {
			ends, err := adm.ListEndOffsets(sctx, cfg.Topic)
			if err == nil && ends.Error() == nil {
				h.StartOffsets = make([]int64, n)
				complete := true
				for p := range n {
					o, ok := ends.Lookup(cfg.Topic, int32(p))
					if !ok {
						complete = false
						break
					}
					h.StartOffsets[p] = o.Offset
				}
				if complete {
					return consumers, nil
				}
			}
		}
		select {
		case <-sctx.Done():
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if err == nil {
				err = errors.New("partitions without a leader")
			}
			return nil, fmt.Errorf("topic %s not ready within %s: %w", cfg.Topic, setupTimeout, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// topicReady returns the topic's partition count and whether every
// partition has a leader.
func topicReady(ctx context.Context, adm *kadm.Client, topic string) (int, bool, error) {
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		return 0, false, err
	}
	td, ok := md.Topics[topic]
	if !ok || td.Err != nil {
		if ok {
			return 0, false, td.Err
		}
		return 0, false, kerr.UnknownTopicOrPartition
	}
	if len(td.Partitions) == 0 {
		return 0, false, nil
	}
	for _, p := range td.Partitions {
		if p.Err != nil || p.Leader < 0 {
			return len(td.Partitions), false, p.Err
		}
	}
	return len(td.Partitions), true, nil
}

// supportsKIP848 reports whether every broker answering ApiVersions serves
// ConsumerGroupHeartbeat v1 or later.
func supportsKIP848(ctx context.Context, adm *kadm.Client) (bool, error) {
	vs, err := adm.ApiVersions(ctx)
	if err != nil {
		return false, fmt.Errorf("api versions: %w", err)
	}
	answered := 0
	for _, v := range vs {
		if v.Err != nil {
			continue
		}
		answered++
		if maxV, ok := v.KeyMaxVersion(int16(kmsg.ConsumerGroupHeartbeat)); !ok || maxV < 1 {
			return false, nil
		}
	}
	if answered == 0 {
		return false, errors.New("api versions: no broker answered")
	}
	return true, nil
}

// progressLoop logs counts every 5 seconds until ctx ends.
func progressLoop(ctx context.Context, logf func(string, ...any), rec *recorder) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			acked, failed, polled := rec.counts()
			logf("verify: %s: %d acknowledged, %d failed sends, %d records polled", rec.since().Round(time.Second), acked, failed, polled)
		}
	}
}

// workload holds what producers and consumers share.
type workload struct {
	cfg        Config
	base       []kgo.Opt // every client's options: seeds, retry policy, cfg.ClientOpts
	rec        *recorder
	h          *History // only setup fields (StartOffsets, Topic, RunTag, Consumers) are read outside rec
	partitions int32

	// loadStarted is closed when the producers start, after
	// loadStartTime is set.
	loadStarted   chan struct{}
	loadStartTime time.Time

	mu struct {
		sync.Mutex
		unassigned int // group members that have not been assigned anything yet
	}
}

// settle waits until every consumer has seen every acknowledged record it
// should (read_uncommitted: all; read_committed: those outside transactions
// and of committed ones), at most SettleTimeout.
func (w *workload) settle(ctx context.Context) {
	want := w.expectedSeen()
	deadline := time.Now().Add(w.cfg.SettleTimeout)
	last := time.Time{}
	for {
		missing := 0
		for i := range want {
			missing += w.rec.missing(i, want[i])
		}
		if missing == 0 {
			w.cfg.Logf("verify: every consumer has seen every acknowledged record")
			return
		}
		now := time.Now()
		if now.After(deadline) || ctx.Err() != nil {
			w.cfg.Logf("verify: settle timeout: %d acknowledged records not yet seen by some consumer", missing)
			return
		}
		if now.Sub(last) >= 5*time.Second {
			w.cfg.Logf("verify: settling: %d acknowledged records not yet seen by some consumer", missing)
			last = now
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// expectedSeen returns, per consumer, the values it must eventually poll.
func (w *workload) expectedSeen() []map[string]struct{} {
	w.rec.mu.Lock()
	events := slices.Clone(w.rec.mu.h.Events)
	w.rec.mu.Unlock()
	outcomes := txnOutcomes(events)
	want := make([]map[string]struct{}, len(w.h.Consumers))
	for i, spec := range w.h.Consumers {
		want[i] = map[string]struct{}{}
		for _, e := range events {
			if e.Type != EvAck || e.Err != "" {
				continue
			}
			if e.Txn > 0 {
				switch outcomes[txnKey{e.Process, e.Txn}] {
				case outcomeCommitted:
				case outcomeAborted:
					if spec.Isolation == ReadCommitted {
						continue
					}
				default:
					continue
				}
			}
			want[i][e.Value] = struct{}{}
		}
	}
	return want
}

// finalCommitted records every group's committed offsets.
func (w *workload) finalCommitted(ctx context.Context, adm *kadm.Client) {
	groups := map[string]bool{}
	for _, p := range w.h.Processes {
		if p.Group != "" && !groups[p.Group] {
			groups[p.Group] = true
			g := GroupOffsets{Group: p.Group}
			fctx, cancel := context.WithTimeout(ctx, setupTimeout)
			resp, err := adm.FetchOffsets(fctx, p.Group)
			cancel()
			if err == nil {
				err = resp.Error()
			}
			if err != nil {
				g.Err = err.Error()
			} else {
				for part := range w.partitions {
					if o, ok := resp.Lookup(w.h.Topic, part); ok {
						g.Offsets = append(g.Offsets, CommitOffset{Partition: part, Offset: o.At})
					}
				}
			}
			w.h.FinalCommitted = append(w.h.FinalCommitted, g)
		}
	}
}

// finalRead reads every partition from its start offset to the high
// watermark read_uncommitted, and to the last stable offset
// read_committed, after waiting (at most setupTimeout) for open
// transactions to end.
func (w *workload) finalRead(ctx context.Context, adm *kadm.Client) {
	h := w.h
	h.Final = make([]FinalPartition, w.partitions)
	for p := range h.Final {
		h.Final[p].Partition = int32(p)
	}
	wctx, cancel := context.WithTimeout(ctx, setupTimeout)
	hwm, lso, stable, err := waitStableEnds(wctx, func(ctx context.Context) ([]int64, []int64, error) { return w.listEnds(ctx, adm) }, 200*time.Millisecond)
	cancel()
	switch {
	case hwm == nil:
		w.rec.note("final read: cannot list offsets: %v", err)
		return
	case !stable:
		w.rec.note("final read: last stable offsets %v still below high watermarks %v after %s (open transactions)", lso, hwm, setupTimeout)
	}
	sctx, cancel := context.WithTimeout(ctx, setupTimeout)
	starts, err := adm.ListStartOffsets(sctx, h.Topic)
	cancel()
	if err == nil {
		starts.Each(func(o kadm.ListedOffset) {
			if o.Err == nil && o.Partition < w.partitions {
				h.Final[o.Partition].LogStartOffset = o.Offset
			}
		})
	}
	for p := range h.Final {
		h.Final[p].HighWatermark, h.Final[p].LastStableOffset = hwm[p], lso[p]
	}
	uncommitted, ucomplete, uerr := w.readRange(ctx, kgo.ReadUncommitted(), hwm)
	committed, ccomplete, cerr := w.readRange(ctx, kgo.ReadCommitted(), lso)
	for p := range h.Final {
		f := &h.Final[p]
		f.Uncommitted, f.UncommittedComplete = uncommitted[f.Partition], ucomplete[f.Partition]
		f.Committed, f.CommittedComplete = committed[f.Partition], ccomplete[f.Partition]
	}
	if uerr != nil {
		w.rec.note("final read_uncommitted read: %v", uerr)
	}
	if cerr != nil {
		w.rec.note("final read_committed read: %v", cerr)
	}
}

// waitStableEnds calls list every interval until a listing has every last
// stable offset at its high watermark (stable) or ctx ends. It returns the
// last successful listing, nil when none succeeded (then err is the last
// error). NB: when ctx ends during a call, the listing before it counts: a
// final read must not be given up because the last call of a long wait for
// open transactions was cut short.
func waitStableEnds(ctx context.Context, list func(context.Context) (hwm, lso []int64, err error), interval time.Duration) (hwm, lso []int64, stable bool, err error) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
			return hwm, lso, false, err
		case <-t.C:
		}
		h, l, lerr := list(ctx)
		if lerr != nil {
			err = lerr
		} else {
			hwm, lso = h, l
			if slices.Equal(hwm, lso) {
				return hwm, lso, true, nil
			}
		}
		t.Reset(interval)
	}
}

// listEnds returns the high watermark and last stable offset of every
// partition.
func (w *workload) listEnds(ctx context.Context, adm *kadm.Client) (hwm, lso []int64, err error) {
	ends, err := adm.ListEndOffsets(ctx, w.h.Topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, nil, err
	}
	stable, err := adm.ListCommittedOffsets(ctx, w.h.Topic)
	if err == nil {
		err = stable.Error()
	}
	if err != nil {
		return nil, nil, err
	}
	hwm, lso = make([]int64, w.partitions), make([]int64, w.partitions)
	for p := range w.partitions {
		e, ok1 := ends.Lookup(w.h.Topic, p)
		s, ok2 := stable.Lookup(w.h.Topic, p)
		if !ok1 || !ok2 {
			return nil, nil, fmt.Errorf("partition %d missing from ListOffsets", p)
		}
		hwm[p], lso[p] = e.Offset, s.Offset
	}
	return hwm, lso, nil
}

// readRange reads each partition p from StartOffsets[p] to ends[p]
// (exclusive) at the isolation level. It keeps control records to know
// where it is: every offset below the high watermark (read_uncommitted) or
// the last stable offset (read_committed, which drops aborted data but
// keeps their abort markers) holds a record or a marker, so reaching
// ends[p]-1 means the partition is read. It gives up after setupTimeout
// without progress; complete says which partitions were read in full.
func (w *workload) readRange(ctx context.Context, level kgo.IsolationLevel, ends []int64) (map[int32][]FinalRecord, map[int32]bool, error) {
	out := map[int32][]FinalRecord{}
	complete := map[int32]bool{}
	next := map[int32]int64{}
	offsets := map[int32]kgo.Offset{}
	for p := range w.partitions {
		start := w.h.StartOffsets[p]
		if ends[p] <= start {
			complete[p] = true
			continue
		}
		next[p] = start
		offsets[p] = kgo.NewOffset().At(start)
	}
	if len(offsets) == 0 {
		return out, complete, nil
	}
	cl, err := kgo.NewClient(append(slices.Clone(w.base),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{w.h.Topic: offsets}),
		kgo.FetchIsolationLevel(level), kgo.KeepControlRecords(), kgo.FetchMaxWait(500*time.Millisecond))...)
	if err != nil {
		return out, complete, err
	}
	defer cl.Close()
	var lastErr error
	progress := time.Now()
	for len(next) > 0 {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		fs.EachError(func(_ string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				lastErr = fmt.Errorf("partition %d: %w", p, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			n, reading := next[r.Partition]
			if !reading || r.Offset < n || r.Offset >= ends[r.Partition] {
				return
			}
			if !r.Attrs.IsControl() {
				out[r.Partition] = append(out[r.Partition], FinalRecord{Offset: r.Offset, Value: string(r.Value)})
			}
			next[r.Partition] = r.Offset + 1
			progress = time.Now()
			if r.Offset+1 >= ends[r.Partition] {
				complete[r.Partition] = true
				delete(next, r.Partition)
			}
		})
		if ctx.Err() != nil {
			return out, complete, ctx.Err()
		}
		if time.Since(progress) > setupTimeout {
			err := fmt.Errorf("no progress for %s on partitions %v", setupTimeout, slices.Sorted(maps.Keys(next)))
			if lastErr != nil {
				err = fmt.Errorf("%w (last error: %w)", err, lastErr)
			}
			return out, complete, err
		}
	}
	return out, complete, nil
}
