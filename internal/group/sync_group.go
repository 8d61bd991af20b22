package group

// SyncGroup v0-v5.
//   v3 (KIP-345): group instance id. v4: flexible.
//   v5 (KIP-559): protocol type and name in request (checked against the
//   group's: INCONSISTENT_GROUP_PROTOCOL) and response.
// The leader's SyncGroup carries every member's assignment; it is written
// as the generation's GroupMetadata record before anyone is answered.
// Followers wait for it.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SyncGroup returns the member's assignment for the current generation,
// waiting for the leader's if needed.
func (c *Coordinator) SyncGroup(ctx context.Context, req *kmsg.SyncGroupRequest) *kmsg.SyncGroupResponse {
	if req.Group == "" {
		return syncResponse(req, syncResult{err: kerr.InvalidGroupID})
	}
	s, err := c.shardFor(req.Group)
	if err != nil {
		return syncResponse(req, syncResult{err: statusCode(err)})
	}
	r, err := call(ctx, s, func(reply func(syncResult)) { s.syncGroup(req, reply) })
	if err != nil {
		return syncResponse(req, syncResult{err: statusCode(err)})
	}
	return syncResponse(req, r)
}

func syncResponse(req *kmsg.SyncGroupRequest, r syncResult) *kmsg.SyncGroupResponse {
	resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
	if r.err != nil {
		resp.ErrorCode = r.err.Code
	}
	resp.ProtocolType = r.protocolType
	resp.Protocol = r.protocolName
	resp.MemberAssignment = r.assignment
	if resp.MemberAssignment == nil {
		resp.MemberAssignment = []byte{}
	}
	return resp
}

func (s *shard) syncGroup(req *kmsg.SyncGroupRequest, reply func(syncResult)) {
	g := s.classicGroup(req.Group)
	if g == nil || g.state == stateEmpty {
		reply(syncResult{err: kerr.UnknownMemberID})
		return
	}
	if err := s.validateSync(g, req); err != nil {
		reply(syncResult{err: err})
		return
	}
	m := g.members[req.MemberID]
	switch g.state {
	case statePreparingRebalance:
		reply(syncResult{err: kerr.RebalanceInProgress})
	case stateCompletingRebalance:
		if old := m.syncReply; old != nil {
			old(syncResult{err: kerr.RebalanceInProgress}) // superseded by this retry
		}
		m.syncReply = reply
		s.removePendingSync(g, m.memberID)
		if m.memberID == g.leaderID {
			s.storeAssignment(g, req)
		}
	case stateStable:
		s.removePendingSync(g, m.memberID)
		pt := g.protocolType
		r := syncResult{protocolType: &pt, assignment: m.assignment}
		if g.protocolName != nil {
			pn := *g.protocolName
			r.protocolName = &pn
		}
		reply(r)
	}
}

func (s *shard) validateSync(g *classicGroup, req *kmsg.SyncGroupRequest) *kerr.Error {
	if g.state == stateDead {
		return kerr.CoordinatorNotAvailable
	}
	if err := g.validateMember(req.MemberID, req.InstanceID); err != nil {
		return err
	}
	if req.Generation != g.generation {
		return kerr.IllegalGeneration
	}
	if req.ProtocolType != nil && *req.ProtocolType != g.protocolType {
		return kerr.InconsistentGroupProtocol
	}
	if req.Protocol != nil && g.protocolName != nil && *req.Protocol != *g.protocolName {
		return kerr.InconsistentGroupProtocol
	}
	return nil
}

// storeAssignment writes the leader's assignment as the generation's group
// metadata, then hands every member its part and makes the group Stable.
func (s *shard) storeAssignment(g *classicGroup, req *kmsg.SyncGroupRequest) {
	assignment := make(map[string][]byte, len(g.members))
	for _, a := range req.GroupAssignment {
		if _, ok := g.members[a.MemberID]; ok {
			assignment[a.MemberID] = append([]byte(nil), a.MemberAssignment...)
		}
	}
	for id := range g.members {
		if _, ok := assignment[id]; !ok {
			s.logger.Warn("leader sent no assignment for a member; it gets an empty one", "group", g.id, "generation", g.generation, "member_id", id)
			assignment[id] = []byte{}
		}
	}
	s.logger.Info("assignment received from leader", "group", g.id, "generation", g.generation, "members", len(g.members))
	generation := g.generation
	s.loop.Write([]Record{groupMetadataRecord(g.id, g.metadataValue(assignment))}, func(err error) {
		// The group may have moved on while the write was pending.
		if s.classicGroup(g.id) != g || g.state != stateCompletingRebalance || g.generation != generation {
			return
		}
		if err != nil {
			code := writeCode(err)
			s.logger.Warn("storing group assignment failed", "group", g.id, "generation", generation, "err", err)
			s.resetAndPropagateAssignment(g, code)
			s.maybePrepareRebalanceOrCompleteJoin(g, "storing the assignment failed")
			return
		}
		s.setAndPropagateAssignment(g, assignment)
		g.transitionTo(stateStable, nowMs())
	})
}
