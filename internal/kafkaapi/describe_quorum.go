package kafkaapi

// DescribeQuorum v0-2 (KIP-595, KIP-836, KIP-853): the metadata quorum,
// topic __cluster_metadata partition 0. Answered by the active controller
// (other nodes forward it): leader id, leader epoch (the raft term), high
// watermark (the commit index), voters and observers (broker-only nodes).
// Raft does not expose how far each follower has replicated, so their log
// end offsets and fetch times are -1 (unknown), as Kafka reports for
// replicas it has no state for. v2 lists the Kafka listener of each member
// that is a registered broker or in --controller-bootstrap.
// Other topics or partitions get UNKNOWN_TOPIC_OR_PARTITION.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/server"
)

// metadataTopic is the name Kafka gives the metadata log.
const metadataTopic = "__cluster_metadata"

func (h *Handler) describeQuorum(rc *reqCtx, req *kmsg.DescribeQuorumRequest) server.Response {
	return later(rc, func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.DescribeQuorumResponse)
		st, err := h.channel.Quorum(rc.ctx)
		for _, t := range req.Topics {
			rt := kmsg.NewDescribeQuorumResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewDescribeQuorumResponseTopicPartition()
				rp.Partition = p.Partition
				switch {
				case t.Topic != metadataTopic || p.Partition != 0:
					rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				case err != nil:
					rp.ErrorCode = errorCode(rc.log, err)
				default:
					rp.LeaderID, rp.LeaderEpoch, rp.HighWatermark = st.LeaderID, int32(st.Term), int64(st.CommitIndex)
					replica := func(id int32) kmsg.DescribeQuorumResponseTopicPartitionReplicaState {
						r := kmsg.NewDescribeQuorumResponseTopicPartitionReplicaState()
						r.ReplicaID, r.LogEndOffset = id, -1
						if id == h.cfg.NodeID {
							r.LogEndOffset = int64(st.LastIndex)
						}
						return r
					}
					for _, id := range st.Voters {
						rp.CurrentVoters = append(rp.CurrentVoters, replica(id))
					}
					for _, id := range st.Observers {
						rp.Observers = append(rp.Observers, replica(id))
					}
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		if err == nil && req.Version >= 2 {
			img := h.ctrl.Image()
			for _, id := range append(st.Voters, st.Observers...) {
				host, port, ok := h.channel.ListenerOf(id)
				name := "PLAINTEXT"
				if b, registered := img.Broker(id); registered {
					e, _ := b.Endpoint("")
					name, host, port, ok = e.Name, e.Host, e.Port, true
				}
				if !ok {
					continue
				}
				n := kmsg.NewDescribeQuorumResponseNode()
				n.NodeID = id
				n.Listeners = []kmsg.DescribeQuorumResponseNodeListener{{Name: name, Host: host, Port: uint16(port)}}
				resp.Nodes = append(resp.Nodes, n)
			}
		}
		return resp
	})
}
