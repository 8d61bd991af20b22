package node

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestDeleteRecordsReachesEveryReplica: DeleteRecords on an RF=3 topic
// answers once every follower has raised its log start offset too, so
// after the leader is SIGKILLed the new leader starts the log at the same
// offset, and consumers from the start read only what was kept. On the
// way, DescribeProducers (routed to the leader by kadm) reports the
// idempotent producer.
func TestDeleteRecordsReachesEveryReplica(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	tc := startCluster(t, 3, "--offsets-topic-partitions", "3", "--broker-session-timeout", "3s", "--broker-heartbeat-interval", "300ms")
	adm := kadm.NewClient(kgoClient(t, tc.addrs[0], kgo.SeedBrokers(tc.addrs...)))
	waitFor(t, "creating the topic", 30*time.Second, func() bool {
		r, err := adm.CreateTopic(ctxTimeout(t, 10*time.Second), 1, 3, nil, "purge")
		return err == nil && (r.Err == nil || errors.Is(r.Err, kerr.TopicAlreadyExists))
	})
	waitFor(t, "a full ISR", 30*time.Second, func() bool {
		l, isr := leaderOf(t, tc.addrs[0], "purge", 0)
		return l > 0 && len(isr) == 3
	})
	p := kgoClient(t, tc.addrs[0], kgo.SeedBrokers(tc.addrs...), kgo.DefaultProduceTopic("purge"), kgo.RequiredAcks(kgo.AllISRAcks()))
	var recs []*kgo.Record
	for i := range 100 {
		recs = append(recs, &kgo.Record{Value: fmt.Appendf(nil, "v%d", i)})
	}
	if err := p.ProduceSync(ctxTimeout(t, 30*time.Second), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}

	described, err := adm.DescribeProducers(ctxTimeout(t, 10*time.Second), kadm.TopicsSet{"purge": {0: {}}})
	if err != nil {
		t.Fatalf("DescribeProducers: %v", err)
	}
	leader0, _ := leaderOf(t, tc.addrs[0], "purge", 0)
	var producers []kadm.DescribedProducer
	described.EachProducer(func(d kadm.DescribedProducer) { producers = append(producers, d) })
	if len(producers) != 1 || producers[0].ProducerID != recs[0].ProducerID || producers[0].LastSequence != 99 || producers[0].Leader != leader0 {
		t.Fatalf("DescribeProducers(purge-0) = %+v, want producer %d with last sequence 99 from leader %d", producers, recs[0].ProducerID, leader0)
	}

	var del kadm.Offsets
	del.Add(kadm.Offset{Topic: "purge", Partition: 0, At: 40})
	resps, err := adm.DeleteRecords(ctxTimeout(t, 30*time.Second), del)
	if err != nil {
		t.Fatalf("DeleteRecords: %v", err)
	}
	r, _ := resps.Lookup("purge", 0)
	if r.Err != nil || r.LowWatermark != 40 {
		t.Fatalf("DeleteRecords(purge-0 before 40) = low watermark %d, err %v; want 40 once every replica deleted", r.LowWatermark, r.Err)
	}

	leader, _ := leaderOf(t, tc.addrs[0], "purge", 0)
	tc.nodes[leader-1].kill()
	other := tc.addrs[leader%3]
	waitFor(t, "a new leader", 30*time.Second, func() bool {
		l, _ := leaderOf(t, other, "purge", 0)
		return l > 0 && l != leader
	})
	adm2 := kadm.NewClient(kgoClient(t, other))
	var start int64 = -1
	waitFor(t, "the new leader's log start offset", 30*time.Second, func() bool {
		offs, err := adm2.ListStartOffsets(ctxTimeout(t, 10*time.Second), "purge")
		if err != nil {
			return false
		}
		o, ok := offs.Lookup("purge", 0)
		start = o.Offset
		return ok && o.Err == nil
	})
	if start != 40 {
		t.Fatalf("log start offset on the new leader = %d, want 40 (the follower deleted the records too)", start)
	}
	got := consumeFrom(t, other, "purge", 60)
	if got[0].Offset != 40 || string(got[0].Value) != "v40" || string(got[59].Value) != "v99" {
		t.Fatalf("consumed from the start after DeleteRecords: first %d:%s last %s, want 40:v40 ... v99", got[0].Offset, got[0].Value, got[59].Value)
	}
}
