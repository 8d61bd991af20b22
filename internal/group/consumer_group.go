package group

import (
	"cmp"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Consumer groups (KIP-848): groups whose members speak
// ConsumerGroupHeartbeat and get their partitions from a server-side
// assignor. This file holds their state and how records change it; the
// protocol is in consumer_group_heartbeat.go.
//
// NB: a consumerGroup holds exactly what the committed records of
// __consumer_offsets say. Every change is made by writing records and,
// once they commit, applying them with the same code that replays the log
// at load (applyConsumerRecord), so memory and log cannot disagree about a
// group. While a change is being written, the next operation on the same
// group waits for it (shard.runConsumerOp), which is what lets an operation
// compute its records from committed state.

// Consumer group states as DescribeGroups, ListGroups and
// ConsumerGroupDescribe show them.
const (
	consumerStateEmpty       = "Empty"
	consumerStateAssigning   = "Assigning"
	consumerStateReconciling = "Reconciling"
	consumerStateStable      = "Stable"
	consumerStateDead        = "Dead"
)

// Member epochs with a meaning of their own in ConsumerGroupHeartbeat.
const (
	joinMemberEpoch        int32 = 0
	leaveMemberEpoch       int32 = -1
	leaveStaticMemberEpoch int32 = -2 // a static member that will be back
)

// consumerMember is a member of a consumer group. Owned by its shard's
// loop; replaced, never mutated, once it is in a group (so a heartbeat can
// compute a changed copy next to the committed one).
type consumerMember struct {
	id   string
	meta memberMetadata
	cur  memberAssignment
}

// reconciledTo reports whether the member owns its target at epoch.
func (m *consumerMember) reconciledTo(epoch int32) bool {
	return m.cur.state == memberStable && m.cur.memberEpoch == epoch
}

// consumerGroup is a group of the consumer protocol. Owned by its shard's
// loop.
type consumerGroup struct {
	id              string
	groupEpoch      int32
	assignmentEpoch int32 // epoch of the target assignment
	members         map[string]*consumerMember
	static          map[string]string     // group.instance.id → member id
	targets         map[string]assignment // member id → target assignment
	// subscription is the metadata of the subscribed topics that exist, by
	// name, as the target assignment last used it
	// (ConsumerGroupPartitionMetadata).
	subscription map[string]topicMetadata
	// regexes are the subscription regexes in use, with the topics they
	// matched (ConsumerGroupRegularExpression).
	regexes map[string]*resolvedRegex
	// owners maps every partition a member owns (assigned or pending
	// revocation) to that member; derived from the members.
	owners map[topicPartition]string

	// Soft state, not in the log.
	inflight       int              // writes of this group appended and not completed
	deleting       bool             // DeleteGroups or expiry is writing its tombstones
	regexCheckedMs map[string]int64 // regex → unix ms it was last matched against the topics
	namesCache     map[string]bool  // subscribedNames; nil when a record may have changed it
}

func newConsumerGroup(id string) *consumerGroup {
	return &consumerGroup{
		id:           id,
		members:      make(map[string]*consumerMember),
		static:       make(map[string]string),
		targets:      make(map[string]assignment),
		subscription: make(map[string]topicMetadata),
		regexes:      make(map[string]*resolvedRegex),
		owners:       make(map[topicPartition]string),

		regexCheckedMs: make(map[string]int64),
	}
}

// consumerGroup returns the consumer group id, or nil.
func (s *shard) consumerGroup(id string) *consumerGroup {
	g, _ := s.groups[id].(*consumerGroup)
	return g
}

// memberList returns the members sorted by member id.
func (g *consumerGroup) memberList() []*consumerMember {
	out := slices.Collect(maps.Values(g.members))
	slices.SortFunc(out, func(a, b *consumerMember) int { return cmp.Compare(a.id, b.id) })
	return out
}

// staticMember returns the member of a group.instance.id, or nil.
func (g *consumerGroup) staticMember(instanceID string) *consumerMember {
	if id, ok := g.static[instanceID]; ok {
		return g.members[id]
	}
	return nil
}

// memberTopics returns the topics a member subscribes to: its names and
// what its regex matched (in regexes).
func memberTopics(m *consumerMember, regexes map[string]*resolvedRegex) []string {
	topics := m.meta.subscribedTopics
	if m.meta.subscribedRegex != "" {
		if r := regexes[m.meta.subscribedRegex]; r != nil {
			topics = sortedUnique(append(slices.Clone(topics), r.topics...))
		}
	}
	return topics
}

// subscribedTopicNames is the union of the members' topics.
func subscribedTopicNames(members []*consumerMember, regexes map[string]*resolvedRegex) map[string]bool {
	out := make(map[string]bool)
	for _, m := range members {
		for _, t := range memberTopics(m, regexes) {
			out[t] = true
		}
	}
	return out
}

// subscribedNames is the union of the members' topics (names and what
// their regexes matched).
func (g *consumerGroup) subscribedNames() map[string]bool {
	if g.namesCache == nil {
		g.namesCache = subscribedTopicNames(g.memberList(), g.regexes)
	}
	return g.namesCache
}

func (g *consumerGroup) state() string {
	switch {
	case g.deleting:
		return consumerStateDead
	case len(g.members) == 0:
		return consumerStateEmpty
	case g.groupEpoch > g.assignmentEpoch:
		return consumerStateAssigning
	}
	for _, m := range g.members {
		if !m.reconciledTo(g.assignmentEpoch) {
			return consumerStateReconciling
		}
	}
	return consumerStateStable
}

// Shared group behaviour (the group interface).

func (g *consumerGroup) groupID() string          { return g.id }
func (g *consumerGroup) groupType() groupType     { return groupTypeConsumer }
func (g *consumerGroup) stateName() string        { return g.state() }
func (g *consumerGroup) protocolTypeName() string { return consumerProtocolType }
func (g *consumerGroup) isDeleting() bool         { return g.deleting }

// isEmpty also counts writes in flight: a member may be joining.
func (g *consumerGroup) isEmpty() bool { return len(g.members) == 0 && g.inflight == 0 }

// validateOffsetCommit follows Kafka's ConsumerGroup.validateOffsetCommit:
// commits without a member epoch are for empty groups only; members must
// commit with OffsetCommit v9+ at their current member epoch.
func (g *consumerGroup) validateOffsetCommit(memberID string, _ *string, memberEpoch int32, version int16) *kerr.Error {
	if g.deleting {
		return kerr.CoordinatorNotAvailable
	}
	if memberEpoch < 0 && len(g.members) == 0 {
		return nil
	}
	m := g.members[memberID]
	if m == nil {
		return kerr.UnknownMemberID
	}
	if version < 9 {
		return kerr.UnsupportedVersion
	}
	if memberEpoch != m.cur.memberEpoch {
		return kerr.StaleMemberEpoch
	}
	return nil
}

// validateOffsetFetch: a fetch naming a member must come from a member at
// its current epoch; a fetch without one (admin tools) is always allowed.
func (g *consumerGroup) validateOffsetFetch(memberID *string, memberEpoch int32) *kerr.Error {
	if g.deleting {
		return kerr.GroupIDNotFound
	}
	if memberID == nil && memberEpoch < 0 {
		return nil
	}
	var id string
	if memberID != nil {
		id = *memberID
	}
	m := g.members[id]
	if m == nil {
		return kerr.UnknownMemberID
	}
	if memberEpoch != m.cur.memberEpoch {
		return kerr.StaleMemberEpoch
	}
	return nil
}

func (g *consumerGroup) validateOffsetDelete() *kerr.Error {
	if g.deleting {
		return kerr.GroupIDNotFound
	}
	return nil
}

func (g *consumerGroup) validateDeleteGroup() *kerr.Error {
	switch {
	case g.deleting:
		return kerr.GroupIDNotFound
	case !g.isEmpty():
		return kerr.NonEmptyGroup
	}
	return nil
}

func (g *consumerGroup) isSubscribedToTopic(topic string) bool {
	return g.subscribedNames()[topic]
}

// offsetExpirationBase: offsets of a consumer group expire counting from
// their commit (Kafka's ConsumerGroup.offsetExpirationCondition); topics
// members subscribe to never reach here.
func (g *consumerGroup) offsetExpirationBase(e offsetEntry) (int64, bool) {
	return e.commitTimestamp, true
}

// deleteRecords returns the tombstones of every record of the group, in
// the order Kafka writes them (ConsumerGroup.createGroupTombstoneRecords).
func (g *consumerGroup) deleteRecords() []Record {
	var recs []Record
	members := g.memberList()
	tomb := func(typ int16, member, regex string) {
		r := consumerRecord{typ: typ, group: g.id, member: member, regex: regex}
		recs = append(recs, r.encode())
	}
	for _, m := range members {
		tomb(recordTypeConsumerGroupCurrentMemberAssignment, m.id, "")
	}
	for _, id := range slices.Sorted(maps.Keys(g.targets)) {
		tomb(recordTypeConsumerGroupTargetAssignmentMember, id, "")
	}
	tomb(recordTypeConsumerGroupTargetAssignmentMetadata, "", "")
	for _, m := range members {
		tomb(recordTypeConsumerGroupMemberMetadata, m.id, "")
	}
	for _, re := range slices.Sorted(maps.Keys(g.regexes)) {
		tomb(recordTypeConsumerGroupRegularExpression, "", re)
	}
	tomb(recordTypeConsumerGroupPartitionMetadata, "", "")
	tomb(recordTypeConsumerGroupMetadata, "", "")
	return recs
}

func (g *consumerGroup) beginDelete(int64) { g.deleting = true }
func (g *consumerGroup) abortDelete(int64) { g.deleting = false }

// Applying records: the one path by which consumer groups change, on load
// and when a write commits.

// applyConsumerRecord applies one consumer group record. It never fails:
// records that contradict the state (possible only if the log lost writes
// the coordinator was told failed) are applied as far as they make sense.
func (s *shard) applyConsumerRecord(r *consumerRecord) {
	g := s.consumerGroup(r.group)
	if g == nil {
		if !r.hasValue {
			return
		}
		if old := s.groups[r.group]; old != nil {
			if !old.isEmpty() {
				s.logger.Warn("consumer group record replaces a non-empty group of another type", "group", r.group, "type", old.groupType())
			}
		}
		g = newConsumerGroup(r.group)
		s.groups[r.group] = g
	}
	switch r.typ {
	case recordTypeConsumerGroupMetadata:
		if !r.hasValue {
			if len(g.members) > 0 {
				s.logger.Warn("consumer group tombstone for a group that still has members", "group", g.id, "members", len(g.members))
			}
			delete(s.groups, g.id)
			return
		}
		g.groupEpoch = *r.groupEpoch
	case recordTypeConsumerGroupPartitionMetadata:
		g.subscription = make(map[string]topicMetadata, len(r.topics))
		for _, t := range r.topics {
			g.subscription[t.Name] = t
		}
	case recordTypeConsumerGroupMemberMetadata:
		old := g.members[r.member]
		if !r.hasValue {
			if old != nil {
				g.removeMember(old)
			}
			return
		}
		m := &consumerMember{id: r.member, meta: *r.memberMetadata}
		if old != nil {
			m.cur = old.cur
		} else {
			m.cur = memberAssignment{assigned: assignment{}, pendingRevocation: assignment{}}
		}
		g.putMember(old, m)
	case recordTypeConsumerGroupTargetAssignmentMetadata:
		if r.hasValue {
			g.assignmentEpoch = *r.assignmentEpoch
		} else {
			g.assignmentEpoch = 0
		}
	case recordTypeConsumerGroupTargetAssignmentMember:
		if r.hasValue {
			g.targets[r.member] = r.target
		} else {
			delete(g.targets, r.member)
		}
	case recordTypeConsumerGroupCurrentMemberAssignment:
		old := g.members[r.member]
		if !r.hasValue {
			if old != nil {
				m := *old
				m.cur = memberAssignment{memberEpoch: leaveMemberEpoch, previousMemberEpoch: leaveMemberEpoch, assigned: assignment{}, pendingRevocation: assignment{}}
				g.putMember(old, &m)
			}
			return
		}
		m := &consumerMember{id: r.member, cur: *r.current}
		if old != nil {
			m.meta = old.meta
		}
		g.putMember(old, m)
	case recordTypeConsumerGroupRegularExpression:
		g.namesCache = nil
		if r.hasValue {
			g.regexes[r.regex] = r.resolved
		} else {
			delete(g.regexes, r.regex)
		}
	}
}

// putMember installs m in place of old (nil: a new member), keeping the
// static and owners indexes.
func (g *consumerGroup) putMember(old, m *consumerMember) {
	g.namesCache = nil
	if old != nil {
		g.dropIndexes(old)
	}
	g.members[m.id] = m
	if m.meta.instanceID != nil {
		g.static[*m.meta.instanceID] = m.id
	}
	for _, a := range []assignment{m.cur.assigned, m.cur.pendingRevocation} {
		for id, ps := range a {
			for _, p := range ps {
				g.owners[topicPartition{id, p}] = m.id
			}
		}
	}
}

func (g *consumerGroup) removeMember(m *consumerMember) {
	g.namesCache = nil
	g.dropIndexes(m)
	delete(g.members, m.id)
}

func (g *consumerGroup) dropIndexes(m *consumerMember) {
	if m.meta.instanceID != nil && g.static[*m.meta.instanceID] == m.id {
		delete(g.static, *m.meta.instanceID)
	}
	for _, a := range []assignment{m.cur.assigned, m.cur.pendingRevocation} {
		for id, ps := range a {
			for _, p := range ps {
				tp := topicPartition{id, p}
				if g.owners[tp] == m.id {
					delete(g.owners, tp)
				}
			}
		}
	}
}
