package node

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/kafkaapi"
)

// activeController returns the index in addrs of the node that answers a
// controller request itself (sent as a node, so nobody forwards it), or -1.
func activeController(t *testing.T, addrs []string) int {
	t.Helper()
	for i, addr := range addrs {
		req := kmsg.NewPtrListPartitionReassignmentsRequest()
		resp := dialRaw(t, addr).sendAs(kafkaapi.ForwardClientIDPrefix+"test", req).(*kmsg.ListPartitionReassignmentsResponse)
		if resp.ErrorCode == 0 {
			return i
		}
	}
	return -1
}

// TestSeparateControllerAndBrokerRoles runs three controller-only nodes
// and two broker-only nodes: the brokers follow the metadata log as
// non-voters, clients see only the brokers (one named as controller, which
// forwards admin requests), and acknowledged writes survive SIGKILL of the
// active controller.
func TestSeparateControllerAndBrokerRoles(t *testing.T) {
	if testing.Short() {
		t.Skip("starts five processes")
	}
	var ctrlKafka, ctrlRaft []string
	for range 3 {
		ctrlKafka = append(ctrlKafka, freePort(t))
		ctrlRaft = append(ctrlRaft, freePort(t))
	}
	var voters, bootstrap []string
	for i := range 3 {
		voters = append(voters, fmt.Sprintf("%d@%s", i+1, ctrlRaft[i]))
		bootstrap = append(bootstrap, fmt.Sprintf("%d@%s", i+1, ctrlKafka[i]))
	}
	common := []string{"--controller-voters", strings.Join(voters, ","), "--broker-session-timeout", "3s",
		"--broker-heartbeat-interval", "500ms", "--offsets-topic-partitions", "1", "--default-replication-factor", "2"}
	var controllers []*child
	for i := range 3 {
		args := append([]string{"--node-id", fmt.Sprint(i + 1), "--roles", "controller", "--controller-listen", ctrlRaft[i]}, common...)
		controllers = append(controllers, spawnChild(t, t.TempDir(), ctrlKafka[i], args...))
	}
	var brokers []*child
	var brokerAddrs []string
	for i := range 2 {
		addr := freePort(t)
		args := append([]string{"--node-id", fmt.Sprint(i + 4), "--roles", "broker", "--controller-listen", freePort(t),
			"--controller-bootstrap", strings.Join(bootstrap, ",")}, common...)
		brokers = append(brokers, spawnChild(t, t.TempDir(), addr, args...))
		brokerAddrs = append(brokerAddrs, addr)
	}
	for _, c := range append(slices.Clone(controllers), brokers...) {
		c.waitListening()
	}
	for _, addr := range brokerAddrs {
		waitFor(t, "a broker to list brokers 4 and 5 and name one of them controller", 30*time.Second, func() bool {
			req := kmsg.NewPtrMetadataRequest()
			req.Version = 12
			resp := dialRaw(t, addr).send(req).(*kmsg.MetadataResponse)
			var ids []int32
			for _, b := range resp.Brokers {
				ids = append(ids, b.NodeID)
			}
			slices.Sort(ids)
			return slices.Equal(ids, []int32{4, 5}) && (resp.ControllerID == 4 || resp.ControllerID == 5)
		})
	}

	// Admin requests sent to a broker are forwarded to the active
	// controller.
	adm := kadm.NewClient(kgoClient(t, brokerAddrs[0]))
	two := "2"
	waitFor(t, "creating an RF=2 topic through a broker", 30*time.Second, func() bool {
		r, err := adm.CreateTopic(ctxTimeout(t, 10*time.Second), 1, 2, map[string]*string{"min.insync.replicas": &two}, "split")
		return err == nil && r.Err == nil
	})
	waitFor(t, "both replicas in sync", 30*time.Second, func() bool {
		_, isr := replicasOf(t, brokerAddrs[0], "split", 0)
		return len(isr) == 2
	})

	load := startHistoryLoad(t, brokerAddrs, "split")
	load.waitAcked(t, "acknowledgements before the controller dies", 3000)
	active := -1
	waitFor(t, "an active controller", 10*time.Second, func() bool {
		active = activeController(t, ctrlKafka)
		return active >= 0
	})
	controllers[active].kill()
	t.Logf("SIGKILLed active controller %d after %d acknowledgements", active+1, load.acked.Load())
	rest := slices.Delete(slices.Clone(ctrlKafka), active, active+1)
	waitFor(t, "a new active controller", 30*time.Second, func() bool { return activeController(t, rest) >= 0 })
	load.waitAcked(t, "acknowledgements after the controller died", 3000)
	// The new controller serves admin requests through the brokers too.
	waitFor(t, "creating a topic after the failover", 30*time.Second, func() bool {
		r, err := adm.CreateTopic(ctxTimeout(t, 10*time.Second), 1, 2, nil, "after")
		return err == nil && r.Err == nil
	})
	// DescribeQuorum sent to a broker is forwarded to the new active
	// controller, which lists the voters and the brokers as observers.
	var last string
	defer func() {
		if t.Failed() {
			t.Logf("last DescribeQuorum answer: %s", last)
		}
	}()
	waitFor(t, "DescribeQuorum to name the new leader", 30*time.Second, func() bool {
		req := kmsg.NewPtrDescribeQuorumRequest()
		req.Version = 2
		req.Topics = []kmsg.DescribeQuorumRequestTopic{{Topic: "__cluster_metadata", Partitions: []kmsg.DescribeQuorumRequestTopicPartition{{Partition: 0}}}}
		resp := dialRaw(t, brokerAddrs[0]).send(req).(*kmsg.DescribeQuorumResponse)
		p := resp.Topics[0].Partitions[0]
		last = fmt.Sprintf("%+v nodes %+v", p, resp.Nodes)
		var voters, observers []int32
		for _, v := range p.CurrentVoters {
			voters = append(voters, v.ReplicaID)
		}
		for _, o := range p.Observers {
			observers = append(observers, o.ReplicaID)
		}
		return p.ErrorCode == 0 && p.LeaderID >= 1 && p.LeaderID <= 3 && p.LeaderID != int32(active+1) &&
			slices.Equal(voters, []int32{1, 2, 3}) && slices.Equal(observers, []int32{4, 5}) && len(resp.Nodes) >= 2
	})
	final := load.stopAndCheck(t, brokerAddrs[1], "split")
	t.Logf("%d records acknowledged, %d stored", load.acked.Load(), len(final[0]))
}
