package node

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// testCluster is N `strata serve` processes forming one cluster on
// loopback ports, as the README's cluster command does.
type testCluster struct {
	nodes []*child
	addrs []string
}

func startCluster(t *testing.T, n int, extra ...string) *testCluster {
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
			"--controller-listen", raft[i]}, extra...)
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
