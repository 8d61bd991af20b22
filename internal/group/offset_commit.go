package group

// OffsetCommit v2-v9.
//   v2-v4: retention time (-1: the broker's); a set one is written as
//   value version 1 with an expire timestamp and expires on it (KIP-211
//   removed this in v5).
//   v6 (KIP-320): committed leader epoch. v7 (KIP-345): group instance id.
//   v8: flexible. v9 (KIP-848): the generation is the member epoch for
//   consumer groups; a commit with a generation to an unknown group gets
//   GROUP_ID_NOT_FOUND instead of ILLEGAL_GENERATION.
// Generation -1 with no member is a standalone commit (a consumer without
// group management, or an admin): accepted only while the group has no
// members. Per partition: UNKNOWN_TOPIC_OR_PARTITION for partitions that
// do not exist (checked here via Config.PartitionExists where Kafka checks
// it in KafkaApis), OFFSET_METADATA_TOO_LARGE for metadata longer than
// offset.metadata.max.bytes (counted in UTF-16 units, as Java's
// String.length). Offsets are answered once written and committed.

import (
	"context"
	"unicode/utf16"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetCommit commits offsets for a group.
func (c *Coordinator) OffsetCommit(ctx context.Context, req *kmsg.OffsetCommitRequest) *kmsg.OffsetCommitResponse {
	s, err := c.shardFor(req.Group)
	if err != nil {
		return offsetCommitError(req, statusCode(err))
	}
	resp, err := call(ctx, s, func(reply func(*kmsg.OffsetCommitResponse)) { s.offsetCommit(req, reply) })
	if err != nil {
		return offsetCommitError(req, statusCode(err))
	}
	return resp
}

// offsetCommitError answers every partition with err.
func offsetCommitError(req *kmsg.OffsetCommitRequest, err *kerr.Error) *kmsg.OffsetCommitResponse {
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode = err.Code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

func (s *shard) offsetCommit(req *kmsg.OffsetCommitRequest, reply func(*kmsg.OffsetCommitResponse)) {
	var groupErr *kerr.Error
	g := s.groups[req.Group]
	if g == nil {
		if req.Generation >= 0 {
			groupErr = kerr.IllegalGeneration
			if req.Version >= 9 {
				groupErr = kerr.GroupIDNotFound
			}
		}
	} else {
		groupErr = g.validateOffsetCommit(req.MemberID, req.InstanceID, req.Generation, req.Version)
	}
	if cg, ok := g.(*classicGroup); ok && groupErr == nil && (cg.state == stateStable || cg.state == statePreparingRebalance) {
		// A commit from a member keeps its session alive.
		if m := cg.members[req.MemberID]; m != nil {
			s.scheduleHeartbeat(cg, m, m.sessionTimeout())
		}
	}

	now := nowMs()
	expire := int64(-1)
	if req.Version >= 2 && req.Version <= 4 && req.RetentionTimeMillis != -1 {
		expire = now + req.RetentionTimeMillis
	}
	type commit struct {
		ti, pi    int
		topic     string
		partition int32
		entry     offsetEntry
	}
	var commits []commit
	var recs []Record
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	for ti, t := range req.Topics {
		rt := kmsg.NewOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		for pi, p := range t.Partitions {
			rp := kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition = p.Partition
			switch {
			case s.cfg.PartitionExists != nil && !s.cfg.PartitionExists(t.Topic, p.Partition):
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case groupErr != nil:
				rp.ErrorCode = groupErr.Code
			case p.Metadata != nil && javaLength(*p.Metadata) > s.cfg.OffsetMetadataMaxBytes:
				rp.ErrorCode = kerr.OffsetMetadataTooLarge.Code
			default:
				e := offsetEntry{offset: p.Offset, leaderEpoch: -1, commitTimestamp: now, expireTimestamp: expire}
				if req.Version >= 6 {
					e.leaderEpoch = p.LeaderEpoch
				}
				if p.Metadata != nil {
					e.metadata = *p.Metadata
				}
				commits = append(commits, commit{ti: ti, pi: pi, topic: t.Topic, partition: p.Partition, entry: e})
				recs = append(recs, offsetCommitRecord(req.Group, t.Topic, p.Partition, e))
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if len(recs) == 0 {
		reply(resp)
		return
	}
	// NB: done runs with a nil error only after Write returned, so base
	// (the first record's offset) is set by then.
	var base int64
	base = s.loop.Write(recs, func(err error) {
		if err != nil {
			code := commitWriteCode(err).Code
			s.logger.Warn("writing offset commit failed", "group", req.Group, "err", err)
			for _, c := range commits {
				resp.Topics[c.ti].Partitions[c.pi].ErrorCode = code
			}
			reply(resp)
			return
		}
		for i, c := range commits {
			c.entry.recordOffset = base + int64(i)
			s.putOffset(req.Group, c.topic, c.partition, c.entry)
		}
		reply(resp)
	})
}

// putOffset stores a committed offset (live after its write commits, or on
// replay). Offsets of a group id nobody joined create an empty classic
// group without protocol type, as Kafka's "simple" groups.
func (s *shard) putOffset(groupID, topic string, partition int32, e offsetEntry) {
	if s.groups[groupID] == nil {
		s.groups[groupID] = newClassicGroup(groupID, nowMs())
	}
	byTopic := s.offsets[groupID]
	if byTopic == nil {
		byTopic = make(map[string]map[int32]offsetEntry)
		s.offsets[groupID] = byTopic
	}
	byPartition := byTopic[topic]
	if byPartition == nil {
		byPartition = make(map[int32]offsetEntry)
		byTopic[topic] = byPartition
	}
	byPartition[partition] = e
}

// deleteOffset applies an offset tombstone; it also drops the
// partition's pending transactional offsets, as Kafka's replay does.
func (s *shard) deleteOffset(groupID, topic string, partition int32) {
	s.dropPendingOffset(groupID, topic, partition)
	byTopic := s.offsets[groupID]
	byPartition := byTopic[topic]
	if byPartition == nil {
		return
	}
	delete(byPartition, partition)
	if len(byPartition) == 0 {
		delete(byTopic, topic)
	}
	if len(byTopic) == 0 {
		delete(s.offsets, groupID)
	}
}

func (s *shard) offset(groupID, topic string, partition int32) (offsetEntry, bool) {
	e, ok := s.offsets[groupID][topic][partition]
	return e, ok
}

// javaLength is Java's String.length of s: its UTF-16 code units.
func javaLength(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}
