package kafkaapi

// OffsetForLeaderEpoch v2-v4 (KIP-101, KIP-279, KIP-320).
//   v2: current leader epoch for fencing. v3: replica id (consumers send -1,
//   followers their id). v4: flexible.
// Answers the largest epoch at or below the requested one and the offset
// where it ended (the log end offset for the current epoch), so a consumer
// or follower can detect and truncate a divergent tail.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/server"
)

func (h *Handler) offsetForLeaderEpoch(rc *reqCtx, req *kmsg.OffsetForLeaderEpochRequest) server.Response {
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetForLeaderEpochResponseTopic()
		rt.Topic = t.Topic
		for _, tp := range t.Partitions {
			rp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			rp.Partition = tp.Partition
			rp.LeaderEpoch, rp.EndOffset = -1, -1
			p, ok := h.partitions.Get(t.Topic, tp.Partition)
			switch {
			case !ok:
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			default:
				if err := p.CheckLeaderEpoch(tp.CurrentLeaderEpoch); err != nil {
					rp.ErrorCode = errorCode(rc.log, err)
					break
				}
				rp.LeaderEpoch, rp.EndOffset = p.Log().EndOffsetForEpoch(tp.LeaderEpoch)
				// A consumer must not learn of offsets above the high
				// watermark; followers need the real end.
				if hw := p.HighWatermark(); req.ReplicaID < 0 && rp.EndOffset > hw {
					rp.EndOffset = hw
				}
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return done(resp)
}
