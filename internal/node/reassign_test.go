package node

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// replicasOf asks addr's metadata for the replicas and ISR of topic-p.
func replicasOf(t *testing.T, addr, topic string, p int32) (replicas, isr []int32) {
	t.Helper()
	tp := partitionMetadata(t, addr, topic, p)
	return tp.Replicas, tp.ISR
}

// TestReassignmentMovesDataByCatchUp moves a partition from brokers [1 2]
// to [3 2] under an acks=all producer and a consumer: broker 3 starts
// empty and catches up by fetching, the reassignment completes by itself,
// broker 1 deletes its copy, and the history checker finds nothing lost,
// duplicated or reordered.
func TestReassignmentMovesDataByCatchUp(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	tc := startCluster(t, 3, "--offsets-topic-partitions", "1", "--replica-lag-time-max", "2s")
	cl := kgoClient(t, tc.addrs[0], kgo.SeedBrokers(tc.addrs...))
	adm := kadm.NewClient(cl)
	waitFor(t, "creating topic moving on [1 2]", 30*time.Second, func() bool {
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "moving", -1, -1
		rt.ReplicaAssignment = []kmsg.CreateTopicsRequestTopicReplicaAssignment{{Partition: 0, Replicas: []int32{1, 2}}}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctxTimeout(t, 10*time.Second), cl)
		return err == nil && (resp.Topics[0].ErrorCode == 0 || resp.Topics[0].ErrorCode == kerr.TopicAlreadyExists.Code)
	})
	waitFor(t, "both replicas in sync", 30*time.Second, func() bool {
		_, isr := replicasOf(t, tc.addrs[1], "moving", 0)
		return len(isr) == 2
	})

	load := startHistoryLoad(t, tc.addrs, "moving")
	load.waitAcked(t, "acknowledgements before the move", 20000)

	// The CLI starts the move and waits until it is complete.
	start := time.Now()
	out, err := exec.Command(strataBinary(t), "topic", "reassign", "moving", "--partition", "0", "--replicas", "3,2",
		"--bootstrap", tc.addrs[1], "--timeout", "60s").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "reassignment of moving-0 complete") {
		t.Fatalf("strata topic reassign: %v\n%s", err, out)
	}
	waitFor(t, "metadata to show the new replicas", 10*time.Second, func() bool {
		l, err := adm.ListPartitionReassignments(ctxTimeout(t, 10*time.Second), kadm.TopicsSet{"moving": {0: {}}})
		if err != nil || len(l.Sorted()) != 0 {
			return false
		}
		replicas, isr := replicasOf(t, tc.addrs[1], "moving", 0)
		return slices.Equal(replicas, []int32{3, 2}) && len(isr) == 2
	})
	t.Logf("reassignment completed %v after it was requested", time.Since(start).Round(time.Millisecond))
	load.waitAcked(t, "acknowledgements after the move", 5000)
	final := load.stopAndCheck(t, tc.addrs[1], "moving")
	n := len(final[0])
	t.Logf("%d records acknowledged, %d stored", load.acked.Load(), n)

	// Let the new follower fetch the final high watermark, then compare
	// the copies on disk.
	time.Sleep(time.Second)
	for _, c := range tc.nodes {
		c.terminate()
	}
	if _, err := os.Stat(filepath.Join(tc.nodes[0].dir, "logs", "moving-0")); !os.IsNotExist(err) {
		t.Errorf("broker 1 still has moving-0 after leaving its replicas (stat: %v)", err)
	}
	ref := replicaRecords(t, tc.nodes[1].dir, "moving")
	got := replicaRecords(t, tc.nodes[2].dir, "moving")
	if len(ref) < n || len(got) < n {
		t.Fatalf("brokers 2 and 3 hold %d and %d records, the leader served %d", len(ref), len(got), n)
	}
	for j := range n {
		if got[j] != ref[j] {
			t.Fatalf("record %d: broker 3 has %q, broker 2 %q", j, got[j], ref[j])
		}
	}
}

// TestReassignmentErrors checks the per-partition errors a client gets.
func TestReassignmentErrors(t *testing.T) {
	tn := startNode(t)
	tn.createTopic("r", 1, nil)
	adm := tn.admin()
	ctx := ctxTimeout(t, 10*time.Second)
	var req kadm.AlterPartitionAssignmentsReq
	req.Assign("r", 0, []int32{1, 1}) // duplicate
	req.Assign("nope", 0, []int32{1})
	res, err := adm.AlterPartitionAssignments(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		topic string
		want  error
	}{{"r", kerr.InvalidReplicaAssignment}, {"nope", kerr.UnknownTopicOrPartition}} {
		if got := res[tt.topic][0].Err; got != tt.want {
			t.Errorf("reassign %s-0: %v, want %v", tt.topic, got, tt.want)
		}
	}
	// Cancelling when nothing is ongoing.
	var cancel kadm.AlterPartitionAssignmentsReq
	cancel.Assign("r", 0, nil)
	res, err = adm.AlterPartitionAssignments(ctx, cancel)
	if err != nil || res["r"][0].Err != kerr.NoReassignmentInProgress {
		t.Errorf("cancel with nothing ongoing = (%v, %v), want NO_REASSIGNMENT_IN_PROGRESS", res, err)
	}
	// An unregistered broker.
	var bad kadm.AlterPartitionAssignmentsReq
	bad.Assign("r", 0, []int32{tn.cfg.NodeID + 1})
	res, err = adm.AlterPartitionAssignments(ctx, bad)
	if err != nil || res["r"][0].Err != kerr.InvalidReplicaAssignment {
		t.Errorf("reassign to an unregistered broker = (%v, %v), want INVALID_REPLICA_ASSIGNMENT", res, err)
	}
	l, err := adm.ListPartitionReassignments(ctx, kadm.TopicsSet{"r": {0: {}}})
	if err != nil || len(l.Sorted()) != 0 {
		t.Errorf("ListPartitionReassignments = (%v, %v), want none", l, err)
	}
}
