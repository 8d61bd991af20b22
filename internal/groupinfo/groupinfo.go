// Package groupinfo reads what a cluster says about its consumer groups,
// over the Kafka protocol, for the admin tools that show it: the
// `strata group` commands (internal/cli) and the web console
// (internal/console). It lists the groups of every broker (ListGroups),
// describes classic groups (DescribeGroups) and KIP-848 consumer groups
// (ConsumerGroupDescribe) into one Description with Members and their
// assignments, reads a group's committed offsets and lines them up with
// log end offsets and the assignment into per-partition lag (Offsets).
//
// It leaves the clients, the wording of errors around its own and all
// presentation to its callers. It keeps no state and starts no goroutines.
package groupinfo

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/kafkaerr"
)

// Group types as ListGroups v5+ (KIP-848) names them.
const (
	TypeClassic  = "classic"
	TypeConsumer = "consumer"
)

// Listed is one group from a ListGroups answer.
type Listed struct {
	Group        string
	Type         string // TypeClassic, TypeConsumer or another type a broker reports, lower case
	State        string
	ProtocolType string // as the broker sent it ("" for KIP-848 groups)
	Coordinator  int32  // the broker that listed it
}

// Listing is what the brokers answered to ListGroups.
type Listing struct {
	Groups   []Listed // sorted by group
	Answered int      // brokers that listed their groups
	// Failed has an error per broker that could not list its groups,
	// "list groups on broker N: ...". Their groups are missing.
	Failed []error
}

// List asks every broker for the groups it coordinates. states and types
// filter on the broker (ListGroups v4+ and v5+) and again here, for brokers
// too old to filter; nil keeps all.
func List(ctx context.Context, cl *kgo.Client, states, types []string) Listing {
	req := kmsg.NewPtrListGroupsRequest()
	req.StatesFilter = states
	req.TypesFilter = types
	var l Listing
	for _, shard := range cl.RequestSharded(ctx, req) {
		if shard.Err != nil {
			l.Failed = append(l.Failed, fmt.Errorf("list groups on broker %d: %w", shard.Meta.NodeID, shard.Err))
			continue
		}
		resp := shard.Resp.(*kmsg.ListGroupsResponse)
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			l.Failed = append(l.Failed, fmt.Errorf("list groups on broker %d: %w", shard.Meta.NodeID, err))
			continue
		}
		l.Answered++
		l.Groups = append(l.Groups, fromListGroups(shard.Meta.NodeID, resp, states, types)...)
	}
	slices.SortFunc(l.Groups, func(a, b Listed) int { return strings.Compare(a.Group, b.Group) })
	return l
}

// fromListGroups turns one broker's ListGroups answer into Listed groups,
// keeping those that pass the filters (states case-insensitively).
func fromListGroups(broker int32, resp *kmsg.ListGroupsResponse, states, types []string) []Listed {
	var out []Listed
	for _, g := range resp.Groups {
		lg := Listed{
			Group:        g.Group,
			Type:         strings.ToLower(g.GroupType),
			State:        g.GroupState,
			ProtocolType: g.ProtocolType,
			Coordinator:  broker,
		}
		if lg.Type == "" {
			// Before ListGroups v5 (Kafka 3.8) brokers know only
			// classic groups.
			lg.Type = TypeClassic
		}
		if len(states) > 0 && !slices.ContainsFunc(states, func(s string) bool { return strings.EqualFold(s, lg.State) }) {
			continue
		}
		if len(types) > 0 && !slices.Contains(types, lg.Type) {
			continue
		}
		out = append(out, lg)
	}
	return out
}

// Member is a member of a described group, classic or KIP-848.
type Member struct {
	MemberID   string
	InstanceID string // "" when the member has no group.instance.id
	ClientID   string
	ClientHost string
	// Assigned is the member's assignment: topics in the order the
	// broker sent them, each one's partitions sorted (nil when it has
	// none). It is empty when nothing is assigned or it is not known: a
	// classic group tells it only for the consumer protocol type, once
	// Stable.
	Assigned kadm.TopicsList
}

// Description is a group as DescribeGroups (classic) or
// ConsumerGroupDescribe (KIP-848) shows it.
type Description struct {
	Group        string
	Type         string // TypeClassic or TypeConsumer
	State        string
	ProtocolType string // "consumer" for KIP-848 groups
	Protocol     string // the classic protocol (assignor) or the KIP-848 server-side assignor
	Coordinator  int32

	// GroupEpoch and AssignmentEpoch are set for KIP-848 groups only.
	GroupEpoch, AssignmentEpoch int32

	Members []Member // sorted by SortMembers
}

// Described is the outcome of describing one group: Err is set when it
// could not be described, and wraps kerr.GroupIDNotFound when the group
// does not exist.
type Described struct {
	Description
	Err error
}

// TopicNamesError is Describe's error when the metadata that names topics
// a broker assigned by topic ID only could not be read. The descriptions
// are complete, with such topics named by their IDs.
type TopicNamesError struct{ Err error }

func (e *TopicNamesError) Error() string {
	return "describe topics to name assigned topic IDs: " + e.Err.Error()
}

func (e *TopicNamesError) Unwrap() error { return e.Err }

// Describe describes groups of either protocol, one Described for each of
// groups. known maps a group to its type when a ListGroups answer told it;
// other groups are tried with ConsumerGroupDescribe first and described
// classically when that finds no KIP-848 group or is not supported.
//
// The error is set when DescribeGroups failed as a whole (the map is nil
// then), or is a *TopicNamesError.
func Describe(ctx context.Context, cl *kgo.Client, adm *kadm.Client, groups []string, known map[string]string) (map[string]Described, error) {
	out := make(map[string]Described, len(groups))
	var tryConsumer, classic []string
	for _, g := range groups {
		if known[g] == TypeClassic {
			classic = append(classic, g)
		} else {
			tryConsumer = append(tryConsumer, g)
		}
	}
	var namesErr error
	if len(tryConsumer) > 0 {
		// NB: when a broker does not know ConsumerGroupDescribe, kgo fails
		// that broker's shard and its groups are missing from the answer;
		// they fall back to DescribeGroups like groups that are not
		// KIP-848 groups (GROUP_ID_NOT_FOUND).
		var described map[string]Described
		described, namesErr = describeConsumerGroups(ctx, cl, adm, tryConsumer)
		for _, g := range tryConsumer {
			d, ok := described[g]
			switch {
			case ok && d.Err == nil:
				out[g] = d
			case !ok, errors.Is(d.Err, kerr.GroupIDNotFound), errors.Is(d.Err, kerr.UnsupportedVersion):
				classic = append(classic, g)
			default:
				out[g] = d
			}
		}
	}
	if len(classic) == 0 {
		return out, namesErr
	}
	described, err := adm.DescribeGroups(ctx, classic...)
	var se *kadm.ShardErrors
	if err != nil && !errors.As(err, &se) {
		return nil, fmt.Errorf("describe groups: %w", err)
	}
	for _, g := range classic {
		out[g] = fromClassicGroup(described, g, err)
	}
	return out, namesErr
}

// fromClassicGroup is group's outcome in a DescribeGroups answer; err is
// the answer's shard errors, if any.
func fromClassicGroup(described kadm.DescribedGroups, group string, err error) Described {
	d, ok := described[group]
	switch {
	case !ok:
		if err == nil {
			err = errors.New("missing from the DescribeGroups response")
		}
		return Described{Err: err}
	case d.Err != nil:
		return Described{Err: kafkaerr.WithMessage(d.Err, d.ErrMessage)}
	case d.State == "Dead":
		// Before DescribeGroups v6 an unknown group is answered as Dead
		// without an error.
		return Described{Err: kerr.GroupIDNotFound}
	}
	gd := Description{
		Group:        d.Group,
		Type:         TypeClassic,
		State:        d.State,
		ProtocolType: d.ProtocolType,
		Protocol:     d.Protocol,
		Coordinator:  d.Coordinator.NodeID,
	}
	for _, m := range d.Members {
		gm := Member{MemberID: m.MemberID, ClientID: m.ClientID, ClientHost: m.ClientHost}
		if m.InstanceID != nil {
			gm.InstanceID = *m.InstanceID
		}
		// Only the consumer protocol type has assignments we can read;
		// the coordinator sends them only once the group is Stable.
		if a, ok := m.Assigned.AsConsumer(); ok && d.ProtocolType == "consumer" {
			gm.Assigned = fromConsumerAssignment(a)
		}
		gd.Members = append(gd.Members, gm)
	}
	SortMembers(gd.Members)
	return Described{Description: gd}
}

// fromConsumerAssignment is the assignment a classic group's leader gave a
// member of the consumer protocol type.
func fromConsumerAssignment(a *kmsg.ConsumerMemberAssignment) kadm.TopicsList {
	var l kadm.TopicsList
	for _, t := range a.Topics {
		l = append(l, kadm.TopicPartitions{Topic: t.Topic, Partitions: slices.Sorted(slices.Values(t.Partitions))})
	}
	return l
}

// describeConsumerGroups sends ConsumerGroupDescribe (KIP-848) for groups.
// Groups whose coordinator failed to answer are missing from the result.
// The error is a *TopicNamesError or nil.
//
// NB: kadm's DescribeConsumerGroups keys assignments by topic name only, and
// a broker may send just the topic ID; so this asks directly and names such
// topics from the cluster's metadata.
func describeConsumerGroups(ctx context.Context, cl *kgo.Client, adm *kadm.Client, groups []string) (map[string]Described, error) {
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups = groups
	type answered struct {
		coordinator int32
		group       *kmsg.ConsumerGroupDescribeResponseGroup
	}
	var (
		found   []answered
		unnamed bool
		out     = make(map[string]Described, len(groups))
	)
	for _, shard := range cl.RequestSharded(ctx, req) {
		if shard.Err != nil {
			continue // its groups fall back to DescribeGroups
		}
		resp := shard.Resp.(*kmsg.ConsumerGroupDescribeResponse)
		for i := range resp.Groups {
			rg := &resp.Groups[i]
			if err := kerr.ErrorForCode(rg.ErrorCode); err != nil {
				out[rg.Group] = Described{Err: kafkaerr.WithMessage(err, deref(rg.ErrorMessage))}
				continue
			}
			found = append(found, answered{coordinator: shard.Meta.NodeID, group: rg})
			for _, m := range rg.Members {
				unnamed = unnamed || slices.ContainsFunc(m.Assignment.TopicPartitions, func(tp kmsg.AssignmentTopicPartition) bool { return tp.Topic == "" })
			}
		}
	}
	var (
		names    map[[16]byte]string
		namesErr error
	)
	if unnamed {
		md, err := adm.Metadata(ctx)
		if err != nil {
			namesErr = &TopicNamesError{Err: err}
		}
		names = make(map[[16]byte]string, len(md.Topics))
		for _, td := range md.Topics {
			names[td.ID] = td.Topic
		}
	}
	for _, a := range found {
		out[a.group.Group] = Described{Description: fromConsumerGroup(a.coordinator, a.group, names)}
	}
	return out, namesErr
}

// fromConsumerGroup is a group of a ConsumerGroupDescribe answer. names
// names the topics assigned by ID only; one it does not know (deleted
// since, or the metadata could not be read) is named by its ID.
func fromConsumerGroup(coordinator int32, rg *kmsg.ConsumerGroupDescribeResponseGroup, names map[[16]byte]string) Description {
	gd := Description{
		Group:           rg.Group,
		Type:            TypeConsumer,
		State:           rg.State,
		ProtocolType:    "consumer",
		Protocol:        rg.AssignorName,
		Coordinator:     coordinator,
		GroupEpoch:      rg.Epoch,
		AssignmentEpoch: rg.AssignmentEpoch,
	}
	for _, rm := range rg.Members {
		gm := Member{
			MemberID:   rm.MemberID,
			InstanceID: deref(rm.InstanceID),
			ClientID:   rm.ClientID,
			ClientHost: rm.ClientHost,
		}
		for _, tp := range rm.Assignment.TopicPartitions {
			name := tp.Topic
			if name == "" {
				if name = names[tp.TopicID]; name == "" {
					name = topicIDString(tp.TopicID)
				}
			}
			gm.Assigned = append(gm.Assigned, kadm.TopicPartitions{Topic: name, Partitions: slices.Sorted(slices.Values(tp.Partitions))})
		}
		gd.Members = append(gd.Members, gm)
	}
	SortMembers(gd.Members)
	return gd
}

// SortMembers orders members as kafka-consumer-groups.sh does: those with
// an instance ID first, by it, then the rest by member ID.
func SortMembers(ms []Member) {
	slices.SortFunc(ms, func(a, b Member) int {
		switch {
		case a.InstanceID != "" && b.InstanceID == "":
			return -1
		case a.InstanceID == "" && b.InstanceID != "":
			return 1
		case a.InstanceID != b.InstanceID:
			return strings.Compare(a.InstanceID, b.InstanceID)
		}
		return strings.Compare(a.MemberID, b.MemberID)
	})
}

// topicIDString prints a topic ID as Kafka does (Uuid.toString): URL-safe
// base64 without padding.
func topicIDString(id [16]byte) string {
	return base64.RawURLEncoding.EncodeToString(id[:])
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
