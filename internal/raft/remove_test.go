package raft

import (
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// peerFailureLog counts hashicorp/raft's "cannot reach a peer" errors in a
// node's log, and passes every line on to the test log.
type peerFailureLog struct {
	t  *testing.T
	mu sync.Mutex
	n  int // guarded by mu
}

func (l *peerFailureLog) Write(p []byte) (int, error) {
	line := string(p)
	if strings.Contains(line, "failed to heartbeat to") || strings.Contains(line, "failed to appendEntries to") {
		l.mu.Lock()
		l.n++
		l.mu.Unlock()
	}
	l.t.Log(line)
	return len(p), nil
}

func (l *peerFailureLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// TestRemoveNonvoter: a stopped observer is removed from the
// configuration, after which the leader stops trying to reach it; it can
// be added again and catches up.
func TestRemoveNonvoter(t *testing.T) {
	logs := []*peerFailureLog{{t: t}, {t: t}}
	nodes, _, voters := startVoters(t, 2, func(i int) *slog.Logger {
		return slog.New(slog.NewTextHandler(logs[i], &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	leader := findLeader(t, nodes, nil)
	leaderLog := logs[leader.cfg.NodeID-1]
	follower := nodes[0]
	if follower == leader {
		follower = nodes[1]
	}

	obsDir := t.TempDir()
	startObserver := func() (*running, *listSM, string) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cfg := DefaultConfig()
		cfg.NodeID, cfg.Dir, cfg.Voters, cfg.Listener, cfg.Observer, cfg.Advertise = 7, obsDir, voters, ln, true, ln.Addr().String()
		cfg.Logger = testLogger(t)
		fastTimeouts(&cfg)
		sm := &listSM{}
		return start(t, cfg, sm), sm, ln.Addr().String()
	}
	obs, obsSM, addr := startObserver()
	if err := leader.AddNonvoter(t.Context(), 7, addr); err != nil {
		t.Fatalf("AddNonvoter: %v", err)
	}
	if _, err := leader.Propose(t.Context(), []byte("one")); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, []*listSM{obsSM}, []string{"one"})
	obs.stop()

	waitUntil(t, "the leader to fail to reach the stopped observer", func() bool { return leaderLog.count() > 0 })
	if _, err := follower.RemoveNonvoter(t.Context(), 7); !errors.Is(err, ErrNotLeader) {
		t.Errorf("RemoveNonvoter on a follower = %v, want ErrNotLeader", err)
	}
	if removed, err := leader.RemoveNonvoter(t.Context(), 7); err != nil || !removed {
		t.Fatalf("RemoveNonvoter(7) = %v, %v; want true, nil", removed, err)
	}
	st, err := leader.Quorum(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Observers) != 0 || len(st.Voters) != 2 {
		t.Errorf("Quorum() after RemoveNonvoter(7) = %+v, want voters [1 2] and no observers", st)
	}
	if removed, err := leader.RemoveNonvoter(t.Context(), 7); err != nil || removed {
		t.Errorf("RemoveNonvoter of a non-member = %v, %v; want false, nil", removed, err)
	}
	if _, err := leader.RemoveNonvoter(t.Context(), follower.cfg.NodeID); !errors.Is(err, ErrVoter) {
		t.Errorf("RemoveNonvoter(voter %d) = %v, want ErrVoter", follower.cfg.NodeID, err)
	}
	// Replication to the removed observer makes one last attempt, then
	// stops: no failure is logged afterwards. Without the removal the
	// leader retries its heartbeat at least every HeartbeatTimeout/2
	// (50ms here) forever, so the 1.5s window would hold ~30 failures.
	time.Sleep(300 * time.Millisecond)
	settled := leaderLog.count()
	time.Sleep(1500 * time.Millisecond)
	if got := leaderLog.count(); got != settled {
		t.Errorf("the leader logged %d more failures to reach the removed observer", got-settled)
	}

	// The observer comes back with its old state and is added again.
	obs, obsSM, addr = startObserver()
	if _, err := leader.Propose(t.Context(), []byte("two")); err != nil {
		t.Fatal(err)
	}
	if err := leader.AddNonvoter(t.Context(), 7, addr); err != nil {
		t.Fatalf("AddNonvoter after removal: %v", err)
	}
	waitApplied(t, []*listSM{obsSM}, []string{"one", "two"})
	if st, err := leader.Quorum(t.Context()); err != nil || len(st.Observers) != 1 || st.Observers[0] != 7 {
		t.Errorf("Quorum() after adding 7 again = %+v, %v; want observer 7", st, err)
	}
	obs.stop()
}

// fastTimeouts makes elections quick for tests on loopback.
func fastTimeouts(cfg *Config) {
	cfg.HeartbeatTimeout = 100 * time.Millisecond
	cfg.ElectionTimeout = 100 * time.Millisecond
	cfg.TransportTimeout = time.Second
}

// startVoters starts an n-voter quorum on loopback TCP, node i+1 logging
// to logger(i), and waits until every node is ready.
func startVoters(t *testing.T, n int, logger func(i int) *slog.Logger) ([]*running, []*listSM, []Voter) {
	t.Helper()
	var voters []Voter
	var listeners []net.Listener
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen: %v", err)
		}
		listeners = append(listeners, ln)
		voters = append(voters, Voter{ID: int32(i + 1), Addr: ln.Addr().String()})
	}
	var nodes []*running
	var sms []*listSM
	for i := range n {
		cfg := DefaultConfig()
		cfg.NodeID, cfg.Dir, cfg.Voters, cfg.Listener = int32(i+1), t.TempDir(), voters, listeners[i]
		cfg.Logger = logger(i)
		fastTimeouts(&cfg)
		sms = append(sms, &listSM{})
		nodes = append(nodes, start(t, cfg, sms[i]))
	}
	for _, node := range nodes {
		waitReady(t, node, 10*time.Second)
	}
	return nodes, sms, voters
}

// waitUntil polls cond for up to 10s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
