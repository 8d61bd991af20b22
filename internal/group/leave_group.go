package group

// LeaveGroup v0-v5.
//   v0-v2: one member id; the response has only a top-level error (the
//   member's). v3 (KIP-345): a batch of members, each by member id and/or
//   group instance id; an empty member id with an instance id removes that
//   static member (admin removal). v4: flexible. v5 (KIP-800): reason.
// A group that is not known answers every member UNKNOWN_MEMBER_ID.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// LeaveGroup removes members; the group rebalances without them.
func (c *Coordinator) LeaveGroup(ctx context.Context, req *kmsg.LeaveGroupRequest) *kmsg.LeaveGroupResponse {
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	members := req.Members
	if req.Version < 3 {
		m := kmsg.NewLeaveGroupRequestMember()
		m.MemberID = req.MemberID
		members = []kmsg.LeaveGroupRequestMember{m}
	}
	if req.Group == "" {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp
	}
	s, err := c.shardFor(req.Group)
	if err != nil {
		resp.ErrorCode = statusCode(err).Code
		return resp
	}
	type result struct {
		top     *kerr.Error
		members []kmsg.LeaveGroupResponseMember
	}
	r, err := call(ctx, s, func(reply func(result)) {
		top, ms := s.leaveGroup(req.Group, members)
		reply(result{top, ms})
	})
	if err != nil {
		resp.ErrorCode = statusCode(err).Code
		return resp
	}
	if r.top != nil {
		resp.ErrorCode = r.top.Code
		return resp
	}
	if req.Version >= 3 {
		resp.Members = r.members
		return resp
	}
	for _, m := range r.members {
		if m.ErrorCode != 0 {
			resp.ErrorCode = m.ErrorCode
			break
		}
	}
	return resp
}

func (s *shard) leaveGroup(groupID string, members []kmsg.LeaveGroupRequestMember) (*kerr.Error, []kmsg.LeaveGroupResponseMember) {
	answer := func(m kmsg.LeaveGroupRequestMember, err *kerr.Error) kmsg.LeaveGroupResponseMember {
		r := kmsg.NewLeaveGroupResponseMember()
		r.MemberID, r.InstanceID = m.MemberID, m.InstanceID
		if err != nil {
			r.ErrorCode = err.Code
		}
		return r
	}
	out := make([]kmsg.LeaveGroupResponseMember, 0, len(members))
	g := s.classicGroup(groupID)
	if g == nil {
		for _, m := range members {
			out = append(out, answer(m, kerr.UnknownMemberID))
		}
		return nil, out
	}
	if g.state == stateDead {
		return kerr.CoordinatorNotAvailable, nil
	}
	left := 0
	for _, lm := range members {
		reason := "not provided"
		if lm.Reason != nil {
			reason = *lm.Reason
		}
		switch {
		case lm.MemberID == "":
			id, ok := "", false
			if lm.InstanceID != nil {
				id, ok = g.static[*lm.InstanceID]
			}
			if !ok {
				out = append(out, answer(lm, kerr.UnknownMemberID))
				continue
			}
			s.logger.Info("static member removed by LeaveGroup", "group", groupID, "member_id", id, "reason", reason)
			s.removeMember(g, g.members[id])
		case g.pending[lm.MemberID]:
			g.remove(lm.MemberID)
			s.cancelTimer(heartbeatKey(groupID, lm.MemberID))
		default:
			if err := g.validateMember(lm.MemberID, lm.InstanceID); err != nil {
				out = append(out, answer(lm, err))
				continue
			}
			s.logger.Info("member left group", "group", groupID, "member_id", lm.MemberID, "reason", reason)
			s.removeMember(g, g.members[lm.MemberID])
		}
		left++
		out = append(out, answer(lm, nil))
	}
	if left > 0 {
		switch g.state {
		case stateStable, stateCompletingRebalance:
			s.maybePrepareRebalanceOrCompleteJoin(g, "members left the group")
		case statePreparingRebalance:
			s.maybeCompleteJoinPhase(g)
		}
	}
	return nil, out
}
