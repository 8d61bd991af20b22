package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newGroupCommand() *cobra.Command {
	cmd, cf := newParentCommand("group", "List, describe, reset the offsets of and delete consumer groups",
		"how long the whole command may wait for the cluster")
	cmd.AddCommand(
		newGroupListCommand(cf),
		newGroupDescribeCommand(cf),
		newGroupResetOffsetsCommand(cf),
		newGroupDeleteCommand(cf),
	)
	return cmd
}

// groupError prefixes err with the group it is about.
func groupError(group string, err error) error {
	return fmt.Errorf("group %q: %w", group, err)
}

// Group types as ListGroups v5+ (KIP-848) names them.
const (
	groupTypeClassic  = "classic"
	groupTypeConsumer = "consumer"
)

// groupStates are the states --state accepts, spelled as brokers report
// them: the classic protocol's and KIP-848's.
var groupStates = []string{"Empty", "Stable", "PreparingRebalance", "CompletingRebalance", "Assigning", "Reconciling", "Dead"}

// normalizeStates checks --state values case-insensitively and returns them
// spelled as brokers report them. Each value may be a comma-separated list.
func normalizeStates(given []string) ([]string, error) {
	var out []string
	for _, s := range given {
		i := slices.IndexFunc(groupStates, func(known string) bool { return strings.EqualFold(known, s) })
		if i < 0 {
			return nil, fmt.Errorf("--state %q: want one of %s", s, strings.Join(groupStates, ", "))
		}
		if !slices.Contains(out, groupStates[i]) {
			out = append(out, groupStates[i])
		}
	}
	return out, nil
}

// listedGroup is one group from a ListGroups answer.
type listedGroup struct {
	Group        string
	Type         string // groupTypeClassic or groupTypeConsumer (or another type a broker reports)
	State        string
	ProtocolType string
	Coordinator  int32
}

// listGroups asks every broker for the groups it coordinates. states and
// types filter on the broker (ListGroups v4+ and v5+) and again here, for
// brokers too old to filter. Groups of brokers that failed are missing from
// the list and their errors are returned with it.
func listGroups(ctx context.Context, cl *kgo.Client, states, types []string) ([]listedGroup, error) {
	req := kmsg.NewPtrListGroupsRequest()
	req.StatesFilter = states
	req.TypesFilter = types
	var (
		groups []listedGroup
		errs   []error
	)
	for _, shard := range cl.RequestSharded(ctx, req) {
		if shard.Err != nil {
			errs = append(errs, fmt.Errorf("list groups on broker %d: %w", shard.Meta.NodeID, shard.Err))
			continue
		}
		resp := shard.Resp.(*kmsg.ListGroupsResponse)
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			errs = append(errs, fmt.Errorf("list groups on broker %d: %w", shard.Meta.NodeID, err))
			continue
		}
		for _, g := range resp.Groups {
			lg := listedGroup{
				Group:        g.Group,
				Type:         strings.ToLower(g.GroupType),
				State:        g.GroupState,
				ProtocolType: g.ProtocolType,
				Coordinator:  shard.Meta.NodeID,
			}
			if lg.Type == "" {
				// Before ListGroups v5 (Kafka 3.8) brokers know only
				// classic groups.
				lg.Type = groupTypeClassic
			}
			if lg.Type == groupTypeConsumer && lg.ProtocolType == "" {
				lg.ProtocolType = "consumer"
			}
			if len(states) > 0 && !slices.ContainsFunc(states, func(s string) bool { return strings.EqualFold(s, lg.State) }) {
				continue
			}
			if len(types) > 0 && !slices.Contains(types, lg.Type) {
				continue
			}
			groups = append(groups, lg)
		}
	}
	slices.SortFunc(groups, func(a, b listedGroup) int { return strings.Compare(a.Group, b.Group) })
	return groups, joinLine(errs)
}

// groupMember is a member of a described group, classic or KIP-848.
type groupMember struct {
	MemberID   string
	InstanceID string // "" when the member has no group.instance.id
	ClientID   string
	ClientHost string
	Assigned   kadm.TopicsSet // nil or empty when nothing is assigned (or not known)
}

// groupDescription is what describe shows of a group, from DescribeGroups
// (classic) or ConsumerGroupDescribe (KIP-848).
type groupDescription struct {
	Group        string
	Type         string // groupTypeClassic or groupTypeConsumer
	State        string
	ProtocolType string
	Protocol     string // the classic protocol (assignor) or the KIP-848 server-side assignor
	Coordinator  int32

	// GroupEpoch and AssignmentEpoch are set for KIP-848 groups only.
	GroupEpoch, AssignmentEpoch int32

	Members []groupMember // sorted by instance ID, then member ID
}

// describedGroup is the outcome of describing one group: err is set when
// it could not be described, and wraps kerr.GroupIDNotFound when the group
// does not exist.
type describedGroup struct {
	desc groupDescription
	err  error
}

// describeGroups describes groups of either protocol. known maps a group to
// its type when a ListGroups answer told it; other groups are tried with
// ConsumerGroupDescribe first and described classically when that finds no
// KIP-848 group or is not supported. An error is returned only when nothing
// could be described.
func describeGroups(ctx context.Context, cl *kgo.Client, adm *kadm.Client, groups []string, known map[string]string) (map[string]describedGroup, error) {
	out := make(map[string]describedGroup, len(groups))
	var tryConsumer, classic []string
	for _, g := range groups {
		if known[g] == groupTypeClassic {
			classic = append(classic, g)
		} else {
			tryConsumer = append(tryConsumer, g)
		}
	}
	if len(tryConsumer) > 0 {
		// NB: when a broker does not know ConsumerGroupDescribe, kgo fails
		// that broker's shard and its groups are missing from the answer;
		// they fall back to DescribeGroups like groups that are not
		// KIP-848 groups (GROUP_ID_NOT_FOUND).
		described, err := describeConsumerGroups(ctx, cl, adm, tryConsumer)
		if err != nil {
			return nil, err
		}
		for _, g := range tryConsumer {
			d, ok := described[g]
			switch {
			case ok && d.err == nil:
				out[g] = d
			case !ok, errors.Is(d.err, kerr.GroupIDNotFound), errors.Is(d.err, kerr.UnsupportedVersion):
				classic = append(classic, g)
			default:
				out[g] = d
			}
		}
	}
	if len(classic) == 0 {
		return out, nil
	}
	described, err := adm.DescribeGroups(ctx, classic...)
	var se *kadm.ShardErrors
	if err != nil && !errors.As(err, &se) {
		return nil, fmt.Errorf("describe groups: %w", err)
	}
	for _, g := range classic {
		d, ok := described[g]
		switch {
		case !ok:
			missing := err
			if missing == nil {
				missing = errors.New("missing from the DescribeGroups response")
			}
			out[g] = describedGroup{err: missing}
		case d.Err != nil:
			out[g] = describedGroup{err: withBrokerMessage(d.Err, d.ErrMessage)}
		case d.State == "Dead":
			// Before DescribeGroups v6 an unknown group is answered as
			// Dead without an error.
			out[g] = describedGroup{err: kerr.GroupIDNotFound}
		default:
			out[g] = describedGroup{desc: fromClassicGroup(d)}
		}
	}
	return out, nil
}

func fromClassicGroup(d kadm.DescribedGroup) groupDescription {
	gd := groupDescription{
		Group:        d.Group,
		Type:         groupTypeClassic,
		State:        d.State,
		ProtocolType: d.ProtocolType,
		Protocol:     d.Protocol,
		Coordinator:  d.Coordinator.NodeID,
	}
	for _, m := range d.Members {
		gm := groupMember{MemberID: m.MemberID, ClientID: m.ClientID, ClientHost: m.ClientHost}
		if m.InstanceID != nil {
			gm.InstanceID = *m.InstanceID
		}
		// Only the consumer protocol type has assignments we can read;
		// the coordinator sends them only once the group is Stable.
		if a, ok := m.Assigned.AsConsumer(); ok && d.ProtocolType == "consumer" {
			gm.Assigned = make(kadm.TopicsSet)
			for _, t := range a.Topics {
				gm.Assigned.Add(t.Topic, t.Partitions...)
			}
		}
		gd.Members = append(gd.Members, gm)
	}
	return gd
}

// describeConsumerGroups sends ConsumerGroupDescribe (KIP-848) for groups.
// Groups whose coordinator failed to answer are missing from the result.
//
// NB: kadm's DescribeConsumerGroups keys assignments by topic name only, and
// a broker may send just the topic ID; so this asks directly and names such
// topics from the cluster's metadata.
func describeConsumerGroups(ctx context.Context, cl *kgo.Client, adm *kadm.Client, groups []string) (map[string]describedGroup, error) {
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups = groups
	type answered struct {
		coordinator int32
		group       *kmsg.ConsumerGroupDescribeResponseGroup
	}
	var (
		found   []answered
		unnamed []*kmsg.AssignmentTopicPartition
		out     = make(map[string]describedGroup, len(groups))
	)
	for _, shard := range cl.RequestSharded(ctx, req) {
		if shard.Err != nil {
			continue // its groups fall back to DescribeGroups
		}
		resp := shard.Resp.(*kmsg.ConsumerGroupDescribeResponse)
		for i := range resp.Groups {
			rg := &resp.Groups[i]
			if err := kerr.ErrorForCode(rg.ErrorCode); err != nil {
				out[rg.Group] = describedGroup{err: withBrokerMessage(err, derefString(rg.ErrorMessage))}
				continue
			}
			found = append(found, answered{coordinator: shard.Meta.NodeID, group: rg})
			for j := range rg.Members {
				tps := rg.Members[j].Assignment.TopicPartitions
				for k := range tps {
					if tps[k].Topic == "" {
						unnamed = append(unnamed, &tps[k])
					}
				}
			}
		}
	}
	if len(unnamed) > 0 {
		md, err := adm.Metadata(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe topics to name assigned topic IDs: %w", err)
		}
		names := make(map[kadm.TopicID]string, len(md.Topics))
		for _, td := range md.Topics {
			names[td.ID] = td.Topic
		}
		for _, tp := range unnamed {
			if tp.Topic = names[kadm.TopicID(tp.TopicID)]; tp.Topic == "" {
				tp.Topic = topicIDString(kadm.TopicID(tp.TopicID)) // deleted since
			}
		}
	}
	for _, a := range found {
		out[a.group.Group] = describedGroup{desc: fromConsumerGroup(a.coordinator, a.group)}
	}
	return out, nil
}

func fromConsumerGroup(coordinator int32, rg *kmsg.ConsumerGroupDescribeResponseGroup) groupDescription {
	gd := groupDescription{
		Group:           rg.Group,
		Type:            groupTypeConsumer,
		State:           rg.State,
		ProtocolType:    "consumer",
		Protocol:        rg.AssignorName,
		Coordinator:     coordinator,
		GroupEpoch:      rg.Epoch,
		AssignmentEpoch: rg.AssignmentEpoch,
	}
	for _, rm := range rg.Members {
		gm := groupMember{
			MemberID:   rm.MemberID,
			InstanceID: derefString(rm.InstanceID),
			ClientID:   rm.ClientID,
			ClientHost: rm.ClientHost,
			Assigned:   make(kadm.TopicsSet),
		}
		for _, tp := range rm.Assignment.TopicPartitions {
			gm.Assigned.Add(tp.Topic, tp.Partitions...)
		}
		gd.Members = append(gd.Members, gm)
	}
	sortMembers(gd.Members)
	return gd
}

// sortMembers orders members as kafka-consumer-groups.sh does: those with
// an instance ID first, by it, then the rest by member ID.
func sortMembers(ms []groupMember) {
	slices.SortFunc(ms, func(a, b groupMember) int {
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

// derefString is *s, or "" for nil.
func derefString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// committedOffsets returns the offsets a group committed, without the
// "nothing committed" (-1) entries. A group the coordinator does not know
// has none.
func committedOffsets(ctx context.Context, adm *kadm.Client, group string) (kadm.OffsetResponses, error) {
	os, err := adm.FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return kadm.OffsetResponses{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("fetch committed offsets: %w", err)
	}
	os.KeepFunc(func(o kadm.OffsetResponse) bool { return o.Err != nil || o.At >= 0 })
	return os, nil
}

// formatAssignment prints a member's assignment as "t:0,1 u:3", topics
// sorted, or "-" when it is empty.
func formatAssignment(ts kadm.TopicsSet) string {
	var parts []string
	for _, tp := range ts.Sorted() {
		if len(tp.Partitions) == 0 {
			continue
		}
		parts = append(parts, tp.Topic+":"+joinInt32s(tp.Partitions))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

// orDash prints s, or "-" when it is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newGroupListCommand(cf *clientFlags) *cobra.Command {
	var (
		states []string
		typ    string
	)
	cmd := silence(&cobra.Command{
		Use:   "list",
		Short: "List consumer groups with their type, state, protocol and member count",
		Args:  cobra.NoArgs,
	})
	cmd.Flags().StringSliceVar(&states, "state", nil, "only groups in this state (repeatable or comma-separated): "+strings.Join(groupStates, ", "))
	cmd.Flags().StringVar(&typ, "type", "", "only groups of this type: classic or consumer (KIP-848)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		states, err := normalizeStates(states)
		if err != nil {
			return err
		}
		// Share and streams groups are not consumer groups; like
		// kafka-consumer-groups.sh, list only the two consumer types.
		types := []string{groupTypeClassic, groupTypeConsumer}
		if cmd.Flags().Changed("type") {
			t := strings.ToLower(typ)
			if t != groupTypeClassic && t != groupTypeConsumer {
				return fmt.Errorf("--type %q: want classic or consumer", typ)
			}
			types = []string{t}
		}
		return withClients(cmd, cf, func(ctx context.Context, cl *kgo.Client, adm *kadm.Client) error {
			listed, listErr := listGroups(ctx, cl, states, types)
			if listErr != nil && len(listed) == 0 {
				return listErr
			}
			var described map[string]describedGroup
			if len(listed) > 0 {
				names := make([]string, len(listed))
				known := make(map[string]string, len(listed))
				for i, lg := range listed {
					names[i] = lg.Group
					known[lg.Group] = lg.Type
				}
				if described, err = describeGroups(ctx, cl, adm, names, known); err != nil {
					return err
				}
			}
			var errs []error
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "GROUP\tTYPE\tSTATE\tPROTOCOL-TYPE\tPROTOCOL\tMEMBERS")
			for _, lg := range listed {
				protocol, members := "-", "-"
				switch d := described[lg.Group]; {
				case d.err == nil:
					protocol, members = orDash(d.desc.Protocol), strconv.Itoa(len(d.desc.Members))
				case errors.Is(d.err, kerr.GroupIDNotFound):
					// Deleted between listing and describing.
				default:
					errs = append(errs, groupError(lg.Group, d.err))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", lg.Group, lg.Type, orDash(lg.State), orDash(lg.ProtocolType), protocol, members)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if listErr != nil {
				errs = append(errs, listErr)
			}
			return joinLine(errs)
		})
	}
	return cmd
}

func newGroupDescribeCommand(cf *clientFlags) *cobra.Command {
	cmd := silence(&cobra.Command{
		Use:   "describe GROUP...",
		Short: "Show a group's state, members and assignments, and per partition its committed offset, log end offset and lag",
		Args:  cobra.MinimumNArgs(1),
	})
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		names := dedupe(args)
		return withClients(cmd, cf, func(ctx context.Context, cl *kgo.Client, adm *kadm.Client) error {
			described, err := describeGroups(ctx, cl, adm, names, nil)
			if err != nil {
				return err
			}
			var (
				errs    []error
				printed bool
				out     = cmd.OutOrStdout()
			)
			for _, g := range names {
				d := described[g]
				if d.err != nil {
					errs = append(errs, groupError(g, d.err))
					continue
				}
				committed, err := committedOffsets(ctx, adm, g)
				if err != nil {
					errs = append(errs, groupError(g, err))
					continue
				}
				topics := committed.Partitions()
				for _, m := range d.desc.Members {
					topics.Merge(m.Assigned)
				}
				var ends kadm.ListedOffsets
				if len(topics) > 0 {
					var se *kadm.ShardErrors
					// A failed shard leaves its partitions' log end
					// offsets out; they print as "-".
					if ends, err = adm.ListEndOffsets(ctx, topics.Topics()...); err != nil && !errors.As(err, &se) {
						errs = append(errs, groupError(g, fmt.Errorf("list log end offsets: %w", err)))
						continue
					}
				}
				if printed {
					if _, err := fmt.Fprintln(out); err != nil {
						return err
					}
				}
				printed = true
				if err := writeGroupDescription(out, d.desc, committed, ends); err != nil {
					return err
				}
			}
			return joinLine(errs)
		})
	}
	return cmd
}

// writeGroupDescription prints one group: a "Key: value" header line, the
// members table and the offsets table, separated by blank lines.
func writeGroupDescription(w io.Writer, d groupDescription, committed kadm.OffsetResponses, ends kadm.ListedOffsets) error {
	header := fmt.Sprintf("Group: %s\tType: %s\tState: %s\tProtocolType: %s\tProtocol: %s\tCoordinator: %d\tMembers: %d",
		d.Group, d.Type, orDash(d.State), orDash(d.ProtocolType), orDash(d.Protocol), d.Coordinator, len(d.Members))
	if d.Type == groupTypeConsumer {
		header += fmt.Sprintf("\tGroupEpoch: %d\tAssignmentEpoch: %d", d.GroupEpoch, d.AssignmentEpoch)
	}
	if _, err := fmt.Fprintln(w, header+"\n"); err != nil {
		return err
	}

	type tp struct {
		topic     string
		partition int32
	}
	owner := make(map[tp]string)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER-ID\tINSTANCE-ID\tCLIENT-ID\tCLIENT-HOST\tASSIGNMENT")
	for _, m := range d.Members {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.MemberID, orDash(m.InstanceID), orDash(m.ClientID), orDash(m.ClientHost), formatAssignment(m.Assigned))
		m.Assigned.Each(func(t string, p int32) { owner[tp{t, p}] = m.MemberID })
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if _, err := fmt.Fprintln(w); err != nil {
		return err
	}

	rows := committed.Partitions()
	for k := range owner {
		rows.Add(k.topic, k.partition)
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tCOMMITTED-OFFSET\tLOG-END-OFFSET\tLAG\tMEMBER-ID")
	for _, t := range rows.Sorted() {
		for _, p := range t.Partitions {
			current, lag := "-", "-"
			c, hasCommit := committed.Lookup(t.Topic, p)
			switch {
			case hasCommit && c.Err != nil:
				current = "-(" + errorName(c.Err) + ")"
			case hasCommit:
				current = strconv.FormatInt(c.At, 10)
			}
			end, hasEnd := ends.Lookup(t.Topic, p)
			if hasCommit && c.Err == nil && hasEnd && end.Err == nil {
				lag = strconv.FormatInt(end.Offset-c.At, 10)
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", t.Topic, p, current, listedOffset(ends, t.Topic, p), lag, orDash(owner[tp{t.Topic, p}]))
		}
	}
	return tw.Flush()
}

func newGroupDeleteCommand(cf *clientFlags) *cobra.Command {
	cmd := silence(&cobra.Command{
		Use:   "delete GROUP...",
		Short: "Delete groups and their committed offsets (only groups without members)",
		Args:  cobra.MinimumNArgs(1),
	})
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		names := dedupe(args)
		return withAdmin(cmd, cf, func(ctx context.Context, adm *kadm.Client) error {
			resps, err := adm.DeleteGroups(ctx, names...)
			var se *kadm.ShardErrors
			if err != nil && !errors.As(err, &se) {
				return fmt.Errorf("delete groups: %w", err)
			}
			var errs []error
			out := cmd.OutOrStdout()
			for _, name := range names {
				resp, ok := resps[name]
				switch {
				case !ok && err != nil:
					errs = append(errs, groupError(name, err))
				case !ok:
					errs = append(errs, groupError(name, errors.New("missing from the DeleteGroups response")))
				case resp.Err != nil:
					errs = append(errs, groupError(name, withBrokerMessage(resp.Err, resp.ErrMessage)))
				default:
					if _, err := fmt.Fprintf(out, "deleted group %q\n", name); err != nil {
						return err
					}
				}
			}
			return joinLine(errs)
		})
	}
	return cmd
}
