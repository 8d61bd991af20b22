package group

// OffsetDelete v0 (KIP-496): deletes committed offsets of a group. An
// unknown group is GROUP_ID_NOT_FOUND; a classic group with members that is
// not of the "consumer" protocol type is NON_EMPTY_GROUP; partitions of
// topics the group subscribes to get GROUP_SUBSCRIBED_TO_TOPIC.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetDelete deletes offsets of partitions the group does not consume.
func (c *Coordinator) OffsetDelete(ctx context.Context, req *kmsg.OffsetDeleteRequest) *kmsg.OffsetDeleteResponse {
	failed := func(err *kerr.Error) *kmsg.OffsetDeleteResponse {
		resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
		resp.ErrorCode = err.Code
		return resp
	}
	if req.Group == "" {
		return failed(kerr.InvalidGroupID)
	}
	s, err := c.shardFor(req.Group)
	if err != nil {
		return failed(statusCode(err))
	}
	resp, err := call(ctx, s, func(reply func(*kmsg.OffsetDeleteResponse)) { s.offsetDelete(req, reply) })
	if err != nil {
		return failed(statusCode(err))
	}
	return resp
}

func (s *shard) offsetDelete(req *kmsg.OffsetDeleteRequest, reply func(*kmsg.OffsetDeleteResponse)) {
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	g := s.groups[req.Group]
	if g == nil {
		resp.ErrorCode = kerr.GroupIDNotFound.Code
		reply(resp)
		return
	}
	if err := g.validateOffsetDelete(); err != nil {
		resp.ErrorCode = err.Code
		reply(resp)
		return
	}
	type tp struct {
		topic     string
		partition int32
	}
	var deletes []tp
	var recs []Record
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetDeleteResponseTopic()
		rt.Topic = t.Topic
		subscribed := g.isSubscribedToTopic(t.Topic)
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetDeleteResponseTopicPartition()
			rp.Partition = p.Partition
			if subscribed {
				rp.ErrorCode = kerr.GroupSubscribedToTopic.Code
			} else if _, ok := s.offset(req.Group, t.Topic, p.Partition); ok || s.hasPendingOffset(req.Group, t.Topic, p.Partition) {
				// As Kafka: a pending transactional offset gets a
				// tombstone too, which drops it.
				deletes = append(deletes, tp{t.Topic, p.Partition})
				recs = append(recs, offsetTombstone(req.Group, t.Topic, p.Partition))
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if len(recs) == 0 {
		reply(resp)
		return
	}
	s.loop.Write(recs, func(err error) {
		if err != nil {
			failed := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
			failed.ErrorCode = writeCode(err).Code
			reply(failed)
			return
		}
		for _, d := range deletes {
			s.deleteOffset(req.Group, d.topic, d.partition)
		}
		reply(resp)
	})
}
