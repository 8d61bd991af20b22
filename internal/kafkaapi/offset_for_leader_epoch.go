package kafkaapi

// OffsetForLeaderEpoch v2-v4 (KIP-101, KIP-279, KIP-320).
//   v2: current leader epoch for fencing. v3: replica id (consumers send -1,
//   followers their id). v4: flexible.
// Answers the largest epoch at or below the requested one and the offset
// where it ended (the log end offset for the current epoch), so a consumer
// or follower can detect and truncate a divergent tail. Only the leader
// answers (NOT_LEADER_OR_FOLLOWER elsewhere), and the end offset is the
// log's, not capped at the high watermark, as in Kafka: a consumer that
// read up to the old leader's high watermark must not be told its records
// were truncated while the new leader's high watermark catches up.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/acl"
	"github.com/strata-io/strata/internal/server"
)

func (h *Handler) offsetForLeaderEpoch(rc *reqCtx, req *kmsg.OffsetForLeaderEpochRequest) server.Response {
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	img := h.ctrl.Image()
	// Replicas need CLUSTER_ACTION, consumers (KIP-320) DESCRIBE on the
	// topic; as Kafka, either one serves.
	clusterAction := h.allowedCluster(rc, acl.OpClusterAction)
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetForLeaderEpochResponseTopic()
		rt.Topic = t.Topic
		described := clusterAction || h.allowed(rc, acl.OpDescribe, acl.ResourceTopic, t.Topic)
		for _, tp := range t.Partitions {
			rp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			rp.Partition = tp.Partition
			rp.LeaderEpoch, rp.EndOffset = -1, -1
			p, ok := h.partitions.Get(t.Topic, tp.Partition)
			switch {
			case !described:
				rp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			case !ok:
				rp.ErrorCode = notHostedCode(img, t.Topic, tp.Partition)
			default:
				if err := p.CheckLeaderEpoch(tp.CurrentLeaderEpoch); err != nil {
					rp.ErrorCode = errorCode(rc.log, err)
					break
				}
				e, end, err := p.EndOffsetForEpoch(tp.LeaderEpoch)
				if err != nil {
					rp.ErrorCode = errorCode(rc.log, err)
					break
				}
				rp.LeaderEpoch, rp.EndOffset = e, end
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return done(resp)
}
