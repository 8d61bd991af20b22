package group

// JoinGroup v0-v9.
//   v1: rebalance timeout (v0 uses the session timeout).
//   v4 (KIP-394): a first join with an empty member id gets
//   MEMBER_ID_REQUIRED and a member id to join with; it must rejoin within
//   the session timeout.
//   v5 (KIP-345): group instance id (static membership).
//   v6: flexible. v7 (KIP-559): protocol type in the response, protocol
//   name nullable. v8 (KIP-800): reason (logged only).
//   v9 (KIP-814): skip_assignment: a static leader rejoining a Stable group
//   without changes gets the members but need not assign.

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// JoinGroup joins (or rejoins) a member and returns once its join phase
// completes, which may take up to the group's rebalance timeout. The
// client's id and host come from WithClientInfo on ctx.
func (c *Coordinator) JoinGroup(ctx context.Context, req *kmsg.JoinGroupRequest) *kmsg.JoinGroupResponse {
	if req.Group == "" {
		return joinResponse(req, joinError(kerr.InvalidGroupID, req.MemberID))
	}
	session := msDuration(req.SessionTimeoutMillis)
	if session < c.cfg.GroupMinSessionTimeout || session > c.cfg.GroupMaxSessionTimeout {
		return joinResponse(req, joinError(kerr.InvalidSessionTimeout, req.MemberID))
	}
	s, err := c.shardFor(req.Group)
	if err != nil {
		return joinResponse(req, joinError(statusCode(err), req.MemberID))
	}
	client := clientInfoFrom(ctx)
	r, err := call(ctx, s, func(reply func(joinResult)) { s.joinGroup(req, client, reply) })
	if err != nil {
		return joinResponse(req, joinError(statusCode(err), req.MemberID))
	}
	return joinResponse(req, r)
}

func joinResponse(req *kmsg.JoinGroupRequest, r joinResult) *kmsg.JoinGroupResponse {
	resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
	if r.err != nil {
		resp.ErrorCode = r.err.Code
	}
	resp.MemberID = r.memberID
	resp.Generation = r.generation
	resp.ProtocolType = r.protocolType
	resp.Protocol = r.protocolName
	resp.LeaderID = r.leaderID
	resp.SkipAssignment = r.skipAssignment
	resp.Members = r.members
	return resp
}

// joinGroup runs on the loop. reply may be called now or when the join
// phase completes.
func (s *shard) joinGroup(req *kmsg.JoinGroupRequest, client ClientInfo, reply func(joinResult)) {
	if g, ok := s.groups[req.Group]; ok && g.groupType() != groupTypeClassic && !s.deleteEmptyConsumerGroup(req.Group) {
		// A consumer group with members: Strata does not migrate groups
		// between protocols (see consumer_group_heartbeat.go).
		reply(joinError(kerr.InconsistentGroupProtocol, ""))
		return
	}
	g := s.classicGroup(req.Group)
	unknown := req.MemberID == ""
	created := false
	if g == nil {
		if !unknown {
			reply(joinError(kerr.UnknownMemberID, req.MemberID))
			return
		}
		g = newClassicGroup(req.Group, nowMs())
		s.groups[req.Group] = g
		created = true
	}
	switch {
	case !s.acceptJoiningMember(g, req.MemberID):
		if m := g.members[req.MemberID]; m != nil {
			s.removeMember(g, m)
		} else {
			g.remove(req.MemberID)
		}
		reply(joinError(kerr.GroupMaxSizeReached, ""))
	case unknown:
		s.joinNewMember(g, req, client, reply)
	default:
		s.joinExistingMember(g, req, client, reply)
	}
	if created && g.state == stateEmpty && len(g.members) == 0 && len(g.pending) == 0 {
		delete(s.groups, g.id) // nothing joined: do not keep a group nobody uses
	}
}

// acceptJoiningMember enforces group.max.size.
func (s *shard) acceptJoiningMember(g *classicGroup, memberID string) bool {
	limit := s.cfg.GroupMaxSize
	m := g.members[memberID]
	switch g.state {
	case stateEmpty, stateDead:
		return true
	case statePreparingRebalance:
		// Counting members awaiting join (not all members) lets the last
		// ones to rejoin be turned away when the limit was lowered.
		return (m != nil && m.awaitingJoin()) || g.numAwaitingJoin < limit
	default:
		return m != nil || len(g.members) < limit
	}
}

func (s *shard) joinNewMember(g *classicGroup, req *kmsg.JoinGroupRequest, client ClientInfo, reply func(joinResult)) {
	if g.state == stateDead {
		reply(joinError(kerr.CoordinatorNotAvailable, ""))
		return
	}
	if !g.supportsProtocols(req.ProtocolType, req.Protocols) {
		reply(joinError(kerr.InconsistentGroupProtocol, ""))
		return
	}
	if req.InstanceID != nil {
		newID := newMemberID(*req.InstanceID)
		if oldID, ok := g.static[*req.InstanceID]; ok {
			s.logger.Info("static member rejoined with unknown member id, replacing its old member id",
				"group", g.id, "group_instance_id", *req.InstanceID, "old_member_id", oldID, "member_id", newID)
			s.updateStaticMemberThenRebalance(g, req, oldID, newID, reply)
			return
		}
		s.addMemberThenRebalance(g, req, client, newID, reply)
		return
	}
	newID := newMemberID(client.ClientID)
	if req.Version >= 4 {
		// KIP-394: hand out the id; the member becomes real when it
		// rejoins with it, within its session timeout.
		g.pending[newID] = true
		groupID := g.id
		s.schedule(heartbeatKey(groupID, newID), msDuration(req.SessionTimeoutMillis), func() { s.expireHeartbeat(groupID, newID) })
		reply(joinError(kerr.MemberIDRequired, newID))
		return
	}
	s.addMemberThenRebalance(g, req, client, newID, reply)
}

func (s *shard) joinExistingMember(g *classicGroup, req *kmsg.JoinGroupRequest, client ClientInfo, reply func(joinResult)) {
	memberID := req.MemberID
	if g.state == stateDead {
		reply(joinError(kerr.CoordinatorNotAvailable, memberID))
		return
	}
	if !g.supportsProtocols(req.ProtocolType, req.Protocols) {
		reply(joinError(kerr.InconsistentGroupProtocol, memberID))
		return
	}
	if g.pending[memberID] {
		if req.InstanceID != nil {
			// Pending ids are only handed to dynamic members.
			reply(joinError(kerr.UnknownMemberID, memberID))
			return
		}
		s.addMemberThenRebalance(g, req, client, memberID, reply)
		return
	}
	if err := g.validateMember(memberID, req.InstanceID); err != nil {
		reply(joinError(err, memberID))
		return
	}
	m := g.members[memberID]
	current := func(withMembers bool) joinResult {
		r := joinResult{memberID: memberID, generation: g.generation, leaderID: g.leaderID}
		pt := g.protocolType
		r.protocolType = &pt
		if g.protocolName != nil {
			pn := *g.protocolName
			r.protocolName = &pn
		}
		if withMembers {
			r.members = g.currentMembers()
		}
		return r
	}
	switch g.state {
	case statePreparingRebalance:
		s.updateMemberThenRebalance(g, m, req, reply, "member joined during rebalance")
	case stateCompletingRebalance:
		if m.matches(req.Protocols) {
			// A retry of a join whose answer was lost: answer again.
			reply(current(memberID == g.leaderID))
			return
		}
		s.updateMemberThenRebalance(g, m, req, reply, "member changed its metadata during CompletingRebalance")
	case stateStable:
		switch {
		case memberID == g.leaderID:
			// The leader rejoins to rebalance for changes the metadata
			// does not show (e.g. new partitions).
			s.updateMemberThenRebalance(g, m, req, reply, "leader rejoined")
		case !m.matches(req.Protocols):
			s.updateMemberThenRebalance(g, m, req, reply, "member changed its metadata")
		default:
			reply(current(false))
		}
	default:
		reply(joinError(kerr.UnknownMemberID, memberID))
	}
}

func (s *shard) updateMemberThenRebalance(g *classicGroup, m *classicMember, req *kmsg.JoinGroupRequest, reply func(joinResult), reason string) {
	g.updateMember(m, cloneProtocols(req.Protocols), rebalanceTimeoutMs(req), req.SessionTimeoutMillis, reply)
	s.maybePrepareRebalanceOrCompleteJoin(g, reason+": "+m.memberID)
}

func (s *shard) addMemberThenRebalance(g *classicGroup, req *kmsg.JoinGroupRequest, client ClientInfo, memberID string, reply func(joinResult)) {
	m := &classicMember{
		memberID:           memberID,
		clientID:           client.ClientID,
		clientHost:         client.ClientHost,
		rebalanceTimeoutMs: rebalanceTimeoutMs(req),
		sessionTimeoutMs:   req.SessionTimeoutMillis,
		protocolType:       req.ProtocolType,
		protocols:          cloneProtocols(req.Protocols),
		isNew:              true,
	}
	if req.InstanceID != nil {
		iid := *req.InstanceID
		m.instanceID = &iid
	}
	if g.state == statePreparingRebalance && g.previousState == stateEmpty {
		g.newMemberAdded = true // extends the initial rebalance delay
	}
	g.addMember(m, reply)
	// A parked JoinGroup cannot heartbeat and a dropped connection goes
	// unseen, so a new member gets the new-member join timeout instead of
	// its session timeout until its first join phase completes.
	s.scheduleHeartbeat(g, m, s.cfg.GroupNewMemberJoinTimeout)
	s.maybePrepareRebalanceOrCompleteJoin(g, "new member joined: "+memberID)
}

// updateStaticMemberThenRebalance gives a static instance its new member id
// (fencing the old one). In a Stable group whose protocol would not change
// this needs no rebalance: the group metadata is rewritten and the member
// answered with the current generation (KIP-345, KIP-814).
func (s *shard) updateStaticMemberThenRebalance(g *classicGroup, req *kmsg.JoinGroupRequest, oldID, newID string, reply func(joinResult)) {
	instanceID := *req.InstanceID
	currentLeader := g.leaderID
	m := g.replaceStatic(instanceID, oldID, newID)
	s.cancelTimer(heartbeatKey(g.id, oldID))
	s.scheduleHeartbeat(g, m, m.sessionTimeout())
	oldProtocols, oldRebalance, oldSession := m.protocols, m.rebalanceTimeoutMs, m.sessionTimeoutMs
	g.updateMember(m, cloneProtocols(req.Protocols), rebalanceTimeoutMs(req), req.SessionTimeoutMillis, reply)

	switch g.state {
	case stateStable:
		if g.protocolName == nil || *g.protocolName != g.selectProtocol() {
			s.maybePrepareRebalanceOrCompleteJoin(g, "static member "+instanceID+" rejoined with other protocols")
			return
		}
		generation := g.generation
		rec := groupMetadataRecord(g.id, g.metadataValue(g.currentAssignment()))
		s.loop.Write([]Record{rec}, func(err error) {
			pt := g.protocolType
			var pn *string
			if g.protocolName != nil {
				p := *g.protocolName
				pn = &p
			}
			if err != nil {
				s.logger.Warn("persisting replaced static member failed; reverting to the old member id",
					"group", g.id, "group_instance_id", instanceID, "member_id", newID, "err", err)
				if s.classicGroup(g.id) == g && g.members[newID] == m && g.generation == generation {
					g.updateMember(m, oldProtocols, oldRebalance, oldSession, nil)
					g.replaceStatic(instanceID, newID, oldID)
					s.cancelTimer(heartbeatKey(g.id, newID))
					s.scheduleHeartbeat(g, m, m.sessionTimeout())
				}
				reply(joinResult{err: writeCode(err), generation: g.generation, protocolType: &pt, protocolName: pn, leaderID: currentLeader})
				return
			}
			r := joinResult{memberID: newID, generation: g.generation, protocolType: &pt, protocolName: pn, leaderID: currentLeader}
			if req.Version >= 9 {
				isLeader := g.leaderID == newID
				r.leaderID = g.leaderID
				r.skipAssignment = isLeader
				if isLeader {
					r.members = g.currentMembers()
				}
			}
			g.completeJoin(m, r)
		})
	case stateCompletingRebalance:
		// The leader may already assign to the old id: rebalance so the
		// new id gets an assignment.
		s.prepareRebalance(g, "static member "+instanceID+" rejoined during CompletingRebalance")
	default:
		s.maybeCompleteJoinPhase(g)
	}
}

// newMemberID returns prefix-<random UUID>, Kafka's member id format.
func newMemberID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return prefix + "-" + string(out[:])
}

// rebalanceTimeoutMs is the request's rebalance timeout; v0 has none and
// uses the session timeout.
func rebalanceTimeoutMs(req *kmsg.JoinGroupRequest) int32 {
	if req.Version == 0 || req.RebalanceTimeoutMillis <= 0 {
		return req.SessionTimeoutMillis
	}
	return req.RebalanceTimeoutMillis
}

func cloneProtocols(ps []kmsg.JoinGroupRequestProtocol) []kmsg.JoinGroupRequestProtocol {
	out := make([]kmsg.JoinGroupRequestProtocol, len(ps))
	for i, p := range ps {
		out[i] = kmsg.JoinGroupRequestProtocol{Name: p.Name, Metadata: append([]byte(nil), p.Metadata...)}
	}
	return out
}
