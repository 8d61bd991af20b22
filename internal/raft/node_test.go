package raft

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var errBadEntry = errors.New("bad entry")

// listSM is a StateMachine that appends every entry to a list.
type listSM struct {
	mu       sync.Mutex
	entries  []string
	indexes  []uint64
	restores int
}

func (s *listSM) Apply(index uint64, data []byte) error {
	if string(data) == "bad" {
		return errBadEntry
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries = append(s.entries, string(data))
	s.indexes = append(s.indexes, index)
	return nil
}

func (s *listSM) Snapshot() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return json.Marshal(s.entries)
}

func (s *listSM) Restore(data []byte) error {
	var entries []string
	if err := json.Unmarshal(data, &entries); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries = entries
	s.restores++
	return nil
}

func (s *listSM) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.entries)
}

func (s *listSM) restoreCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restores
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

// running is a started node; stop cancels Run and waits for it.
type running struct {
	*Node
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	t      *testing.T
}

func (r *running) stop() {
	r.once.Do(func() {
		r.cancel()
		if err := <-r.done; err != nil {
			r.t.Errorf("Run returned %v, want nil", err)
		}
	})
}

func start(t *testing.T, cfg Config, sm StateMachine) *running {
	t.Helper()
	n, err := New(cfg, sm)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Node: n, cancel: cancel, done: make(chan error, 1), t: t}
	go func() { r.done <- n.Run(ctx) }()
	t.Cleanup(r.stop)
	return r
}

func singleConfig(t *testing.T, dir string) Config {
	cfg := DefaultConfig()
	cfg.Dir = dir
	cfg.Logger = testLogger(t)
	return cfg
}

func waitReady(t *testing.T, n *running, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), within)
	defer cancel()
	if err := n.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady on node %d: %v", n.cfg.NodeID, err)
	}
}

func TestSingleNodeBecomesLeaderQuickly(t *testing.T) {
	sm := &listSM{}
	begin := time.Now()
	n := start(t, singleConfig(t, t.TempDir()), sm)
	waitReady(t, n, waitTimeout)
	took := time.Since(begin)
	// NB: the time is reported, not asserted: on a loaded machine it came
	// to 988ms against a bound of 1s. What makes it short is asserted
	// instead: a single voter waits 50ms, not a cluster's 1s, before it
	// elects itself.
	t.Logf("single voter ready after %s", took)
	if n.cfg.HeartbeatTimeout != 50*time.Millisecond {
		t.Errorf("a single voter's HeartbeatTimeout = %s, want 50ms", n.cfg.HeartbeatTimeout)
	}
	if !n.IsLeader() {
		t.Errorf("IsLeader() = false after WaitReady on a single voter")
	}
	if id, addr := n.Leader(); id != 1 || addr == "" {
		t.Errorf("Leader() = (%d, %q), want (1, non-empty)", id, addr)
	}
	// A second WaitReady in the same term does not need another barrier.
	waitReady(t, n, time.Second)
}

func TestSingleNodeProposeRestartReplayAndSnapshot(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()

	sm := &listSM{}
	n := start(t, singleConfig(t, dir), sm)
	waitReady(t, n, waitTimeout)
	var last uint64
	for _, e := range []string{"a", "b", "c"} {
		idx, err := n.Propose(ctx, []byte(e))
		if err != nil {
			t.Fatalf("Propose(%q): %v", e, err)
		}
		if idx <= last {
			t.Errorf("Propose(%q) index %d, want > %d", e, idx, last)
		}
		last = idx
		// Propose returns after the local state machine applied the entry.
		if got := sm.list(); got[len(got)-1] != e {
			t.Fatalf("after Propose(%q) the state machine has %v", e, got)
		}
	}
	if idx, err := n.Propose(ctx, []byte("bad")); !errors.Is(err, errBadEntry) || idx <= last {
		t.Errorf("Propose(bad) = (%d, %v), want (> %d, errBadEntry)", idx, err, last)
	}
	n.stop()
	if _, err := n.Propose(ctx, []byte("late")); !errors.Is(err, ErrStopped) {
		t.Errorf("Propose after Run returned = %v, want ErrStopped", err)
	}

	// Restart from the same dir: the log is replayed.
	sm2 := &listSM{}
	n2 := start(t, singleConfig(t, dir), sm2)
	waitReady(t, n2, waitTimeout)
	if got, want := sm2.list(), []string{"a", "b", "c"}; !slices.Equal(got, want) {
		t.Errorf("after restart the state machine has %v, want %v", got, want)
	}
	if sm2.restoreCount() != 0 {
		t.Errorf("restart without a snapshot restored %d snapshots, want 0", sm2.restoreCount())
	}
	if err := n2.Snapshot(ctx); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	if _, err := n2.Propose(ctx, []byte("d")); err != nil {
		t.Fatalf("Propose(d): %v", err)
	}
	n2.stop()

	// Restart again: the snapshot is restored, then "d" is replayed.
	sm3 := &listSM{}
	n3 := start(t, singleConfig(t, dir), sm3)
	waitReady(t, n3, waitTimeout)
	if got, want := sm3.list(), []string{"a", "b", "c", "d"}; !slices.Equal(got, want) {
		t.Errorf("after restart with a snapshot the state machine has %v, want %v", got, want)
	}
	if sm3.restoreCount() != 1 {
		t.Errorf("restart with a snapshot restored %d snapshots, want 1", sm3.restoreCount())
	}
}

func TestProposeBeforeRun(t *testing.T) {
	n, err := New(singleConfig(t, t.TempDir()), &listSM{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if _, err := n.Propose(t.Context(), []byte("x")); !errors.Is(err, ErrStopped) {
		t.Errorf("Propose before Run = %v, want ErrStopped", err)
	}
	if n.IsLeader() {
		t.Errorf("IsLeader before Run = true")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if err := n.WaitReady(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitReady before Run = %v, want DeadlineExceeded", err)
	}
}

func TestSecondNodeOnSameDirFails(t *testing.T) {
	dir := t.TempDir()
	n := start(t, singleConfig(t, dir), &listSM{})
	waitReady(t, n, waitTimeout)
	other, err := New(singleConfig(t, dir), &listSM{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := other.Run(t.Context()); err == nil {
		t.Errorf("Run on a dir in use = nil, want an error (bbolt lock)")
	}
	if err := other.WaitReady(t.Context()); !errors.Is(err, ErrStopped) {
		t.Errorf("WaitReady after Run failed = %v, want ErrStopped", err)
	}
}

// startThree starts a three-voter quorum on loopback TCP, with mutate
// applied to each node's config, and waits until every node is ready.
func startThree(t *testing.T, mutate func(*Config)) ([]*running, []*listSM) {
	t.Helper()
	nodes, sms, _ := startVoters(t, 3, func(int) *slog.Logger { return testLogger(t) }, mutate)
	return nodes, sms
}

// TestFollowersLearnCommitsAtOnce: a follower applies a committed entry
// without waiting for the leader's idle commit timer (here an hour): the
// leader announces each commit with the next AppendEntries at once.
func TestFollowersLearnCommitsAtOnce(t *testing.T) {
	nodes, sms := startThree(t, func(c *Config) { c.CommitTimeout = time.Hour })
	leader := findLeader(t, nodes, nil)
	for _, v := range []string{"a", "b", "c"} {
		if _, err := leader.Propose(t.Context(), []byte(v)); err != nil {
			t.Fatalf("Propose on leader %d: %v", leader.cfg.NodeID, err)
		}
	}
	waitApplied(t, sms, []string{"a", "b", "c"})
}

func TestThreeNodeQuorum(t *testing.T) {
	nodes, sms := startThree(t, nil)
	leader := findLeader(t, nodes, nil)
	ctx := t.Context()
	if _, err := leader.Propose(ctx, []byte("x")); err != nil {
		t.Fatalf("Propose on leader %d: %v", leader.cfg.NodeID, err)
	}
	waitApplied(t, sms, []string{"x"})

	for _, n := range nodes {
		if n == leader {
			continue
		}
		_, err := n.Propose(ctx, []byte("y"))
		var nle *NotLeaderError
		if !errors.Is(err, ErrNotLeader) || !errors.As(err, &nle) {
			t.Fatalf("Propose on follower %d = %v, want ErrNotLeader", n.cfg.NodeID, err)
		}
		if nle.LeaderID != leader.cfg.NodeID {
			t.Errorf("follower %d names leader %d, want %d", n.cfg.NodeID, nle.LeaderID, leader.cfg.NodeID)
		}
	}

	// Stop the leader: the other two elect a new one, which has the state.
	leader.stop()
	rest := slices.DeleteFunc(slices.Clone(nodes), func(n *running) bool { return n == leader })
	newLeader := findLeader(t, rest, leader)
	waitReady(t, newLeader, waitTimeout)
	if _, err := newLeader.Propose(ctx, []byte("z")); err != nil {
		t.Fatalf("Propose on new leader %d: %v", newLeader.cfg.NodeID, err)
	}
	var restSMs []*listSM
	for i, n := range nodes {
		if n != leader {
			restSMs = append(restSMs, sms[i])
		}
	}
	waitApplied(t, restSMs, []string{"x", "z"})
}

// findLeader waits until exactly one of nodes is leader.
func findLeader(t *testing.T, nodes []*running, not *running) *running {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		var leaders []*running
		for _, n := range nodes {
			if n.IsLeader() {
				leaders = append(leaders, n)
			}
		}
		if len(leaders) == 1 && leaders[0] != not {
			return leaders[0]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no single leader elected within %s", waitTimeout)
	return nil
}

// waitApplied waits until every state machine holds want.
func waitApplied(t *testing.T, sms []*listSM, want []string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		ok := true
		for _, sm := range sms {
			ok = ok && slices.Equal(sm.list(), want)
		}
		if ok {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i, sm := range sms {
		t.Errorf("state machine %d has %v, want %v", i, sm.list(), want)
	}
	t.FailNow()
}

func TestConfigValidate(t *testing.T) {
	base := DefaultConfig()
	base.Dir = "/tmp/x"
	tests := []struct {
		name string
		give func(c *Config)
		ok   bool
	}{
		{"default single voter", func(c *Config) {}, true},
		{"no dir", func(c *Config) { c.Dir = "" }, false},
		{"negative node id", func(c *Config) { c.NodeID = -1 }, false},
		{"self not a voter", func(c *Config) { c.Voters = []Voter{{ID: 2}} }, false},
		{"duplicate voter", func(c *Config) {
			c.Voters = []Voter{{ID: 1, Addr: "a:1"}, {ID: 1, Addr: "b:1"}}
			c.ListenAddr = ":0"
		}, false},
		{"cluster without listen addr", func(c *Config) { c.Voters = []Voter{{ID: 1, Addr: "a:1"}, {ID: 2, Addr: "b:1"}} }, false},
		{"cluster voter without addr", func(c *Config) {
			c.Voters = []Voter{{ID: 1, Addr: "a:1"}, {ID: 2}}
			c.ListenAddr = ":0"
		}, false},
		{"cluster", func(c *Config) {
			c.Voters = []Voter{{ID: 1, Addr: "a:1"}, {ID: 2, Addr: "b:1"}, {ID: 3, Addr: "c:1"}}
			c.ListenAddr = ":0"
		}, true},
		{"lease above heartbeat", func(c *Config) {
			c.HeartbeatTimeout = 10 * time.Millisecond
			c.LeaderLeaseTimeout = 20 * time.Millisecond
		}, false},
		{"negative timeout", func(c *Config) { c.CommitTimeout = -time.Second }, false},
	}
	for _, tt := range tests {
		c := base
		tt.give(&c)
		err := c.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
	if _, err := New(Config{}, &listSM{}); err == nil {
		t.Errorf("New(empty config) = nil error, want an error")
	}
}

func TestHclogLevels(t *testing.T) {
	var got []string
	h := &recordHandler{fn: func(r slog.Record) { got = append(got, fmt.Sprintf("%s %s", r.Level, r.Message)) }}
	a := newHclogAdapter(slog.New(h))
	a.Info("entering follower state")
	a.Warn("heartbeat timeout reached, starting election")
	a.Warn("failed to contact quorum")
	a.Error("disk full")
	a.Named("net").With("peer", "x").Debug("dial")
	a.Trace("very detailed")
	want := []string{"DEBUG entering follower state", "INFO heartbeat timeout reached, starting election", "WARN failed to contact quorum", "ERROR disk full", "DEBUG dial"}
	if !slices.Equal(got, want) {
		t.Errorf("adapter logged %q, want %q", got, want)
	}
	if a.IsTrace() || !a.IsDebug() {
		t.Errorf("IsTrace=%v IsDebug=%v, want false true", a.IsTrace(), a.IsDebug())
	}
}

type recordHandler struct{ fn func(slog.Record) }

func (h *recordHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelDebug }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.fn(r)
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

// TestObserverFollowsTheLog: a non-voter receives the log once the leader
// adds it, including entries from before it joined, never becomes leader,
// and refuses proposals.
func TestObserverFollowsTheLog(t *testing.T) {
	// NB: one voter, which cannot lose its leadership on a loaded machine;
	// with two on 100ms timeouts the leader lost it mid-proposal.
	nodes, _, voters := startVoters(t, 1, func(int) *slog.Logger { return testLogger(t) }, nil)
	leader := findLeader(t, nodes, nil)
	if _, err := leader.Propose(t.Context(), []byte("before")); err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.NodeID, cfg.Dir, cfg.Voters, cfg.Listener, cfg.Observer, cfg.Advertise = 7, t.TempDir(), voters, ln, true, ln.Addr().String()
	cfg.Logger = testLogger(t)
	fastTimeouts(&cfg)
	obsSM := &listSM{}
	obs := start(t, cfg, obsSM)
	if err := leader.AddNonvoter(t.Context(), 7, ln.Addr().String()); err != nil {
		t.Fatalf("AddNonvoter: %v", err)
	}
	if err := leader.AddNonvoter(t.Context(), 7, ln.Addr().String()); err != nil {
		t.Fatalf("AddNonvoter again: %v", err)
	}
	if err := leader.AddNonvoter(t.Context(), 1, "127.0.0.1:1"); err == nil {
		t.Errorf("AddNonvoter(a voter) succeeded, want an error")
	}
	waitReady(t, obs, waitTimeout)
	if _, err := leader.Propose(t.Context(), []byte("after")); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, []*listSM{obsSM}, []string{"before", "after"})
	if _, err := obs.Propose(t.Context(), []byte("x")); !errors.Is(err, ErrNotLeader) {
		t.Errorf("Propose on the observer = %v, want ErrNotLeader", err)
	}
	// NB: an observer forgets the leader after a HeartbeatTimeout (100ms
	// here) without a heartbeat, which a loaded machine can delay; it
	// learns it again with the next one.
	waitUntil(t, "the observer to know a leader", func() bool { id, _ := obs.Leader(); return id >= 0 })
	if id, _ := obs.Leader(); id != leader.cfg.NodeID {
		t.Errorf("observer sees leader %d, want %d", id, leader.cfg.NodeID)
	}
	if obs.IsLeader() {
		t.Errorf("the observer is the leader")
	}
}

func TestQuorumState(t *testing.T) {
	n := start(t, singleConfig(t, t.TempDir()), &listSM{})
	waitReady(t, n, waitTimeout)
	if _, err := n.Propose(t.Context(), []byte("x")); err != nil {
		t.Fatal(err)
	}
	st, err := n.Quorum(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.LeaderID != 1 || !slices.Equal(st.Voters, []int32{1}) || len(st.Observers) != 0 || st.Term == 0 || st.CommitIndex < 2 || st.LastIndex < st.CommitIndex {
		t.Errorf("Quorum() = %+v, want node 1 leading itself with the entry committed", st)
	}
}

// gatedSM is a listSM whose Apply waits until gate is closed.
type gatedSM struct {
	listSM
	gate chan struct{}
}

func (s *gatedSM) Apply(index uint64, data []byte) error {
	<-s.gate
	return s.listSM.Apply(index, data)
}

// TestWaitReadyWaitsForTheStateMachine: a follower is ready once its state
// machine has applied what the leader committed, not once raft has queued
// the entries for the FSM goroutine (raft counts those applied). A broker
// that started serving on a state machine still replaying its log took
// its partitions for unknown and deleted them.
func TestWaitReadyWaitsForTheStateMachine(t *testing.T) {
	// NB: one voter, which cannot lose its leadership on a loaded machine.
	nodes, _, voters := startVoters(t, 1, func(int) *slog.Logger { return testLogger(t) }, nil)
	leader := findLeader(t, nodes, nil)
	var want []string
	var last uint64
	for i := range 20 {
		v := fmt.Sprintf("entry-%d", i)
		index, err := leader.Propose(t.Context(), []byte(v))
		if err != nil {
			t.Fatal(err)
		}
		want, last = append(want, v), index
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.NodeID, cfg.Dir, cfg.Voters, cfg.Listener, cfg.Observer, cfg.Advertise = 7, t.TempDir(), voters, ln, true, ln.Addr().String()
	cfg.Logger = testLogger(t)
	fastTimeouts(&cfg)
	sm := &gatedSM{gate: make(chan struct{})}
	obs := start(t, cfg, sm)
	var openOnce sync.Once
	open := func() { openOnce.Do(func() { close(sm.gate) }) }
	t.Cleanup(open) // before the node stops: raft's shutdown waits for Apply
	if err := leader.AddNonvoter(t.Context(), 7, ln.Addr().String()); err != nil {
		t.Fatalf("AddNonvoter: %v", err)
	}
	waitUntil(t, "the observer's raft to hand every entry to its state machine", func() bool { return obs.AppliedIndex() >= last })

	ready := make(chan []string, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := obs.WaitReady(ctx); err != nil {
			t.Errorf("WaitReady: %v", err)
		}
		ready <- sm.list()
	}()
	select {
	case got := <-ready:
		t.Fatalf("WaitReady returned while the state machine was blocked; it had applied %v", got)
	case <-time.After(time.Second): // still waiting, as it must
	}
	open()
	if got := <-ready; !slices.Equal(got, want) {
		t.Errorf("when WaitReady returned the state machine had applied %v, want %v", got, want)
	}
}

// blockingSM is a listSM whose Apply of the entry "block" waits until gate
// is closed.
type blockingSM struct {
	listSM
	gate chan struct{}
}

func (s *blockingSM) Apply(index uint64, data []byte) error {
	if string(data) == "block" {
		<-s.gate
	}
	return s.listSM.Apply(index, data)
}

// TestStopAnswersProposalsQueuedForTheStateMachine: Run returns, and every
// proposal returns, when the node stops while committed entries wait for a
// busy state machine. hashicorp/raft's FSM goroutine, once shut down,
// drops the entries still queued for it without answering their futures;
// Run used to shut raft down first and then wait for those futures
// forever (a node that never stopped).
func TestStopAnswersProposalsQueuedForTheStateMachine(t *testing.T) {
	// Each round stops the node with an entry queued behind a blocked one;
	// before the fix a round hung when the FSM goroutine chose to exit
	// rather than apply it (a coin toss in its select).
	for round := range 8 {
		sm := &blockingSM{gate: make(chan struct{})}
		var openOnce sync.Once
		open := func() { openOnce.Do(func() { close(sm.gate) }) }
		n := start(t, singleConfig(t, t.TempDir()), sm)
		waitReady(t, n, waitTimeout)
		base := n.AppliedIndex()

		results := make(chan error, 2)
		for _, v := range []string{"block", "queued"} {
			go func() {
				_, err := n.Propose(context.Background(), []byte(v))
				results <- err
			}()
			// In this order: "queued" commits behind "block".
			waitUntil(t, "raft to hand "+v+" to the state machine", func() bool { return n.AppliedIndex() > base })
			base = n.AppliedIndex()
		}

		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			n.stop()
		}()
		// Let Run reach raft's shutdown with both entries unapplied, then
		// let the state machine go on.
		time.Sleep(50 * time.Millisecond)
		open()
		select {
		case <-stopped:
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: Run did not return within 30s of its context's end", round)
		}
		for range 2 {
			select {
			case err := <-results:
				if err != nil && !errors.Is(err, ErrStopped) {
					t.Errorf("round %d: Propose = %v, want nil or ErrStopped", round, err)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("round %d: a Propose did not return within 30s of the stop", round)
			}
		}
		if got := sm.list(); !slices.Equal(got, []string{"block", "queued"}) {
			t.Errorf("round %d: applied %v, want [block queued]", round, got)
		}
	}
}
