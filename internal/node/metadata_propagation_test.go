package node

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestCreatedTopicIsKnownEverywhereAtOnce: on the README's 3-node cluster,
// a topic created through any node is in the Metadata answer of every node
// the moment CreateTopics returns (the controller answers once every live
// broker has applied the change), and a fresh franz-go client can create
// then produce at once. The create-then-produce times are logged (median,
// max), never asserted.
func TestCreatedTopicIsKnownEverywhereAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	tries := 30
	if livenessFull() {
		tries = 100
	}
	tc := startCluster(t, 3, "--offsets-topic-partitions", "1")
	adm := kadm.NewClient(kgoClient(t, tc.addrs[0]))
	waitFor(t, "three unfenced brokers (an RF=3 topic can be created)", 30*time.Second, func() bool {
		r, err := adm.CreateTopic(ctxTimeout(t, 10*time.Second), 1, 3, nil, "warm-up")
		return err == nil && r.Err == nil
	})
	for i := range tries {
		via := tc.addrs[i%len(tc.addrs)]
		name := fmt.Sprintf("everywhere-%d", i)
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 3, 3
		req.Topics = append(req.Topics, rt)
		req.TimeoutMillis = 10000
		req.Version = 7
		resp, err := rawRequest(via, req, 15*time.Second)
		if err != nil {
			t.Fatalf("create %s via %s: %v", name, via, err)
		}
		if err := kerr.ErrorForCode(resp.(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode); err != nil {
			t.Fatalf("create %s via %s: %v", name, via, err)
		}
		// Ask every node at once, right after the answer.
		var wg sync.WaitGroup
		errs := make([]error, len(tc.addrs))
		for j, addr := range tc.addrs {
			wg.Go(func() { errs[j] = knowsTopic(addr, name, 3) })
		}
		wg.Wait()
		for j, err := range errs {
			if err != nil {
				t.Fatalf("try %d: topic created via %s: node %s: %v", i, via, tc.addrs[j], err)
			}
		}
	}

	var took []time.Duration
	for i := range tries {
		start := time.Now()
		cl, err := kgo.NewClient(kgo.SeedBrokers(tc.addrs[i%len(tc.addrs)]), kgo.RequiredAcks(kgo.AllISRAcks()))
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("then-produce-%d", i)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 1, 3
		req.Topics = append(req.Topics, rt)
		req.TimeoutMillis = 10000
		cresp, err := req.RequestWith(ctx, cl)
		if err == nil {
			err = kerr.ErrorForCode(cresp.Topics[0].ErrorCode)
		}
		if err == nil {
			err = cl.ProduceSync(ctx, &kgo.Record{Topic: name, Value: []byte("first")}).FirstErr()
		}
		cancel()
		cl.Close()
		if err != nil {
			t.Fatalf("create-then-produce %s: %v", name, err)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	t.Logf("fresh franz-go client create-then-produce over %d tries (RF=3): median %v, max %v",
		tries, took[len(took)/2].Round(100*time.Microsecond), took[len(took)-1].Round(100*time.Microsecond))
}

// knowsTopic asks addr for topic's metadata and says what is missing: the
// topic, or a leader for one of its partitions.
func knowsTopic(addr, topic string, partitions int) error {
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := rawRequest(addr, req, 10*time.Second)
	if err != nil {
		return err
	}
	mt := resp.(*kmsg.MetadataResponse).Topics[0]
	if err := kerr.ErrorForCode(mt.ErrorCode); err != nil {
		return fmt.Errorf("metadata for %s: %w", topic, err)
	}
	if len(mt.Partitions) != partitions {
		return fmt.Errorf("metadata for %s: %d partitions, want %d", topic, len(mt.Partitions), partitions)
	}
	for _, p := range mt.Partitions {
		if p.Leader < 0 || p.ErrorCode != 0 {
			return fmt.Errorf("metadata for %s partition %d: leader %d, error %d", topic, p.Partition, p.Leader, p.ErrorCode)
		}
	}
	return nil
}
