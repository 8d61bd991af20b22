package controller

import (
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/strata-io/strata/internal/metadata"
)

// elrCluster starts a controller-only node with brokers 1, 2 and 3, the
// features of a new cluster (eligible leader replicas on), and topic "t"
// with one partition on replicas 1, 2, 3 (led by 1) and
// min.insync.replicas=2.
func elrCluster(t *testing.T) *lifecycle {
	t.Helper()
	l := startLifecycle(t)
	if err := l.EnsureClusterID(t.Context()); err != nil {
		t.Fatalf("EnsureClusterID: %v", err)
	}
	if !l.Image().ELREnabled() {
		t.Fatalf("a new cluster has %s at %d, want 1", metadata.ELRVersionFeature, l.Image().FeatureLevel(metadata.ELRVersionFeature))
	}
	for _, id := range ids(1, 2, 3) {
		l.restart(id, true)
	}
	l.createTopic("t", map[string]string{"min.insync.replicas": "2"}, ids(1, 2, 3))
	return l
}

func (l *lifecycle) fenceBroker(id int32) {
	l.t.Helper()
	b, _ := l.Image().Broker(id)
	if _, err := l.BrokerHeartbeat(l.t.Context(), HeartbeatRequest{BrokerID: id, BrokerEpoch: b.BrokerEpoch,
		CurrentMetadataOffset: int64(l.Image().Index()), WantFence: true}); err != nil {
		l.t.Fatalf("BrokerHeartbeat(%d, WantFence): %v", id, err)
	}
	l.wantFenced(id, true)
}

// restart re-registers broker id, cleanly or not, and heartbeats it until
// it is unfenced.
func (l *lifecycle) restart(id int32, clean bool) {
	l.t.Helper()
	if err := l.RegisterBroker(l.t.Context(), BrokerRegistration{NodeID: id, Host: "localhost", Port: 9000 + id,
		CleanShutdown: clean, Features: metadata.SupportedFeatures()}); err != nil {
		l.t.Fatalf("RegisterBroker(%d): %v", id, err)
	}
	l.heartbeat(id)
	l.wantFenced(id, false)
}

func elrState(isr []int32, leader, leaderEpoch, partitionEpoch int32, elr, lastKnown []int32) metadata.PartitionInfo {
	p := pi(0, ids(1, 2, 3), isr, leader, leaderEpoch, partitionEpoch)
	p.ELR, p.LastKnownELR = elr, lastKnown
	return p
}

func TestELRKeepsReplicasThatLeftTheISRBelowMinISR(t *testing.T) {
	l := elrCluster(t)
	// At min ISR, a replica that leaves joins no ELR.
	l.fenceBroker(2)
	l.wantPartition("t", elrState(ids(1, 3), 1, 0, 1, nil, nil))
	// Below min ISR it does: it holds every committed record.
	l.fenceBroker(3)
	l.wantPartition("t", elrState(ids(1), 1, 0, 2, ids(3), nil))
	// The last ISR member leaves too: the ISR is empty, the leader is
	// remembered as the last known leader.
	l.fenceBroker(1)
	l.wantPartition("t", elrState(nil, -1, 1, 3, ids(1, 3), ids(1)))

	// Broker 2 left while the ISR was at min ISR: it cannot lead.
	l.restart(2, true)
	l.wantPartition("t", elrState(nil, -1, 1, 3, ids(1, 3), ids(1)))
	// Broker 3 is in the ELR: a clean election makes it the ISR.
	l.restart(3, true)
	l.wantPartition("t", elrState(ids(3), 3, 2, 4, ids(1), nil))
}

func TestELRDropsBrokerAfterUncleanShutdown(t *testing.T) {
	l := elrCluster(t)
	l.fenceBroker(2)
	l.fenceBroker(3)
	l.fenceBroker(1)
	l.wantPartition("t", elrState(nil, -1, 1, 3, ids(1, 3), ids(1)))
	// Broker 3 restarts after an unclean shutdown: it may have lost
	// committed records, so it leaves the ELR and does not lead.
	l.restart(3, false)
	l.wantPartition("t", elrState(nil, -1, 1, 4, ids(1), ids(1)))
	// Broker 1 comes back cleanly and leads from the ELR.
	l.restart(1, true)
	l.wantPartition("t", elrState(ids(1), 1, 2, 5, nil, nil))
}

func TestELRLastKnownLeaderLeadsWhenISRAndELRAreEmpty(t *testing.T) {
	l := elrCluster(t)
	l.fenceBroker(2)
	l.fenceBroker(3)
	l.fenceBroker(1)
	// Both ELR members restart uncleanly: only the last known leader is
	// left.
	l.restart(3, false)
	l.restart(1, false)
	// Broker 1 was the last known leader: it leads again, with ISR [1]
	// (Kafka's balanced recovery; before KIP-966 it stayed the sole ISR
	// member), although it left the ELR.
	l.wantPartition("t", elrState(ids(1), 1, 2, 6, nil, nil))
}

func TestELRFromAlterPartition(t *testing.T) {
	l := elrCluster(t)
	b1, _ := l.Image().Broker(1)
	topicID := l.partitionTopicID("t")
	shrink := func(isr []int32, partitionEpoch int32) {
		l.t.Helper()
		res, err := l.AlterPartition(t.Context(), AlterPartitionRequest{BrokerID: 1, BrokerEpoch: b1.BrokerEpoch,
			Topics: []AlterPartitionTopic{{TopicID: topicID, Partitions: []AlterPartitionData{{Partition: 0, LeaderEpoch: 0, PartitionEpoch: partitionEpoch, NewISR: isr}}}}})
		if err != nil || res[0].Partitions[0].Err != nil {
			t.Fatalf("AlterPartition(ISR %v) = %v, %+v", isr, err, res)
		}
	}
	// The leader drops both followers at once: both join the ELR.
	shrink(ids(1), 0)
	l.wantPartition("t", elrState(ids(1), 1, 0, 1, ids(2, 3), nil))
	// One rejoins: the ISR is back at min ISR and the ELR is cleared.
	shrink(ids(1, 2), 1)
	l.wantPartition("t", elrState(ids(1, 2), 1, 0, 2, nil, nil))
}

func (l *lifecycle) partitionTopicID(name string) metadata.UUID {
	t, ok := l.Image().TopicByName(name)
	if !ok {
		l.t.Fatalf("topic %s is not in the image", name)
	}
	return t.ID
}

func TestELRDisabledKeepsSoleISRMember(t *testing.T) {
	l := elrCluster(t)
	res, err := l.UpdateFeatures(t.Context(), []FeatureUpdate{{Name: metadata.ELRVersionFeature, Level: 0, UpgradeType: FeatureSafeDowngrade}}, false, true)
	if err != nil || res[0] != nil {
		t.Fatalf("UpdateFeatures(ELR off) = %v, %v", res, err)
	}
	l.fenceBroker(2)
	l.fenceBroker(3)
	l.fenceBroker(1)
	// KIP-841: the last ISR member stays; no ELR is kept.
	l.wantPartition("t", elrState(ids(1), -1, 1, 3, nil, nil))
}

func TestELROffRestoresISR(t *testing.T) {
	l := elrCluster(t)
	l.fenceBroker(2)
	l.fenceBroker(3)
	l.fenceBroker(1)
	l.wantPartition("t", elrState(nil, -1, 1, 3, ids(1, 3), ids(1)))
	res, err := l.UpdateFeatures(t.Context(), []FeatureUpdate{{Name: metadata.ELRVersionFeature, Level: 0, UpgradeType: FeatureUnsafeDowngrade}}, false, true)
	if err != nil || res[0] != nil {
		t.Fatalf("UpdateFeatures(ELR off) = %v, %v", res, err)
	}
	// The ELR members, which hold every committed record, become the ISR.
	l.wantPartition("t", elrState(ids(1, 3), -1, 1, 4, nil, nil))
	if got := l.Image().FeatureLevel(metadata.ELRVersionFeature); got != 0 {
		t.Errorf("%s after the downgrade = %d, want 0", metadata.ELRVersionFeature, got)
	}
}

func TestUpdateFeaturesValidation(t *testing.T) {
	l := elrCluster(t)
	mv := metadata.MetadataVersionLatest
	tests := []struct {
		name string
		give FeatureUpdate
	}{
		{"unknown feature", FeatureUpdate{Name: "share.version", Level: 1, UpgradeType: FeatureUpgrade}},
		{"above the supported range", FeatureUpdate{Name: metadata.ELRVersionFeature, Level: 2, UpgradeType: FeatureUpgrade}},
		{"below the supported range", FeatureUpdate{Name: metadata.TransactionVersionFeature, Level: 1, UpgradeType: FeatureSafeDowngrade}},
		{"downgrade as upgrade", FeatureUpdate{Name: metadata.ELRVersionFeature, Level: 0, UpgradeType: FeatureUpgrade}},
		{"metadata.version downgrade", FeatureUpdate{Name: metadata.MetadataVersionFeature, Level: mv - 1, UpgradeType: FeatureSafeDowngrade}},
		{"unsafe metadata.version downgrade", FeatureUpdate{Name: metadata.MetadataVersionFeature, Level: mv - 1, UpgradeType: FeatureUnsafeDowngrade}},
		{"negative level", FeatureUpdate{Name: metadata.ELRVersionFeature, Level: -1, UpgradeType: FeatureSafeDowngrade}},
		{"unknown upgrade type", FeatureUpdate{Name: metadata.ELRVersionFeature, Level: 1, UpgradeType: 4}},
	}
	before := l.Image().Index()
	for _, tt := range tests {
		res, err := l.UpdateFeatures(t.Context(), []FeatureUpdate{tt.give}, false, false)
		if err != nil || !errors.Is(res[0], ErrInvalidUpdateVersion) {
			t.Errorf("%s: UpdateFeatures(%+v) = %v, %v, want ErrInvalidUpdateVersion", tt.name, tt.give, res, err)
		}
	}
	// A valid update is applied only without validateOnly, and in an
	// atomic request only when every update is valid.
	off := FeatureUpdate{Name: metadata.ELRVersionFeature, Level: 0, UpgradeType: FeatureSafeDowngrade}
	if res, err := l.UpdateFeatures(t.Context(), []FeatureUpdate{off}, true, true); err != nil || res[0] != nil {
		t.Errorf("UpdateFeatures(validate only) = %v, %v, want success", res, err)
	}
	res, err := l.UpdateFeatures(t.Context(), []FeatureUpdate{off, tests[0].give}, false, true)
	if err != nil || !errors.Is(res[0], ErrInvalidUpdateVersion) || !errors.Is(res[1], ErrInvalidUpdateVersion) {
		t.Errorf("UpdateFeatures(atomic, one invalid) = %v, %v, want both refused", res, err)
	}
	res, err = l.UpdateFeatures(t.Context(), []FeatureUpdate{off, off}, false, false)
	if err != nil || res[0] != nil || !errors.Is(res[1], ErrInvalidRequest) {
		t.Errorf("UpdateFeatures(duplicate) = %v, %v, want the second refused", res, err)
	}
	if got := l.Image().FeatureLevel(metadata.ELRVersionFeature); got != 0 {
		t.Errorf("%s after a non-atomic request with one valid update = %d, want 0", metadata.ELRVersionFeature, got)
	}
	if l.Image().Index() != before+1 {
		t.Errorf("metadata index moved from %d to %d, want one batch", before, l.Image().Index())
	}
	want := map[string]int16{metadata.MetadataVersionFeature: mv, metadata.GroupVersionFeature: 1, metadata.TransactionVersionFeature: 2}
	if diff := cmp.Diff(want, l.Image().FinalizedFeatures()); diff != "" {
		t.Errorf("finalized features (-want +got):\n%s", diff)
	}
}

func TestRegistrationNeedsFinalizedLevels(t *testing.T) {
	l := elrCluster(t)
	old := []metadata.SupportedFeature{{Name: metadata.MetadataVersionFeature, MinLevel: 7, MaxLevel: 20}}
	err := l.RegisterBroker(t.Context(), BrokerRegistration{NodeID: 4, Host: "h", Port: 4, Features: old})
	if !errors.Is(err, ErrUnsupportedFeatureLevel) {
		t.Errorf("RegisterBroker(old software) = %v, want ErrUnsupportedFeatureLevel", err)
	}
	if err := l.RegisterBroker(t.Context(), BrokerRegistration{NodeID: 4, Host: "h", Port: 4, Features: metadata.SupportedFeatures()}); err != nil {
		t.Errorf("RegisterBroker(this software) = %v", err)
	}
}

// TestUncleanRestartOfSoleReplicaLeadsAgainWithItselfAsISR: a single
// broker killed with SIGKILL and restarted (unclean) leaves its ISR and is
// elected again as the last known leader: with an ISR of itself (else no
// write ever commits, and a single node's groups hang) and a new leader
// epoch.
func TestUncleanRestartOfSoleReplicaLeadsAgainWithItselfAsISR(t *testing.T) {
	p := metadata.PartitionInfo{Partition: 0, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1, LeaderEpoch: 4, PartitionEpoch: 7}
	e := eligibility{without: -1, with: 1}
	next, changed := nextPartitionState(p, partitionChange{removeFromISR: 1, uncleanShutdown: 1, elr: true, minISR: 1}, e)
	if !changed || next.Leader != 1 || !slices.Equal(next.ISR, []int32{1}) || next.LeaderEpoch != 5 || len(next.ELR) != 0 || len(next.LastKnownELR) != 0 {
		t.Fatalf("after an unclean restart of the sole replica: %+v (changed %v), want leader 1, ISR [1], leader epoch 5, no ELR", next, changed)
	}
}
