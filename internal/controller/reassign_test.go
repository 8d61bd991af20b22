package controller

import (
	"errors"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"

	"github.com/strata-io/strata/internal/metadata"
)

func reassigning(p metadata.PartitionInfo, adding, removing []int32) metadata.PartitionInfo {
	p.AddingReplicas, p.RemovingReplicas = adding, removing
	return p
}

func TestReassignmentMovesReplicasThroughCatchUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLifecycle(t)
		for _, id := range ids(1, 2, 3, 4) {
			registerAndUnfence(t, l.Controller, id, "")
		}
		l.createTopic("t", nil, ids(1, 2, 3))
		ctx := t.Context()
		reassign := func(rs ...Reassignment) []ReassignmentResult {
			t.Helper()
			res, err := l.AlterPartitionReassignments(ctx, rs)
			if err != nil {
				t.Fatalf("AlterPartitionReassignments: %v", err)
			}
			return res
		}

		// [1 2 3] -> [4 2 3]: 4 is added, 1 (the leader) removed; the
		// leader keeps leading until 4 is in sync.
		if res := reassign(Reassignment{Topic: "t", Partition: 0, Replicas: ids(4, 2, 3)}); res[0].Err != nil {
			t.Fatalf("start reassignment: %v", res[0].Err)
		}
		l.wantPartition("t", reassigning(pi(0, ids(4, 2, 3, 1), ids(1, 2, 3), 1, 0, 1), ids(4), ids(1)))
		want := []OngoingReassignment{{Topic: "t", Partition: 0, Replicas: ids(4, 2, 3, 1), AddingReplicas: ids(4), RemovingReplicas: ids(1)}}
		if diff := cmp.Diff(want, l.ListPartitionReassignments(nil)); diff != "" {
			t.Errorf("ListPartitionReassignments(all) (-want +got):\n%s", diff)
		}
		if got := l.ListPartitionReassignments([]TopicPartitions{{Topic: "t", Partitions: []int32{0, 7}}, {Topic: "nope", Partitions: []int32{0}}}); len(got) != 1 {
			t.Errorf("ListPartitionReassignments(t-0, t-7, nope-0) = %+v, want t-0 only", got)
		}

		// The leader adds 4 to the ISR: the reassignment completes, 1
		// leaves, and 4 (first target replica in the ISR) leads.
		tp, _ := l.Image().TopicByName("t")
		b1, _ := l.Image().Broker(1)
		res, err := l.AlterPartition(ctx, AlterPartitionRequest{BrokerID: 1, BrokerEpoch: b1.BrokerEpoch, Topics: []AlterPartitionTopic{{
			TopicID: tp.ID, Partitions: []AlterPartitionData{{Partition: 0, LeaderEpoch: 0, PartitionEpoch: 1, NewISR: ids(1, 2, 3, 4)}},
		}}})
		if err != nil || res[0].Partitions[0].Err != nil {
			t.Fatalf("AlterPartition(add 4) = (%+v, %v)", res, err)
		}
		l.wantPartition("t", pi(0, ids(4, 2, 3), ids(2, 3, 4), 4, 1, 2))
		if got := l.ListPartitionReassignments(nil); len(got) != 0 {
			t.Errorf("ListPartitionReassignments after completion = %+v, want none", got)
		}
	})
}

func TestReassignmentCompletesAtOnceWhenInSync(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := threeBrokers(t)
		res, err := l.AlterPartitionReassignments(t.Context(), []Reassignment{
			{Topic: "t", Partition: 0, Replicas: ids(2, 3)},    // shrink: 2 and 3 are in sync
			{Topic: "t", Partition: 1, Replicas: ids(2, 3, 1)}, // same replicas: nothing to do
		})
		if err != nil || res[0].Err != nil || res[1].Err != nil {
			t.Fatalf("AlterPartitionReassignments = (%+v, %v)", res, err)
		}
		l.wantPartition("t", pi(0, ids(2, 3), ids(2, 3), 2, 1, 1))
		l.wantPartition("t", pi(1, ids(2, 3, 1), ids(2, 3, 1), 2, 0, 0))
	})
}

func TestReassignmentCancelAndReplace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLifecycle(t)
		for _, id := range ids(1, 2, 3, 4, 5) {
			registerAndUnfence(t, l.Controller, id, "")
		}
		l.createTopic("t", nil, ids(1, 2))
		ctx := t.Context()
		do := func(r Reassignment) error {
			t.Helper()
			res, err := l.AlterPartitionReassignments(ctx, []Reassignment{r})
			if err != nil {
				t.Fatalf("AlterPartitionReassignments: %v", err)
			}
			return res[0].Err
		}
		if err := do(Reassignment{Topic: "t", Partition: 0}); !errors.Is(err, ErrNoReassignmentInProgress) {
			t.Errorf("cancel with none ongoing = %v, want ErrNoReassignmentInProgress", err)
		}
		if err := do(Reassignment{Topic: "t", Partition: 0, Replicas: ids(3, 4)}); err != nil {
			t.Fatal(err)
		}
		l.wantPartition("t", reassigning(pi(0, ids(3, 4, 1, 2), ids(1, 2), 1, 0, 1), ids(3, 4), ids(1, 2)))
		// A new target replaces the old one, computed from the original
		// replicas [1 2].
		if err := do(Reassignment{Topic: "t", Partition: 0, Replicas: ids(2, 5)}); err != nil {
			t.Fatal(err)
		}
		l.wantPartition("t", reassigning(pi(0, ids(2, 5, 1), ids(1, 2), 1, 0, 2), ids(5), ids(1)))
		// Cancel: back to the original replicas, in the order the
		// replaced reassignment left them (as in Kafka).
		if err := do(Reassignment{Topic: "t", Partition: 0}); err != nil {
			t.Fatal(err)
		}
		l.wantPartition("t", pi(0, ids(2, 1), ids(1, 2), 1, 0, 3))

		for _, tt := range []struct {
			name string
			give Reassignment
			want error
		}{
			{"empty", Reassignment{Topic: "t", Partition: 0, Replicas: []int32{}}, ErrInvalidReplicaAssignment},
			{"duplicate", Reassignment{Topic: "t", Partition: 0, Replicas: ids(1, 1)}, ErrInvalidReplicaAssignment},
			{"unregistered broker", Reassignment{Topic: "t", Partition: 0, Replicas: ids(1, 9)}, ErrInvalidReplicaAssignment},
			{"unknown partition", Reassignment{Topic: "t", Partition: 4, Replicas: ids(1)}, ErrUnknownTopicOrPartition},
			{"unknown topic", Reassignment{Topic: "x", Partition: 0, Replicas: ids(1)}, ErrUnknownTopicOrPartition},
		} {
			if err := do(tt.give); !errors.Is(err, tt.want) {
				t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
			}
		}
		l.wantPartition("t", pi(0, ids(2, 1), ids(1, 2), 1, 0, 3))
	})
}
