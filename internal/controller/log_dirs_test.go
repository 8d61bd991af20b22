package controller

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/strata-io/strata/internal/metadata"
)

func TestOfflineLogDirMovesItsReplicasAway(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := threeBrokers(t, func(c *Config) {
			c.AutoLeaderRebalance = true
			c.LeaderImbalanceCheckInterval = 30 * time.Second
		})
		ctx := t.Context()
		tid := l.createTopic("solo", nil, ids(1))
		tp, _ := l.Image().TopicByName("t")
		dirD, dirE := metadata.UUID{1: 1}, metadata.UUID{1: 2}
		b1, _ := l.Image().Broker(1)
		err := l.AssignReplicasToDirs(ctx, 1, b1.BrokerEpoch, []DirAssignment{
			{Dir: dirD, Partitions: []ReplicaRef{{tp.ID, 0}, {tp.ID, 2}, {tid, 0}}},
			{Dir: dirE, Partitions: []ReplicaRef{{tp.ID, 1}}},
		})
		if err != nil {
			t.Fatalf("AssignReplicasToDirs: %v", err)
		}
		if err := l.AssignReplicasToDirs(ctx, 1, b1.BrokerEpoch+7, nil); err == nil {
			t.Errorf("AssignReplicasToDirs with a stale broker epoch succeeded")
		}
		beatOffline := func() {
			t.Helper()
			b, _ := l.Image().Broker(1)
			resp, err := l.BrokerHeartbeat(ctx, HeartbeatRequest{BrokerID: 1, BrokerEpoch: b.BrokerEpoch,
				CurrentMetadataOffset: int64(l.Image().Index()), OfflineLogDirs: []metadata.UUID{dirD}})
			if err != nil || resp.IsFenced {
				t.Fatalf("BrokerHeartbeat(1, offline %s) = (%+v, %v), want unfenced", dirD, resp, err)
			}
		}
		beatOffline()
		// Led by 1 in D: leadership moves, 1 leaves the ISR.
		l.wantPartition("t", pi(0, ids(1, 2, 3), ids(2, 3), 2, 1, 1))
		// Followed by 1 in D: 1 leaves the ISR.
		l.wantPartition("t", pi(2, ids(3, 1, 2), ids(3, 2), 3, 0, 1))
		// In the healthy directory E: untouched.
		l.wantPartition("t", pi(1, ids(2, 3, 1), ids(2, 3, 1), 2, 0, 0))
		// No other replica: offline.
		l.wantPartition("solo", pi(0, ids(1), ids(1), -1, 1, 1))

		// Automatic leader elections do not pick the offline replicas again.
		for range 17 {
			time.Sleep(2 * time.Second)
			l.heartbeat(2, 3)
			beatOffline()
		}
		l.wantPartition("t", pi(0, ids(1, 2, 3), ids(2, 3), 2, 1, 1))
		l.wantPartition("solo", pi(0, ids(1), ids(1), -1, 1, 1))

		// Restarted with the directory repaired: a new registration forgets
		// the offline replicas, and solo comes back with broker 1.
		registerAndUnfence(t, l.Controller, 1, "")
		l.wantPartition("solo", pi(0, ids(1), ids(1), 1, 2, 2))
	})
}
