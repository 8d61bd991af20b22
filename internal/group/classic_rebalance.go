package group

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/strata-io/strata/internal/clock"
)

// The rebalance protocol of classic groups: join phase, sync phase and the
// timers that bound them, as Kafka's GroupMetadataManager runs them. All
// methods run on the shard loop.

// nowMs is the wall clock in milliseconds: state and commit timestamps,
// offset expiration (internal/clock; tests may shift it).
func nowMs() int64 { return clock.Now().UnixMilli() }

func joinKey(g *classicGroup) timerKey { return timerKey{kind: timerJoin, group: g.id} }
func syncKey(g *classicGroup) timerKey { return timerKey{kind: timerSync, group: g.id} }
func heartbeatKey(groupID, memberID string) timerKey {
	return timerKey{kind: timerHeartbeat, group: groupID, member: memberID}
}

// classicGroup returns the classic group id, or nil.
func (s *shard) classicGroup(id string) *classicGroup {
	g, _ := s.groups[id].(*classicGroup)
	return g
}

// scheduleHeartbeat (re)starts m's session timer with timeout d.
func (s *shard) scheduleHeartbeat(g *classicGroup, m *classicMember, d time.Duration) {
	groupID, memberID := g.id, m.memberID
	s.schedule(heartbeatKey(groupID, memberID), d, func() { s.expireHeartbeat(groupID, memberID) })
}

// expireHeartbeat runs when a member's (or pending member's) session
// expires.
func (s *shard) expireHeartbeat(groupID, memberID string) {
	g := s.classicGroup(groupID)
	if g == nil || g.state == stateDead {
		return
	}
	if g.pending[memberID] {
		s.logger.Info("pending member expired before joining", "group", groupID, "member_id", memberID)
		g.remove(memberID)
		if g.state == statePreparingRebalance && g.hasAllMembersJoined() {
			s.completeJoinPhase(g)
		}
		return
	}
	m := g.members[memberID]
	if m == nil || m.hasSatisfiedHeartbeat() {
		return
	}
	s.logger.Info("member session expired, removing it", "group", groupID, "member_id", memberID)
	s.removeMemberAndUpdateGroup(g, m, "session timeout of member "+memberID)
}

// removeMember drops m from g, answering its waiting requests
// UNKNOWN_MEMBER_ID so that a client still there rejoins.
func (s *shard) removeMember(g *classicGroup, m *classicMember) {
	g.completeJoin(m, joinError(kerr.UnknownMemberID, ""))
	g.completeSync(m, syncResult{err: kerr.UnknownMemberID})
	g.remove(m.memberID)
	s.cancelTimer(heartbeatKey(g.id, m.memberID))
}

// removeMemberAndUpdateGroup removes m and moves the group on: a rebalance
// for a formed group, or the end of a join phase that waited only on m.
func (s *shard) removeMemberAndUpdateGroup(g *classicGroup, m *classicMember, reason string) {
	s.removeMember(g, m)
	switch {
	case g.state == stateStable || g.state == stateCompletingRebalance:
		s.maybePrepareRebalanceOrCompleteJoin(g, reason)
	case g.state == statePreparingRebalance && g.hasAllMembersJoined():
		s.completeJoinPhase(g)
	}
}

func (s *shard) maybePrepareRebalanceOrCompleteJoin(g *classicGroup, reason string) {
	if g.canRebalance() {
		s.prepareRebalance(g, reason)
	} else {
		s.maybeCompleteJoinPhase(g)
	}
}

// prepareRebalance starts a join phase. The first rebalance of an empty
// group waits group.initial.rebalance.delay.ms (extended while members keep
// arriving, up to the rebalance timeout); later ones end when every member
// has rejoined or the rebalance timeout expires.
func (s *shard) prepareRebalance(g *classicGroup, reason string) {
	if g.state == stateCompletingRebalance {
		s.resetAndPropagateAssignment(g, kerr.RebalanceInProgress)
	}
	s.removeSyncExpiration(g)

	initial := g.state == stateEmpty
	if initial {
		delay := s.cfg.GroupInitialRebalanceDelay
		remaining := max(g.rebalanceTimeout()-delay, 0)
		groupID := g.id
		s.schedule(joinKey(g), delay, func() { s.tryCompleteInitialRebalance(groupID, delay, remaining) })
	}
	g.transitionTo(statePreparingRebalance, nowMs())
	s.logger.Info("preparing to rebalance group", "group", g.id, "generation", g.generation, "reason", reason)
	if !initial {
		s.maybeCompleteJoinElseSchedule(g)
	}
}

func (s *shard) maybeCompleteJoinElseSchedule(g *classicGroup) {
	if g.hasAllMembersJoined() {
		s.completeJoinPhase(g)
		return
	}
	groupID := g.id
	s.schedule(joinKey(g), g.rebalanceTimeout(), func() { s.completeJoinPhaseByID(groupID) })
}

// maybeCompleteJoinPhase ends the join phase early once every member has
// rejoined, except during the initial delay.
func (s *shard) maybeCompleteJoinPhase(g *classicGroup) {
	if g.state != statePreparingRebalance || g.previousState == stateEmpty || !g.hasAllMembersJoined() {
		return
	}
	s.completeJoinPhase(g)
}

func (s *shard) tryCompleteInitialRebalance(groupID string, delay, remaining time.Duration) {
	g := s.classicGroup(groupID)
	if g == nil {
		return
	}
	if g.newMemberAdded && remaining != 0 {
		g.newMemberAdded = false
		newDelay := min(s.cfg.GroupInitialRebalanceDelay, remaining)
		newRemaining := max(remaining-delay, 0)
		s.schedule(joinKey(g), newDelay, func() { s.tryCompleteInitialRebalance(groupID, newDelay, newRemaining) })
		return
	}
	s.completeJoinPhase(g)
}

func (s *shard) completeJoinPhaseByID(groupID string) {
	if g := s.classicGroup(groupID); g != nil {
		s.completeJoinPhase(g)
	}
}

// completeJoinPhase ends a join phase: dynamic members that did not rejoin
// are removed, the next generation starts, and every waiting JoinGroup is
// answered (the leader with the members). Static members that did not
// rejoin stay, as in Kafka, until their session expires.
func (s *shard) completeJoinPhase(g *classicGroup) {
	s.cancelTimer(joinKey(g))
	for _, m := range g.memberList() {
		if !m.awaitingJoin() && m.instanceID == nil {
			s.removeMember(g, m)
		}
	}
	if g.state == stateDead {
		return
	}
	if !g.maybeElectNewJoinedLeader() && len(g.members) > 0 {
		// Nobody rejoined: wait for the sessions of the silent members to
		// expire.
		s.logger.Warn("group could not complete rebalance because no members rejoined", "group", g.id)
		groupID := g.id
		s.schedule(joinKey(g), g.rebalanceTimeout(), func() { s.completeJoinPhaseByID(groupID) })
		return
	}
	g.initNextGeneration(nowMs())
	if g.state == stateEmpty {
		s.logger.Info("group is now empty", "group", g.id, "generation", g.generation)
		groupID, generation := g.id, g.generation
		s.loop.Write([]Record{groupMetadataRecord(g.id, g.metadataValue(nil))}, func(err error) {
			if err != nil {
				// Safe to only warn: an empty generation has no members
				// whose state could be lost.
				s.logger.Warn("writing empty group metadata failed", "group", groupID, "generation", generation, "err", err)
			}
		})
		return
	}
	s.logger.Info("group completed join phase", "group", g.id, "generation", g.generation, "members", len(g.members), "protocol", *g.protocolName)
	protocolType := g.protocolType
	protocolName := *g.protocolName
	for _, m := range g.memberList() {
		r := joinResult{
			memberID:     m.memberID,
			generation:   g.generation,
			protocolType: &protocolType,
			protocolName: &protocolName,
			leaderID:     g.leaderID,
		}
		if m.memberID == g.leaderID {
			r.members = g.currentMembers()
		}
		g.completeJoin(m, r)
		s.scheduleHeartbeat(g, m, m.sessionTimeout())
		m.isNew = false
		g.syncWait[m.memberID] = true
	}
	s.schedulePendingSync(g)
}

// schedulePendingSync bounds the sync phase by the rebalance timeout:
// members that never send SyncGroup are removed.
func (s *shard) schedulePendingSync(g *classicGroup) {
	groupID, generation := g.id, g.generation
	s.schedule(syncKey(g), g.rebalanceTimeout(), func() { s.expirePendingSync(groupID, generation) })
}

func (s *shard) removeSyncExpiration(g *classicGroup) {
	clear(g.syncWait)
	s.cancelTimer(syncKey(g))
}

func (s *shard) removePendingSync(g *classicGroup, memberID string) {
	delete(g.syncWait, memberID)
	if len(g.syncWait) == 0 {
		s.cancelTimer(syncKey(g))
	}
}

func (s *shard) expirePendingSync(groupID string, generation int32) {
	g := s.classicGroup(groupID)
	if g == nil || g.generation != generation {
		return
	}
	if g.state != stateCompletingRebalance && g.state != stateStable {
		return
	}
	if len(g.syncWait) == 0 {
		return
	}
	for id := range g.syncWait {
		if m := g.members[id]; m != nil {
			s.logger.Info("member did not sync in time, removing it", "group", groupID, "member_id", id)
			s.removeMember(g, m)
		}
	}
	clear(g.syncWait)
	s.prepareRebalance(g, "members did not send SyncGroup within the rebalance timeout")
}

// resetAndPropagateAssignment clears every assignment and answers waiting
// SyncGroups with err.
func (s *shard) resetAndPropagateAssignment(g *classicGroup, err *kerr.Error) {
	for _, m := range g.members {
		m.assignment = nil
	}
	s.propagateAssignment(g, err)
}

// setAndPropagateAssignment installs the leader's assignment and answers
// every waiting SyncGroup with it.
func (s *shard) setAndPropagateAssignment(g *classicGroup, assignment map[string][]byte) {
	for id, m := range g.members {
		m.assignment = assignment[id]
	}
	s.propagateAssignment(g, nil)
}

func (s *shard) propagateAssignment(g *classicGroup, err *kerr.Error) {
	var protocolType, protocolName *string
	if err == nil {
		pt := g.protocolType
		protocolType = &pt
		if g.protocolName != nil {
			pn := *g.protocolName
			protocolName = &pn
		}
	}
	for _, m := range g.memberList() {
		a := m.assignment
		if a == nil {
			a = []byte{}
		}
		if g.completeSync(m, syncResult{err: err, protocolType: protocolType, protocolName: protocolName, assignment: a}) {
			// A session that expired while the member waited was excused
			// and not rescheduled; start it again now.
			s.scheduleHeartbeat(g, m, m.sessionTimeout())
		}
	}
}

func msDuration(ms int32) time.Duration { return time.Duration(ms) * time.Millisecond }
