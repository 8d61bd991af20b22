package group

// OffsetFetch v1-v9.
//   v2: top-level error code; topics null = every committed partition.
//   v3: throttle. v5 (KIP-320): committed leader epoch. v6: flexible.
//   v7 (KIP-447): require_stable: a partition with a pending
//   transactional offset (TxnOffsetCommit not yet decided by its marker)
//   is answered UNSTABLE_OFFSET_COMMIT with offset -1, per partition; a
//   fetch of every partition lists only committed ones, so a partition
//   with nothing but a pending offset does not appear. The fetch also
//   waits for commits written before it, as Kafka's does. Without
//   require_stable pending offsets are simply invisible.
//   v8 (KIP-709): several groups per request, each answered with its own
//   error. v9 (KIP-848): member id and epoch (checked by consumer groups
//   only).
// A partition without a committed offset is answered offset -1, leader
// epoch -1, metadata "". An unknown group has no offsets (no error).

import (
	"cmp"
	"context"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetFetch returns committed offsets of one group (v0-v7) or several
// (v8+).
func (c *Coordinator) OffsetFetch(ctx context.Context, req *kmsg.OffsetFetchRequest) *kmsg.OffsetFetchResponse {
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	if req.Version >= 8 {
		for _, rg := range req.Groups {
			resp.Groups = append(resp.Groups, c.fetchGroup(ctx, rg.Group, rg.MemberID, rg.MemberEpoch, rg.Topics, req.RequireStable))
		}
		return resp
	}

	var topics []kmsg.OffsetFetchRequestGroupTopic
	if req.Topics != nil {
		topics = make([]kmsg.OffsetFetchRequestGroupTopic, 0, len(req.Topics))
		for _, t := range req.Topics {
			gt := kmsg.NewOffsetFetchRequestGroupTopic()
			gt.Topic, gt.Partitions = t.Topic, t.Partitions
			topics = append(topics, gt)
		}
	}
	g := c.fetchGroup(ctx, req.Group, nil, -1, topics, req.RequireStable)
	if g.ErrorCode != 0 {
		if req.Version >= 2 {
			resp.ErrorCode = g.ErrorCode
			return resp
		}
		// v0-v1 have no top-level error: every requested partition
		// carries it.
		for _, t := range req.Topics {
			rt := kmsg.NewOffsetFetchResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetFetchResponseTopicPartition()
				rp.Partition, rp.Offset, rp.LeaderEpoch, rp.ErrorCode = p, -1, -1, g.ErrorCode
				rp.Metadata = new(string)
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
	for _, gt := range g.Topics {
		rt := kmsg.NewOffsetFetchResponseTopic()
		rt.Topic = gt.Topic
		for _, gp := range gt.Partitions {
			rp := kmsg.NewOffsetFetchResponseTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata, rp.ErrorCode = gp.Partition, gp.Offset, gp.LeaderEpoch, gp.Metadata, gp.ErrorCode
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// fetchGroup answers one group; topics nil means every committed partition.
func (c *Coordinator) fetchGroup(ctx context.Context, groupID string, memberID *string, memberEpoch int32, topics []kmsg.OffsetFetchRequestGroupTopic, requireStable bool) kmsg.OffsetFetchResponseGroup {
	failed := func(err *kerr.Error) kmsg.OffsetFetchResponseGroup {
		g := kmsg.NewOffsetFetchResponseGroup()
		g.Group, g.ErrorCode = groupID, err.Code
		return g
	}
	s, err := c.shardFor(groupID)
	if err != nil {
		return failed(statusCode(err))
	}
	r, err := call(ctx, s, func(reply func(kmsg.OffsetFetchResponseGroup)) {
		fetch := func() { reply(s.fetchOffsets(groupID, memberID, memberEpoch, topics, requireStable)) }
		if requireStable {
			s.loop.AfterPendingWrites(fetch)
		} else {
			fetch()
		}
	})
	if err != nil {
		return failed(statusCode(err))
	}
	return r
}

func (s *shard) fetchOffsets(groupID string, memberID *string, memberEpoch int32, topics []kmsg.OffsetFetchRequestGroupTopic, requireStable bool) kmsg.OffsetFetchResponseGroup {
	out := kmsg.NewOffsetFetchResponseGroup()
	out.Group = groupID
	byTopic := s.offsets[groupID]
	if g := s.groups[groupID]; g != nil {
		if err := g.validateOffsetFetch(memberID, memberEpoch); err != nil {
			if err != kerr.GroupIDNotFound {
				out.ErrorCode = err.Code
				return out
			}
			byTopic = nil // a dead group has no offsets to show
			requireStable = false
		}
	}
	partition := func(topic string, p int32, e offsetEntry, ok bool) kmsg.OffsetFetchResponseGroupTopicPartition {
		rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
		rp.Partition, rp.Offset, rp.LeaderEpoch = p, -1, -1
		md := ""
		switch {
		case requireStable && s.hasPendingOffset(groupID, topic, p):
			// KIP-447: a transaction holds an offset of this partition;
			// the client retries until its marker decides it.
			rp.ErrorCode = kerr.UnstableOffsetCommit.Code
		case ok:
			rp.Offset, rp.LeaderEpoch, md = e.offset, e.leaderEpoch, e.metadata
		}
		rp.Metadata = &md
		return rp
	}
	if topics == nil {
		for _, topic := range slices.Sorted(maps.Keys(byTopic)) {
			rt := kmsg.NewOffsetFetchResponseGroupTopic()
			rt.Topic = topic
			byPartition := byTopic[topic]
			for _, p := range slices.SortedFunc(maps.Keys(byPartition), cmp.Compare[int32]) {
				rt.Partitions = append(rt.Partitions, partition(topic, p, byPartition[p], true))
			}
			out.Topics = append(out.Topics, rt)
		}
		return out
	}
	for _, t := range topics {
		rt := kmsg.NewOffsetFetchResponseGroupTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			e, ok := byTopic[t.Topic][p]
			rt.Partitions = append(rt.Partitions, partition(t.Topic, p, e, ok))
		}
		out.Topics = append(out.Topics, rt)
	}
	return out
}
