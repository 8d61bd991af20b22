package node

import (
	"fmt"
	"maps"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// elrState is one partition as DescribeTopicPartitions describes it.
type elrState struct {
	leader, leaderEpoch int32
	replicas, isr, elr  []int32
	lastKnown           []int32
}

func (s elrState) String() string {
	return fmt.Sprintf("leader %d (epoch %d) replicas %v isr %v elr %v last known elr %v",
		s.leader, s.leaderEpoch, s.replicas, s.isr, s.elr, s.lastKnown)
}

// describeELR asks addr for partition 0 of topic with
// DescribeTopicPartitions.
func describeELR(t *testing.T, addr, topic string) (elrState, bool) {
	t.Helper()
	return describePartition0(addr, topic)
}

// describePartition0 is describeELR for callers without a test at hand.
func describePartition0(addr, topic string) (elrState, bool) {
	req := kmsg.NewPtrDescribeTopicPartitionsRequest()
	req.Topics = []kmsg.DescribeTopicPartitionsRequestTopic{{Topic: topic}}
	req.ResponsePartitionLimit = 10
	resp, err := rawRequest(addr, req, 5*time.Second)
	if err != nil {
		return elrState{}, false
	}
	r := resp.(*kmsg.DescribeTopicPartitionsResponse)
	if len(r.Topics) != 1 || r.Topics[0].ErrorCode != 0 || len(r.Topics[0].Partitions) != 1 {
		return elrState{}, false
	}
	p := r.Topics[0].Partitions[0]
	return elrState{leader: p.LeaderID, leaderEpoch: p.LeaderEpoch, replicas: p.Replicas, isr: p.ISR,
		elr: p.EligibleLeaderReplicas, lastKnown: p.LastKnownELR}, true
}

// TestELRRecoversWithoutDataLoss is KIP-966's scenario on a controller and
// three brokers, RF=3, min.insync.replicas=2: the two followers are
// SIGKILLed, then the leader, and only the follower killed last is
// restarted. It was in the eligible leader replicas, so it leads again at
// once through a clean election: every record acknowledged (acks=all)
// before the kills is readable from it, and the other ELR member stays in
// the ELR (an unclean election would have dropped it). While the
// partition is offline, `strata topic describe` shows the ELR and the last
// known ELR.
//
// The brokers run with --fsync always, so a SIGKILL loses nothing a broker
// wrote and its restart counts as clean; without it a SIGKILLed broker
// leaves the ELR when it comes back (KIP-966's unclean shutdown rule), as
// the controller tests check.
func TestELRRecoversWithoutDataLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four processes")
	}
	ctrlKafka, ctrlRaft := freePort(t), freePort(t)
	common := []string{"--controller-voters", "1@" + ctrlRaft, "--broker-session-timeout", "3s",
		"--broker-heartbeat-interval", "500ms", "--offsets-topic-partitions", "1", "--default-replication-factor", "1",
		"--fsync", "always"}
	ctrl := spawnChild(t, t.TempDir(), ctrlKafka, append([]string{"--node-id", "1", "--roles", "controller", "--controller-listen", ctrlRaft}, common...)...)
	brokers := map[int32]*child{}
	var addrs []string
	for id := int32(2); id <= 4; id++ {
		addr := freePort(t)
		args := append([]string{"--node-id", strconv.Itoa(int(id)), "--roles", "broker", "--controller-listen", freePort(t),
			"--controller-bootstrap", "1@" + ctrlKafka}, common...)
		brokers[id] = spawnChild(t, t.TempDir(), addr, args...)
		addrs = append(addrs, addr)
	}
	// A failure shows how every node sees the partition then (the
	// brokers killed last are unreachable).
	defer func() {
		if t.Failed() {
			nodes := map[string]string{"controller 1": ctrlKafka}
			for id, b := range brokers {
				nodes["broker "+strconv.Itoa(int(id))] = b.addr
			}
			t.Logf("partition elr/0 as each node sees it:%s", partitionViews("elr", nodes))
		}
	}()
	ctrl.waitListening()
	for _, b := range brokers {
		b.waitListening()
	}
	adm := kadm.NewClient(kgoClient(t, addrs[0], kgo.SeedBrokers(addrs...)))
	two := "2"
	var createErr error
	defer func() {
		if t.Failed() && createErr != nil {
			t.Logf("last CreateTopic error: %v", createErr)
		}
	}()
	waitFor(t, "creating an RF=3 topic with min.insync.replicas=2", 60*time.Second, func() bool {
		r, err := adm.CreateTopic(ctxTimeout(t, 10*time.Second), 1, 3, map[string]*string{"min.insync.replicas": &two}, "elr")
		if err == nil {
			err = r.Err
		}
		createErr = err
		return err == nil
	})
	var st elrState
	waitFor(t, "all three replicas in sync", 60*time.Second, func() bool {
		var ok bool
		st, ok = describeELR(t, ctrlKafka, "elr")
		return ok && len(st.isr) == 3 && st.leader >= 2
	})
	leader := st.leader
	var followers []int32
	for _, r := range st.replicas {
		if r != leader {
			followers = append(followers, r)
		}
	}
	t.Logf("partition: %s; followers %v", st, followers)

	p := kgoClient(t, addrs[0], kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic("elr"), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(20*time.Second))
	var acked []string
	produce := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			v := "record-" + strconv.Itoa(i)
			if err := p.ProduceSync(ctxTimeout(t, 30*time.Second), &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatalf("produce %s (acks=all): %v", v, err)
			}
			acked = append(acked, v)
		}
	}
	produce(0, 200)

	// First follower: the ISR drops to min ISR, nobody joins the ELR.
	brokers[followers[0]].kill()
	waitFor(t, fmt.Sprintf("broker %d out of the ISR", followers[0]), 30*time.Second, func() bool {
		st, _ = describeELR(t, ctrlKafka, "elr")
		return len(st.isr) == 2 && !slices.Contains(st.isr, followers[0])
	})
	if len(st.elr) != 0 {
		t.Errorf("after the first follower left: %s, want an empty ELR (the ISR is at min ISR)", st)
	}
	produce(200, 300)

	// Second follower: below min ISR it joins the ELR.
	brokers[followers[1]].kill()
	waitFor(t, fmt.Sprintf("broker %d in the ELR", followers[1]), 30*time.Second, func() bool {
		st, _ = describeELR(t, ctrlKafka, "elr")
		return slices.Equal(st.isr, []int32{leader}) && slices.Equal(st.elr, []int32{followers[1]})
	})
	t.Logf("after the followers died: %s", st)

	// Leader: the ISR is empty, the ELR holds the two replicas that have
	// every committed record, the leader is remembered.
	brokers[leader].kill()
	waitFor(t, "an empty ISR", 30*time.Second, func() bool {
		st, _ = describeELR(t, ctrlKafka, "elr")
		return st.leader == -1 && len(st.isr) == 0
	})
	wantELR := []int32{followers[1], leader}
	slices.SortFunc(wantELR, func(a, b int32) int { return slices.Index(st.replicas, a) - slices.Index(st.replicas, b) })
	if !slices.Equal(st.elr, wantELR) || !slices.Equal(st.lastKnown, []int32{leader}) {
		t.Fatalf("offline partition: %s, want ELR %v and last known ELR [%d]", st, wantELR, leader)
	}
	offlineEpoch := st.leaderEpoch

	// strata topic describe shows them (from the controller node, the only
	// one up).
	out, err := exec.Command(strataBinary(t), "topic", "describe", "elr", "--bootstrap", ctrlKafka).CombinedOutput()
	if err != nil {
		t.Fatalf("strata topic describe: %v\n%s", err, out)
	}
	wantCols := fmt.Sprintf("\tIsr: \tElr: %d,%d\tLastKnownElr: %d\t", wantELR[0], wantELR[1], leader)
	if !strings.Contains(string(out), wantCols) {
		t.Errorf("strata topic describe elr:\n%s\nlacks %q", out, wantCols)
	}

	// Only the follower killed last comes back: it leads from the ELR.
	f := brokers[followers[1]]
	brokers[followers[1]] = startChild(t, f.dir, f.addr, f.args...)
	waitFor(t, fmt.Sprintf("broker %d to lead", followers[1]), 60*time.Second, func() bool {
		st, _ = describeELR(t, ctrlKafka, "elr")
		return st.leader == followers[1]
	})
	if !slices.Equal(st.isr, []int32{followers[1]}) || !slices.Equal(st.elr, []int32{leader}) || len(st.lastKnown) != 0 ||
		st.leaderEpoch != offlineEpoch+1 {
		t.Errorf("after the restart: %s, want ISR [%d], ELR [%d] kept (a clean election), no last known ELR, leader epoch %d",
			st, followers[1], leader, offlineEpoch+1)
	}
	t.Logf("after the restart: %s", st)

	// Every acknowledged record is there, once, in order.
	c := kgoClient(t, f.addr, kgo.ConsumeTopics("elr"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx := ctxTimeout(t, 60*time.Second)
	var got []string
	for len(got) < len(acked) {
		fs := c.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d acknowledged records: %v", len(got), len(acked), ctx.Err())
		}
		fs.EachError(func(topic string, p int32, err error) { t.Logf("fetch %s[%d]: %v (retrying)", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if !slices.Equal(got, acked) {
		t.Errorf("read %d records, want the %d acknowledged ones in order; first difference at %d",
			len(got), len(acked), firstDifference(got, acked))
	}
}

func firstDifference(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// partitionViews describes partition 0 of topic as each of nodes (name to
// Kafka address) sees it, one line per node, for a failure to explain
// itself: the leader, leader epoch, ISR and ELR of its metadata (Metadata
// and DescribeTopicPartitions), and, from its replica, the log start
// offset, high watermark (ListOffsets latest), log end offset
// (OffsetForLeaderEpoch of the current epoch) and what a consumer's fetch
// from offset 0 gets.
func partitionViews(topic string, nodes map[string]string) string {
	names := slices.Sorted(maps.Keys(nodes))
	var b strings.Builder
	for _, name := range names {
		fmt.Fprintf(&b, "\n  %s (%s): %s", name, nodes[name], partitionView(nodes[name], topic))
	}
	return b.String()
}

func partitionView(addr, topic string) string {
	const timeout = 5 * time.Second
	var parts []string
	epoch := int32(-1)

	mreq := kmsg.NewPtrMetadataRequest()
	mreq.Version = 12
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	mreq.Topics = []kmsg.MetadataRequestTopic{mt}
	switch r, err := rawRequest(addr, mreq, timeout); {
	case err != nil:
		return "unreachable: " + err.Error()
	default:
		m := r.(*kmsg.MetadataResponse)
		if len(m.Topics) != 1 || len(m.Topics[0].Partitions) == 0 {
			parts = append(parts, fmt.Sprintf("metadata: %d topics", len(m.Topics)))
			break
		}
		mt := m.Topics[0]
		p := mt.Partitions[0]
		epoch = p.LeaderEpoch
		parts = append(parts, fmt.Sprintf("metadata: topic error %d, partition error %d, leader %d (epoch %d) isr %v offline %v",
			mt.ErrorCode, p.ErrorCode, p.Leader, p.LeaderEpoch, p.ISR, p.OfflineReplicas))
	}
	if st, ok := describePartition0(addr, topic); ok {
		parts = append(parts, "described: "+st.String())
	} else {
		parts = append(parts, "described: no answer")
	}

	lreq := kmsg.NewPtrListOffsetsRequest()
	lreq.Version = 7
	lreq.ReplicaID = -1
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = topic
	for _, ts := range []int64{-2, -1} {
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Timestamp, lp.CurrentLeaderEpoch = ts, -1
		lt.Partitions = append(lt.Partitions, lp)
	}
	lreq.Topics = []kmsg.ListOffsetsRequestTopic{lt}
	if r, err := rawRequest(addr, lreq, timeout); err != nil {
		parts = append(parts, "list offsets: "+err.Error())
	} else if l := r.(*kmsg.ListOffsetsResponse); len(l.Topics) == 1 && len(l.Topics[0].Partitions) == 2 {
		start, latest := l.Topics[0].Partitions[0], l.Topics[0].Partitions[1]
		parts = append(parts, fmt.Sprintf("log start offset %d (error %d), high watermark %d (error %d)",
			start.Offset, start.ErrorCode, latest.Offset, latest.ErrorCode))
	}

	oreq := kmsg.NewPtrOffsetForLeaderEpochRequest()
	oreq.Version = 4
	oreq.ReplicaID = -1
	ot := kmsg.NewOffsetForLeaderEpochRequestTopic()
	ot.Topic = topic
	op := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
	op.CurrentLeaderEpoch, op.LeaderEpoch = -1, max(epoch, 0)
	ot.Partitions = []kmsg.OffsetForLeaderEpochRequestTopicPartition{op}
	oreq.Topics = []kmsg.OffsetForLeaderEpochRequestTopic{ot}
	if r, err := rawRequest(addr, oreq, timeout); err != nil {
		parts = append(parts, "offset for leader epoch: "+err.Error())
	} else if o := r.(*kmsg.OffsetForLeaderEpochResponse); len(o.Topics) == 1 && len(o.Topics[0].Partitions) == 1 {
		p := o.Topics[0].Partitions[0]
		parts = append(parts, fmt.Sprintf("log end offset %d for epoch %d (error %d)", p.EndOffset, p.LeaderEpoch, p.ErrorCode))
	}

	if r, err := rawRequest(addr, newFetch(topic, 0, 0, 0, 0), timeout); err != nil {
		parts = append(parts, "fetch: "+err.Error())
	} else if f := r.(*kmsg.FetchResponse); len(f.Topics) == 1 && len(f.Topics[0].Partitions) == 1 {
		p := f.Topics[0].Partitions[0]
		parts = append(parts, fmt.Sprintf("fetch from 0: error %d, high watermark %d, %d bytes", p.ErrorCode, p.HighWatermark, len(p.RecordBatches)))
	}
	return strings.Join(parts, "; ")
}
