package restproxy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// autoCommitInterval is the Java consumer's auto.commit.interval.ms.
const autoCommitInterval = 5 * time.Second

// consumeMode is what an instance consumes: nothing yet, a group
// subscription, or manually assigned partitions.
type consumeMode int

const (
	modeNone consumeMode = iota
	modeSubscribed
	modeAssigned
)

// tp is a topic partition.
type tp struct {
	topic     string
	partition int32
}

// instance is one consumer instance of the v2 API. Its kgo client exists
// from subscribe or assign on and is closed when the instance is.
type instance struct {
	p           *Proxy
	group, name string         // set at creation, never changed
	format      embeddedFormat // set at creation, never changed
	reset       kgo.Offset     // auto.offset.reset; set at creation
	autoCommit  bool           // auto.commit.enable; set at creation
	pollWait    time.Duration  // consumer.request.timeout.ms; set at creation

	// ctx is cancelled when the instance closes; every Kafka call of a
	// request on the instance ends with it.
	ctx    context.Context
	cancel context.CancelFunc
	// busy holds a token while a request works on the instance (see
	// instances.acquire); close takes it for good.
	busy chan struct{}

	lastUsed time.Time // guarded by instances.mu
	inFlight int       // guarded by instances.mu

	// Owned by the holder of busy:
	mode       consumeMode
	cl         *kgo.Client // nil in modeNone
	topics     []string    // modeSubscribed: the topics or the one pattern
	pattern    bool        // modeSubscribed: topics[0] is a regular expression
	assigned   map[tp]bool // modeAssigned
	lastCommit time.Time   // modeAssigned with autoCommit: last commit of returned offsets

	// mu guards what kgo's group callbacks also touch. Held briefly.
	mu sync.Mutex
	// owned is the group assignment (modeSubscribed), kept by the
	// OnPartitions callbacks.
	owned map[tp]bool
	// buffered are polled records not returned yet (a response was full),
	// oldest first.
	buffered []*kgo.Record
	// returned is, per partition, the offset after the last record
	// returned (or the last seek): what a commit without offsets commits.
	returned map[tp]kgo.EpochOffset
	// pendingSeek is, in a subscription, each seek kgo may not have
	// applied yet (see seek).
	pendingSeek map[tp]pendingSeek
}

// pendingSeek is a seek kgo may not have applied yet; retried is set once
// it was applied again after a poll of its partition.
type pendingSeek struct {
	offset  int64
	retried bool
}

func (inst *instance) key() instanceKey { return instanceKey{inst.group, inst.name} }

// opContext bounds one Kafka call of a request: the request's context,
// the proxy's request timeout, and the instance's life.
func (inst *instance) opContext(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(parent, d)
	stop := context.AfterFunc(inst.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

// close ends the instance: it stops any request in flight, waits for it,
// commits returned offsets if auto-committing, and closes the client.
func (inst *instance) close() {
	inst.cancel()
	inst.busy <- struct{}{} // never released: the instance is gone
	inst.stopClient()
}

// stopClient closes the kgo client (committing first with auto commit)
// and forgets what it consumed. The caller holds busy.
func (inst *instance) stopClient() {
	if inst.cl == nil {
		inst.mode = modeNone
		return
	}
	if inst.autoCommit {
		ctx, cancel := context.WithTimeout(context.Background(), inst.p.cfg.RequestTimeout)
		if err := inst.commitReturned(ctx); err != nil {
			inst.p.cfg.Logger.Warn("consumer instance: final auto commit failed", "group", inst.group, "instance", inst.name, "err", err)
		}
		cancel()
	}
	inst.cl.Close()
	inst.cl, inst.mode, inst.topics, inst.pattern, inst.assigned = nil, modeNone, nil, false, nil
	inst.mu.Lock()
	inst.owned, inst.buffered, inst.returned, inst.pendingSeek = map[tp]bool{}, nil, map[tp]kgo.EpochOffset{}, map[tp]pendingSeek{}
	inst.mu.Unlock()
}

// clientOpts are the options of every consumer client of the instance.
func (inst *instance) clientOpts() []kgo.Opt {
	return append(p0opts(inst.p.cfg),
		kgo.FetchMaxBytes(inst.p.cfg.ConsumerFetchMaxBytes),
		kgo.FetchMaxPartitionBytes(min(inst.p.cfg.ConsumerFetchMaxBytes, 1<<20)),
		kgo.MaxConcurrentFetches(2),
		kgo.ConsumeResetOffset(inst.reset),
	)
}

// subscribe replaces the instance's subscription by topics (or by the one
// regular expression in topics when pattern is set).
func (inst *instance) subscribe(topics []string, pattern bool) *restError {
	if inst.mode == modeAssigned {
		return illegalState("Subscription to topics, partitions and pattern are mutually exclusive.")
	}
	inst.stopClient()
	if len(topics) == 0 {
		return nil // an empty subscription unsubscribes, as KafkaConsumer.subscribe does
	}
	consume := topics
	if pattern {
		// Java matches a subscription pattern against the whole name.
		consume = []string{"^(?:" + topics[0] + ")$"}
	}
	opts := append(inst.clientOpts(),
		kgo.ConsumerGroup(inst.group),
		kgo.ConsumeTopics(consume...),
		kgo.OnPartitionsAssigned(inst.onAssigned),
		kgo.OnPartitionsRevoked(inst.onRevoked),
		kgo.OnPartitionsLost(inst.onLost),
	)
	if pattern {
		opts = append(opts, kgo.ConsumeRegex())
	}
	if inst.autoCommit {
		opts = append(opts, kgo.AutoCommitMarks(), kgo.AutoCommitInterval(autoCommitInterval))
	} else {
		opts = append(opts, kgo.DisableAutoCommit())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return invalidConsumerConfig("%v", err)
	}
	inst.cl, inst.mode, inst.topics, inst.pattern = cl, modeSubscribed, topics, pattern
	return nil
}

// assign replaces the instance's manual assignment. Each partition starts
// at the group's committed offset, or at auto.offset.reset without one.
func (inst *instance) assign(ctx context.Context, parts []tp) *restError {
	if inst.mode == modeSubscribed {
		return illegalState("Subscription to topics, partitions and pattern are mutually exclusive.")
	}
	inst.stopClient()
	if len(parts) == 0 {
		return nil
	}
	committed, err := inst.p.admin.FetchOffsets(ctx, inst.group)
	if err == nil {
		err = committed.Error()
	}
	if err != nil {
		return kafkaError("fetch committed offsets of group "+inst.group, err)
	}
	start := map[string]map[int32]kgo.Offset{}
	assigned := map[tp]bool{}
	for _, pt := range parts {
		off := inst.reset
		if o, ok := committed.Lookup(pt.topic, pt.partition); ok && o.At >= 0 {
			off = kgo.NewOffset().At(o.At).WithEpoch(o.LeaderEpoch)
		}
		if start[pt.topic] == nil {
			start[pt.topic] = map[int32]kgo.Offset{}
		}
		start[pt.topic][pt.partition] = off
		assigned[pt] = true
	}
	cl, err := kgo.NewClient(append(inst.clientOpts(), kgo.ConsumePartitions(start))...)
	if err != nil {
		return invalidConsumerConfig("%v", err)
	}
	inst.cl, inst.mode, inst.assigned, inst.lastCommit = cl, modeAssigned, assigned, time.Now()
	return nil
}

// The OnPartitions callbacks run on kgo's group goroutine.

func (inst *instance) onAssigned(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	for t, ps := range m {
		for _, p := range ps {
			inst.owned[tp{t, p}] = true
		}
	}
}

func (inst *instance) onRevoked(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
	inst.dropPartitions(m)
	if inst.autoCommit {
		if err := cl.CommitMarkedOffsets(ctx); err != nil {
			inst.p.cfg.Logger.Warn("consumer instance: commit on revoke failed", "group", inst.group, "instance", inst.name, "err", err)
		}
	}
}

func (inst *instance) onLost(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	inst.dropPartitions(m)
}

// dropPartitions forgets partitions the group took away: no buffered
// record of theirs is returned and no commit names them.
func (inst *instance) dropPartitions(m map[string][]int32) {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	for t, ps := range m {
		for _, p := range ps {
			delete(inst.owned, tp{t, p})
			delete(inst.returned, tp{t, p})
			delete(inst.pendingSeek, tp{t, p})
		}
	}
	inst.buffered = slices.DeleteFunc(inst.buffered, func(r *kgo.Record) bool {
		return !inst.owned[tp{r.Topic, r.Partition}]
	})
}

// current reports whether the instance consumes pt now.
func (inst *instance) current(pt tp) bool {
	switch inst.mode {
	case modeAssigned:
		return inst.assigned[pt]
	case modeSubscribed:
		inst.mu.Lock()
		defer inst.mu.Unlock()
		return inst.owned[pt]
	}
	return false
}

// assignment lists the partitions consumed now, sorted.
func (inst *instance) assignment() []tp {
	var out []tp
	switch inst.mode {
	case modeAssigned:
		out = slices.Collect(maps.Keys(inst.assigned))
	case modeSubscribed:
		inst.mu.Lock()
		out = slices.Collect(maps.Keys(inst.owned))
		inst.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b tp) int {
		if a.topic != b.topic {
			if a.topic < b.topic {
				return -1
			}
			return 1
		}
		return int(a.partition - b.partition)
	})
	return out
}

// subscription lists the subscribed topics (those a pattern matches now).
func (inst *instance) subscription() []string {
	if inst.mode != modeSubscribed {
		return []string{}
	}
	topics := inst.topics
	if inst.pattern {
		topics = inst.cl.GetConsumeTopics()
	}
	out := slices.Clone(topics)
	slices.Sort(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// seek sets the next offset of partitions the instance consumes.
//
// NB: kgo's SetOffsets skips partitions it has not loaded yet (a
// partition still looking up its start offset, or in a group one neither
// committed nor polled). With assigned partitions the seek removes and
// re-adds each partition at its offset instead, which always applies. In
// a subscription the target is kept as pending and applied again before
// each poll; records of the partition at another offset are dropped
// until the seek has taken effect.
func (inst *instance) seek(offsets map[tp]int64) *restError {
	if inst.mode == modeNone {
		return illegalState("consumer is not subscribed to any topics or assigned any partitions")
	}
	for pt := range offsets {
		if !inst.current(pt) {
			return illegalState("No current assignment for partition %s-%d", pt.topic, pt.partition)
		}
	}
	inst.mu.Lock()
	inst.buffered = slices.DeleteFunc(inst.buffered, func(r *kgo.Record) bool {
		_, ok := offsets[tp{r.Topic, r.Partition}]
		return ok
	})
	for pt, off := range offsets {
		inst.returned[pt] = kgo.EpochOffset{Epoch: -1, Offset: off}
		if inst.mode == modeSubscribed {
			inst.pendingSeek[pt] = pendingSeek{offset: off}
		}
	}
	inst.mu.Unlock()
	if inst.mode == modeAssigned {
		remove := map[string][]int32{}
		add := map[string]map[int32]kgo.Offset{}
		for pt, off := range offsets {
			remove[pt.topic] = append(remove[pt.topic], pt.partition)
			if add[pt.topic] == nil {
				add[pt.topic] = map[int32]kgo.Offset{}
			}
			add[pt.topic][pt.partition] = kgo.NewOffset().At(off)
		}
		inst.cl.RemoveConsumePartitions(remove)
		inst.cl.AddConsumePartitions(add)
		return nil
	}
	inst.applyPendingSeeks()
	return nil
}

// applyPendingSeeks asks kgo again to move partitions with a pending seek.
func (inst *instance) applyPendingSeeks() {
	inst.mu.Lock()
	set := map[string]map[int32]kgo.EpochOffset{}
	for pt, ps := range inst.pendingSeek {
		if set[pt.topic] == nil {
			set[pt.topic] = map[int32]kgo.EpochOffset{}
		}
		set[pt.topic][pt.partition] = kgo.EpochOffset{Epoch: -1, Offset: ps.offset}
	}
	inst.mu.Unlock()
	if len(set) > 0 {
		inst.cl.SetOffsets(set)
	}
}

// seekFilterLocked drops records of partitions whose pending seek has not
// visibly taken effect and returns the seeks to apply again. A record at
// the target ends a pending seek. Otherwise kgo has now polled the
// partition, so a SetOffsets applies for sure: after that second try the
// next records (at the target, or past it over a gap) are accepted.
func (inst *instance) seekFilterLocked(recs []*kgo.Record) ([]*kgo.Record, map[string]map[int32]kgo.EpochOffset) {
	if len(inst.pendingSeek) == 0 {
		return recs, nil
	}
	again := map[string]map[int32]kgo.EpochOffset{}
	recs = slices.DeleteFunc(recs, func(r *kgo.Record) bool {
		pt := tp{r.Topic, r.Partition}
		ps, ok := inst.pendingSeek[pt]
		switch {
		case !ok:
			return false
		case r.Offset == ps.offset || ps.retried:
			delete(inst.pendingSeek, pt)
			return false
		}
		if again[pt.topic] == nil {
			again[pt.topic] = map[int32]kgo.EpochOffset{}
		}
		again[pt.topic][pt.partition] = kgo.EpochOffset{Epoch: -1, Offset: ps.offset}
		return true
	})
	for t, ps := range again {
		for p := range ps {
			inst.pendingSeek[tp{t, p}] = pendingSeek{offset: again[t][p].Offset, retried: true}
		}
	}
	return recs, again
}

// poll returns records, oldest first per partition: buffered ones, or
// new ones after waiting at most wait. Each record is converted with
// conv; a record conv refuses stops the batch (it stays first in the
// buffer, and is an error when nothing precedes it). maxBytes bounds the
// keys and values returned, except that one record is always returned.
func (inst *instance) poll(ctx context.Context, wait time.Duration, maxBytes int64, conv func(*kgo.Record) (any, error)) ([]any, *restError) {
	if inst.mode == modeNone {
		return nil, illegalState("consumer is not subscribed to any topics or assigned any partitions")
	}
	recs := inst.takeBuffered()
	if len(recs) == 0 {
		if inst.mode == modeSubscribed {
			inst.applyPendingSeeks()
		}
		pctx, cancel := inst.opContext(ctx, wait)
		fetches := inst.cl.PollFetches(pctx)
		cancel()
		if inst.ctx.Err() != nil {
			return nil, instanceNotFound(inst.group, inst.name)
		}
		var ferr error
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) && ferr == nil {
				ferr = fmt.Errorf("%s[%d]: %w", t, p, err)
			}
		})
		recs = fetches.Records()
		if inst.mode == modeSubscribed {
			inst.mu.Lock()
			recs = slices.DeleteFunc(recs, func(r *kgo.Record) bool { return !inst.owned[tp{r.Topic, r.Partition}] })
			var again map[string]map[int32]kgo.EpochOffset
			recs, again = inst.seekFilterLocked(recs)
			inst.mu.Unlock()
			if len(again) > 0 {
				inst.cl.SetOffsets(again)
			}
		}
		if ferr != nil {
			if len(recs) == 0 {
				return nil, kafkaError("fetch", ferr)
			}
			inst.p.cfg.Logger.Warn("consumer instance: fetch error", "group", inst.group, "instance", inst.name, "err", ferr)
		}
	}
	var out []any
	var size int64
	n := 0
	var convErr error
	for _, r := range recs {
		sz := int64(len(r.Key) + len(r.Value))
		if n > 0 && size+sz > maxBytes {
			break
		}
		v, err := conv(r)
		if err != nil {
			convErr = fmt.Errorf("%s[%d] offset %d: %w", r.Topic, r.Partition, r.Offset, err)
			break
		}
		out = append(out, v)
		size += sz
		n++
	}
	returned, rest := recs[:n], recs[n:]
	inst.mu.Lock()
	inst.buffered = append(rest, inst.buffered...)
	if inst.mode == modeSubscribed {
		inst.buffered = slices.DeleteFunc(inst.buffered, func(r *kgo.Record) bool { return !inst.owned[tp{r.Topic, r.Partition}] })
	}
	for _, r := range returned {
		inst.returned[tp{r.Topic, r.Partition}] = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1}
	}
	inst.mu.Unlock()
	if inst.autoCommit && len(returned) > 0 {
		if inst.mode == modeSubscribed {
			inst.cl.MarkCommitRecords(returned...)
		} else if time.Since(inst.lastCommit) >= autoCommitInterval {
			cctx, cancel := inst.opContext(ctx, inst.p.cfg.RequestTimeout)
			if err := inst.commitReturned(cctx); err != nil {
				inst.p.cfg.Logger.Warn("consumer instance: auto commit failed", "group", inst.group, "instance", inst.name, "err", err)
			}
			cancel()
			inst.lastCommit = time.Now()
		}
	}
	if n == 0 && convErr != nil {
		return nil, errorf(500, codeKafkaError, "Kafka error: cannot convert record %v", convErr)
	}
	return out, nil
}

// takeBuffered returns the buffered records and empties the buffer.
func (inst *instance) takeBuffered() []*kgo.Record {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	recs := inst.buffered
	inst.buffered = nil
	return recs
}

// commitReturned commits, per partition, the offset after the last
// record returned (KafkaConsumer.commitSync() without offsets).
func (inst *instance) commitReturned(ctx context.Context) error {
	inst.mu.Lock()
	offs := map[tp]commitOffset{}
	for pt, eo := range inst.returned {
		offs[pt] = commitOffset{offset: eo.Offset, epoch: eo.Epoch}
	}
	inst.mu.Unlock()
	if len(offs) == 0 {
		return nil
	}
	return inst.commit(ctx, offs)
}

// commitOffset is one offset to commit.
type commitOffset struct {
	offset   int64
	epoch    int32
	metadata *string
}

// commit commits offsets for the group: as the group member when
// subscribed, as a "simple" consumer (generation -1) otherwise, as
// KafkaConsumer does for assigned partitions.
func (inst *instance) commit(ctx context.Context, offs map[tp]commitOffset) error {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group = inst.group
	req.Generation = -1
	if inst.mode == modeSubscribed && inst.cl != nil {
		member, gen := inst.cl.GroupMetadata()
		if gen < 0 {
			return kerr.RebalanceInProgress // not in the group yet
		}
		req.MemberID, req.Generation = member, gen
	}
	byTopic := map[string]int{}
	for _, pt := range slices.SortedFunc(maps.Keys(offs), func(a, b tp) int {
		if a.topic != b.topic {
			if a.topic < b.topic {
				return -1
			}
			return 1
		}
		return int(a.partition - b.partition)
	}) {
		i, ok := byTopic[pt.topic]
		if !ok {
			i = len(req.Topics)
			byTopic[pt.topic] = i
			t := kmsg.NewOffsetCommitRequestTopic()
			t.Topic = pt.topic
			req.Topics = append(req.Topics, t)
		}
		o := offs[pt]
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = pt.partition, o.offset, o.epoch, o.metadata
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	resp, err := req.RequestWith(ctx, inst.p.client)
	if err != nil {
		return err
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return fmt.Errorf("%s[%d]: %w", t.Topic, p.Partition, err)
			}
		}
	}
	return nil
}

// validPattern compiles a subscription pattern.
func validPattern(s string) error {
	_, err := regexp.Compile(s)
	return err
}
