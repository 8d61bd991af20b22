package kafkaapi

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/record"
)

func TestDescribeProducers(t *testing.T) {
	th := newTestHandler(t)
	p0, _ := th.parts.Get("t", 0)
	now := time.Now()
	for seq := int32(0); seq < 6; seq += 3 { // two batches of three records
		b := record.NewBuilder(record.CodecNone, now.UnixMilli())
		b.SetProducer(4242, 7, seq)
		for range 3 {
			b.Add(now.UnixMilli(), nil, []byte("v"), nil)
		}
		batch, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p0.AppendAsLeader(batch, now, 1); err != nil {
			t.Fatalf("AppendAsLeader(producer 4242, seq %d): %v", seq, err)
		}
	}
	req := kmsg.NewPtrDescribeProducersRequest()
	req.Topics = []kmsg.DescribeProducersRequestTopic{{Topic: "t", Partitions: []int32{0, 1}}, {Topic: "nope", Partitions: []int32{0}}}
	resp := await(t, th.h.describeProducers(th.rc(t, 0), req)).(*kmsg.DescribeProducersResponse)
	type producer struct {
		ID             int64
		Epoch, LastSeq int32
		LastTimestamp  int64
		CoordEpoch     int32
		TxnStart       int64
	}
	type got struct {
		Topic     string
		Partition int32
		Code      int16
		Producers []producer
	}
	var gots []got
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			g := got{Topic: rt.Topic, Partition: rp.Partition, Code: rp.ErrorCode}
			for _, ap := range rp.ActiveProducers {
				g.Producers = append(g.Producers, producer{ap.ProducerID, ap.ProducerEpoch, ap.LastSequence, ap.LastTimestamp, ap.CoordinatorEpoch, ap.CurrentTxnStartOffset})
			}
			gots = append(gots, g)
		}
	}
	want := []got{
		{"t", 0, 0, []producer{{ID: 4242, Epoch: 7, LastSeq: 5, LastTimestamp: now.UnixMilli(), CoordEpoch: -1, TxnStart: -1}}},
		{"t", 1, kerr.NotLeaderForPartition.Code, nil}, // led by broker 2
		{"nope", 0, kerr.UnknownTopicOrPartition.Code, nil},
	}
	if diff := cmp.Diff(want, gots); diff != "" {
		t.Errorf("DescribeProducers (-want +got):\n%s", diff)
	}
}
