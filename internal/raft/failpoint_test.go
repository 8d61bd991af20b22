//go:build failpoints

package raft

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/strata-io/strata/internal/failpoint"
)

// TestFailpointRaftPersist: while raft-before-persist (or
// raft-after-persist) injects an error into the log store's writes, a
// proposal fails; once it is off the quorum recovers and proposals commit.
func TestFailpointRaftPersist(t *testing.T) {
	for _, name := range []failpoint.Name{failpoint.RaftBeforePersist, failpoint.RaftAfterPersist} {
		t.Run(string(name), func(t *testing.T) {
			sm := &listSM{}
			n := start(t, singleConfig(t, t.TempDir()), sm)
			waitReady(t, n, waitTimeout)
			if _, err := n.Propose(t.Context(), []byte("a")); err != nil {
				t.Fatalf("Propose(a): %v", err)
			}
			restore, err := failpoint.Enable(name, "return")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			_, err = n.Propose(ctx, []byte("b"))
			cancel()
			restore()
			if err == nil {
				t.Fatalf("Propose(b) with %s succeeded", name)
			}
			t.Logf("Propose(b) with %s: %v", name, err)
			deadline := time.Now().Add(30 * time.Second)
			for {
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				_, err := n.Propose(ctx, []byte("c"))
				cancel()
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("Propose(c) after %s was switched off: %v", name, err)
				}
				if errors.Is(err, ErrStopped) {
					t.Fatal(err)
				}
				time.Sleep(50 * time.Millisecond)
			}
			got := sm.list()
			if len(got) == 0 || got[0] != "a" || got[len(got)-1] != "c" {
				t.Fatalf("state machine = %v, want a first and c last", got)
			}
		})
	}
}
