package group

import (
	"bytes"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// consumerProtocolType is the protocol type of Kafka consumers; groups of
// this type expose their subscriptions (KIP-496 expiry, OffsetDelete).
const consumerProtocolType = "consumer"

// classicState is the state of a classic group.
type classicState uint8

const (
	stateEmpty classicState = iota
	statePreparingRebalance
	stateCompletingRebalance
	stateStable
	stateDead
)

func (st classicState) String() string {
	switch st {
	case stateEmpty:
		return "Empty"
	case statePreparingRebalance:
		return "PreparingRebalance"
	case stateCompletingRebalance:
		return "CompletingRebalance"
	case stateStable:
		return "Stable"
	default:
		return "Dead"
	}
}

// joinResult is a JoinGroup answer before it is shaped for the request's
// version.
type joinResult struct {
	err            *kerr.Error
	memberID       string
	generation     int32
	protocolType   *string
	protocolName   *string
	leaderID       string
	skipAssignment bool
	members        []kmsg.JoinGroupResponseMember
}

func joinError(err *kerr.Error, memberID string) joinResult {
	return joinResult{err: err, memberID: memberID, generation: -1}
}

// syncResult is a SyncGroup answer before it is shaped for the request's
// version.
type syncResult struct {
	err          *kerr.Error
	protocolType *string
	protocolName *string
	assignment   []byte
}

// classicMember is a member of a classic group.
type classicMember struct {
	memberID           string
	instanceID         *string // static membership (KIP-345)
	clientID           string
	clientHost         string
	rebalanceTimeoutMs int32
	sessionTimeoutMs   int32
	protocolType       string
	protocols          []kmsg.JoinGroupRequestProtocol // in preference order
	assignment         []byte

	joinReply func(joinResult) // non-nil while a JoinGroup waits
	syncReply func(syncResult) // non-nil while a SyncGroup waits
	// isNew: joined but has not completed a join phase yet; its session
	// does not protect it (Kafka's new member join timeout applies).
	isNew bool
}

func (m *classicMember) sessionTimeout() time.Duration {
	return time.Duration(m.sessionTimeoutMs) * time.Millisecond
}

func (m *classicMember) awaitingJoin() bool { return m.joinReply != nil }
func (m *classicMember) awaitingSync() bool { return m.syncReply != nil }

// hasSatisfiedHeartbeat reports whether an expiring session is excused:
// members parked in a rebalance need not heartbeat, new ones always must
// finish joining in time.
func (m *classicMember) hasSatisfiedHeartbeat() bool {
	if m.isNew {
		return false
	}
	return m.awaitingJoin() || m.awaitingSync()
}

// metadata returns the member's metadata for protocol (nil if it has none).
func (m *classicMember) metadata(protocol string) []byte {
	for _, p := range m.protocols {
		if p.Name == protocol {
			return p.Metadata
		}
	}
	return nil
}

// matches reports whether protocols equal the member's, in order.
func (m *classicMember) matches(protocols []kmsg.JoinGroupRequestProtocol) bool {
	return slices.EqualFunc(m.protocols, protocols, func(a, b kmsg.JoinGroupRequestProtocol) bool {
		return a.Name == b.Name && bytes.Equal(a.Metadata, b.Metadata)
	})
}

// vote returns the member's most preferred protocol among candidates.
func (m *classicMember) vote(candidates map[string]bool) string {
	for _, p := range m.protocols {
		if candidates[p.Name] {
			return p.Name
		}
	}
	return ""
}

// classicGroup is a group of the classic protocol. Owned by its shard's
// loop.
type classicGroup struct {
	id             string
	state          classicState
	previousState  classicState
	stateTimestamp int64 // unix ms of the last transition; -1 unknown
	generation     int32
	protocolType   string  // "" when none (a group used only for offsets)
	protocolName   *string // selected protocol; nil when none
	leaderID       string  // "" when none

	members  map[string]*classicMember
	order    []string          // member ids in join order: leader succession and listings
	static   map[string]string // group.instance.id → member id
	pending  map[string]bool   // member ids handed out by MEMBER_ID_REQUIRED, not joined yet
	syncWait map[string]bool   // members that have not sent SyncGroup this generation

	supported       map[string]int // protocol name → number of members supporting it
	numAwaitingJoin int
	newMemberAdded  bool // a member joined during the initial rebalance delay

	subscribed      map[string]bool // topics members subscribe to, when known
	subscribedKnown bool

	emptySince int64 // stateTimestamp before beginDelete
}

func newClassicGroup(id string, nowMs int64) *classicGroup {
	return &classicGroup{
		id:             id,
		state:          stateEmpty,
		previousState:  stateEmpty,
		stateTimestamp: nowMs,
		members:        make(map[string]*classicMember),
		static:         make(map[string]string),
		pending:        make(map[string]bool),
		syncWait:       make(map[string]bool),
		supported:      make(map[string]int),
	}
}

// classicGroupFromRecord restores a group from its GroupMetadata record, as
// Kafka does: Stable with its members if it has any, else Empty.
func classicGroupFromRecord(id string, v *kmsg.GroupMetadataValue) *classicGroup {
	g := newClassicGroup(id, v.CurrentStateTimestamp)
	if v.Version < 2 {
		g.stateTimestamp = -1
	}
	g.generation = v.Generation
	g.protocolType = v.ProtocolType
	if v.Protocol != nil {
		p := *v.Protocol
		g.protocolName = &p
	}
	if len(v.Members) > 0 {
		g.state = stateStable
	}
	for _, vm := range v.Members {
		if _, dup := g.members[vm.MemberID]; dup {
			continue
		}
		m := &classicMember{
			memberID:           vm.MemberID,
			clientID:           vm.ClientID,
			clientHost:         vm.ClientHost,
			rebalanceTimeoutMs: vm.RebalanceTimeoutMillis,
			sessionTimeoutMs:   vm.SessionTimeoutMillis,
			protocolType:       g.protocolType,
			assignment:         vm.Assignment,
		}
		if v.Version < 1 || m.rebalanceTimeoutMs < 0 {
			m.rebalanceTimeoutMs = m.sessionTimeoutMs
		}
		if vm.InstanceID != nil {
			if _, dup := g.static[*vm.InstanceID]; dup {
				continue
			}
			iid := *vm.InstanceID
			m.instanceID = &iid
		}
		if g.protocolName != nil {
			m.protocols = []kmsg.JoinGroupRequestProtocol{{Name: *g.protocolName, Metadata: vm.Subscription}}
		}
		g.addMember(m, nil)
	}
	if v.Leader != nil {
		if _, ok := g.members[*v.Leader]; ok {
			g.leaderID = *v.Leader
		}
	}
	g.computeSubscribedTopics()
	return g
}

func (g *classicGroup) groupID() string          { return g.id }
func (g *classicGroup) groupType() groupType     { return groupTypeClassic }
func (g *classicGroup) stateName() string        { return g.state.String() }
func (g *classicGroup) protocolTypeName() string { return g.protocolType }
func (g *classicGroup) isEmpty() bool            { return g.state == stateEmpty }
func (g *classicGroup) isDeleting() bool         { return g.state == stateDead }

func (g *classicGroup) transitionTo(st classicState, nowMs int64) {
	g.previousState = g.state
	g.state = st
	g.stateTimestamp = nowMs
}

// canRebalance reports whether PreparingRebalance may follow the current
// state.
func (g *classicGroup) canRebalance() bool {
	return g.state == stateStable || g.state == stateCompletingRebalance || g.state == stateEmpty
}

// memberList returns the members in join order.
func (g *classicGroup) memberList() []*classicMember {
	out := make([]*classicMember, 0, len(g.order))
	for _, id := range g.order {
		out = append(out, g.members[id])
	}
	return out
}

// addMember adds m, awaiting a join answer through reply (nil: not
// waiting). The first member sets the protocol type and leads.
func (g *classicGroup) addMember(m *classicMember, reply func(joinResult)) {
	if len(g.members) == 0 {
		g.protocolType = m.protocolType
	}
	if m.instanceID != nil {
		g.static[*m.instanceID] = m.memberID
	}
	if g.leaderID == "" {
		g.leaderID = m.memberID
	}
	g.members[m.memberID] = m
	g.order = append(g.order, m.memberID)
	for _, p := range m.protocols {
		g.supported[p.Name]++
	}
	m.joinReply = reply
	if reply != nil {
		g.numAwaitingJoin++
	}
	delete(g.pending, m.memberID)
}

// remove drops a member (or pending member) without answering its waits.
func (g *classicGroup) remove(memberID string) {
	if m, ok := g.members[memberID]; ok {
		delete(g.members, memberID)
		g.order = slices.DeleteFunc(g.order, func(id string) bool { return id == memberID })
		for _, p := range m.protocols {
			g.supported[p.Name]--
			if g.supported[p.Name] <= 0 {
				delete(g.supported, p.Name)
			}
		}
		if m.awaitingJoin() {
			g.numAwaitingJoin--
		}
		if m.instanceID != nil && g.static[*m.instanceID] == memberID {
			delete(g.static, *m.instanceID)
		}
	}
	if g.leaderID == memberID {
		g.leaderID = ""
		if len(g.order) > 0 {
			g.leaderID = g.order[0]
		}
	}
	delete(g.pending, memberID)
	delete(g.syncWait, memberID)
}

// updateMember replaces a member's protocols and timeouts and sets its
// join wait (nil: not waiting). A JoinGroup it supersedes is answered
// REBALANCE_IN_PROGRESS so that nothing waits forever.
func (g *classicGroup) updateMember(m *classicMember, protocols []kmsg.JoinGroupRequestProtocol, rebalanceTimeoutMs, sessionTimeoutMs int32, reply func(joinResult)) {
	for _, p := range m.protocols {
		g.supported[p.Name]--
		if g.supported[p.Name] <= 0 {
			delete(g.supported, p.Name)
		}
	}
	m.protocols = protocols
	for _, p := range m.protocols {
		g.supported[p.Name]++
	}
	m.rebalanceTimeoutMs = rebalanceTimeoutMs
	m.sessionTimeoutMs = sessionTimeoutMs
	if old := m.joinReply; old != nil && reply != nil {
		old(joinError(kerr.RebalanceInProgress, m.memberID))
	}
	switch {
	case reply != nil && !m.awaitingJoin():
		g.numAwaitingJoin++
	case reply == nil && m.awaitingJoin():
		g.numAwaitingJoin--
	}
	m.joinReply = reply
}

// completeJoin answers m's waiting JoinGroup, if any.
func (g *classicGroup) completeJoin(m *classicMember, r joinResult) bool {
	if m.joinReply == nil {
		return false
	}
	reply := m.joinReply
	m.joinReply = nil
	g.numAwaitingJoin--
	reply(r)
	return true
}

// completeSync answers m's waiting SyncGroup, if any.
func (g *classicGroup) completeSync(m *classicMember, r syncResult) bool {
	if m.syncReply == nil {
		return false
	}
	reply := m.syncReply
	m.syncReply = nil
	reply(r)
	return true
}

// replaceStatic gives the member of a static instance a new member id; the
// old id's waiting requests are fenced.
func (g *classicGroup) replaceStatic(instanceID, oldID, newID string) *classicMember {
	m := g.members[oldID]
	g.completeJoin(m, joinResult{err: kerr.FencedInstanceID, memberID: oldID, generation: -1})
	g.completeSync(m, syncResult{err: kerr.FencedInstanceID})
	delete(g.members, oldID)
	m.memberID = newID
	g.members[newID] = m
	for i, id := range g.order {
		if id == oldID {
			g.order[i] = newID
		}
	}
	if g.leaderID == oldID {
		g.leaderID = newID
	}
	if g.syncWait[oldID] {
		delete(g.syncWait, oldID)
		g.syncWait[newID] = true
	}
	g.static[instanceID] = newID
	return m
}

// validateMember checks that memberID is a member and, for a static
// member, that it is the instance's current member id.
func (g *classicGroup) validateMember(memberID string, instanceID *string) *kerr.Error {
	if instanceID != nil {
		current, ok := g.static[*instanceID]
		if !ok {
			return kerr.UnknownMemberID
		}
		if current != memberID {
			return kerr.FencedInstanceID
		}
	}
	if _, ok := g.members[memberID]; !ok {
		return kerr.UnknownMemberID
	}
	return nil
}

// supportsProtocols reports whether a member of protocolType offering
// names may join: an empty group takes any non-empty offer; otherwise the
// type must match and one name must be supported by every member.
func (g *classicGroup) supportsProtocols(protocolType string, protocols []kmsg.JoinGroupRequestProtocol) bool {
	if g.state == stateEmpty {
		return protocolType != "" && len(protocols) > 0
	}
	if g.protocolType != protocolType {
		return false
	}
	for _, p := range protocols {
		if g.supported[p.Name] == len(g.members) {
			return true
		}
	}
	return false
}

// selectProtocol picks, among the protocols every member supports, the one
// most members prefer; ties go to the protocol the earliest member prefers.
func (g *classicGroup) selectProtocol() string {
	candidates := make(map[string]bool)
	for name, n := range g.supported {
		if n == len(g.members) {
			candidates[name] = true
		}
	}
	votes := make(map[string]int)
	var best string
	for _, m := range g.memberList() {
		v := m.vote(candidates)
		votes[v]++
	}
	for _, m := range g.memberList() {
		v := m.vote(candidates)
		if best == "" || votes[v] > votes[best] {
			best = v
		}
	}
	return best
}

// hasAllMembersJoined reports whether every member waits in JoinGroup and
// no pending member is still to join.
func (g *classicGroup) hasAllMembersJoined() bool {
	return len(g.members) == g.numAwaitingJoin && len(g.pending) == 0
}

// rebalanceTimeout is the longest rebalance timeout of the members.
func (g *classicGroup) rebalanceTimeout() time.Duration {
	var ms int32
	for _, m := range g.members {
		ms = max(ms, m.rebalanceTimeoutMs)
	}
	return time.Duration(ms) * time.Millisecond
}

// maybeElectNewJoinedLeader keeps the leader if it rejoined, else picks
// the first member that did; false when no member rejoined.
func (g *classicGroup) maybeElectNewJoinedLeader() bool {
	if g.leaderID == "" {
		return false
	}
	if leader := g.members[g.leaderID]; leader != nil && leader.awaitingJoin() {
		return true
	}
	for _, m := range g.memberList() {
		if m.awaitingJoin() {
			g.leaderID = m.memberID
			return true
		}
	}
	return false
}

// initNextGeneration starts the next generation: CompletingRebalance with a
// selected protocol, or Empty.
func (g *classicGroup) initNextGeneration(nowMs int64) {
	g.generation++
	if len(g.members) > 0 {
		p := g.selectProtocol()
		g.protocolName = &p
		g.computeSubscribedTopics()
		g.transitionTo(stateCompletingRebalance, nowMs)
	} else {
		g.protocolName = nil
		g.computeSubscribedTopics()
		g.transitionTo(stateEmpty, nowMs)
	}
	clear(g.syncWait)
}

// currentMembers lists the members and their metadata for the selected
// protocol, as the leader's JoinGroup answer carries them.
func (g *classicGroup) currentMembers() []kmsg.JoinGroupResponseMember {
	var proto string
	if g.protocolName != nil {
		proto = *g.protocolName
	}
	out := make([]kmsg.JoinGroupResponseMember, 0, len(g.members))
	for _, m := range g.memberList() {
		rm := kmsg.NewJoinGroupResponseMember()
		rm.MemberID = m.memberID
		rm.InstanceID = m.instanceID
		rm.ProtocolMetadata = m.metadata(proto)
		out = append(out, rm)
	}
	return out
}

// computeSubscribedTopics derives the topics members consume from their
// consumer-protocol subscriptions; unknown when the type is not "consumer"
// or a subscription does not parse.
func (g *classicGroup) computeSubscribedTopics() {
	g.subscribed, g.subscribedKnown = nil, false
	if g.protocolType != consumerProtocolType {
		return
	}
	if len(g.members) == 0 {
		g.subscribed, g.subscribedKnown = map[string]bool{}, true
		return
	}
	if g.protocolName == nil {
		return
	}
	topics := make(map[string]bool)
	for _, m := range g.members {
		var meta kmsg.ConsumerMemberMetadata
		if err := meta.ReadFrom(m.metadata(*g.protocolName)); err != nil {
			return
		}
		for _, t := range meta.Topics {
			topics[t] = true
		}
	}
	g.subscribed, g.subscribedKnown = topics, true
}

func (g *classicGroup) isSubscribedToTopic(topic string) bool {
	if g.subscribedKnown {
		return g.subscribed[topic]
	}
	return g.protocolType == consumerProtocolType
}

// metadataValue builds the GroupMetadata value of the current generation
// with the given assignment (members missing from it get none).
func (g *classicGroup) metadataValue(assignment map[string][]byte) *kmsg.GroupMetadataValue {
	v := kmsg.NewGroupMetadataValue()
	v.ProtocolType = g.protocolType
	v.Generation = g.generation
	if g.protocolName != nil {
		p := *g.protocolName
		v.Protocol = &p
	}
	if g.leaderID != "" {
		l := g.leaderID
		v.Leader = &l
	}
	v.CurrentStateTimestamp = g.stateTimestamp
	for _, m := range g.memberList() {
		vm := kmsg.NewGroupMetadataValueMember()
		vm.MemberID = m.memberID
		vm.InstanceID = m.instanceID
		vm.ClientID = m.clientID
		vm.ClientHost = m.clientHost
		vm.RebalanceTimeoutMillis = m.rebalanceTimeoutMs
		vm.SessionTimeoutMillis = m.sessionTimeoutMs
		if g.protocolName != nil {
			vm.Subscription = m.metadata(*g.protocolName)
		}
		if vm.Subscription == nil {
			vm.Subscription = []byte{}
		}
		vm.Assignment = assignment[m.memberID]
		if vm.Assignment == nil {
			vm.Assignment = []byte{}
		}
		v.Members = append(v.Members, vm)
	}
	return &v
}

// currentAssignment returns every member's assignment.
func (g *classicGroup) currentAssignment() map[string][]byte {
	out := make(map[string][]byte, len(g.members))
	for id, m := range g.members {
		out[id] = m.assignment
	}
	return out
}

// Shared group behaviour (the group interface).

func (g *classicGroup) validateOffsetCommit(memberID string, instanceID *string, generation int32, _ int16) *kerr.Error {
	if g.state == stateDead {
		return kerr.CoordinatorNotAvailable
	}
	if generation < 0 && g.state == stateEmpty {
		// A standalone consumer or an admin commits outside group
		// management; allowed only while the group has no members.
		return nil
	}
	if generation >= 0 || memberID != "" || instanceID != nil {
		if err := g.validateMember(memberID, instanceID); err != nil {
			return err
		}
		if generation != g.generation {
			return kerr.IllegalGeneration
		}
	} else if g.state != stateEmpty {
		return kerr.UnknownMemberID
	}
	if g.state == stateCompletingRebalance {
		// The member knows the new generation but has not synced yet.
		return kerr.RebalanceInProgress
	}
	return nil
}

func (g *classicGroup) validateOffsetFetch(*string, int32) *kerr.Error {
	if g.state == stateDead {
		return kerr.GroupIDNotFound
	}
	return nil
}

func (g *classicGroup) validateOffsetDelete() *kerr.Error {
	switch g.state {
	case stateDead:
		return kerr.GroupIDNotFound
	case stateStable, statePreparingRebalance, stateCompletingRebalance:
		if g.protocolType != consumerProtocolType {
			return kerr.NonEmptyGroup
		}
	}
	return nil
}

func (g *classicGroup) validateDeleteGroup() *kerr.Error {
	switch g.state {
	case stateDead:
		return kerr.GroupIDNotFound
	case stateStable, statePreparingRebalance, stateCompletingRebalance:
		return kerr.NonEmptyGroup
	}
	return nil
}

// offsetExpirationBase follows Kafka's ClassicGroup.offsetExpirationCondition:
// an empty group's offsets expire counting from when it became empty (from
// the commit when that is unknown); a Stable consumer group's offsets of
// topics it no longer subscribes to count from the commit (KIP-496); a
// group without protocol type (standalone commits, KIP-211) counts from the
// commit.
func (g *classicGroup) offsetExpirationBase(e offsetEntry) (int64, bool) {
	if g.protocolType == "" {
		return e.commitTimestamp, true
	}
	if g.state == stateEmpty {
		if g.stateTimestamp >= 0 {
			return g.stateTimestamp, true
		}
		return e.commitTimestamp, true
	}
	if g.protocolType == consumerProtocolType && g.subscribedKnown && g.state == stateStable {
		return e.commitTimestamp, true
	}
	return 0, false
}

func (g *classicGroup) deleteRecords() []Record { return []Record{groupTombstone(g.id)} }

func (g *classicGroup) beginDelete(nowMs int64) {
	g.emptySince = g.stateTimestamp
	g.transitionTo(stateDead, nowMs)
}

// abortDelete returns a group whose deletion failed to Empty, keeping the
// time it became empty for offset expiry.
func (g *classicGroup) abortDelete(int64) {
	if g.state == stateDead {
		g.state, g.previousState, g.stateTimestamp = stateEmpty, stateDead, g.emptySince
	}
}
