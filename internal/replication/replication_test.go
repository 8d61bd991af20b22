package replication

import (
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/strata-io/strata/internal/partition"
)

// pending reports whether done has no result yet.
func pending(done chan error) bool {
	select {
	case err := <-done:
		done <- err // put it back for a later check
		return false
	default:
		return true
	}
}

func TestAcksAllCompletesWhenEveryISRMemberHasFetched(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := startCluster(t, clusterConfig{replicas: []int32{1, 2, 3}, replicaLagTimeMax: 30 * time.Second})
		leader := c.nodes[1].p
		c.pause(3)
		end := c.produce(1, 5, "a", -1)
		done := c.waitCommitted(1, end)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if !pending(done) {
			t.Fatalf("acks=-1 produce completed with follower 3 paused: %v", <-done)
		}
		if leo := c.nodes[2].p.LogEndOffset(); leo != end {
			t.Fatalf("follower 2 log end offset = %d, want %d", leo, end)
		}
		if hw := leader.HighWatermark(); hw != 0 {
			t.Fatalf("leader HighWatermark with follower 3 unknown = %d, want 0", hw)
		}
		if hw := c.nodes[2].p.HighWatermark(); hw > leader.HighWatermark() {
			t.Fatalf("follower 2 HighWatermark %d above the leader's %d", hw, leader.HighWatermark())
		}
		if _, err := c.nodes[2].p.Read(0, 1<<20, true, false); !errors.Is(err, partition.ErrNotLeader) {
			t.Fatalf("consumer Read on follower 2 = %v, want ErrNotLeader", err)
		}

		c.resume(3)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if err := <-done; err != nil {
			t.Fatalf("WaitCommitted after both followers fetched = %v", err)
		}
		for _, id := range []int32{1, 2, 3} {
			if hw := c.nodes[id].p.HighWatermark(); hw != end {
				t.Errorf("node %d HighWatermark = %d, want %d", id, hw, end)
			}
		}
		c.wantIdentical(1, 2, 3)
	})
}

func TestStalledFollowerLeavesISRAndRejoins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := startCluster(t, clusterConfig{replicas: []int32{1, 2, 3}, replicaLagTimeMax: 10 * time.Second})
		leader := c.nodes[1].p
		c.produce(1, 3, "a", -1)
		time.Sleep(time.Second)
		synctest.Wait()
		c.pause(3)
		end := c.produce(1, 4, "b", -1)
		done := c.waitCommitted(1, end)

		time.Sleep(8 * time.Second)
		synctest.Wait()
		if !pending(done) {
			t.Fatalf("acks=-1 produce completed within replica.lag.time.max.ms of follower 3 stalling: %v", <-done)
		}
		if isr := leader.State().ISR; len(isr) != 3 {
			t.Fatalf("ISR after 8s = %v, want all three", isr)
		}

		time.Sleep(5 * time.Second)
		synctest.Wait()
		st := leader.State()
		if diff := cmp.Diff([]int32{1, 2}, st.ISR); diff != "" {
			t.Fatalf("ISR after follower 3 stalled 13s (-want +got):\n%s", diff)
		}
		if st.PartitionEpoch != 2 {
			t.Fatalf("PartitionEpoch = %d, want 2", st.PartitionEpoch)
		}
		if err := <-done; err != nil {
			t.Fatalf("WaitCommitted after the shrink = %v", err)
		}

		// More records while it is out, then it resumes and catches up.
		end = c.produce(1, 2, "c", -1)
		c.resume(3)
		time.Sleep(3 * time.Second)
		synctest.Wait()
		st = leader.State()
		isr := slices.Sorted(slices.Values(st.ISR))
		if diff := cmp.Diff([]int32{1, 2, 3}, isr); diff != "" {
			t.Fatalf("ISR after follower 3 caught up (-want +got):\n%s", diff)
		}
		if st.PartitionEpoch != 3 {
			t.Fatalf("PartitionEpoch = %d, want 3", st.PartitionEpoch)
		}
		if hw := leader.HighWatermark(); hw != end {
			t.Fatalf("leader HighWatermark = %d, want %d", hw, end)
		}
		c.wantIdentical(1, 2, 3)
	})
}

func TestMinInsyncReplicas(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := startCluster(t, clusterConfig{replicas: []int32{1, 2, 3}, minISR: 2, replicaLagTimeMax: 10 * time.Second})
		leader := c.nodes[1].p
		c.pause(2)
		c.pause(3)
		end := c.produce(1, 1, "a", -1)
		done := c.waitCommitted(1, end)
		time.Sleep(15 * time.Second)
		synctest.Wait()
		if diff := cmp.Diff([]int32{1}, leader.State().ISR); diff != "" {
			t.Fatalf("ISR with both followers stalled (-want +got):\n%s", diff)
		}
		if err := <-done; !errors.Is(err, partition.ErrNotEnoughReplicasAfterAppend) {
			t.Fatalf("WaitCommitted after the ISR shrank to the leader = %v, want ErrNotEnoughReplicasAfterAppend", err)
		}
		_, err := leader.AppendAsLeader(nil, time.Now(), -1)
		if !errors.Is(err, partition.ErrNotEnoughReplicas) {
			t.Fatalf("AppendAsLeader(acks=-1) with ISR {1} and min.insync.replicas 2 = %v, want ErrNotEnoughReplicas", err)
		}
		c.resume(2)
		time.Sleep(3 * time.Second)
		synctest.Wait()
		end = c.produce(1, 1, "b", -1)
		done = c.waitCommitted(1, end)
		time.Sleep(time.Second)
		synctest.Wait()
		if err := <-done; err != nil {
			t.Fatalf("WaitCommitted with ISR back to %v = %v", leader.State().ISR, err)
		}
	})
}

func TestOldLeaderTruncatesDivergentTail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := startCluster(t, clusterConfig{replicas: []int32{1, 2}, replicaLagTimeMax: 30 * time.Second})
		n1, n2 := c.nodes[1], c.nodes[2]
		committed := c.produce(1, 4, "a", -1)
		done := c.waitCommitted(1, committed)
		time.Sleep(time.Second)
		synctest.Wait()
		if err := <-done; err != nil {
			t.Fatal(err)
		}

		// Node 2 is cut off; node 1 writes records of epoch 1 that never
		// commit.
		c.pause(2)
		c.produce(1, 3, "lost", 1)
		c.produce(1, 5, "lost2", 1)
		time.Sleep(time.Second)
		synctest.Wait()
		if hw := n1.p.HighWatermark(); hw != committed {
			t.Fatalf("old leader HighWatermark = %d, want %d", hw, committed)
		}

		// The controller moves leadership to node 2 (epoch 2), which
		// writes different records.
		st := partition.LeaderAndISR{Leader: 2, LeaderEpoch: 2, PartitionEpoch: 2, Replicas: []int32{1, 2}, ISR: []int32{2, 1}}
		if _, err := n1.p.MakeFollower(st); err != nil {
			t.Fatal(err)
		}
		if err := n2.p.MakeLeader(st); err != nil {
			t.Fatal(err)
		}
		n2.m.Lead(n2.p)
		c.resume(2)
		n1.m.Follow(n1.p, 2)
		end := c.produce(2, 2, "new", -1)
		done = c.waitCommitted(2, end)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if err := <-done; err != nil {
			t.Fatalf("WaitCommitted on the new leader = %v", err)
		}
		if leo := n1.p.LogEndOffset(); leo != end {
			t.Fatalf("old leader log end offset = %d, want %d", leo, end)
		}
		c.wantIdentical(2, 1)
		if e, off := n1.log.EndOffsetForEpoch(1); e != 1 || off != committed {
			t.Fatalf("old leader EndOffsetForEpoch(1) = %d, %d; want 1, %d", e, off, committed)
		}
	})
}
