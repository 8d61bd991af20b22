package raft

import (
	"errors"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// peerFailureLog counts hashicorp/raft's "cannot reach a peer" errors in a
// node's log, and passes every line on to the test log.
type peerFailureLog struct {
	t    *testing.T
	mu   sync.Mutex
	n    int       // guarded by mu
	last time.Time // guarded by mu; when the last failure was logged
}

func (l *peerFailureLog) Write(p []byte) (int, error) {
	line := string(p)
	if strings.Contains(line, "failed to heartbeat to") || strings.Contains(line, "failed to appendEntries to") {
		l.mu.Lock()
		l.n++
		l.last = time.Now()
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

// lastFailure returns when the last failure was logged.
func (l *peerFailureLog) lastFailure() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

// TestRemoveNonvoter: a stopped observer is removed from the
// configuration, after which the leader stops trying to reach it; it can
// be added again and catches up.
func TestRemoveNonvoter(t *testing.T) {
	// NB: one voter, which cannot lose its leadership on a loaded machine;
	// with two on 100ms timeouts the leader lost it mid-proposal in 6 to
	// 18 runs of 20 with both cores busy. The leader's only peer is then
	// the observer, so every failure it logs is one to reach it.
	leaderLog := &peerFailureLog{t: t}
	nodes, _, voters := startVoters(t, 1, func(int) *slog.Logger {
		return slog.New(slog.NewTextHandler(leaderLog, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}, nil)
	leader := findLeader(t, nodes, nil)

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
	if _, err := obs.RemoveNonvoter(t.Context(), 7); !errors.Is(err, ErrNotLeader) {
		t.Errorf("RemoveNonvoter on a node that is not the leader (the observer) = %v, want ErrNotLeader", err)
	}
	obs.stop()

	waitUntil(t, "the leader to fail to reach the stopped observer", func() bool { return leaderLog.count() > 0 })
	if removed, err := leader.RemoveNonvoter(t.Context(), 7); err != nil || !removed {
		t.Fatalf("RemoveNonvoter(7) = %v, %v; want true, nil", removed, err)
	}
	removedAt, atRemoval := time.Now(), leaderLog.count()
	st, err := leader.Quorum(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Observers) != 0 || !slices.Equal(st.Voters, []int32{1}) {
		t.Errorf("Quorum() after RemoveNonvoter(7) = %+v, want voters [1] and no observers", st)
	}
	if removed, err := leader.RemoveNonvoter(t.Context(), 7); err != nil || removed {
		t.Errorf("RemoveNonvoter of a non-member = %v, %v; want false, nil", removed, err)
	}
	if _, err := leader.RemoveNonvoter(t.Context(), leader.cfg.NodeID); !errors.Is(err, ErrVoter) {
		t.Errorf("RemoveNonvoter(voter %d) = %v, want ErrVoter", leader.cfg.NodeID, err)
	}
	// Replication to the removed observer makes one last attempt, then
	// stops: the failures stop. Without the removal the leader retries its
	// heartbeat at least every HeartbeatTimeout/2 (50ms here) forever, and
	// is never quiet for 2s.
	// NB: the last attempt comes after the backoff raft's replication
	// goroutine may be sleeping in, which grows with the failures before
	// the removal (up to ~10s, see RemoveNonvoter), and the heartbeats go
	// on failing until then: a fixed 300ms settling time was too short on
	// a loaded machine. Hence a quiet period, with a deadline past the
	// ~20s that RemoveNonvoter promises.
	const quiet = 2 * time.Second
	waitUntilWithin(t, 60*time.Second, "the leader to log no failure to reach the removed observer for 2s", func() bool {
		return time.Since(leaderLog.lastFailure()) >= quiet
	})
	if more := leaderLog.count() - atRemoval; more > 0 {
		t.Logf("after the removal the leader logged %d more failures to reach the observer, the last %s after it",
			more, leaderLog.lastFailure().Sub(removedAt))
	} else {
		t.Logf("after the removal the leader logged no failure to reach the observer")
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

// fastTimeouts makes a single voter elect itself at once, and an observer
// notice a silent leader quickly.
//
// NB: only for nodes that cannot lose leadership to a slow machine: a
// single voter needs nobody's vote or contact, and an observer never
// leads. A quorum of several voters on these timeouts lost its leader
// mid-proposal under load (a leader steps down after LeaderLeaseTimeout,
// 50ms here, without hearing from a majority); it takes quorumTimeouts.
func fastTimeouts(cfg *Config) {
	cfg.HeartbeatTimeout = 100 * time.Millisecond
	cfg.ElectionTimeout = 100 * time.Millisecond
	cfg.TransportTimeout = time.Second
}

// quorumTimeouts are for a quorum of several voters on a loaded 2-core
// machine (CI runs every package at once, at load averages of 10-25): a
// goroutine or an fsync stalled for a second costs no leadership. A
// follower campaigns after 1-2 HeartbeatTimeouts without the leader, so
// an election takes 2-4s, longer after a split vote.
func quorumTimeouts(cfg *Config) {
	cfg.HeartbeatTimeout = 2 * time.Second
	cfg.ElectionTimeout = 2 * time.Second
	cfg.LeaderLeaseTimeout = 2 * time.Second
	cfg.TransportTimeout = 10 * time.Second
}

// startVoters starts an n-voter quorum on loopback TCP, node i+1 logging
// to logger(i) and with mutate (if not nil) applied to its config, and
// waits until every node is ready. A single voter gets fastTimeouts,
// several get quorumTimeouts.
func startVoters(t *testing.T, n int, logger func(i int) *slog.Logger, mutate func(*Config)) ([]*running, []*listSM, []Voter) {
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
		if n == 1 {
			fastTimeouts(&cfg)
		} else {
			quorumTimeouts(&cfg)
		}
		if mutate != nil {
			mutate(&cfg)
		}
		sms = append(sms, &listSM{})
		nodes = append(nodes, start(t, cfg, sms[i]))
	}
	for _, node := range nodes {
		waitReady(t, node, waitTimeout)
	}
	return nodes, sms, voters
}

// waitTimeout bounds the tests' waits for a condition: generous, since a
// loaded 2-core machine stalls goroutines for seconds.
const waitTimeout = 30 * time.Second

// waitUntil polls cond for up to waitTimeout.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitUntilWithin(t, waitTimeout, what, cond)
}

// waitUntilWithin polls cond for up to within.
func waitUntilWithin(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
