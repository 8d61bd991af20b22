package node

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/record"
	"github.com/strata-io/strata/internal/storage"
)

// testCluster is N `strata serve` processes forming one cluster on
// loopback ports, as the README's cluster command does.
type testCluster struct {
	nodes []*child
	addrs []string
}

func startCluster(t *testing.T, n int, extra ...string) *testCluster {
	t.Helper()
	return startClusterWith(t, n, func(int, string) []string { return extra })
}

// startClusterWith is startCluster with per-node extra flags: args gets
// the node's index and Kafka listener address.
func startClusterWith(t *testing.T, n int, args func(i int, kafkaAddr string) []string) *testCluster {
	t.Helper()
	var kafka, raft []string
	for range n {
		kafka = append(kafka, freePort(t))
		raft = append(raft, freePort(t))
	}
	var voters []string
	for i := range n {
		voters = append(voters, fmt.Sprintf("%d@%s", i+1, raft[i]))
	}
	tc := &testCluster{addrs: kafka}
	for i := range n {
		args := append([]string{"--node-id", fmt.Sprint(i + 1), "--controller-voters", strings.Join(voters, ","),
			"--controller-listen", raft[i]}, args(i, kafka[i])...)
		tc.nodes = append(tc.nodes, spawnChild(t, t.TempDir(), kafka[i], args...))
	}
	for _, c := range tc.nodes {
		c.waitListening()
	}
	return tc
}

func TestThreeNodesFormOneCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	tc := startCluster(t, 3, "--offsets-topic-partitions", "3")
	// Raw Metadata requests: franz-go answers repeated metadata requests
	// from its cache.
	for i, addr := range tc.addrs {
		waitFor(t, fmt.Sprintf("node %d to list three brokers and a controller", i+1), 30*time.Second, func() bool {
			req := kmsg.NewPtrMetadataRequest()
			req.Version = 12
			resp := dialRaw(t, addr).send(req).(*kmsg.MetadataResponse)
			return len(resp.Brokers) == 3 && resp.ControllerID > 0
		})
	}
	adm := kadm.NewClient(kgoClient(t, tc.addrs[0]))
	two := "2"
	var resp kadm.CreateTopicResponse
	waitFor(t, "creating an RF=3 topic through the active controller", 30*time.Second, func() bool {
		r, err := adm.CreateTopic(ctxTimeout(t, 10*time.Second), 3, 3, map[string]*string{"min.insync.replicas": &two}, "replicated")
		resp = r
		return err == nil && r.Err == nil
	})
	// Every node serves the same metadata: three partitions, three replicas
	// each on distinct brokers, leaders spread.
	for i, addr := range tc.addrs {
		var topic kmsg.MetadataResponseTopic
		waitFor(t, fmt.Sprintf("node %d to see the topic", i+1), 10*time.Second, func() bool {
			req := kmsg.NewPtrMetadataRequest()
			req.Version = 12
			req.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("replicated")}}
			resp := dialRaw(t, addr).send(req).(*kmsg.MetadataResponse)
			topic = resp.Topics[0]
			return topic.ErrorCode == 0 && len(topic.Partitions) == 3
		})
		if topic.TopicID != resp.ID {
			t.Fatalf("node %d: topic id %x, created %x", i+1, topic.TopicID, resp.ID)
		}
		leaders := map[int32]bool{}
		for _, p := range topic.Partitions {
			if len(p.Replicas) != 3 || len(p.ISR) != 3 {
				t.Fatalf("node %d: partition %d replicas %v isr %v", i+1, p.Partition, p.Replicas, p.ISR)
			}
			seen := map[int32]bool{}
			for _, r := range p.Replicas {
				seen[r] = true
			}
			if len(seen) != 3 {
				t.Fatalf("partition %d replicas %v are not three distinct brokers", p.Partition, p.Replicas)
			}
			leaders[p.Leader] = true
		}
		if len(leaders) != 3 {
			t.Fatalf("node %d: leaders %v are not spread over the three brokers", i+1, leaders)
		}
	}
	for _, c := range tc.nodes {
		c.terminate()
	}
}

// partitionMetadata asks addr's metadata for topic's partition p (zero
// value with Leader -1 when it is not listed).
func partitionMetadata(t *testing.T, addr, topic string, p int32) kmsg.MetadataResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	req.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr(topic)}}
	resp := metadataFrom(t, addr, req)
	for _, tp := range resp.Topics[0].Partitions {
		if tp.Partition == p {
			return tp
		}
	}
	return kmsg.MetadataResponseTopicPartition{Leader: -1}
}

// leaderOf asks addr's metadata for the leader of topic's partition p.
func leaderOf(t *testing.T, addr, topic string, p int32) (leader int32, isr []int32) {
	t.Helper()
	tp := partitionMetadata(t, addr, topic, p)
	return tp.Leader, tp.ISR
}

// TestAcknowledgedWritesSurviveLeaderSIGKILL: acks=all with RF=3 and
// min.insync.replicas=2 while the partition leader is SIGKILLed and later
// restarted. Every acknowledged record is present exactly once, in order,
// and no consumer saw a record that later vanished.
func TestAcknowledgedWritesSurviveLeaderSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	for _, victim := range []string{"partition leader", "active controller"} {
		t.Run(strings.ReplaceAll(victim, " ", "_"), func(t *testing.T) { testFailover(t, victim) })
	}
}

func controllerOf(t *testing.T, addr string) int32 {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	return metadataFrom(t, addr, req).ControllerID
}

// metadataFrom sends req to addr on a connection of its own, closed before
// it returns (these helpers are polled), and fails the test on an error.
func metadataFrom(t *testing.T, addr string, req *kmsg.MetadataRequest) *kmsg.MetadataResponse {
	t.Helper()
	resp, err := rawRequest(addr, req, 10*time.Second)
	if err != nil {
		t.Fatalf("metadata from %s: %v", addr, err)
	}
	return resp.(*kmsg.MetadataResponse)
}

func testFailover(t *testing.T, victimKind string) {
	extra := []string{"--offsets-topic-partitions", "3", "--broker-session-timeout", "2s", "--broker-heartbeat-interval", "300ms"}
	tc := startCluster(t, 3, extra...)
	two := "2"
	adm := kadm.NewClient(kgoClient(t, tc.addrs[0]))
	waitFor(t, "creating the replicated topic", 30*time.Second, func() bool {
		r, err := adm.CreateTopic(ctxTimeout(t, 10*time.Second), 1, 3, map[string]*string{"min.insync.replicas": &two}, "failover")
		return err == nil && (r.Err == nil || errors.Is(r.Err, kerr.TopicAlreadyExists))
	})
	waitFor(t, "a leader with a full ISR", 30*time.Second, func() bool {
		l, isr := leaderOf(t, tc.addrs[0], "failover", 0)
		return l > 0 && len(isr) == 3
	})

	load := startHistoryLoad(t, tc.addrs, "failover")
	load.waitAcked(t, "5,000 acknowledged records", 5000)
	leader, _ := leaderOf(t, tc.addrs[0], "failover", 0)
	victimID := leader
	if victimKind == "active controller" {
		victimID = controllerOf(t, tc.addrs[0])
	}
	victim := tc.nodes[victimID-1]
	victim.kill()
	killedAt := load.acked.Load()
	other := tc.addrs[victimID%3]
	waitFor(t, "a live leader and controller after the SIGKILL", 30*time.Second, func() bool {
		l, _ := leaderOf(t, other, "failover", 0)
		c := controllerOf(t, other)
		return l > 0 && l != victimID && c > 0 && c != victimID
	})
	load.waitAcked(t, "acknowledgements to continue under the new leader", 5000)
	// Bring the old leader back; it must truncate anything it had beyond
	// the new leader's log and rejoin the ISR.
	tc.nodes[victimID-1] = startChild(t, victim.dir, victim.addr, victim.args...)
	waitFor(t, "the restarted broker back in the ISR", 60*time.Second, func() bool {
		_, isr := leaderOf(t, other, "failover", 0)
		return len(isr) == 3
	})
	load.waitAcked(t, "more acknowledgements with the full ISR", 3000)
	final := load.stopAndCheck(t, other, "failover")
	t.Logf("%s %d killed: %d records acknowledged (%d before the SIGKILL), %d stored", victimKind, victimID, load.acked.Load(), killedAt, len(final[0]))

	checkReplicasIdentical(t, tc, other, "failover", len(final[0]))
}

// checkReplicasIdentical stops the cluster cleanly (once every replica is
// in the ISR) and checks that each node's copy of topic-0, read from its
// data directory, holds the n records the leader served, identically.
func checkReplicasIdentical(t *testing.T, tc *testCluster, addr, topic string, n int) {
	t.Helper()
	waitFor(t, "all replicas in the ISR", 30*time.Second, func() bool {
		_, isr := leaderOf(t, addr, topic, 0)
		return len(isr) == 3
	})
	time.Sleep(time.Second) // let followers fetch the last high watermark
	leader, _ := leaderOf(t, addr, topic, 0)
	for _, c := range tc.nodes {
		c.terminate()
	}
	ref := replicaRecords(t, tc.nodes[leader-1].dir, topic)
	for i, c := range tc.nodes {
		got := replicaRecords(t, c.dir, topic)
		if len(got) < n {
			t.Fatalf("node %d holds %d records, the leader served %d", i+1, len(got), n)
		}
		for j := range n {
			if got[j] != ref[j] {
				t.Fatalf("node %d record %d is %q, leader %d has %q", i+1, j, got[j], leader, ref[j])
			}
		}
	}
}

// replicaRecords reads topic-0 from a stopped node's data directory.
func replicaRecords(t *testing.T, dataDir, topic string) []string {
	t.Helper()
	d, err := storage.OpenLogDir(storage.DefaultConfig(filepath.Join(dataDir, "logs")))
	if err != nil {
		t.Fatalf("open %s: %v", dataDir, err)
	}
	defer d.Close()
	l, ok := d.Log(storage.TopicPartition{Topic: topic, Partition: 0})
	if !ok {
		t.Fatalf("%s has no %s-0", dataDir, topic)
	}
	var out []string
	for off := l.LogStartOffset(); off < l.LogEndOffset(); {
		res, err := l.Read(off, 1<<20, l.LogEndOffset(), true)
		if err != nil {
			t.Fatal(err)
		}
		buf, err := res.AppendTo(nil)
		if err != nil {
			t.Fatal(err)
		}
		for rest := buf; len(rest) > 0; {
			b, r, err := record.NextBatch(rest)
			if err != nil {
				t.Fatal(err)
			}
			rest = r
			h, _ := record.ParseHeader(b)
			record.Records(b, 64<<20, func(rec *record.Record) error {
				out = append(out, fmt.Sprintf("%d:%s", h.BaseOffset+int64(rec.OffsetDelta), rec.Value))
				return nil
			})
			off = h.NextOffset()
		}
	}
	return out
}

// TestPausedFollowerLeavesAndRejoinsISR: a follower stopped (SIGSTOP) for
// longer than replica.lag.time.max.ms leaves the ISR and acks=all writes
// continue; after SIGCONT it catches up and rejoins. With two of three
// brokers down, acks=all writes are refused, not acknowledged.
func TestPausedFollowerLeavesAndRejoinsISR(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	tc := startCluster(t, 3, "--offsets-topic-partitions", "3", "--replica-lag-time-max", "2s",
		"--broker-session-timeout", "3s", "--broker-heartbeat-interval", "300ms")
	two := "2"
	adm := kadm.NewClient(kgoClient(t, tc.addrs[0]))
	waitFor(t, "creating the replicated topic", 30*time.Second, func() bool {
		r, err := adm.CreateTopic(ctxTimeout(t, 10*time.Second), 1, 3, map[string]*string{"min.insync.replicas": &two}, "pause")
		return err == nil && (r.Err == nil || errors.Is(r.Err, kerr.TopicAlreadyExists))
	})
	waitFor(t, "a full ISR", 30*time.Second, func() bool {
		l, isr := leaderOf(t, tc.addrs[0], "pause", 0)
		return l > 0 && len(isr) == 3
	})
	leader, _ := leaderOf(t, tc.addrs[0], "pause", 0)
	var follower int32
	for id := int32(1); id <= 3; id++ {
		if id != leader && id != controllerOf(t, tc.addrs[0]) {
			follower = id
		}
	}
	if follower == 0 {
		follower = leader%3 + 1
	}
	p := kgoClient(t, tc.addrs[0], kgo.SeedBrokers(tc.addrs...), kgo.DefaultProduceTopic("pause"),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordDeliveryTimeout(20*time.Second))
	produce := func(v string) error {
		return p.ProduceSync(ctxTimeout(t, 30*time.Second), &kgo.Record{Value: []byte(v)}).FirstErr()
	}
	if err := produce("before"); err != nil {
		t.Fatal(err)
	}
	paused := tc.nodes[follower-1]
	paused.cmd.Process.Signal(syscall.SIGSTOP)
	stopped := time.Now()
	took := waitFor(t, "the paused follower to leave the ISR", 30*time.Second, func() bool {
		_, isr := leaderOf(t, tc.addrs[leader-1], "pause", 0)
		return len(isr) == 2 && !slices.Contains(isr, follower)
	})
	t.Logf("follower %d left the ISR %v after SIGSTOP (replica.lag.time.max.ms 2s)", follower, took.Round(100*time.Millisecond))
	if err := produce("while-paused"); err != nil {
		t.Fatalf("acks=all with the follower out of the ISR (ISR 2 >= min.insync 2): %v", err)
	}
	paused.cmd.Process.Signal(syscall.SIGCONT)
	took = waitFor(t, "the resumed follower to rejoin the ISR", 60*time.Second, func() bool {
		_, isr := leaderOf(t, tc.addrs[leader-1], "pause", 0)
		return len(isr) == 3
	})
	t.Logf("follower %d rejoined the ISR %v after SIGCONT (paused %v)", follower, took.Round(100*time.Millisecond), time.Since(stopped).Round(time.Second))

	// Two of three down: writes must be refused, never acknowledged.
	for id := int32(1); id <= 3; id++ {
		if id != leader {
			tc.nodes[id-1].cmd.Process.Signal(syscall.SIGSTOP)
		}
	}
	defer func() {
		for _, c := range tc.nodes {
			c.cmd.Process.Signal(syscall.SIGCONT)
		}
	}()
	// NB: not idempotent, so the client needs no producer id (which could
	// be asked of a stopped broker); and the wait is bounded here, since a
	// record already sent is not failed by its context.
	p2 := kgoClient(t, tc.addrs[leader-1], kgo.DefaultProduceTopic("pause"), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.DisableIdempotentWrite(), kgo.RecordDeliveryTimeout(10*time.Second), kgo.RecordRetries(3))
	result := make(chan error, 1)
	p2.Produce(ctxTimeout(t, 30*time.Second), &kgo.Record{Value: []byte("must-not-ack")}, func(_ *kgo.Record, err error) { result <- err })
	select {
	case err := <-result:
		if err == nil {
			t.Fatalf("acks=all write acknowledged with two of three brokers stopped")
		}
		t.Logf("acks=all with two of three brokers stopped: %v", err)
	case <-time.After(90 * time.Second):
		t.Fatalf("acks=all write with two of three brokers stopped got no answer within 90s")
	}
}

// TestSIGTERMMovesLeadershipFirst: a broker stopped with SIGTERM hands its
// leaderships to other in-sync replicas before it exits. The broker
// session timeout is 30s, so a leader change seen within seconds of the
// exit comes from the controlled shutdown, not from fencing.
func TestSIGTERMMovesLeadershipFirst(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	tc := startCluster(t, 3, "--offsets-topic-partitions", "3", "--broker-session-timeout", "30s", "--broker-heartbeat-interval", "300ms")
	adm := kadm.NewClient(kgoClient(t, tc.addrs[0]))
	waitFor(t, "creating the topic", 30*time.Second, func() bool {
		r, err := adm.CreateTopic(ctxTimeout(t, 10*time.Second), 3, 3, nil, "term")
		return err == nil && (r.Err == nil || errors.Is(r.Err, kerr.TopicAlreadyExists))
	})
	waitFor(t, "full ISRs", 30*time.Second, func() bool {
		for p := int32(0); p < 3; p++ {
			if l, isr := leaderOf(t, tc.addrs[0], "term", p); l <= 0 || len(isr) != 3 {
				return false
			}
		}
		return true
	})
	victim, _ := leaderOf(t, tc.addrs[0], "term", 0)
	start := time.Now()
	tc.nodes[victim-1].terminate()
	exited := time.Since(start)
	other := tc.addrs[victim%3]
	for p := int32(0); p < 3; p++ {
		if l, _ := leaderOf(t, other, "term", p); l == victim || l < 0 {
			t.Fatalf("partition %d still led by %d right after the SIGTERMed broker exited", p, l)
		}
	}
	t.Logf("broker %d exited %v after SIGTERM with its leaderships already moved", victim, exited.Round(time.Millisecond))
	if exited > 15*time.Second {
		t.Fatalf("controlled shutdown took %v", exited)
	}
}

// TestGroupSurvivesCoordinatorSIGKILL: a consumer group keeps consuming and
// its committed offsets survive when the broker hosting its coordinator
// (the leader of its __consumer_offsets partition) is SIGKILLed.
func TestGroupSurvivesCoordinatorSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	tc := startCluster(t, 3, "--offsets-topic-partitions", "3", "--broker-session-timeout", "2s",
		"--broker-heartbeat-interval", "300ms", "--group-initial-rebalance-delay", "0", "--group-min-session-timeout", "1s")
	adm := kadm.NewClient(kgoClient(t, tc.addrs[0], kgo.SeedBrokers(tc.addrs...)))
	waitFor(t, "creating the topic", 30*time.Second, func() bool {
		r, err := adm.CreateTopic(ctxTimeout(t, 10*time.Second), 3, 3, nil, "gk")
		return err == nil && (r.Err == nil || errors.Is(r.Err, kerr.TopicAlreadyExists))
	})
	produceAll := func(tag string, per int) {
		p := kgoClient(t, tc.addrs[0], kgo.SeedBrokers(tc.addrs...), kgo.DefaultProduceTopic("gk"),
			kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RecordDeliveryTimeout(60*time.Second))
		var recs []*kgo.Record
		for part := int32(0); part < 3; part++ {
			for i := range per {
				recs = append(recs, &kgo.Record{Partition: part, Value: fmt.Appendf(nil, "%s-%d-%d", tag, part, i)})
			}
		}
		if err := p.ProduceSync(ctxTimeout(t, 90*time.Second), recs...).FirstErr(); err != nil {
			t.Fatalf("produce %s: %v", tag, err)
		}
	}
	produceAll("a", 1000)

	var mu sync.Mutex
	seen := map[string]bool{}
	stop := make(chan struct{})
	var wgs []*sync.WaitGroup
	for range 2 {
		c := kgoClient(t, tc.addrs[0], kgo.SeedBrokers(tc.addrs...), kgo.ConsumerGroup("g-k"), kgo.ConsumeTopics("gk"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.SessionTimeout(3*time.Second),
			kgo.HeartbeatInterval(300*time.Millisecond), kgo.AutoCommitInterval(200*time.Millisecond))
		var got []*kgo.Record
		var gmu sync.Mutex
		wg := pollInto(t, c, stop, &gmu, &got)
		wgs = append(wgs, wg)
		go func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
				gmu.Lock()
				batch := got
				got = nil
				gmu.Unlock()
				mu.Lock()
				for _, r := range batch {
					seen[string(r.Value)] = true
				}
				mu.Unlock()
			}
		}()
	}
	consumed := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(seen)
	}
	waitFor(t, "half the records consumed", 60*time.Second, func() bool { return consumed() >= 1500 })
	time.Sleep(500 * time.Millisecond) // a few autocommits

	coord := adm.FindGroupCoordinators(ctxTimeout(t, 10*time.Second), "g-k")
	var coordID int32 = -1
	coord.Each(func(d kadm.FindCoordinatorResponse) { coordID = d.NodeID })
	if coordID <= 0 {
		t.Fatalf("no coordinator for g-k: %v", coord)
	}
	before, err := adm.FetchOffsets(ctxTimeout(t, 10*time.Second), "g-k")
	if err != nil {
		t.Fatal(err)
	}
	tc.nodes[coordID-1].kill()
	t.Logf("killed coordinator broker %d with %d records consumed", coordID, consumed())

	produceAll("b", 100)
	waitFor(t, "every record consumed across the coordinator failover", 90*time.Second, func() bool { return consumed() == 3300 })
	close(stop)
	for _, wg := range wgs {
		wg.Wait()
	}
	adm2 := kadm.NewClient(kgoClient(t, tc.addrs[coordID%3]))
	var after kadm.OffsetResponses
	waitFor(t, "final commits at the end of each partition", 30*time.Second, func() bool {
		after, err = adm2.FetchOffsets(ctxTimeout(t, 10*time.Second), "g-k")
		if err != nil {
			return false
		}
		ok := true
		for p := int32(0); p < 3; p++ {
			o, found := after.Lookup("gk", p)
			ok = ok && found && o.At == 1100
		}
		return ok
	})
	for p := int32(0); p < 3; p++ {
		b, _ := before.Lookup("gk", p)
		a, _ := after.Lookup("gk", p)
		if a.At < b.At {
			t.Fatalf("partition %d: committed offset went back from %d to %d across the coordinator failover", p, b.At, a.At)
		}
		t.Logf("partition %d: committed %d before the kill, %d at the end", p, b.At, a.At)
	}
}

// TestRollingRestartLosesNothing restarts each broker in turn (SIGTERM,
// controlled shutdown, start again, back in the ISR) while an acks=all
// producer and a consumer run; then checks the history and that every
// replica holds the same log.
func TestRollingRestartLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	tc := startCluster(t, 3, "--offsets-topic-partitions", "3", "--broker-session-timeout", "3s", "--broker-heartbeat-interval", "300ms")
	two := "2"
	adm := kadm.NewClient(kgoClient(t, tc.addrs[0]))
	waitFor(t, "creating the topic", 30*time.Second, func() bool {
		r, err := adm.CreateTopic(ctxTimeout(t, 10*time.Second), 1, 3, map[string]*string{"min.insync.replicas": &two}, "rolling")
		return err == nil && (r.Err == nil || errors.Is(r.Err, kerr.TopicAlreadyExists))
	})
	fullISR := func(addr string) bool {
		l, isr := leaderOf(t, addr, "rolling", 0)
		return l > 0 && len(isr) == 3
	}
	waitFor(t, "a full ISR", 30*time.Second, func() bool { return fullISR(tc.addrs[0]) })

	load := startHistoryLoad(t, tc.addrs, "rolling")
	for i, node := range tc.nodes {
		load.waitAcked(t, "acknowledgements before restarting the next node", 2000)
		node.terminate()
		tc.nodes[i] = startChild(t, node.dir, node.addr, node.args...)
		other := tc.addrs[(i+1)%3]
		waitFor(t, fmt.Sprintf("node %d back in the ISR", i+1), 60*time.Second, func() bool { return fullISR(other) })
	}
	load.waitAcked(t, "acknowledgements after the rolling restart", 2000)
	final := load.stopAndCheck(t, tc.addrs[0], "rolling")
	t.Logf("rolling restart of 3 brokers: %d records acknowledged, %d stored", load.acked.Load(), len(final[0]))
	checkReplicasIdentical(t, tc, tc.addrs[0], "rolling", len(final[0]))
}
