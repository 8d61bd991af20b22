package group

// ConsumerGroupDescribe v0-v1 (KIP-848).
//   v1 (KIP-1099): member type (1: a member of the consumer protocol; the
//   classic members of Kafka's mixed groups do not exist here).
// Per group: the state, group epoch, assignment epoch, the assignor the
// next target assignment would use, and every member with its current and
// target assignments (topics by id and name; topics that no longer exist
// are left out, as Kafka does). An unknown group, or one of another type,
// is GROUP_ID_NOT_FOUND; an empty group id INVALID_GROUP_ID. Authorized
// operations are left to kafkaapi.

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// consumerMemberType is ConsumerGroupDescribe's MemberType of a member that
// uses the consumer protocol.
const consumerMemberType int8 = 1

// ConsumerGroupDescribe describes consumer groups, which may live in
// different shards.
func (c *Coordinator) ConsumerGroupDescribe(ctx context.Context, req *kmsg.ConsumerGroupDescribeRequest) *kmsg.ConsumerGroupDescribeResponse {
	resp := req.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
	results := make([]kmsg.ConsumerGroupDescribeResponseGroup, len(req.Groups))
	failed := func(id string, code *kerr.Error, msg string) kmsg.ConsumerGroupDescribeResponseGroup {
		d := kmsg.NewConsumerGroupDescribeResponseGroup()
		d.Group, d.ErrorCode = id, code.Code
		if msg != "" {
			d.ErrorMessage = &msg
		}
		return d
	}
	var ids []string
	var at []int
	for i, id := range req.Groups {
		if id == "" {
			results[i] = failed(id, kerr.InvalidGroupID, "Group id can't be empty.")
			continue
		}
		ids = append(ids, id)
		at = append(at, i)
	}
	order, byPartition := c.groupsByShard(ids)
	for _, p := range order {
		idx := byPartition[p]
		described, err := func() ([]kmsg.ConsumerGroupDescribeResponseGroup, error) {
			s, err := c.shard(p)
			if err != nil {
				return nil, err
			}
			return call(ctx, s, func(reply func([]kmsg.ConsumerGroupDescribeResponseGroup)) {
				topics := s.topics()
				out := make([]kmsg.ConsumerGroupDescribeResponseGroup, len(idx))
				for i, gi := range idx {
					out[i] = s.describeConsumerGroup(ids[gi], req.Version, topics)
				}
				reply(out)
			})
		}()
		for i, gi := range idx {
			if err != nil {
				results[at[gi]] = failed(ids[gi], statusCode(err), "")
				continue
			}
			results[at[gi]] = described[i]
		}
	}
	resp.Groups = results
	return resp
}

func (s *shard) describeConsumerGroup(id string, version int16, topics map[string]TopicInfo) kmsg.ConsumerGroupDescribeResponseGroup {
	d := kmsg.NewConsumerGroupDescribeResponseGroup()
	d.Group = id
	g := s.consumerGroup(id)
	if g == nil || g.deleting {
		msg := fmt.Sprintf("Group %s not found.", id)
		if g == nil && s.groups[id] != nil {
			msg = fmt.Sprintf("Group %s is not a consumer group.", id)
		}
		d.ErrorCode, d.ErrorMessage = kerr.GroupIDNotFound.Code, &msg
		return d
	}
	names := make(map[[16]byte]string, len(topics))
	for name, t := range topics {
		names[t.ID] = name
	}
	members := g.memberList()
	d.State = g.state()
	d.Epoch = g.groupEpoch
	d.AssignmentEpoch = g.assignmentEpoch
	d.AssignorName = s.preferredAssignor(members)
	for _, m := range members {
		dm := kmsg.NewConsumerGroupDescribeResponseGroupMember()
		dm.MemberID = m.id
		dm.InstanceID = clonePtr(m.meta.instanceID)
		dm.RackID = clonePtr(m.meta.rackID)
		dm.MemberEpoch = m.cur.memberEpoch
		dm.ClientID = m.meta.clientID
		dm.ClientHost = m.meta.clientHost
		dm.SubscribedTopics = slices.Clone(m.meta.subscribedTopics)
		if dm.SubscribedTopics == nil {
			dm.SubscribedTopics = []string{}
		}
		dm.SubscribedTopicRegex = nonEmpty(m.meta.subscribedRegex)
		dm.Assignment = describeAssignment(m.cur.assigned, names)
		dm.TargetAssignment = describeAssignment(g.targets[m.id], names)
		if version >= 1 {
			dm.MemberType = consumerMemberType
		}
		d.Members = append(d.Members, dm)
	}
	return d
}

// describeAssignment lists a's topics that still exist, by name.
func describeAssignment(a assignment, names map[[16]byte]string) kmsg.Assignment {
	out := kmsg.NewAssignment()
	out.TopicPartitions = []kmsg.AssignmentTopicPartition{}
	for id, ps := range a {
		name, ok := names[id]
		if !ok {
			continue
		}
		tp := kmsg.NewAssignmentTopicPartition()
		tp.TopicID, tp.Topic, tp.Partitions = id, name, slices.Clone(ps)
		out.TopicPartitions = append(out.TopicPartitions, tp)
	}
	slices.SortFunc(out.TopicPartitions, func(a, b kmsg.AssignmentTopicPartition) int { return cmp.Compare(a.Topic, b.Topic) })
	return out
}
