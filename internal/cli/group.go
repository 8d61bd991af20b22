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

	"github.com/strata-io/strata/internal/groupinfo"
	"github.com/strata-io/strata/internal/kafkaerr"
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

// derefString is *s, or "" for nil.
func derefString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// committedOffsets returns the offsets a group committed, as
// groupinfo.Committed does.
func committedOffsets(ctx context.Context, adm *kadm.Client, group string) (kadm.OffsetResponses, error) {
	os, err := groupinfo.Committed(ctx, adm, group)
	if err != nil {
		return nil, fmt.Errorf("fetch committed offsets: %w", err)
	}
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
		types := []string{groupinfo.TypeClassic, groupinfo.TypeConsumer}
		if cmd.Flags().Changed("type") {
			t := strings.ToLower(typ)
			if t != groupinfo.TypeClassic && t != groupinfo.TypeConsumer {
				return fmt.Errorf("--type %q: want classic or consumer", typ)
			}
			types = []string{t}
		}
		return withClients(cmd, cf, func(ctx context.Context, cl *kgo.Client, adm *kadm.Client) error {
			listing := groupinfo.List(ctx, cl, states, types)
			listed, listErr := listing.Groups, joinLine(listing.Failed)
			if listErr != nil && len(listed) == 0 {
				return listErr
			}
			var described map[string]groupinfo.Described
			if len(listed) > 0 {
				names := make([]string, len(listed))
				known := make(map[string]string, len(listed))
				for i, lg := range listed {
					names[i] = lg.Group
					known[lg.Group] = lg.Type
				}
				if described, err = groupinfo.Describe(ctx, cl, adm, names, known); err != nil {
					return err
				}
			}
			var errs []error
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "GROUP\tTYPE\tSTATE\tPROTOCOL-TYPE\tPROTOCOL\tMEMBERS")
			for _, lg := range listed {
				protocol, members := "-", "-"
				switch d := described[lg.Group]; {
				case d.Err == nil:
					protocol, members = orDash(d.Protocol), strconv.Itoa(len(d.Members))
				case errors.Is(d.Err, kerr.GroupIDNotFound):
					// Deleted between listing and describing.
				default:
					errs = append(errs, groupError(lg.Group, d.Err))
				}
				protocolType := lg.ProtocolType
				if lg.Type == groupinfo.TypeConsumer && protocolType == "" {
					// ListGroups leaves it empty for KIP-848 groups.
					protocolType = "consumer"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", lg.Group, lg.Type, orDash(lg.State), orDash(protocolType), protocol, members)
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
			described, err := groupinfo.Describe(ctx, cl, adm, names, nil)
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
				if d.Err != nil {
					errs = append(errs, groupError(g, d.Err))
					continue
				}
				committed, err := committedOffsets(ctx, adm, g)
				if err != nil {
					errs = append(errs, groupError(g, err))
					continue
				}
				var ends kadm.ListedOffsets
				if topics := groupinfo.OffsetTopics(d.Members, committed); len(topics) > 0 {
					var se *kadm.ShardErrors
					// A failed shard leaves its partitions' log end
					// offsets out; they print as "-".
					if ends, err = adm.ListEndOffsets(ctx, topics...); err != nil && !errors.As(err, &se) {
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
				if err := writeGroupDescription(out, d.Description, committed, ends); err != nil {
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
func writeGroupDescription(w io.Writer, d groupinfo.Description, committed kadm.OffsetResponses, ends kadm.ListedOffsets) error {
	header := fmt.Sprintf("Group: %s\tType: %s\tState: %s\tProtocolType: %s\tProtocol: %s\tCoordinator: %d\tMembers: %d",
		d.Group, d.Type, orDash(d.State), orDash(d.ProtocolType), orDash(d.Protocol), d.Coordinator, len(d.Members))
	if d.Type == groupinfo.TypeConsumer {
		header += fmt.Sprintf("\tGroupEpoch: %d\tAssignmentEpoch: %d", d.GroupEpoch, d.AssignmentEpoch)
	}
	if _, err := fmt.Fprintln(w, header+"\n"); err != nil {
		return err
	}

	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER-ID\tINSTANCE-ID\tCLIENT-ID\tCLIENT-HOST\tASSIGNMENT")
	for _, m := range d.Members {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.MemberID, orDash(m.InstanceID), orDash(m.ClientID), orDash(m.ClientHost), formatAssignment(m.Assigned.IntoSet()))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if _, err := fmt.Fprintln(w); err != nil {
		return err
	}

	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tCOMMITTED-OFFSET\tLOG-END-OFFSET\tLAG\tMEMBER-ID")
	for _, r := range groupinfo.Offsets(d.Members, committed, ends) {
		current, lag := "-", "-"
		switch {
		case r.CommitErr != nil:
			current = "-(" + errorName(r.CommitErr) + ")"
		case r.Committed >= 0:
			current = strconv.FormatInt(r.Committed, 10)
		}
		if l, ok := r.Lag(); ok {
			lag = strconv.FormatInt(l, 10)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", r.Topic, r.Partition, current, listedOffset(ends, r.Topic, r.Partition), lag, orDash(r.MemberID))
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
					errs = append(errs, groupError(name, kafkaerr.WithMessage(resp.Err, resp.ErrMessage)))
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
