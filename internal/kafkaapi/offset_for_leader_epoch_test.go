package kafkaapi

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestOffsetForLeaderEpochAnswersOnlyOnLeaderAndUncapped: only the leader
// answers, and with the log's end offset even while its high watermark
// lags (a new leader whose followers have not fetched yet), so a consumer
// that read up to the previous leader's high watermark is not told its
// records were truncated (issue 9).
func TestOffsetForLeaderEpochAnswersOnlyOnLeaderAndUncapped(t *testing.T) {
	th := newTestHandler(t)
	ask := func(partition, epoch int32) kmsg.OffsetForLeaderEpochResponseTopicPartition {
		req := kmsg.NewPtrOffsetForLeaderEpochRequest()
		req.Version, req.ReplicaID = 4, -1
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.Partition, rp.CurrentLeaderEpoch, rp.LeaderEpoch = partition, -1, epoch
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := await(t, th.h.offsetForLeaderEpoch(th.rc(t, 4), req)).(*kmsg.OffsetForLeaderEpochResponse)
		return resp.Topics[0].Partitions[0]
	}
	if got := ask(1, 0); got.ErrorCode != kerr.NotLeaderForPartition.Code {
		t.Errorf("OffsetForLeaderEpoch t-1 on a follower = code %d, want NOT_LEADER_OR_FOLLOWER", got.ErrorCode)
	}

	// t-0 is led here with replicas {1, 2}: broker 2 never fetches, so
	// the high watermark stays 0 while the log grows to 3.
	p0, _ := th.parts.Get("t", 0)
	for range 3 {
		if _, err := p0.AppendAsLeader(oneBatch(t), time.Now(), 1); err != nil {
			t.Fatalf("AppendAsLeader: %v", err)
		}
	}
	if hw := p0.HighWatermark(); hw != 0 {
		t.Fatalf("t-0 high watermark = %d, want 0 (broker 2 has not fetched)", hw)
	}
	epoch := p0.LeaderEpoch()
	if got := ask(0, epoch); got.ErrorCode != 0 || got.LeaderEpoch != epoch || got.EndOffset != 3 {
		t.Errorf("OffsetForLeaderEpoch t-0 epoch %d = code %d (epoch %d, end %d), want (%d, 3): the log end, not the high watermark",
			epoch, got.ErrorCode, got.LeaderEpoch, got.EndOffset, epoch)
	}
}
