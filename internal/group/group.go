package group

import "github.com/twmb/franz-go/pkg/kerr"

// groupType is a group's protocol family, as ListGroups v5 (KIP-848) names
// it.
type groupType string

const (
	groupTypeClassic  groupType = "classic"
	groupTypeConsumer groupType = "consumer"
)

// group is what the paths shared by both group types need: offset commits
// and fetches, the admin APIs and offset expiry. A shard keeps one map of
// groups, so a group id names one group of one type. The protocol paths
// (JoinGroup...; ConsumerGroupHeartbeat) type-switch to their own type and
// answer Kafka's error for the other one.
type group interface {
	groupID() string
	groupType() groupType
	// stateName is the state as DescribeGroups and ListGroups show it.
	stateName() string
	// protocolTypeName is ListGroups' ProtocolType ("" for none).
	protocolTypeName() string
	// isEmpty reports Kafka's Group.isEmpty: the group has no members.
	isEmpty() bool

	// validateOffsetCommit checks a non-transactional commit from
	// memberID at generation (the member epoch for consumer groups).
	validateOffsetCommit(memberID string, instanceID *string, generation int32, version int16) *kerr.Error
	// validateTxnOffsetCommit checks a TxnOffsetCommit from memberID at
	// generation (v3+; -1 and "" before).
	validateTxnOffsetCommit(memberID string, instanceID *string, generation int32) *kerr.Error
	// validateOffsetFetch checks a fetch (v9+ carries the member); a
	// GROUP_ID_NOT_FOUND answer makes the fetch return no offsets.
	validateOffsetFetch(memberID *string, memberEpoch int32) *kerr.Error
	validateOffsetDelete() *kerr.Error
	validateDeleteGroup() *kerr.Error
	// isSubscribedToTopic reports whether members consume topic, which
	// keeps its offsets from OffsetDelete and expiry.
	isSubscribedToTopic(topic string) bool
	// offsetExpirationBase returns the unix ms the retention of e counts
	// from, or false when the group's offsets must not expire now.
	offsetExpirationBase(e offsetEntry) (int64, bool)

	// deleteRecords returns the tombstones that delete the group (not its
	// offsets).
	deleteRecords() []Record
	// beginDelete marks the group dead while its deletion is written;
	// abortDelete undoes it when the write fails.
	beginDelete(nowMs int64)
	abortDelete(nowMs int64)
	isDeleting() bool
}
