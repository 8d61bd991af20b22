package group

// DescribeGroups v0-v5.
//   v3 (KIP-430): authorized operations (left to kafkaapi; the default
//   "not requested" value is kept here). v4 (KIP-345): member instance id.
//   v5: flexible.
// An unknown group is answered state Dead with no error, as Kafka does up
// to v5. Members carry metadata and assignment only while Stable.
// DescribeGroups describes classic groups only: a KIP-848 consumer group is
// answered Dead, as Kafka's GroupMetadataManager.describeGroups does
// (clients describe those with ConsumerGroupDescribe).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// DescribeGroups describes groups, which may live in different shards.
func (c *Coordinator) DescribeGroups(ctx context.Context, req *kmsg.DescribeGroupsRequest) *kmsg.DescribeGroupsResponse {
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	results := make([]kmsg.DescribeGroupsResponseGroup, len(req.Groups))
	order, byPartition := c.groupsByShard(req.Groups)
	for _, p := range order {
		idx := byPartition[p]
		described, err := func() ([]kmsg.DescribeGroupsResponseGroup, error) {
			s, err := c.shard(p)
			if err != nil {
				return nil, err
			}
			return call(ctx, s, func(reply func([]kmsg.DescribeGroupsResponseGroup)) {
				out := make([]kmsg.DescribeGroupsResponseGroup, len(idx))
				for i, gi := range idx {
					out[i] = s.describeGroup(req.Groups[gi])
				}
				reply(out)
			})
		}()
		for i, gi := range idx {
			if err != nil {
				d := kmsg.NewDescribeGroupsResponseGroup()
				d.Group, d.ErrorCode = req.Groups[gi], statusCode(err).Code
				results[gi] = d
				continue
			}
			results[gi] = described[i]
		}
	}
	resp.Groups = results
	return resp
}

func (s *shard) describeGroup(id string) kmsg.DescribeGroupsResponseGroup {
	d := kmsg.NewDescribeGroupsResponseGroup()
	d.Group = id
	d.State = stateDead.String()
	g := s.classicGroup(id)
	if g == nil {
		return d
	}
	d.State = g.state.String()
	d.ProtocolType = g.protocolType
	stable := g.state == stateStable && g.protocolName != nil
	if stable {
		d.Protocol = *g.protocolName
	}
	for _, m := range g.memberList() {
		dm := kmsg.NewDescribeGroupsResponseGroupMember()
		dm.MemberID = m.memberID
		dm.InstanceID = m.instanceID
		dm.ClientID = m.clientID
		dm.ClientHost = m.clientHost
		dm.ProtocolMetadata, dm.MemberAssignment = []byte{}, []byte{}
		if stable {
			if md := m.metadata(*g.protocolName); md != nil {
				dm.ProtocolMetadata = md
			}
			if m.assignment != nil {
				dm.MemberAssignment = m.assignment
			}
		}
		d.Members = append(d.Members, dm)
	}
	return d
}
