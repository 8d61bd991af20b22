package partition

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Tests of issue 9: a replica that may not be in the ISR (fenced, in
// controlled shutdown, restarted with another broker epoch) never holds the
// high watermark back, is never proposed for the ISR, and a refused
// proposal does not leave the partition waiting on it.

// stateWith returns node 1's leader state over replicas 1, 2, 3 with isr
// and, per replica, the broker epoch (or -1: ineligible).
func stateWith(partitionEpoch int32, isr []int32, epochs ...int64) LeaderAndISR {
	return LeaderAndISR{Leader: 1, LeaderEpoch: 1, PartitionEpoch: partitionEpoch, Replicas: []int32{1, 2, 3}, ISR: isr, ReplicaEpochs: epochs}
}

func TestFencedReplicaOutsideISRDoesNotHoldHighWatermark(t *testing.T) {
	p, clock, ch := newLeader(t, 2)
	ch.hold = true
	if err := p.MakeLeader(stateWith(1, []int32{1, 2, 3}, 10, 20, 30)); err != nil {
		t.Fatal(err)
	}
	end := mustAppend(t, p, 3, -1)
	p.UpdateFollower(2, 20, end, -1, clock.Now())
	p.UpdateFollower(3, 30, end, -1, clock.Now())
	if hw := p.HighWatermark(); hw != end {
		t.Fatalf("HighWatermark = %d, want %d", hw, end)
	}
	// Broker 3 dies; the controller fences it and takes it out of the ISR
	// in one image. It was caught up moments ago, but being fenced it
	// cannot join, so it must not hold the high watermark back.
	if err := p.MakeLeader(stateWith(2, []int32{1, 2}, 10, 20, -1)); err != nil {
		t.Fatal(err)
	}
	end = mustAppend(t, p, 2, -1)
	done := waitAsync(t.Context(), p, end)
	p.UpdateFollower(2, 20, end, -1, clock.Now())
	wantDone(t, done, nil)
	if hw := p.HighWatermark(); hw != end {
		t.Fatalf("HighWatermark with fenced broker 3 out of the ISR = %d, want %d", hw, end)
	}

	// Without the eligibility information (nil ReplicaEpochs) the same
	// caught-up replica would wait to join: the behaviour the issue fixed.
	q, qclock, qch := newLeader(t, 2)
	qch.hold = true
	qend := mustAppend(t, q, 3, -1)
	q.UpdateFollower(2, -1, qend, -1, qclock.Now())
	q.UpdateFollower(3, -1, qend, -1, qclock.Now())
	if err := q.MakeLeader(LeaderAndISR{Leader: 1, LeaderEpoch: 1, PartitionEpoch: 2, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2}}); err != nil {
		t.Fatal(err)
	}
	qend2 := mustAppend(t, q, 2, -1)
	q.UpdateFollower(2, -1, qend2, -1, qclock.Now())
	if hw := q.HighWatermark(); hw != qend {
		t.Fatalf("HighWatermark with an eligible caught-up replica outside the ISR = %d, want %d (it waits to join)", hw, qend)
	}
}

func TestIneligibleReplicaIsNotProposedForISR(t *testing.T) {
	tests := []struct {
		name       string
		epochs     []int64
		fetchEpoch int64
		want       int // proposals
	}{
		{"eligible", []int64{10, 20, 30}, 30, 1},
		{"eligible, fetch without epoch", []int64{10, 20, 30}, -1, 1},
		{"in controlled shutdown or fenced", []int64{10, 20, -1}, 30, 0},
		{"fetches with another broker epoch", []int64{10, 20, 31}, 30, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, clock, ch := newLeader(t, 1)
			ch.hold = true
			if err := p.MakeLeader(stateWith(1, []int32{1, 2}, tt.epochs...)); err != nil {
				t.Fatal(err)
			}
			end := mustAppend(t, p, 2, 1)
			p.UpdateFollower(2, 20, end, -1, clock.Now())
			p.UpdateFollower(3, tt.fetchEpoch, end, -1, clock.Now())
			if got := ch.count(); got != tt.want {
				t.Fatalf("UpdateFollower(3, epoch %d) with replica epochs %v made %d ISR proposals, want %d", tt.fetchEpoch, tt.epochs, got, tt.want)
			}
			if tt.want == 1 {
				ch.mu.Lock()
				got := ch.proposals[0]
				ch.mu.Unlock()
				if diff := cmp.Diff([]int32{1, 2, 3}, got.ISR); diff != "" {
					t.Fatalf("proposed ISR (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// recordingChanger holds every proposal, like a controller that has not
// answered yet.
type recordingChanger struct {
	mu    sync.Mutex
	props []ISRProposal
}

func (c *recordingChanger) ProposeISR(_ *Partition, prop ISRProposal) {
	c.mu.Lock()
	c.props = append(c.props, prop)
	c.mu.Unlock()
}

func (c *recordingChanger) last(t *testing.T) ISRProposal {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.props) == 0 {
		t.Fatal("no ISR proposal made")
	}
	return c.props[len(c.props)-1]
}

func TestRejectedExpansionStopsHoldingHighWatermark(t *testing.T) {
	clock := &testClock{now: t0}
	ch := &recordingChanger{}
	p := New(openLog(t), Config{
		NodeID: 1, MinInsyncReplicas: 2, ReplicaLagTimeMax: 10 * time.Second,
		ISRChanger: ch, Now: clock.Now, Limits: Limits{MaxMessageBytes: 1 << 20},
	}, stateWith(1, []int32{1, 2}, 10, 20, 30))
	end := mustAppend(t, p, 2, -1)
	p.UpdateFollower(2, 20, end, -1, clock.Now())
	p.UpdateFollower(3, 30, end, -1, clock.Now()) // proposes {1, 2, 3}
	prop := ch.last(t)
	if diff := cmp.Diff([]int32{1, 2, 3}, prop.ISR); diff != "" {
		t.Fatalf("proposed ISR (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int64{-1, 20, 30}, prop.BrokerEpochs); diff != "" {
		t.Fatalf("proposal broker epochs (KIP-903) (-want +got):\n%s", diff)
	}
	if !p.ISRProposalPending(prop) {
		t.Fatal("ISRProposalPending(the proposal just made) = false")
	}

	// Broker 3 starts its controlled shutdown: it stops fetching, and
	// the pending expansion still counts it (the maximal ISR).
	end2 := mustAppend(t, p, 3, -1)
	done := waitAsync(t.Context(), p, end2)
	p.UpdateFollower(2, 20, end2, -1, clock.Now())
	wantPending(t, done, "the refused expansion was dropped")
	if hw := p.HighWatermark(); hw != end {
		t.Fatalf("HighWatermark with broker 3 in the pending expansion = %d, want %d", hw, end)
	}

	// The controller refuses the expansion (INELIGIBLE_REPLICA) and the
	// image already says broker 3 is shutting down.
	if err := p.MakeLeader(stateWith(1, []int32{1, 2}, 10, 20, -1)); err != nil {
		t.Fatal(err)
	}
	p.RejectISRProposal(prop)
	wantDone(t, done, nil)
	if p.ISRProposalPending(prop) {
		t.Fatal("ISRProposalPending after RejectISRProposal = true")
	}
	// A rejection of a proposal that is no longer pending changes nothing.
	p.RejectISRProposal(prop)

	// Broker 3 fetches once more before it exits: no new proposal.
	n := len(ch.props)
	p.UpdateFollower(3, 30, end2, -1, clock.Now())
	if len(ch.props) != n {
		t.Fatalf("a proposal was made for broker 3 in controlled shutdown: %v", ch.last(t).ISR)
	}
}

func TestEndOffsetForEpochOnNewLeader(t *testing.T) {
	p, clock, _ := newLeader(t, 1)
	end := mustAppend(t, p, 5, 1) // epoch 1, offsets 0-4
	// A follower that led before: it is asked only as leader.
	f := New(openLog(t), Config{NodeID: 2}, LeaderAndISR{Leader: 1, LeaderEpoch: 1, Replicas: []int32{1, 2}, ISR: []int32{1, 2}})
	if _, _, err := f.EndOffsetForEpoch(1); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("EndOffsetForEpoch on a follower = %v, want ErrNotLeader", err)
	}

	// Leader epoch 2 begins; the followers have not fetched yet, so the
	// high watermark is still 0. A consumer that read offsets 0-4 from
	// the previous leader asks where epoch 1 ends: at the log end (5), not
	// at the high watermark, or it would think records were truncated.
	if err := p.MakeLeader(LeaderAndISR{Leader: 1, LeaderEpoch: 2, PartitionEpoch: 2, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}}); err != nil {
		t.Fatal(err)
	}
	if hw := p.HighWatermark(); hw >= end {
		t.Fatalf("HighWatermark = %d, want below %d for this test", hw, end)
	}
	tests := []struct {
		give      int32
		wantEpoch int32
		wantEnd   int64
	}{
		{1, 1, end}, // the last cached epoch ends where epoch 2 begins
		{2, 2, end}, // the current epoch, not yet in the cache
		{3, -1, -1}, // a future epoch
		{0, 0, 0},   // before the first cached epoch: ends where it starts
	}
	for _, tt := range tests {
		e, off, err := p.EndOffsetForEpoch(tt.give)
		if err != nil || e != tt.wantEpoch || off != tt.wantEnd {
			t.Errorf("EndOffsetForEpoch(%d) = (%d, %d, %v), want (%d, %d, nil)", tt.give, e, off, err, tt.wantEpoch, tt.wantEnd)
		}
	}
	mustAppend(t, p, 2, 1) // epoch 2 from offset 5
	if e, off, _ := p.EndOffsetForEpoch(1); e != 1 || off != end {
		t.Errorf("EndOffsetForEpoch(1) after an append in epoch 2 = (%d, %d), want (1, %d)", e, off, end)
	}
	_ = clock
}

func TestStalledHighWatermarkIsLogged(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	clock := &testClock{now: t0}
	ch := &recordingChanger{}
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, nil))
	p := New(openLog(t), Config{
		NodeID: 1, ReplicaLagTimeMax: time.Minute, ISRChanger: ch, Now: clock.Now,
		Limits: Limits{MaxMessageBytes: 1 << 20}, Logger: logger,
	}, stateWith(1, []int32{1, 2, 3}, 10, 20, 30))
	end := mustAppend(t, p, 2, -1)
	p.UpdateFollower(2, 20, end, -1, clock.Now())
	p.UpdateFollower(3, 30, 0, -1, clock.Now())
	done := waitAsync(t.Context(), p, end)
	wantPending(t, done, "broker 3 caught up")
	p.MaybeShrinkISR(clock.Now())
	clock.Advance(stallLogAfter + time.Second)
	p.MaybeShrinkISR(clock.Now())
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	for _, want := range []string{"high watermark stalled", "waiting_for=3", "replica_log_end_offset=0", `replica_role="in the ISR"`} {
		if !strings.Contains(out, want) {
			t.Errorf("stall log lacks %q:\n%s", want, out)
		}
	}
	p.UpdateFollower(3, 30, end, -1, clock.Now())
	wantDone(t, done, nil)
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (w lockedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(b)
}
