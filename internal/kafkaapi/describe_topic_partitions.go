package kafkaapi

// DescribeTopicPartitions v0 (KIP-966): topics with their partitions, as
// Metadata describes them, plus each partition's eligible leader replicas
// and last known ELR, paginated.
//   Topics: the named topics, or every topic when the list is empty; either
//   way in name order, each once. ResponsePartitionLimit caps the partitions
//   of one response (at most maxDescribePartitions, at least 1); when more
//   remain, NextCursor names the topic and partition to continue from, and
//   the client sends it back as Cursor. A cursor starts at its topic (topics
//   sorting before it are skipped) and, in that topic, at its partition. A
//   named topic that does not exist is answered UNKNOWN_TOPIC_OR_PARTITION
//   and takes no room in the limit; a cursor naming a topic outside a
//   non-empty topic list is INVALID_REQUEST (the whole request).
// Topic authorized operations (KIP-430) are always filled, as Metadata does
// when asked. As Kafka, the full listing leaves out topics the client may
// not DESCRIBE, and a named one answers TOPIC_AUTHORIZATION_FAILED. The
// answer comes from this node's metadata image.

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/acl"
	"github.com/strata-io/strata/internal/metadata"
	"github.com/strata-io/strata/internal/server"
)

// maxDescribePartitions is Kafka's max.request.partition.size.limit
// default: the most partitions one DescribeTopicPartitions response holds.
const maxDescribePartitions = 2000

func (h *Handler) describeTopicPartitions(rc *reqCtx, req *kmsg.DescribeTopicPartitionsRequest) server.Response {
	return done(h.describeTopicPartitionsResponse(rc, req))
}

func (h *Handler) describeTopicPartitionsResponse(rc *reqCtx, req *kmsg.DescribeTopicPartitionsRequest) *kmsg.DescribeTopicPartitionsResponse {
	img := h.ctrl.Image()
	resp := req.ResponseKind().(*kmsg.DescribeTopicPartitionsResponse)
	var names []string
	if len(req.Topics) == 0 {
		for _, t := range img.Topics() {
			if h.allowed(rc, acl.OpDescribe, acl.ResourceTopic, t.Name) {
				names = append(names, t.Name)
			}
		}
	} else {
		for _, t := range req.Topics {
			names = append(names, t.Topic)
		}
		slices.Sort(names)
		names = slices.Compact(names)
	}
	start := int32(0)
	if c := req.Cursor; c != nil {
		if len(req.Topics) > 0 && !slices.Contains(names, c.Topic) {
			// Kafka fails the request: answer every named topic with it.
			for _, name := range names {
				rt := kmsg.NewDescribeTopicPartitionsResponseTopic()
				rt.Topic, rt.ErrorCode = kmsg.StringPtr(name), kerr.InvalidRequest.Code
				rt.AuthorizedOperations = operationsNotRequested
				resp.Topics = append(resp.Topics, rt)
			}
			return resp
		}
		i, _ := slices.BinarySearch(names, c.Topic)
		names = names[i:]
		start = max(c.Partition, 0)
	}
	limit := min(max(req.ResponsePartitionLimit, 1), maxDescribePartitions)
	alive := make(map[int32]bool)
	for _, b := range img.Brokers() {
		if !b.Fenced {
			alive[b.NodeID] = true
		}
	}
	for i, name := range names {
		if i > 0 {
			start = 0
		}
		t, ok := img.TopicByName(name)
		if described := h.allowed(rc, acl.OpDescribe, acl.ResourceTopic, name); !ok || !described {
			rt := kmsg.NewDescribeTopicPartitionsResponseTopic()
			rt.Topic, rt.ErrorCode = kmsg.StringPtr(name), kerr.UnknownTopicOrPartition.Code
			if !described {
				rt.ErrorCode = kerr.TopicAuthorizationFailed.Code
			}
			rt.AuthorizedOperations = operationsNotRequested
			resp.Topics = append(resp.Topics, rt)
			continue
		}
		if limit == 0 {
			resp.NextCursor = &kmsg.DescribeTopicPartitionsResponseNextCursor{Topic: name, Partition: 0}
			break
		}
		rt := kmsg.NewDescribeTopicPartitionsResponseTopic()
		rt.Topic, rt.TopicID = kmsg.StringPtr(t.Name), t.ID
		rt.IsInternal = isInternalTopic(t.Name)
		rt.AuthorizedOperations = h.authorizedOps(rc, acl.ResourceTopic, t.Name)
		for p := start; int(p) < len(t.Partitions); p++ {
			if limit == 0 {
				resp.NextCursor = &kmsg.DescribeTopicPartitionsResponseNextCursor{Topic: name, Partition: p}
				break
			}
			rt.Partitions = append(rt.Partitions, describedPartition(t.Partitions[p], alive))
			limit--
		}
		resp.Topics = append(resp.Topics, rt)
		if resp.NextCursor != nil {
			break
		}
	}
	return resp
}

func describedPartition(p metadata.PartitionInfo, alive map[int32]bool) kmsg.DescribeTopicPartitionsResponseTopicPartition {
	rp := kmsg.NewDescribeTopicPartitionsResponseTopicPartition()
	rp.Partition, rp.LeaderID, rp.LeaderEpoch = p.Partition, p.Leader, p.LeaderEpoch
	rp.Replicas = nonNil(p.Replicas)
	rp.ISR = nonNil(p.ISR)
	rp.EligibleLeaderReplicas = nonNil(p.ELR)
	rp.LastKnownELR = nonNil(p.LastKnownELR)
	rp.OfflineReplicas = []int32{}
	for _, r := range p.Replicas {
		if !alive[r] {
			rp.OfflineReplicas = append(rp.OfflineReplicas, r)
		}
	}
	if p.Leader < 0 || !alive[p.Leader] {
		rp.ErrorCode = kerr.LeaderNotAvailable.Code
	}
	return rp
}

// nonNil returns s, or an empty slice for nil: the response's nullable
// arrays are empty, not null, when a partition has no members.
func nonNil(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return s
}
