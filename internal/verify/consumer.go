package verify

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// startConsumer starts the clients of consumer spec number idx: one for
// assign mode, Members for a group. They poll until stop ends.
func (w *workload) startConsumer(stop context.Context, wg *sync.WaitGroup, idx int, spec ConsumerSpec) {
	if spec.Mode == ModeAssign {
		wg.Go(func() { w.assignLoop(stop, idx, spec) })
		return
	}
	group := fmt.Sprintf("strata-verify-%s-%d", w.h.RunTag, idx)
	rng := rand.New(rand.NewPCG(uint64(w.cfg.Seed), 1000+uint64(idx)))
	for m := range spec.Members {
		// The last member restarts once, at a seeded time in the middle
		// half of the load phase.
		var restart time.Duration
		if m == spec.Members-1 {
			restart = time.Duration(float64(w.cfg.Duration) * (0.25 + 0.5*rng.Float64()))
		}
		w.mu.Lock()
		w.mu.unassigned++
		w.mu.Unlock()
		wg.Go(func() { w.memberLoop(stop, idx, spec, group, restart) })
	}
}

func isolation(s string) kgo.IsolationLevel {
	if s == ReadCommitted {
		return kgo.ReadCommitted()
	}
	return kgo.ReadUncommitted()
}

// waitAssigned waits, at most d, until every group member has been
// assigned partitions once, so the load starts with groups formed.
func (w *workload) waitAssigned(ctx context.Context, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		w.mu.Lock()
		n := w.mu.unassigned
		w.mu.Unlock()
		if n <= 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	w.cfg.Logf("verify: starting the load before every group member has partitions")
}

// assignLoop consumes every partition from where the run started.
func (w *workload) assignLoop(stop context.Context, idx int, spec ConsumerSpec) {
	id := w.rec.addProcess(Process{Role: "consumer", Kind: spec.Mode, Isolation: spec.Isolation, Consumer: idx})
	offsets := map[int32]kgo.Offset{}
	all := make([]int32, w.partitions)
	for p := range w.partitions {
		offsets[p] = kgo.NewOffset().At(w.h.StartOffsets[p])
		all[p] = p
	}
	cl, err := kgo.NewClient(append(slices.Clone(w.base),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{w.h.Topic: offsets}),
		kgo.FetchIsolationLevel(isolation(spec.Isolation)),
		kgo.FetchMaxWait(time.Second))...)
	if err != nil {
		w.rec.note("consumer %d: %v", id, err)
		return
	}
	w.rec.add(Event{Type: EvAssigned, Process: id, Partitions: all})
	for stop.Err() == nil {
		w.pollOnce(stop, cl, id, idx)
	}
	cl.Close()
	w.rec.add(Event{Type: EvClose, Process: id, Partitions: all})
}

// pollOnce polls cl once and records what came back: this run's topic's
// records from the start offsets on, and errors other than the poll's own
// cancellation.
func (w *workload) pollOnce(ctx context.Context, cl *kgo.Client, id, consumer int) {
	fs := cl.PollFetches(ctx)
	var recs []Rec
	var errs []string
	fs.EachError(func(_ string, p int32, err error) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, kgo.ErrClientClosed) {
			return
		}
		errs = append(errs, fmt.Sprintf("partition %d: %v", p, err))
	})
	fs.EachRecord(func(r *kgo.Record) {
		if r.Topic != w.h.Topic || r.Partition < 0 || r.Partition >= w.partitions || r.Offset < w.h.StartOffsets[r.Partition] {
			return
		}
		recs = append(recs, Rec{Partition: r.Partition, Offset: r.Offset, Value: string(r.Value)})
	})
	if len(recs) > 0 || len(errs) > 0 {
		w.rec.poll(consumer, Event{Type: EvPoll, Process: id, Records: recs, Err: strings.Join(errs, "; ")})
	}
}

// memberLoop runs one member slot of a group: a client that polls,
// commits what it polled after each poll, commits on revocation, and
// records every assignment callback. With restart > 0 the client leaves
// the group at that time into the run and a new one takes its place.
func (w *workload) memberLoop(stop context.Context, idx int, spec ConsumerSpec, group string, restart time.Duration) {
	first := true
	for stop.Err() == nil {
		ctx, cancel := context.WithCancel(stop)
		var timer sync.WaitGroup
		if restart > 0 {
			d := restart
			restart = 0
			timer.Go(func() {
				select {
				case <-ctx.Done():
					return
				case <-w.loadStarted:
				}
				t := time.NewTimer(time.Until(w.loadStartTime.Add(d)))
				defer t.Stop()
				select {
				case <-ctx.Done():
				case <-t.C:
					cancel()
				}
			})
		}
		w.runMember(ctx, idx, spec, group, first)
		cancel()
		timer.Wait()
		first = false
	}
}

// member is one group member client's state shared with kgo's callbacks.
type member struct {
	w     *workload
	id    int
	group string
	mu    sync.Mutex
	owned map[int32]bool // guarded by mu
	first bool           // guarded by mu: counts toward workload.mu.unassigned until assigned
}

func (w *workload) runMember(ctx context.Context, idx int, spec ConsumerSpec, group string, first bool) {
	id := w.rec.addProcess(Process{Role: "consumer", Kind: spec.Mode, Isolation: spec.Isolation, Group: group, Consumer: idx})
	m := &member{w: w, id: id, group: group, owned: map[int32]bool{}, first: first}
	opts := append(slices.Clone(w.base),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(w.h.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(isolation(spec.Isolation)),
		kgo.FetchMaxWait(time.Second),
		kgo.DisableAutoCommit(),
		// NB: no rebalance runs between a poll and its commit, so an
		// assignment callback never interleaves with recording a poll.
		kgo.BlockRebalanceOnPoll(),
		kgo.SessionTimeout(20*time.Second),
		kgo.OnPartitionsAssigned(m.assigned),
		kgo.OnPartitionsRevoked(m.revoked),
		kgo.OnPartitionsLost(m.lost),
	)
	if spec.Mode == ModeGroupConsumer {
		opts = append(opts, kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.ServerSideBalancer())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		w.rec.note("consumer %d: %v", id, err)
		return
	}
	for ctx.Err() == nil {
		w.pollOnce(ctx, cl, id, idx)
		m.commit(cl)
		cl.AllowRebalance()
	}
	cl.CloseAllowingRebalance()
	m.mu.Lock()
	left := slices.Sorted(func(yield func(int32) bool) {
		for p := range m.owned {
			if !yield(p) {
				return
			}
		}
	})
	if m.first {
		m.first = false
		w.mu.Lock()
		w.mu.unassigned--
		w.mu.Unlock()
	}
	m.mu.Unlock()
	w.rec.add(Event{Type: EvClose, Process: id, Partitions: left})
}

func (m *member) partitions(assigned map[string][]int32) []int32 {
	return slices.Sorted(slices.Values(assigned[m.w.h.Topic]))
}

func (m *member) assigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	ps := m.partitions(assigned)
	if len(ps) == 0 {
		return
	}
	m.mu.Lock()
	for _, p := range ps {
		m.owned[p] = true
	}
	if m.first {
		m.first = false
		m.w.mu.Lock()
		m.w.mu.unassigned--
		m.w.mu.Unlock()
	}
	m.mu.Unlock()
	m.w.rec.add(Event{Type: EvAssigned, Process: m.id, Partitions: ps})
}

func (m *member) revoked(_ context.Context, cl *kgo.Client, revoked map[string][]int32) {
	ps := m.partitions(revoked)
	if len(ps) == 0 {
		return
	}
	m.commit(cl)
	m.drop(ps)
	m.w.rec.add(Event{Type: EvRevoked, Process: m.id, Partitions: ps})
}

func (m *member) lost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	ps := m.partitions(lost)
	if len(ps) == 0 {
		return
	}
	m.drop(ps)
	m.w.rec.add(Event{Type: EvLost, Process: m.id, Partitions: ps})
}

func (m *member) drop(ps []int32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range ps {
		delete(m.owned, p)
	}
}

// commit commits the offsets polled and not yet committed, synchronously,
// and records the commit with each partition's result.
func (m *member) commit(cl *kgo.Client) {
	offs := cl.UncommittedOffsets()
	if len(offs[m.w.h.Topic]) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl.CommitOffsetsSync(ctx, offs, func(_ *kgo.Client, req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		e := Event{Type: EvCommit, Process: m.id}
		if err != nil {
			e.Err = err.Error()
		}
		errs := map[int32]string{}
		if resp != nil {
			for _, t := range resp.Topics {
				if t.Topic != m.w.h.Topic {
					continue
				}
				for _, p := range t.Partitions {
					if p.ErrorCode != 0 {
						errs[p.Partition] = kerr.ErrorForCode(p.ErrorCode).Error()
					}
				}
			}
		}
		for _, t := range req.Topics {
			if t.Topic != m.w.h.Topic {
				continue
			}
			for _, p := range t.Partitions {
				co := CommitOffset{Partition: p.Partition, Offset: p.Offset, Err: errs[p.Partition]}
				if co.Err == "" && err != nil {
					co.Err = err.Error()
				}
				e.Offsets = append(e.Offsets, co)
			}
		}
		slices.SortFunc(e.Offsets, func(a, b CommitOffset) int { return int(a.Partition - b.Partition) })
		if len(e.Offsets) > 0 || e.Err != "" {
			m.w.rec.add(e)
		}
	})
}
