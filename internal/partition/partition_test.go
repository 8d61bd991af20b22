package partition

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/strata-io/strata/internal/record"
	"github.com/strata-io/strata/internal/storage"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// testClock is a settable clock for Config.Now.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// applyingChanger plays the controller: it applies every proposal at once
// with the next partition epoch, as a new image would.
type applyingChanger struct {
	mu        sync.Mutex
	proposals []LeaderAndISR
	hold      bool // record proposals without applying them
}

func (c *applyingChanger) ProposeISR(p *Partition, prop ISRProposal) {
	st := prop.LeaderAndISR
	c.mu.Lock()
	c.proposals = append(c.proposals, st.clone())
	hold := c.hold
	c.mu.Unlock()
	if hold {
		return
	}
	st.PartitionEpoch++
	if err := p.MakeLeader(st); err != nil {
		panic(err) // a test bug: the fake controller proposed a stale state
	}
}

func (c *applyingChanger) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.proposals)
}

func openLog(t *testing.T) *storage.Log {
	t.Helper()
	d, err := storage.OpenLogDir(storage.DefaultConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	l, err := d.CreateLog(storage.TopicPartition{Topic: "t", Partition: 0}, [16]byte{1}, storage.DefaultLogConfig())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func newPartition(t *testing.T, syncBeforeAck bool) *Partition {
	t.Helper()
	return New(openLog(t), Config{NodeID: 1, SyncBeforeAck: syncBeforeAck, Limits: Limits{MaxMessageBytes: 1 << 20}},
		LeaderAndISR{Leader: 1, LeaderEpoch: 3, Replicas: []int32{1}, ISR: []int32{1}})
}

// newLeader returns node 1 leading replicas 1, 2, 3 with every replica in the ISR.
func newLeader(t *testing.T, minISR int) (*Partition, *testClock, *applyingChanger) {
	t.Helper()
	clock := &testClock{now: t0}
	ch := &applyingChanger{}
	p := New(openLog(t), Config{
		NodeID: 1, MinInsyncReplicas: minISR, ReplicaLagTimeMax: 10 * time.Second,
		ISRChanger: ch, Now: clock.Now, Limits: Limits{MaxMessageBytes: 1 << 20},
	}, LeaderAndISR{Leader: 1, LeaderEpoch: 1, PartitionEpoch: 1, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}})
	return p, clock, ch
}

func oneBatch(t *testing.T, n int) []byte {
	t.Helper()
	b := record.NewBuilder(record.CodecNone, time.Now().UnixMilli())
	for range n {
		b.Add(time.Now().UnixMilli(), nil, []byte("v"), nil)
	}
	out, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mustAppend(t *testing.T, p *Partition, n int, acks int16) int64 {
	t.Helper()
	info, err := p.AppendAsLeader(oneBatch(t, n), time.Now(), acks)
	if err != nil {
		t.Fatalf("AppendAsLeader(%d records, acks %d): %v", n, acks, err)
	}
	return info.LastOffset + 1
}

// waitAsync runs WaitCommitted in a goroutine and returns its result channel.
func waitAsync(ctx context.Context, p *Partition, end int64) <-chan error {
	done := make(chan error, 1)
	go func() { done <- p.WaitCommitted(ctx, end, -1) }()
	return done
}

func wantPending(t *testing.T, done <-chan error, what string) {
	t.Helper()
	select {
	case err := <-done:
		t.Fatalf("WaitCommitted returned %v before %s", err, what)
	case <-time.After(20 * time.Millisecond):
	}
}

func wantDone(t *testing.T, done <-chan error, want error) {
	t.Helper()
	select {
	case err := <-done:
		if !errors.Is(err, want) {
			t.Fatalf("WaitCommitted = %v, want %v", err, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WaitCommitted still waiting after 10s")
	}
}

func TestHighWatermarkFollowsAppendWithoutSync(t *testing.T) {
	p := newPartition(t, false)
	wake := make(chan struct{}, 1)
	p.AddWaiter(wake)
	defer p.RemoveWaiter(wake)
	end := mustAppend(t, p, 3, 1)
	if hw := p.HighWatermark(); hw != 3 {
		t.Fatalf("HighWatermark after append = %d, want 3", hw)
	}
	select {
	case <-wake:
	default:
		t.Fatal("waiter not woken by the high watermark advancing")
	}
	if err := p.WaitCommitted(t.Context(), end, -1); err != nil {
		t.Fatalf("WaitCommitted(%d, acks=-1) on a single replica = %v", end, err)
	}
}

func TestHighWatermarkWaitsForSyncWithSyncBeforeAck(t *testing.T) {
	p := newPartition(t, true)
	end := mustAppend(t, p, 2, -1)
	if hw := p.HighWatermark(); hw != 0 {
		t.Fatalf("HighWatermark before WaitCommitted = %d, want 0: a consumer could read unsynced data", hw)
	}
	res, err := p.Read(0, 1<<20, true, false)
	if err != nil || res.Size != 0 {
		t.Fatalf("Read before WaitCommitted: %d bytes, err %v; want nothing", res.Size, err)
	}
	if err := p.WaitCommitted(t.Context(), end, -1); err != nil {
		t.Fatal(err)
	}
	if hw := p.HighWatermark(); hw != 2 {
		t.Fatalf("HighWatermark after WaitCommitted = %d, want 2", hw)
	}
	res, err = p.Read(0, 1<<20, true, false)
	if err != nil || res.Size == 0 {
		t.Fatalf("Read after WaitCommitted: %d bytes, err %v", res.Size, err)
	}
}

func TestRecoveredRecordsAreCommittedForSoleReplica(t *testing.T) {
	l := openLog(t)
	if _, err := l.AppendAsLeader(oneBatch(t, 4), 0, time.Now()); err != nil {
		t.Fatal(err)
	}
	p := New(l, Config{NodeID: 1}, LeaderAndISR{Leader: 1, LeaderEpoch: 1, Replicas: []int32{1}, ISR: []int32{1}})
	if hw := p.HighWatermark(); hw != 4 {
		t.Fatalf("HighWatermark of a reopened sole replica = %d, want 4", hw)
	}
}

func TestCheckLeaderEpoch(t *testing.T) {
	p := newPartition(t, false)
	tests := []struct {
		give int32
		want error
	}{
		{-1, nil},
		{3, nil},
		{2, ErrFencedLeaderEpoch},
		{4, ErrUnknownLeaderEpoch},
	}
	for _, tt := range tests {
		if err := p.CheckLeaderEpoch(tt.give); !errors.Is(err, tt.want) {
			t.Errorf("CheckLeaderEpoch(%d) = %v, want %v", tt.give, err, tt.want)
		}
	}
}

func TestHighWatermarkIsMinimumISRLogEndOffset(t *testing.T) {
	p, clock, _ := newLeader(t, 1)
	end := mustAppend(t, p, 5, -1)
	done := waitAsync(t.Context(), p, end)
	if hw := p.HighWatermark(); hw != 0 {
		t.Fatalf("HighWatermark before followers fetched = %d, want 0", hw)
	}
	if p.UpdateFollower(2, -1, 5, -1, clock.Now()) {
		t.Fatal("UpdateFollower(2, -1, 5) moved the high watermark while follower 3 is unknown")
	}
	wantPending(t, done, "follower 3 fetched")
	if !p.UpdateFollower(3, -1, 3, -1, clock.Now()) {
		t.Fatal("UpdateFollower(3, -1, 3) did not move the high watermark")
	}
	if hw := p.HighWatermark(); hw != 3 {
		t.Fatalf("HighWatermark = %d, want 3 (min of 5, 5, 3)", hw)
	}
	wantPending(t, done, "the high watermark reached 5")
	p.UpdateFollower(3, -1, 5, -1, clock.Now())
	wantDone(t, done, nil)
	if hw := p.HighWatermark(); hw != 5 {
		t.Fatalf("HighWatermark = %d, want 5", hw)
	}
	// Never decreases while leader, even on a bogus lower report.
	p.UpdateFollower(2, -1, 1, -1, clock.Now())
	if hw := p.HighWatermark(); hw != 5 {
		t.Fatalf("HighWatermark after a lower report = %d, want 5", hw)
	}
}

func TestNotEnoughReplicas(t *testing.T) {
	l := openLog(t)
	p := New(l, Config{NodeID: 1, MinInsyncReplicas: 2}, LeaderAndISR{Leader: 1, LeaderEpoch: 1, Replicas: []int32{1, 2}, ISR: []int32{1}})
	_, err := p.AppendAsLeader(oneBatch(t, 1), time.Now(), -1)
	if !errors.Is(err, ErrNotEnoughReplicas) {
		t.Fatalf("AppendAsLeader(acks=-1) with ISR {1} and min.insync.replicas 2 = %v, want ErrNotEnoughReplicas", err)
	}
	if leo := l.LogEndOffset(); leo != 0 {
		t.Fatalf("log end offset after refused append = %d, want 0", leo)
	}
	if _, err := p.AppendAsLeader(oneBatch(t, 1), time.Now(), 1); err != nil {
		t.Fatalf("AppendAsLeader(acks=1) with a small ISR = %v, want success", err)
	}
	// The topic setting overrides the broker default.
	p.SetLimits(Limits{MaxMessageBytes: 1 << 20, MinInsyncReplicas: 1})
	if _, err := p.AppendAsLeader(oneBatch(t, 1), time.Now(), -1); err != nil {
		t.Fatalf("AppendAsLeader(acks=-1) with topic min.insync.replicas 1 = %v", err)
	}
}

func TestLaggingFollowerIsShrunkOutAndRejoins(t *testing.T) {
	p, clock, ch := newLeader(t, 1)
	end := mustAppend(t, p, 4, -1)
	done := waitAsync(t.Context(), p, end)
	p.UpdateFollower(2, -1, 4, -1, clock.Now())
	p.UpdateFollower(3, -1, 0, -1, clock.Now()) // stalls at 0
	wantPending(t, done, "follower 3 caught up or left the ISR")

	clock.Advance(5 * time.Second)
	p.MaybeShrinkISR(clock.Now())
	if n := ch.count(); n != 0 {
		t.Fatalf("%d ISR proposals within replica.lag.time.max.ms, want 0", n)
	}
	p.UpdateFollower(2, -1, 4, -1, clock.Now())
	clock.Advance(6 * time.Second)
	p.MaybeShrinkISR(clock.Now())
	st := p.State()
	if diff := cmp.Diff([]int32{1, 2}, st.ISR); diff != "" {
		t.Fatalf("ISR after follower 3 lagged 11s (-want +got):\n%s", diff)
	}
	if st.PartitionEpoch != 2 {
		t.Fatalf("PartitionEpoch after shrink = %d, want 2", st.PartitionEpoch)
	}
	wantDone(t, done, nil)

	// Follower 3 catches up: first to the high watermark, which proposes
	// the expansion.
	end = mustAppend(t, p, 2, -1) // leader at 6, HW 4
	p.UpdateFollower(3, -1, 2, -1, clock.Now())
	if got := p.State().ISR; len(got) != 2 {
		t.Fatalf("ISR after follower 3 reached 2 (below HW 4) = %v, want [1 2]", got)
	}
	p.UpdateFollower(3, -1, 4, -1, clock.Now())
	if diff := cmp.Diff([]int32{1, 2, 3}, p.State().ISR); diff != "" {
		t.Fatalf("ISR after follower 3 reached the high watermark (-want +got):\n%s", diff)
	}
	// Back in the ISR, it holds the high watermark again.
	p.UpdateFollower(2, -1, end, -1, clock.Now())
	if hw := p.HighWatermark(); hw != 4 {
		t.Fatalf("HighWatermark = %d, want 4 (follower 3 at 4)", hw)
	}
}

func TestISRShrinkingBelowMinWhileWaiting(t *testing.T) {
	p, clock, _ := newLeader(t, 2)
	end := mustAppend(t, p, 1, -1)
	done := waitAsync(t.Context(), p, end)
	p.UpdateFollower(2, -1, 0, -1, clock.Now())
	p.UpdateFollower(3, -1, 0, -1, clock.Now())
	clock.Advance(11 * time.Second)
	p.MaybeShrinkISR(clock.Now())
	if diff := cmp.Diff([]int32{1}, p.State().ISR); diff != "" {
		t.Fatalf("ISR (-want +got):\n%s", diff)
	}
	wantDone(t, done, ErrNotEnoughReplicasAfterAppend)
	if _, err := p.AppendAsLeader(oneBatch(t, 1), time.Now(), -1); !errors.Is(err, ErrNotEnoughReplicas) {
		t.Fatalf("AppendAsLeader(acks=-1) after shrink = %v, want ErrNotEnoughReplicas", err)
	}
}

func TestPendingShrinkStillCountsLeavingReplica(t *testing.T) {
	p, clock, ch := newLeader(t, 1)
	ch.hold = true
	mustAppend(t, p, 3, -1)
	p.UpdateFollower(2, -1, 3, -1, clock.Now())
	p.UpdateFollower(3, -1, 1, -1, clock.Now())
	clock.Advance(11 * time.Second)
	p.UpdateFollower(2, -1, 3, -1, clock.Now())
	p.MaybeShrinkISR(clock.Now())
	if n := ch.count(); n != 1 {
		t.Fatalf("%d proposals, want 1", n)
	}
	if hw := p.HighWatermark(); hw != 1 {
		t.Fatalf("HighWatermark with the shrink unanswered = %d, want 1: the ISR changes only through the image", hw)
	}
	p.MaybeShrinkISR(clock.Now())
	if n := ch.count(); n != 1 {
		t.Fatalf("%d proposals while one is outstanding, want 1", n)
	}
	// NB: a pending proposal is never replaced on a timer: had the
	// controller applied it, a second one would be based on a stale ISR.
	clock.Advance(time.Minute)
	p.MaybeShrinkISR(clock.Now())
	if n := ch.count(); n != 1 {
		t.Fatalf("%d proposals a minute after an unanswered one, want 1", n)
	}
}

func TestLosingLeadershipFailsWaiters(t *testing.T) {
	p, clock, _ := newLeader(t, 1)
	end := mustAppend(t, p, 2, -1)
	done := waitAsync(t.Context(), p, end)
	p.UpdateFollower(2, -1, 2, -1, clock.Now())
	changed, err := p.MakeFollower(LeaderAndISR{Leader: 2, LeaderEpoch: 2, PartitionEpoch: 2, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2}})
	if err != nil || !changed {
		t.Fatalf("MakeFollower = %v, %v; want true, nil", changed, err)
	}
	wantDone(t, done, ErrNotLeader)
	_, err = p.AppendAsLeader(oneBatch(t, 1), time.Now(), 1)
	var nl *NotLeaderError
	if !errors.As(err, &nl) || nl.Leader != 2 || nl.LeaderEpoch != 2 {
		t.Fatalf("AppendAsLeader on follower = %v, want NotLeaderError{2, 2}", err)
	}
	if _, err := p.Read(0, 1<<20, true, false); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("Read on follower = %v, want ErrNotLeader", err)
	}
	if _, err := p.MakeFollower(LeaderAndISR{Leader: 2, LeaderEpoch: 1}); !errors.Is(err, ErrFencedLeaderEpoch) {
		t.Fatalf("MakeFollower with an older epoch = %v, want ErrFencedLeaderEpoch", err)
	}
	if changed, err := p.MakeFollower(LeaderAndISR{Leader: 2, LeaderEpoch: 2, PartitionEpoch: 3, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}}); err != nil || changed {
		t.Fatalf("MakeFollower with only an ISR change = %v, %v; want false, nil", changed, err)
	}
}

func TestWaitCommittedHonoursContext(t *testing.T) {
	p, _, _ := newLeader(t, 1)
	end := mustAppend(t, p, 1, -1)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if err := p.WaitCommitted(ctx, end, -1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitCommitted past its deadline = %v, want DeadlineExceeded", err)
	}
	if err := p.WaitCommitted(t.Context(), end, 1); err != nil {
		t.Fatalf("WaitCommitted(acks=1) = %v, want nil", err)
	}
}

func TestNewLeaderEpochForgetsFollowers(t *testing.T) {
	p, clock, _ := newLeader(t, 1)
	mustAppend(t, p, 2, -1)
	p.UpdateFollower(2, -1, 2, -1, clock.Now())
	p.UpdateFollower(3, -1, 2, -1, clock.Now())
	if hw := p.HighWatermark(); hw != 2 {
		t.Fatalf("HighWatermark = %d, want 2", hw)
	}
	if err := p.MakeLeader(LeaderAndISR{Leader: 1, LeaderEpoch: 2, PartitionEpoch: 2, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}}); err != nil {
		t.Fatal(err)
	}
	end := mustAppend(t, p, 1, -1)
	p.UpdateFollower(2, -1, end, -1, clock.Now())
	if hw := p.HighWatermark(); hw != 2 {
		t.Fatalf("HighWatermark in the new epoch before follower 3 fetched = %d, want 2", hw)
	}
	p.UpdateFollower(3, -1, end, -1, clock.Now())
	if hw := p.HighWatermark(); hw != end {
		t.Fatalf("HighWatermark = %d, want %d", hw, end)
	}
}

func TestDivergingEpoch(t *testing.T) {
	l := openLog(t)
	for _, epoch := range []int32{1, 1, 3} { // 2 records each: epoch 1 at 0..3, epoch 3 at 4..5
		if _, err := l.AppendAsLeader(oneBatch(t, 2), epoch, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	p := New(l, Config{NodeID: 1}, LeaderAndISR{Leader: 1, LeaderEpoch: 5, Replicas: []int32{1, 2}, ISR: []int32{1, 2}})
	type result struct {
		Epoch     int32
		EndOffset int64
		Diverged  bool
	}
	tests := []struct {
		name             string
		lastFetchedEpoch int32
		fetchOffset      int64
		want             result
	}{
		{"no epoch skips the check", -1, 100, result{-1, -1, false}},
		{"same epoch, behind", 3, 5, result{-1, -1, false}},
		{"same epoch, at the end", 3, 6, result{-1, -1, false}},
		{"same epoch, ahead", 3, 8, result{3, 6, true}},
		{"older epoch, inside it", 1, 4, result{-1, -1, false}},
		{"older epoch, past its end", 1, 5, result{1, 4, true}},
		{"unknown epoch between", 2, 5, result{1, 4, true}},
		{"epoch newer than the log, not yet written by this leader", 4, 7, result{3, 6, true}},
		{"epoch newer than the log, at its end", 4, 6, result{3, 6, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got result
			got.Epoch, got.EndOffset, got.Diverged = p.DivergingEpoch(tt.lastFetchedEpoch, tt.fetchOffset)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DivergingEpoch(%d, %d) (-want +got):\n%s", tt.lastFetchedEpoch, tt.fetchOffset, diff)
			}
		})
	}
}

// leaderLog returns the leader's whole log as a follower fetches it.
func leaderLog(t *testing.T, leader *Partition) []byte {
	t.Helper()
	res, err := leader.ReadForFollower(0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	data, err := res.AppendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// newFollower returns node 2 following node 1 in leader epoch 3.
func newFollower(t *testing.T) *Partition {
	t.Helper()
	return New(openLog(t), Config{NodeID: 2}, LeaderAndISR{Leader: 1, LeaderEpoch: 3, Replicas: []int32{1, 2}, ISR: []int32{1, 2}})
}

func TestFollowerHighWatermark(t *testing.T) {
	leader := newPartition(t, false)
	mustAppend(t, leader, 3, 1)
	mustAppend(t, leader, 3, 1)
	data := leaderLog(t, leader)
	f := newFollower(t)
	if err := f.AppendAsFollower(data, 4); err != nil {
		t.Fatal(err)
	}
	if hw, leo := f.HighWatermark(), f.LogEndOffset(); hw != 4 || leo != 6 {
		t.Fatalf("follower HighWatermark, LogEndOffset = %d, %d; want 4, 6", hw, leo)
	}
	if err := f.AppendAsFollower(nil, 100); err != nil {
		t.Fatal(err)
	}
	if hw := f.HighWatermark(); hw != 6 {
		t.Fatalf("follower HighWatermark with leader HW above its log end = %d, want 6", hw)
	}
	if err := f.TruncateTo(3); err != nil {
		t.Fatal(err)
	}
	if hw, leo := f.HighWatermark(), f.LogEndOffset(); hw != 3 || leo != 3 {
		t.Fatalf("after TruncateTo(3): HighWatermark, LogEndOffset = %d, %d; want 3, 3", hw, leo)
	}
	if got := f.LastFetchedEpoch(); got != 3 {
		t.Fatalf("LastFetchedEpoch = %d, want 3", got)
	}
	if err := leader.AppendAsFollower(data, 0); !errors.Is(err, ErrNotFollower) {
		t.Fatalf("AppendAsFollower on the leader = %v, want ErrNotFollower", err)
	}
	if err := leader.TruncateTo(0); !errors.Is(err, ErrNotFollower) {
		t.Fatalf("TruncateTo on the leader = %v, want ErrNotFollower", err)
	}
}

func TestTable(t *testing.T) {
	p := newPartition(t, false)
	tb := NewTable()
	tb.Put(p)
	if got, ok := tb.Get("t", 0); !ok || got != p {
		t.Fatalf("Get(t, 0) = %v, %v", got, ok)
	}
	if _, ok := tb.Get("t", 1); ok {
		t.Fatal("Get(t, 1) found a partition that was never added")
	}
	if name, ok := tb.TopicName([16]byte{1}); !ok || name != "t" {
		t.Fatalf("TopicName = %q, %v", name, ok)
	}
	if removed := tb.RemoveTopic("t"); len(removed) != 1 {
		t.Fatalf("RemoveTopic returned %d partitions", len(removed))
	}
	if _, ok := tb.TopicName([16]byte{1}); ok {
		t.Fatal("topic id still resolves after RemoveTopic")
	}
}

// TestHighWatermarkRestartsFromCheckpoint: a replicated partition reopened
// after a clean shutdown starts from its checkpointed high watermark, not
// from the log start, as leader and as follower.
func TestHighWatermarkRestartsFromCheckpoint(t *testing.T) {
	dir := t.TempDir()
	tp := storage.TopicPartition{Topic: "t", Partition: 0}
	d, err := storage.OpenLogDir(storage.DefaultConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	l, err := d.CreateLog(tp, [16]byte{1}, storage.DefaultLogConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.AppendAsLeader(oneBatch(t, 10), 0, time.Now()); err != nil {
		t.Fatal(err)
	}
	l.SetHighWatermark(7) // as the partition would, with 3 records not yet replicated
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d, err = storage.OpenLogDir(storage.DefaultConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	l, _ = d.Log(tp)
	for _, st := range []LeaderAndISR{
		{Leader: 1, LeaderEpoch: 2, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}},
		{Leader: 2, LeaderEpoch: 2, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}},
	} {
		p := New(l, Config{NodeID: 1, Limits: Limits{MaxMessageBytes: 1 << 20}}, st)
		if hw := p.HighWatermark(); hw != 7 {
			t.Errorf("leader %d: HighWatermark after restart = %d, want the checkpointed 7", st.Leader, hw)
		}
	}
}

// TestFollowerFetchingBelowHighWatermarkLeavesISR: an in-sync follower
// that fetches below the high watermark has lost committed records (it
// truncated a corrupt batch to fetch it again) and leaves the ISR at the
// next check, without waiting out replica.lag.time.max.ms.
func TestFollowerFetchingBelowHighWatermarkLeavesISR(t *testing.T) {
	p, clock, _ := newLeader(t, 1)
	mustAppend(t, p, 5, -1)
	p.UpdateFollower(2, -1, 5, -1, clock.Now())
	p.UpdateFollower(3, -1, 5, -1, clock.Now())
	if hw := p.HighWatermark(); hw != 5 {
		t.Fatalf("HighWatermark = %d, want 5", hw)
	}
	p.MaybeShrinkISR(clock.Now())
	if diff := cmp.Diff([]int32{1, 2, 3}, p.State().ISR); diff != "" {
		t.Fatalf("ISR with every follower caught up (-want +got):\n%s", diff)
	}
	p.UpdateFollower(3, -1, 2, -1, clock.Now()) // truncated to 2 to repair
	p.MaybeShrinkISR(clock.Now())
	if diff := cmp.Diff([]int32{1, 2}, p.State().ISR); diff != "" {
		t.Fatalf("ISR after a follower fetched below the high watermark (-want +got):\n%s", diff)
	}
}
