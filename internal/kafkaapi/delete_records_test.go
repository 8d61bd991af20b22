package kafkaapi

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestDeleteRecords(t *testing.T) {
	th := newTestHandler(t)
	del := func(timeoutMs int32, topic string, partition int32, offset int64) kmsg.DeleteRecordsResponseTopicPartition {
		req := kmsg.NewPtrDeleteRecordsRequest()
		req.Version, req.TimeoutMillis = 2, timeoutMs
		rt := kmsg.NewDeleteRecordsRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewDeleteRecordsRequestTopicPartition()
		rp.Partition, rp.Offset = partition, offset
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := await(t, th.h.deleteRecords(th.rc(t, 2), req)).(*kmsg.DeleteRecordsResponse)
		return resp.Topics[0].Partitions[0]
	}
	// t-0 is led here with follower 2: five records, committed once
	// broker 2 has fetched them all.
	p0, _ := th.parts.Get("t", 0)
	for range 5 {
		if _, err := p0.AppendAsLeader(oneBatch(t), time.Now(), 1); err != nil {
			t.Fatalf("AppendAsLeader: %v", err)
		}
	}
	p0.UpdateFollower(2, -1, 5, 0, time.Now())
	if hw := p0.HighWatermark(); hw != 5 {
		t.Fatalf("t-0 high watermark = %d, want 5", hw)
	}

	tests := []struct {
		name      string
		timeoutMs int32
		topic     string
		partition int32
		offset    int64
		wantCode  int16
		wantLow   int64
	}{
		{"above the high watermark", 1000, "t", 0, 6, kerr.OffsetOutOfRange.Code, -1},
		{"negative other than -1", 1000, "t", 0, -2, kerr.OffsetOutOfRange.Code, -1},
		{"on a follower", 1000, "t", 1, 0, kerr.NotLeaderForPartition.Code, -1},
		{"unknown topic", 1000, "nope", 0, 0, kerr.UnknownTopicOrPartition.Code, -1},
		// The leader deletes at once; the follower has not reported a new
		// log start offset, so the answer times out with the low watermark.
		{"follower behind", 50, "t", 0, 2, kerr.RequestTimedOut.Code, 0},
		{"timeout 0 does not wait", 0, "t", 0, 2, kerr.RequestTimedOut.Code, 0},
	}
	for _, tt := range tests {
		got := del(tt.timeoutMs, tt.topic, tt.partition, tt.offset)
		if got.ErrorCode != tt.wantCode || got.LowWatermark != tt.wantLow {
			t.Errorf("%s: DeleteRecords(%s-%d before %d) = code %v low watermark %d, want %v %d", tt.name, tt.topic, tt.partition, tt.offset,
				kerr.ErrorForCode(got.ErrorCode), got.LowWatermark, kerr.ErrorForCode(tt.wantCode), tt.wantLow)
		}
	}
	if lso := p0.Log().LogStartOffset(); lso != 2 {
		t.Fatalf("t-0 log start offset after DeleteRecords(2) = %d, want 2", lso)
	}

	// The follower reports log start offset 2 in its next fetch: a request
	// now waiting for it completes.
	done := make(chan kmsg.DeleteRecordsResponseTopicPartition, 1)
	go func() { done <- del(10000, "t", 0, -1) }() // -1: the high watermark, 5
	time.Sleep(20 * time.Millisecond)
	p0.UpdateFollower(2, -1, 5, 5, time.Now())
	select {
	case got := <-done:
		if got.ErrorCode != 0 || got.LowWatermark != 5 {
			t.Errorf("DeleteRecords(t-0 before -1) = code %v low watermark %d, want success at 5", kerr.ErrorForCode(got.ErrorCode), got.LowWatermark)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("DeleteRecords still waiting 10s after the follower reported its log start offset")
	}

	// A compacted topic refuses, as Kafka does.
	cfg := p0.Log().Config()
	cfg.Delete, cfg.Compact = false, true
	p0.Log().SetConfig(cfg)
	if got := del(1000, "t", 0, 5); got.ErrorCode != kerr.PolicyViolation.Code {
		t.Errorf("DeleteRecords on a compact-only topic = %v, want POLICY_VIOLATION", kerr.ErrorForCode(got.ErrorCode))
	}
}
