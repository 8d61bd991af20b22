package replication

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/failpoint"
	"github.com/strata-io/strata/internal/partition"
	"github.com/strata-io/strata/internal/record"
)

// fetchState is a fetcher's view of one followed partition.
type fetchState struct {
	retryAt time.Time // zero: fetch now; else skip until then (after an error)
}

// fetcher fetches every partition this broker follows from one leader.
type fetcher struct {
	m      *Manager
	leader int32
	logger *slog.Logger
	wake   chan struct{} // buffer 1: a partition was added or may be retried

	// cancel stops the running fetchLoop; nil when none runs. Guarded by
	// Manager.mu.
	cancel context.CancelFunc

	// applyMu is held while a response is applied, which includes log
	// appends and truncations. remove + barrier use it so that Unfollow
	// returns only when no append to the partition is in flight.
	applyMu sync.Mutex

	mu struct {
		sync.Mutex
		parts map[*partition.Partition]*fetchState
	}
}

func newFetcher(m *Manager, leader int32) *fetcher {
	f := &fetcher{m: m, leader: leader, logger: m.logger.With("node_id", leader), wake: make(chan struct{}, 1)}
	f.mu.parts = make(map[*partition.Partition]*fetchState)
	return f
}

func (f *fetcher) add(p *partition.Partition) {
	f.mu.Lock()
	f.mu.parts[p] = &fetchState{}
	f.mu.Unlock()
	f.poke()
}

func (f *fetcher) remove(p *partition.Partition) {
	f.mu.Lock()
	delete(f.mu.parts, p)
	f.mu.Unlock()
}

// barrier waits for a response being applied to finish.
func (f *fetcher) barrier() {
	f.applyMu.Lock()
	f.applyMu.Unlock() //nolint:staticcheck // an empty critical section is the point
}

func (f *fetcher) empty() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.mu.parts) == 0
}

// retryNow ends p's back-off.
func (f *fetcher) retryNow(p *partition.Partition) {
	f.mu.Lock()
	if st := f.mu.parts[p]; st != nil {
		st.retryAt = time.Time{}
	}
	f.mu.Unlock()
	f.poke()
}

func (f *fetcher) poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// sent is what one partition's fetch asked for, to match the response
// against the partition as it is when the response arrives.
type sent struct {
	p           *partition.Partition
	fetchOffset int64
	leaderEpoch int32
}

type topicPartition struct {
	topic string
	id    [16]byte
	index int32
}

// fetchLoop sends one Fetch after another until ctx ends.
func (f *fetcher) fetchLoop(ctx context.Context) {
	f.logger.Info("fetcher started")
	defer f.logger.Info("fetcher stopped")
	for ctx.Err() == nil {
		f.repairCorrupt()
		if failpoint.Inject(failpoint.ReplicaFetch) {
			f.sleep(ctx, f.m.cfg.Backoff) // replication held back on purpose
			continue
		}
		req, reqs, nextRetry := f.buildRequest(time.Now())
		if req == nil {
			f.idle(ctx, nextRetry)
			continue
		}
		kresp, err := f.m.cfg.Client.Request(ctx, f.leader, req)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			f.logger.Warn("fetch from leader failed", "err", err)
			f.sleep(ctx, f.m.cfg.Backoff)
			continue
		}
		resp, ok := kresp.(*kmsg.FetchResponse)
		if !ok {
			f.logger.Error("fetch answered with the wrong response type", "type", kresp.Key())
			f.sleep(ctx, f.m.cfg.Backoff)
			continue
		}
		if resp.ErrorCode != 0 {
			f.logger.Warn("fetch from leader failed", "err", kerr.ErrorForCode(resp.ErrorCode))
			f.sleep(ctx, f.m.cfg.Backoff)
			continue
		}
		f.apply(resp, reqs)
	}
}

// repairCorrupt truncates each followed partition whose log holds a
// corrupt batch (found by a read or the scrubber, see storage's scrub.go)
// to that batch, so that the next fetch gets it and what follows again
// from the leader. The follower's fetch offset then drops below the high
// watermark, which takes it out of the ISR until it has caught up.
func (f *fetcher) repairCorrupt() {
	f.mu.Lock()
	var corrupt []*partition.Partition
	for p := range f.mu.parts {
		if p.Log().CorruptOffset() >= 0 {
			corrupt = append(corrupt, p)
		}
	}
	f.mu.Unlock()
	for _, p := range corrupt {
		f.applyMu.Lock()
		f.mu.Lock()
		_, followed := f.mu.parts[p]
		f.mu.Unlock()
		off := p.Log().CorruptOffset()
		if followed && off >= 0 {
			err := p.TruncateTo(off)
			if err == nil && p.Log().CorruptOffset() >= 0 {
				err = fmt.Errorf("corrupt batch still at offset %d after the truncation", p.Log().CorruptOffset())
			}
			if err != nil {
				f.logger.Error("repairing a corrupt log failed", "topic", p.Topic, "partition", p.Index, "offset", off, "err", err)
			} else {
				f.logger.Warn("truncated a corrupt log to fetch it again from the leader", "topic", p.Topic, "partition", p.Index, "offset", off)
			}
		}
		f.applyMu.Unlock()
	}
}

// idle waits for a partition to be added or retried, or for the earliest
// back-off to end.
func (f *fetcher) idle(ctx context.Context, until time.Time) {
	var timeout <-chan time.Time
	if !until.IsZero() {
		t := time.NewTimer(time.Until(until))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-ctx.Done():
	case <-f.wake:
	case <-timeout:
	}
}

func (f *fetcher) sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// buildRequest builds a Fetch for the partitions not backing off. With none,
// it returns a nil request and the earliest time one may be retried (zero
// if none is backing off).
func (f *fetcher) buildRequest(now time.Time) (*kmsg.FetchRequest, map[topicPartition]sent, time.Time) {
	f.mu.Lock()
	var ready []*partition.Partition
	var nextRetry time.Time
	for p, st := range f.mu.parts {
		if !st.retryAt.IsZero() && now.Before(st.retryAt) {
			if nextRetry.IsZero() || st.retryAt.Before(nextRetry) {
				nextRetry = st.retryAt
			}
			continue
		}
		ready = append(ready, p)
	}
	f.mu.Unlock()
	if len(ready) == 0 {
		return nil, nil, nextRetry
	}
	cfg := f.m.cfg
	req := kmsg.NewPtrFetchRequest()
	// NB: the client picks the version, so both the pre-v15 replica id and
	// the v15+ replica state are set, and both topic name and id.
	req.ReplicaID = cfg.NodeID
	req.ReplicaState.ID = cfg.NodeID
	req.ReplicaState.Epoch = cfg.BrokerEpoch()
	req.MaxWaitMillis = int32(cfg.MaxWait / time.Millisecond)
	req.MinBytes = cfg.MinBytes
	req.MaxBytes = cfg.MaxBytes
	req.IsolationLevel = 0
	req.SessionID = 0
	req.SessionEpoch = -1 // full fetch, no session (KIP-227)
	reqs := make(map[topicPartition]sent, len(ready))
	topics := make(map[[16]byte]int) // topic id -> index in req.Topics
	for _, p := range ready {
		epoch := p.LeaderEpoch()
		fetchOffset := p.LogEndOffset()
		i, ok := topics[p.TopicID]
		if !ok {
			t := kmsg.NewFetchRequestTopic()
			t.Topic, t.TopicID = p.Topic, p.TopicID
			req.Topics = append(req.Topics, t)
			i = len(req.Topics) - 1
			topics[p.TopicID] = i
		}
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = p.Index
		rp.CurrentLeaderEpoch = epoch
		rp.FetchOffset = fetchOffset
		rp.LastFetchedEpoch = p.LastFetchedEpoch()
		rp.LogStartOffset = p.Log().LogStartOffset()
		rp.PartitionMaxBytes = cfg.PartitionMaxBytes
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
		reqs[topicPartition{id: p.TopicID, index: p.Index}] = sent{p: p, fetchOffset: fetchOffset, leaderEpoch: epoch}
		reqs[topicPartition{topic: p.Topic, index: p.Index}] = sent{p: p, fetchOffset: fetchOffset, leaderEpoch: epoch}
	}
	return req, reqs, time.Time{}
}

// apply handles a Fetch response partition by partition.
func (f *fetcher) apply(resp *kmsg.FetchResponse, reqs map[topicPartition]sent) {
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	for i := range resp.Topics {
		t := &resp.Topics[i]
		for j := range t.Partitions {
			rp := &t.Partitions[j]
			key := topicPartition{id: t.TopicID, index: rp.Partition}
			if t.TopicID == ([16]byte{}) {
				key = topicPartition{topic: t.Topic, index: rp.Partition}
			}
			s, ok := reqs[key]
			if !ok {
				continue // not asked for
			}
			f.mu.Lock()
			st := f.mu.parts[s.p]
			f.mu.Unlock()
			if st == nil {
				continue // unfollowed or moved since the request
			}
			// NB: a response to a fetch made in an older epoch, or from
			// before a truncation, is stale: fetch again instead.
			if s.p.LeaderEpoch() != s.leaderEpoch || s.p.LogEndOffset() != s.fetchOffset {
				continue
			}
			if err := f.applyPartition(s, rp); err != nil {
				f.backOff(s.p, st)
				lvl := slog.LevelWarn
				if errors.Is(err, errRetriable) {
					lvl = slog.LevelDebug
				}
				f.logger.Log(context.Background(), lvl, "fetching partition failed, backing off",
					"topic", s.p.Topic, "partition", s.p.Index, "leader_epoch", s.leaderEpoch, "offset", s.fetchOffset, "err", err)
			}
		}
	}
}

func (f *fetcher) backOff(p *partition.Partition, st *fetchState) {
	f.mu.Lock()
	st.retryAt = time.Now().Add(f.m.cfg.Backoff)
	f.mu.Unlock()
}

// errRetriable marks errors expected around leadership changes.
var errRetriable = errors.New("retriable")

// applyPartition handles one partition of a response: truncation on
// divergence or out-of-range, else the append.
func (f *fetcher) applyPartition(s sent, rp *kmsg.FetchResponseTopicPartition) error {
	p := s.p
	switch err := kerr.ErrorForCode(rp.ErrorCode); {
	case err == nil:
	case errors.Is(err, kerr.OffsetOutOfRange):
		return f.handleOutOfRange(s, rp)
	case errors.Is(err, kerr.NotLeaderForPartition), errors.Is(err, kerr.FencedLeaderEpoch),
		errors.Is(err, kerr.UnknownLeaderEpoch), errors.Is(err, kerr.UnknownTopicOrPartition),
		errors.Is(err, kerr.UnknownTopicID), errors.Is(err, kerr.ReplicaNotAvailable):
		// The leader's image and ours disagree; one of them is behind.
		return errors.Join(errRetriable, err)
	default:
		return err
	}
	if d := rp.DivergingEpoch; d.Epoch >= 0 || d.EndOffset >= 0 {
		return f.truncateDiverged(p, d.Epoch, d.EndOffset)
	}
	if err := p.AppendAsFollower(completeBatches(rp.RecordBatches), rp.HighWatermark); err != nil {
		return err
	}
	// The leader's DeleteRecords reaches the followers this way.
	return p.MaybeIncrementLogStartOffset(rp.LogStartOffset)
}

// truncateDiverged truncates p after the leader reported that its log
// diverges after (epoch, endOffset) (Kafka's getOffsetTruncationState). The
// next fetch checks again from the new end, so truncation converges over
// rounds when the follower does not know epoch.
func (f *fetcher) truncateDiverged(p *partition.Partition, epoch int32, endOffset int64) error {
	leo := p.LogEndOffset()
	var to int64
	switch {
	case epoch < 0 || endOffset < 0:
		// The leader knows no epoch at or before ours: keep only what was
		// committed.
		to = min(p.HighWatermark(), leo)
	default:
		fe, fo := p.Log().EndOffsetForEpoch(epoch)
		switch {
		case fe < 0:
			to = min(endOffset, leo)
		case fe != epoch:
			// We do not have the leader's epoch: cut back to the end of
			// our largest epoch below it and ask again.
			to = min(fo, leo)
		default:
			to = min(fo, endOffset, leo)
		}
	}
	f.logger.Info("truncating divergent log tail", "topic", p.Topic, "partition", p.Index,
		"leader_epoch", epoch, "offset", to)
	if to >= leo {
		// Nothing to cut, yet the leader sees divergence: our last epoch
		// must be forgotten for the next round to make progress.
		return errors.Join(errRetriable, errors.New("leader reports divergence at or past our log end offset"))
	}
	return p.TruncateTo(to)
}

// handleOutOfRange moves p back into the leader's log: to its log start
// when we fell behind it, else down to the leader's high watermark (we are
// ahead of the leader's log end offset).
func (f *fetcher) handleOutOfRange(s sent, rp *kmsg.FetchResponseTopicPartition) error {
	p := s.p
	switch {
	case rp.LogStartOffset >= 0 && s.fetchOffset < rp.LogStartOffset:
		f.logger.Info("fell behind the leader's log start, restarting the log there", "topic", p.Topic, "partition", p.Index, "offset", rp.LogStartOffset)
		return p.TruncateFullyAndStartAt(rp.LogStartOffset)
	case rp.HighWatermark >= 0 && rp.HighWatermark < s.fetchOffset:
		f.logger.Info("ahead of the leader's log, truncating to its high watermark", "topic", p.Topic, "partition", p.Index, "offset", rp.HighWatermark)
		return p.TruncateTo(rp.HighWatermark)
	default:
		return errors.Join(errRetriable, kerr.OffsetOutOfRange)
	}
}

// completeBatches drops a trailing partial batch: a leader may cut the
// last batch at the size limit (Kafka does), and the rest comes next time.
func completeBatches(b []byte) []byte {
	n := 0
	rest := b
	for len(rest) > 0 {
		batch, r, err := record.NextBatch(rest)
		if err != nil {
			break
		}
		n += len(batch)
		rest = r
	}
	return b[:n]
}
