package node

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/record"
	"github.com/strata-io/strata/internal/storage"
)

// inProcessCluster is three in-process nodes forming one cluster.
type inProcessCluster struct {
	t      *testing.T
	cfgs   []configStatic
	nodes  []*testNode
	listen []string
}

// startInProcessCluster starts the nodes; those in twoDirs get a second
// log directory, so that one failing directory leaves them running; set,
// if not nil, adjusts each node's configuration.
func startInProcessCluster(t *testing.T, set func(id int32, cfg *configStatic), twoDirs ...int32) *inProcessCluster {
	t.Helper()
	c := &inProcessCluster{t: t}
	var raftAddrs, voters []string
	for i := range 3 {
		c.listen, raftAddrs = append(c.listen, freePort(t)), append(raftAddrs, freePort(t))
		voters = append(voters, fmt.Sprintf("%d@%s", i+1, raftAddrs[i]))
	}
	for i := range 3 {
		data := t.TempDir()
		dirs := []string{filepath.Join(data, "logs")}
		if slices.Contains(twoDirs, int32(i+1)) {
			dirs = append(dirs, filepath.Join(data, "logs2"))
		}
		cfg := faultNodeConfig(data, dirs)
		cfg.NodeID, cfg.Listen, cfg.ControllerListen = int32(i+1), c.listen[i], raftAddrs[i]
		cfg.ControllerVoters = strings.Join(voters, ",")
		cfg.BrokerSessionTimeout, cfg.BrokerHeartbeatInterval = 2*time.Second, 300*time.Millisecond
		if set != nil {
			set(int32(i+1), &cfg)
		}
		c.cfgs = append(c.cfgs, cfg)
		c.nodes = append(c.nodes, launchNode(t, cfg))
	}
	for _, n := range c.nodes {
		n.waitReady()
	}
	waitFor(t, "three unfenced brokers", 60*time.Second, func() bool {
		return len(metadataFrom(t, c.listen[0], kmsg.NewPtrMetadataRequest()).Brokers) == 3
	})
	return c
}

// restart starts node id again on its data (stop it first).
func (c *inProcessCluster) restart(id int32) {
	c.t.Helper()
	n := launchNode(c.t, c.cfgs[id-1])
	n.waitReady()
	c.nodes[id-1] = n
}

// partDir is the directory of topic-0 on node id.
func (c *inProcessCluster) partDir(id int32, topic string) string {
	return filepath.Join(dirHolding(c.t, c.cfgs[id-1].LogDirPaths(), topic+"-0"), topic+"-0")
}

// createTopic creates topic with one partition on replicas (the first
// leads) and waits for a full ISR.
func (c *inProcessCluster) createTopic(topic string, replicas []int32, configs map[string]string) {
	c.t.Helper()
	t := c.t
	cl := kgoClient(t, c.listen[0], kgo.SeedBrokers(c.listen...))
	create := kmsg.NewPtrCreateTopicsRequest()
	create.TimeoutMillis = 30000
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = topic, -1, -1
	ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
	ra.Replicas = replicas
	ct.ReplicaAssignment = append(ct.ReplicaAssignment, ra)
	for k, v := range configs {
		ct.Configs = append(ct.Configs, kmsg.CreateTopicsRequestTopicConfig{Name: k, Value: kmsg.StringPtr(v)})
	}
	create.Topics = append(create.Topics, ct)
	waitFor(t, "topic created", 30*time.Second, func() bool {
		resp, err := create.RequestWith(ctxTimeout(t, 10*time.Second), cl)
		if err != nil {
			return false
		}
		code := resp.Topics[0].ErrorCode
		return code == 0 || code == kerr.TopicAlreadyExists.Code
	})
	waitFor(t, fmt.Sprintf("%s[0] led by %d with a full ISR", topic, replicas[0]), 60*time.Second, func() bool {
		leader, isr := leaderOf(t, c.listen[0], topic, 0)
		return leader == replicas[0] && len(isr) == 3
	})
}

// produceValues produces n uncompressed records of about 200 bytes with
// acks=all and returns their values by offset.
func (c *inProcessCluster) produceValues(topic string, n int) []string {
	c.t.Helper()
	cl := kgoClient(c.t, c.listen[0], kgo.SeedBrokers(c.listen...), kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerLinger(0))
	values := make([]string, n)
	pad := strings.Repeat("z", 180)
	for i := 0; i < n; i += 10 {
		var recs []*kgo.Record
		for j := i; j < min(n, i+10); j++ {
			recs = append(recs, &kgo.Record{Value: fmt.Appendf(nil, "r%05d-%s", j, pad)})
		}
		for _, r := range cl.ProduceSync(ctxTimeout(c.t, 30*time.Second), recs...) {
			if r.Err != nil {
				c.t.Fatalf("produce: %v", r.Err)
			}
			values[r.Record.Offset] = string(r.Record.Value)
		}
	}
	return values
}

// batchPositions returns the start position and size of each batch in a
// segment file.
func batchPositions(t *testing.T, path string) [][2]int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][2]int64
	pos := int64(0)
	for len(b) > 0 {
		batch, rest, err := record.NextBatch(b)
		if err != nil {
			break
		}
		out = append(out, [2]int64{pos, int64(len(batch))})
		pos += int64(len(batch))
		b = rest
	}
	return out
}

func byteAt(t *testing.T, path string, pos int64) (byte, bool) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], pos); err != nil {
		return 0, false
	}
	return b[0], true
}

// checkSameRecords compares node logs read from their data directories
// (the nodes are stopped) with the acknowledged values.
func checkSameRecords(t *testing.T, c *inProcessCluster, topic string, values []string) {
	t.Helper()
	var want []string
	for i, v := range values {
		want = append(want, fmt.Sprintf("%d:%s", i, v))
	}
	for i, cfg := range c.cfgs {
		got := replicaRecords(t, cfg.DataDir, topic)
		if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
			t.Fatalf("node %d holds %d records differing from the %d acknowledged (first difference near %v)", i+1, len(got), len(want), firstDiff(got, want))
		}
	}
}

// TestFlippedBitInFollowerIsRepairedFromTheLeader: a bit flips in a sealed
// segment of a follower while it is stopped (after a clean shutdown, so
// its restart does not scan that segment). After the restart its scrubber
// finds the batch whose CRC no longer matches; the follower truncates its
// log there and fetches the rest again from the leader, leaving the ISR
// until it has, and its file holds the right bytes again. Made leader, it
// serves every acknowledged record intact, and all three replicas are
// identical.
func TestFlippedBitInFollowerIsRepairedFromTheLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes")
	}
	const topic = "bitflip"
	const leader, victim, third = int32(1), int32(2), int32(3)
	c := startInProcessCluster(t, nil)
	c.createTopic(topic, []int32{leader, victim, third}, map[string]string{"min.insync.replicas": "2", "segment.bytes": "8192"})
	values := c.produceValues(topic, 400)

	c.nodes[victim-1].stop()
	segs, _ := filepath.Glob(filepath.Join(c.partDir(victim, topic), "*.log"))
	sort.Strings(segs)
	if len(segs) < 4 {
		t.Fatalf("follower has %d segments, want several sealed ones", len(segs))
	}
	seg := segs[1] // sealed, below the recovery point
	batches := batchPositions(t, seg)
	if len(batches) < 2 {
		t.Fatalf("%s holds %d batches", seg, len(batches))
	}
	pos := batches[1][0] + batches[1][1] - 30 // inside a record value of its second batch
	orig, _ := byteAt(t, seg, pos)
	flip(t, seg, pos)

	c.restart(victim)
	// NB: the refetched batches may land in other segments than before
	// (a follower rolls where its appends take it), so the flipped byte is
	// either back or cut away.
	waitFor(t, "the follower's scrubber to find the flipped bit and cut it away", 60*time.Second, func() bool {
		b, ok := byteAt(t, seg, pos)
		return !ok || b == orig
	})
	l, ok := c.nodes[victim-1].node.logDirs.Log(storage.TopicPartition{Topic: topic, Partition: 0})
	if !ok {
		t.Fatal("the follower has no log")
	}
	waitFor(t, "the repaired follower caught up and back in the ISR", 60*time.Second, func() bool {
		_, isr := leaderOf(t, c.listen[0], topic, 0)
		return len(isr) == 3 && l.LogEndOffset() == int64(len(values)) && l.CorruptOffset() == -1
	})

	// Move the leadership to the repaired replica and read everything
	// from it.
	c.nodes[leader-1].stop()
	waitFor(t, "the repaired replica leading", 60*time.Second, func() bool {
		l, _ := leaderOf(t, c.listen[victim-1], topic, 0)
		return l == victim
	})
	got := fetchValidated(t, c.listen[victim-1], topic, int64(len(values)))
	if !slices.Equal(got, values) {
		t.Fatalf("the repaired replica serves %d records differing from the %d acknowledged (first difference near %v)", len(got), len(values), firstDiff(got, values))
	}
	c.restart(leader)
	waitFor(t, "all three in the ISR", 60*time.Second, func() bool {
		_, isr := leaderOf(t, c.listen[victim-1], topic, 0)
		return len(isr) == 3
	})
	for _, n := range c.nodes {
		n.stop()
	}
	checkSameRecords(t, c, topic, values)
}

// TestTornTailOfAFollowerIsRecoveredAndRefetched: a follower crashes
// mid-write (its active segment ends in half a batch, no clean-shutdown
// marker). At restart recovery cuts the torn batch; the follower fetches
// it and the rest again from the leader, rejoins the ISR, and the replicas
// are identical.
func TestTornTailOfAFollowerIsRecoveredAndRefetched(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes")
	}
	const topic = "torn-follower"
	const leader, victim = int32(1), int32(3)
	c := startInProcessCluster(t, nil)
	c.createTopic(topic, []int32{leader, 2, victim}, map[string]string{"min.insync.replicas": "2", "segment.bytes": "65536"})
	values := c.produceValues(topic, 200)

	c.nodes[victim-1].stop()
	segs, _ := filepath.Glob(filepath.Join(c.partDir(victim, topic), "*.log"))
	sort.Strings(segs)
	active := segs[len(segs)-1]
	batches := batchPositions(t, active)
	if len(batches) == 0 {
		t.Fatalf("%s is empty", active)
	}
	last := batches[len(batches)-1]
	if err := os.Truncate(active, last[0]+last[1]/2); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(c.cfgs[victim-1].DataDir, "logs", ".kafka_cleanshutdown")); err != nil {
		t.Fatalf("clean-shutdown marker: %v", err)
	}
	c.restart(victim)
	waitFor(t, "the follower back in the ISR", 60*time.Second, func() bool {
		_, isr := leaderOf(t, c.listen[0], topic, 0)
		return len(isr) == 3
	})
	for _, n := range c.nodes {
		n.stop()
	}
	checkSameRecords(t, c, topic, values)
}

// flip flips one bit of the byte at pos of path.
func flip(t *testing.T, path string, pos int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], pos); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x04
	if _, err := f.WriteAt(b[:], pos); err != nil {
		t.Fatal(err)
	}
}

// TestCorruptBatchOnTheLeaderMovesLeadership: a bit flips in a sealed
// segment of the leader while it runs; its periodic full scrub finds it. The leader's
// copy cannot be repaired in place, so its directory goes offline: the
// controller moves the leadership to an in-sync replica, the old leader
// serves nothing of the partition, and the new one serves every
// acknowledged record intact.
func TestCorruptBatchOnTheLeaderMovesLeadership(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes")
	}
	const topic = "leader-bitflip"
	const leader = int32(1)
	// The leader re-checks all its segments every 200ms (the hidden
	// --test-scrub-interval); the failed directory leaves it running.
	c := startInProcessCluster(t, func(id int32, cfg *configStatic) {
		if id == leader {
			cfg.TestScrubInterval = 200 * time.Millisecond
		}
	}, leader)
	c.createTopic(topic, []int32{leader, 2, 3}, map[string]string{"min.insync.replicas": "2", "segment.bytes": "8192"})
	values := c.produceValues(topic, 300)
	segs, _ := filepath.Glob(filepath.Join(c.partDir(leader, topic), "*.log"))
	sort.Strings(segs)
	batches := batchPositions(t, segs[0])
	flip(t, segs[0], batches[0][0]+batches[0][1]-30)

	other := c.listen[1]
	waitFor(t, "the leadership to leave the broker with the corrupt copy", 60*time.Second, func() bool {
		l, isr := leaderOf(t, other, topic, 0)
		return l > 0 && l != leader && !slices.Contains(isr, leader)
	})
	if code, vs := fetchAt(t, c.listen[leader-1], topic, 0); code == 0 || len(vs) != 0 {
		t.Fatalf("fetch from the old leader: %v with %d records, want an error and none", kerr.ErrorForCode(code), len(vs))
	}
	newLeader, _ := leaderOf(t, other, topic, 0)
	got := fetchValidated(t, c.listen[newLeader-1], topic, int64(len(values)))
	if !slices.Equal(got, values) {
		t.Fatalf("the new leader serves %d records differing from the %d acknowledged (first difference near %v)", len(got), len(values), firstDiff(got, values))
	}
}
