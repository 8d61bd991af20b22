package node

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// peerFailureLog is a child's log that counts the metadata quorum
// leader's failures to reach one peer (hashicorp/raft's "failed to
// heartbeat to" and "failed to appendEntries to", which name the peer's
// address), and passes every line on to the test log.
type peerFailureLog struct {
	t    *testing.T
	peer string // the peer's raft address

	mu   sync.Mutex
	buf  []byte // guarded by mu: a partial line
	seen int    // guarded by mu
}

func (l *peerFailureLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.buf = append(l.buf, p...)
	var lines []string
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		line := string(l.buf[:i])
		l.buf = l.buf[i+1:]
		if strings.Contains(line, l.peer) &&
			(strings.Contains(line, "failed to heartbeat to") || strings.Contains(line, "failed to appendEntries to")) {
			l.seen++
		}
		lines = append(lines, line)
	}
	l.mu.Unlock()
	for _, line := range lines {
		l.t.Log(line)
	}
	return len(p), nil
}

func (l *peerFailureLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seen
}

// quorumMembers asks addr's DescribeQuorum (forwarded to the active
// controller) for the leader, voters and observers.
func quorumMembers(addr string) (leader int32, voters, observers []int32, err error) {
	req := kmsg.NewPtrDescribeQuorumRequest()
	req.Version = 2
	req.Topics = []kmsg.DescribeQuorumRequestTopic{{Topic: "__cluster_metadata", Partitions: []kmsg.DescribeQuorumRequestTopicPartition{{Partition: 0}}}}
	resp, err := rawRequest(addr, req, 10*time.Second)
	if err != nil {
		return -1, nil, nil, err
	}
	r := resp.(*kmsg.DescribeQuorumResponse)
	if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
		return -1, nil, nil, err
	}
	if len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 {
		return -1, nil, nil, fmt.Errorf("DescribeQuorum answered %+v", r.Topics)
	}
	p := r.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		return -1, nil, nil, err
	}
	for _, v := range p.CurrentVoters {
		voters = append(voters, v.ReplicaID)
	}
	for _, o := range p.Observers {
		observers = append(observers, o.ReplicaID)
	}
	return p.LeaderID, voters, observers, nil
}

// clusterBrokers returns the broker ids addr's Metadata lists and those
// its DescribeCluster lists with fenced brokers included, with the fenced
// ones.
func clusterBrokers(t *testing.T, addr string) (metadataIDs, describeIDs, fenced []int32) {
	t.Helper()
	mreq := kmsg.NewPtrMetadataRequest()
	mreq.Version = 12
	for _, b := range metadataFrom(t, addr, mreq).Brokers {
		metadataIDs = append(metadataIDs, b.NodeID)
	}
	dreq := kmsg.NewPtrDescribeClusterRequest()
	dreq.Version = 2
	dreq.IncludeFencedBrokers = true
	resp, err := rawRequest(addr, dreq, 10*time.Second)
	if err != nil {
		t.Fatalf("describe cluster from %s: %v", addr, err)
	}
	for _, b := range resp.(*kmsg.DescribeClusterResponse).Brokers {
		describeIDs = append(describeIDs, b.NodeID)
		if b.IsFenced {
			fenced = append(fenced, b.NodeID)
		}
	}
	slices.Sort(metadataIDs)
	slices.Sort(describeIDs)
	slices.Sort(fenced)
	return metadataIDs, describeIDs, fenced
}

// partitionsOn counts the partitions whose replicas include broker id in
// addr's metadata.
func partitionsOn(t *testing.T, addr string, id int32) int {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	req.Topics = nil // every topic
	n := 0
	for _, tp := range metadataFrom(t, addr, req).Topics {
		for _, p := range tp.Partitions {
			if slices.Contains(p.Replicas, id) {
				n++
			}
		}
	}
	return n
}

func unregisterCode(t *testing.T, addr string, id int32) int16 {
	t.Helper()
	req := kmsg.NewPtrUnregisterBrokerRequest()
	req.BrokerID = id
	resp, err := rawRequest(addr, req, 30*time.Second)
	if err != nil {
		t.Fatalf("UnregisterBroker(%d) to %s: %v", id, addr, err)
	}
	return resp.(*kmsg.UnregisterBrokerResponse).ErrorCode
}

// strataCLI runs the strata binary with args and returns its stdout and
// stderr.
func strataCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(strataBinary(t), args...)
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "STRATA_") })
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// TestRemoveBroker removes a broker-only node that is gone for good from
// a cluster of three combined nodes, twice: with a raw UnregisterBroker
// sent to a node that is not the active controller, and with `strata
// cluster remove-broker`. Each time the broker leaves every node's
// Metadata and DescribeCluster and the metadata quorum, and the quorum
// leader stops trying to reach it; restarted, it registers and joins the
// quorum again. Alive brokers can be unregistered too (with --force): a
// broker-only node registers and joins the quorum again at its next
// heartbeat; a combined node's broker registers again while its controller
// stays a voter.
func TestRemoveBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four processes")
	}
	var kafka, raftAddrs, voters, bootstrap []string
	for i := range 3 {
		kafka = append(kafka, freePort(t))
		raftAddrs = append(raftAddrs, freePort(t))
		voters = append(voters, fmt.Sprintf("%d@%s", i+1, raftAddrs[i]))
		bootstrap = append(bootstrap, fmt.Sprintf("%d@%s", i+1, kafka[i]))
	}
	common := []string{"--controller-voters", strings.Join(voters, ","), "--broker-session-timeout", "3s",
		"--broker-heartbeat-interval", "500ms", "--offsets-topic-partitions", "1"}
	raft4 := freePort(t)
	var logs []*peerFailureLog
	var nodes []*child
	for i := range 3 {
		logs = append(logs, &peerFailureLog{t: t, peer: raft4})
		args := append([]string{"--node-id", fmt.Sprint(i + 1), "--controller-listen", raftAddrs[i]}, common...)
		nodes = append(nodes, spawnChildLogging(t, logs[i], t.TempDir(), kafka[i], args...))
	}
	b4 := spawnChild(t, t.TempDir(), freePort(t),
		append([]string{"--node-id", "4", "--roles", "broker", "--controller-listen", raft4,
			"--controller-bootstrap", strings.Join(bootstrap, ",")}, common...)...)
	for _, c := range append(slices.Clone(nodes), b4) {
		c.waitListening()
	}
	failures := func() int {
		n := 0
		for _, l := range logs {
			n += l.count()
		}
		return n
	}
	all := []int32{1, 2, 3, 4}
	for _, addr := range append(slices.Clone(kafka), b4.addr) {
		waitFor(t, fmt.Sprintf("%s to list brokers 1-4", addr), 30*time.Second, func() bool {
			ids, _, _ := clusterBrokers(t, addr)
			return slices.Equal(ids, all)
		})
	}
	waitFor(t, "broker 4 to be a quorum observer", 30*time.Second, func() bool {
		_, v, o, err := quorumMembers(kafka[0])
		return err == nil && slices.Equal(v, []int32{1, 2, 3}) && slices.Equal(o, []int32{4})
	})

	// Broker 4 leads a partition of its own.
	cl := kgoClient(t, kafka[0])
	creq := kmsg.NewPtrCreateTopicsRequest()
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = "placed", -1, -1
	ct.ReplicaAssignment = []kmsg.CreateTopicsRequestTopicReplicaAssignment{
		{Partition: 0, Replicas: []int32{4, 1, 2}}, {Partition: 1, Replicas: []int32{1, 2, 3}},
	}
	creq.Topics = append(creq.Topics, ct)
	creq.TimeoutMillis = 10000
	cresp, err := creq.RequestWith(ctxTimeout(t, 30*time.Second), cl)
	if err != nil || cresp.Topics[0].ErrorCode != 0 {
		t.Fatalf("CreateTopics(placed) = %v, %+v", err, cresp)
	}
	waitFor(t, "placed-0 led by broker 4 with a full ISR", 30*time.Second, func() bool {
		p := partitionMetadata(t, kafka[0], "placed", 0)
		return p.Leader == 4 && len(p.ISR) == 3
	})

	// removeStopped stops broker 4 for good, waits until the controller
	// fenced it and the quorum leader fails to reach it, and removes it
	// with remove.
	removeStopped := func(how string, remove func()) {
		t.Helper()
		b4.kill()
		before := failures()
		for _, addr := range kafka {
			waitFor(t, fmt.Sprintf("%s: broker 4 fenced", addr), 30*time.Second, func() bool {
				_, _, fenced := clusterBrokers(t, addr)
				return slices.Equal(fenced, []int32{4})
			})
		}
		waitFor(t, "the quorum leader to fail to reach broker 4", 30*time.Second, func() bool { return failures() > before })
		remove()
		removedAt := time.Now()
		for _, addr := range kafka {
			waitFor(t, fmt.Sprintf("%s: broker 4 gone from Metadata and DescribeCluster after %s", addr, how), 30*time.Second, func() bool {
				m, d, _ := clusterBrokers(t, addr)
				return slices.Equal(m, []int32{1, 2, 3}) && slices.Equal(d, []int32{1, 2, 3})
			})
			// DescribeQuorum is answered by the active controller once
			// the configuration change committed, before UnregisterBroker
			// returned.
			_, v, o, err := quorumMembers(addr)
			if err != nil || !slices.Equal(v, []int32{1, 2, 3}) || len(o) != 0 {
				t.Fatalf("%s: DescribeQuorum after %s = voters %v observers %v (%v), want voters 1-3 and no observer", addr, how, v, o, err)
			}
		}
		// The partition keeps broker 4 as a replica, led and in sync
		// elsewhere.
		p := partitionMetadata(t, kafka[1], "placed", 0)
		if !slices.Equal(p.Replicas, []int32{4, 1, 2}) || p.Leader == 4 || slices.Contains(p.ISR, 4) || !slices.Equal(p.OfflineReplicas, []int32{4}) {
			t.Errorf("placed-0 after %s = replicas %v leader %d ISR %v offline %v; want replicas [4 1 2], 4 neither leader nor in the ISR, offline [4]",
				how, p.Replicas, p.Leader, p.ISR, p.OfflineReplicas)
		}
		// The leader stops trying to reach it. Before, it retried its
		// heartbeat at least every 500ms; hashicorp/raft ends the peer's
		// replication after the retry backoff under way (at most ~10s)
		// and one last attempt, so quiet comes within ~21s.
		last, quietSince := failures(), time.Now()
		waitFor(t, fmt.Sprintf("the quorum leader to stop trying to reach broker 4 after %s", how), 45*time.Second, func() bool {
			if n := failures(); n != last {
				last, quietSince = n, time.Now()
			}
			return time.Since(quietSince) >= 3*time.Second
		})
		t.Logf("%s: the quorum leader's last failure to reach broker 4 came %v after the removal", how, max(quietSince.Sub(removedAt), 0).Round(time.Millisecond))
	}
	restart := func() {
		t.Helper()
		b4 = startChild(t, b4.dir, b4.addr, b4.args...)
		for _, addr := range kafka {
			waitFor(t, fmt.Sprintf("%s to list broker 4 again", addr), 30*time.Second, func() bool {
				m, _, _ := clusterBrokers(t, addr)
				return slices.Equal(m, all)
			})
		}
		waitFor(t, "broker 4 to be a quorum observer again", 30*time.Second, func() bool {
			_, _, o, err := quorumMembers(kafka[0])
			return err == nil && slices.Equal(o, []int32{4})
		})
		waitFor(t, "broker 4 back in the ISR of placed-0", 30*time.Second, func() bool {
			return slices.Contains(partitionMetadata(t, kafka[0], "placed", 0).ISR, 4)
		})
	}

	leader, _, _, _ := quorumMembers(kafka[0])
	other := kafka[0]
	if leader == 1 {
		other = kafka[1]
	}
	removeStopped("a raw UnregisterBroker to a node that is not the controller", func() {
		if code := unregisterCode(t, other, 4); code != 0 {
			t.Fatalf("UnregisterBroker(4) to %s = %v, want no error", other, kerr.ErrorForCode(code))
		}
	})
	// Unknown ids, negative ones included, as Kafka answers them.
	for _, id := range []int32{4, 42, -1} {
		if code := unregisterCode(t, other, id); code != kerr.BrokerIDNotRegistered.Code {
			t.Errorf("UnregisterBroker(%d) = %v, want BROKER_ID_NOT_REGISTERED", id, kerr.ErrorForCode(code))
		}
	}
	// A truncated UnregisterBroker closes the connection; the node serves on.
	rc := dialRaw(t, other)
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("bad")).AppendRequest(nil, kmsg.NewPtrUnregisterBrokerRequest(), 1)
	frame = frame[:len(frame)-3]
	frame[0], frame[1], frame[2], frame[3] = 0, 0, 0, byte(len(frame)-4)
	rc.writeFrame(frame)
	rc.expectClosed()
	if m, _, _ := clusterBrokers(t, other); !slices.Equal(m, []int32{1, 2, 3}) {
		t.Fatalf("after a truncated request %s lists brokers %v, want 1-3", other, m)
	}

	restart()

	removeStopped("strata cluster remove-broker", func() {
		stdout, stderr, err := strataCLI(t, "cluster", "remove-broker", "4", "--bootstrap", kafka[2])
		if err != nil {
			t.Fatalf("strata cluster remove-broker 4: %v, stderr %q", err, stderr)
		}
		want := "Broker 4 unregistered.\nNode 4 left the metadata quorum (it was an observer).\n"
		// placed-0, and __consumer_offsets-0 if it was placed there.
		switch n := partitionsOn(t, kafka[2], 4); n {
		case 1:
			want += "1 partition still lists broker 4 as a replica; move it with strata topic reassign.\n"
		default:
			want += fmt.Sprintf("%d partitions still list broker 4 as a replica; move them with strata topic reassign.\n", n)
		}
		if stdout != want {
			t.Errorf("strata cluster remove-broker 4: stdout %q, want %q", stdout, want)
		}
	})
	if _, stderr, err := strataCLI(t, "cluster", "remove-broker", "4", "--bootstrap", kafka[0]); err == nil ||
		!strings.Contains(stderr, "broker 4 is not registered: BROKER_ID_NOT_REGISTERED") {
		t.Errorf("strata cluster remove-broker 4 again: err %v, stderr %q; want BROKER_ID_NOT_REGISTERED", err, stderr)
	}

	restart()

	// A live broker-only node, with --force: it leaves the quorum, learns
	// at its next heartbeat that its registration is gone, and registers
	// and joins the quorum again.
	stdout, stderr, err := strataCLI(t, "cluster", "remove-broker", "4", "--force", "--bootstrap", kafka[1])
	if want := "Broker 4 unregistered.\nBroker 4 was alive: it registers again at its next heartbeat.\n"; err != nil || !strings.HasPrefix(stdout, want) {
		t.Fatalf("strata cluster remove-broker 4 --force: %v, stdout %q, stderr %q; want stdout to start with %q", err, stdout, stderr, want)
	}
	waitFor(t, "broker 4 to register and join the quorum again", 30*time.Second, func() bool {
		m, _, _ := clusterBrokers(t, kafka[0])
		_, _, o, err := quorumMembers(kafka[0])
		return slices.Equal(m, all) && err == nil && slices.Equal(o, []int32{4})
	})
	waitFor(t, "broker 4 back in the ISR of placed-0", 30*time.Second, func() bool {
		return slices.Contains(partitionMetadata(t, kafka[0], "placed", 0).ISR, 4)
	})

	// A live combined node's broker: refused without --force; with it,
	// unregistered while its controller stays a voter, and registered
	// again by its next heartbeat.
	if _, stderr, err := strataCLI(t, "cluster", "remove-broker", "2", "--bootstrap", kafka[0]); err == nil ||
		!strings.Contains(stderr, "broker 2 is alive (registered and not fenced): stop it first, or pass --force") {
		t.Errorf("strata cluster remove-broker 2 (alive): err %v, stderr %q; want a refusal", err, stderr)
	}
	stdout, stderr, err = strataCLI(t, "cluster", "remove-broker", "2", "--force", "--bootstrap", kafka[0])
	if err != nil {
		t.Fatalf("strata cluster remove-broker 2 --force: %v, stderr %q", err, stderr)
	}
	if want := "Broker 2 unregistered.\nBroker 2 was alive: it registers again at its next heartbeat.\n" +
		"Node 2 stays a controller (metadata quorum voter): Strata does not change the voter set.\n"; !strings.HasPrefix(stdout, want) {
		t.Errorf("strata cluster remove-broker 2 --force: stdout %q, want it to start with %q", stdout, want)
	}
	for _, addr := range kafka {
		waitFor(t, fmt.Sprintf("%s to list broker 2 again", addr), 30*time.Second, func() bool {
			m, _, _ := clusterBrokers(t, addr)
			return slices.Equal(m, all)
		})
	}
	var v, o []int32
	var qerr error
	waitFor(t, "DescribeQuorum to list voters 1-3 and observer 4 after unregistering broker 2", 10*time.Second, func() bool {
		_, v, o, qerr = quorumMembers(kafka[0])
		if qerr != nil {
			t.Logf("DescribeQuorum after unregistering broker 2: %v", qerr)
		}
		return qerr == nil
	})
	if !slices.Equal(v, []int32{1, 2, 3}) || !slices.Equal(o, []int32{4}) {
		t.Errorf("DescribeQuorum after unregistering broker 2 = voters %v observers %v, want voters 1-3, observer 4", v, o)
	}
	for _, c := range append(nodes, b4) {
		c.terminate()
	}
}
