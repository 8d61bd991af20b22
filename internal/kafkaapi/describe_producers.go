package kafkaapi

// DescribeProducers v0 (KIP-664).
// The active producers of each partition as its leader's log remembers
// them (until producer.id.expiration.ms): producer id and epoch, last
// sequence, last timestamp, the coordinator epoch of its last transaction
// marker and the first offset of its ongoing transaction (-1 if none).
// NOT_LEADER_OR_FOLLOWER off the leader (also for a partition known to the
// metadata but not hosted here), UNKNOWN_TOPIC_OR_PARTITION otherwise.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/acl"
	"github.com/strata-io/strata/internal/server"
)

func (h *Handler) describeProducers(rc *reqCtx, req *kmsg.DescribeProducersRequest) server.Response {
	resp := req.ResponseKind().(*kmsg.DescribeProducersResponse)
	img := h.ctrl.Image()
	for _, t := range req.Topics {
		rt := kmsg.NewDescribeProducersResponseTopic()
		rt.Topic = t.Topic
		readable := h.allowed(rc, acl.OpRead, acl.ResourceTopic, t.Topic)
		for _, index := range t.Partitions {
			rp := kmsg.NewDescribeProducersResponseTopicPartition()
			rp.Partition = index
			p, ok := h.partitions.Get(t.Topic, index)
			switch {
			case !readable:
				rp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			case !ok:
				rp.ErrorCode = notHostedCode(img, t.Topic, index)
			case !p.IsLeader():
				rp.ErrorCode = kerr.NotLeaderForPartition.Code
			default:
				for _, pi := range p.Log().ActiveProducers() {
					ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
					ap.ProducerID, ap.ProducerEpoch, ap.LastSequence = pi.ProducerID, int32(pi.ProducerEpoch), pi.LastSequence
					ap.LastTimestamp, ap.CoordinatorEpoch, ap.CurrentTxnStartOffset = pi.LastTimestamp, pi.CoordinatorEpoch, pi.CurrentTxnStartOffset
					rp.ActiveProducers = append(rp.ActiveProducers, ap)
				}
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return done(resp)
}
