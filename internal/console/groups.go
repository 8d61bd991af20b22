package console

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/strata-io/strata/internal/groupinfo"
)

// groupSummary is one row of GET /console/api/groups.
type groupSummary struct {
	Group        string   `json:"group"`
	Type         string   `json:"type"`
	State        string   `json:"state"`
	ProtocolType string   `json:"protocol_type"`
	Coordinator  int32    `json:"coordinator"`
	Members      int      `json:"members"`
	Topics       []string `json:"topics"` // topics with committed offsets
	// Lag sums max(0, high watermark - committed offset) over the
	// partitions with a committed offset; -1 when it could not be read.
	Lag   int64  `json:"lag"`
	Error string `json:"error,omitempty"`
}

type groupsView struct {
	Groups []groupSummary `json:"groups"`
	// Errors are brokers that could not list their groups.
	Errors []string `json:"errors"`
	TimeMs int64    `json:"time_ms"`
}

// listGroupsAll asks every broker for the groups it coordinates, and
// fails only when none answered.
func (c *Console) listGroupsAll(ctx context.Context) ([]groupSummary, []string, error) {
	l := groupinfo.List(ctx, c.cl, nil, nil)
	var errs []string
	for _, err := range l.Failed {
		errs = append(errs, err.Error())
	}
	if l.Answered == 0 && len(errs) > 0 {
		return nil, nil, errors.New(strings.Join(errs, "; "))
	}
	var out []groupSummary
	for _, g := range l.Groups {
		out = append(out, groupSummary{Group: g.Group, Type: g.Type, State: g.State, ProtocolType: g.ProtocolType, Coordinator: g.Coordinator, Topics: []string{}})
	}
	return out, errs, nil
}

func (c *Console) listGroups(ctx context.Context, _ *request) (any, error) {
	groups, errs, err := c.listGroupsAll(ctx)
	if err != nil {
		return nil, err
	}
	v := groupsView{Groups: []groupSummary{}, Errors: nonNilStrings(errs)}
	if len(groups) == 0 {
		v.TimeMs = time.Now().UnixMilli()
		return v, nil
	}
	names := make([]string, len(groups))
	known := make(map[string]string, len(groups))
	for i, g := range groups {
		names[i] = g.Group
		known[g.Group] = g.Type
	}
	described, err := c.describeGroups(ctx, names, known)
	if err != nil {
		return nil, err
	}
	fetched := c.adm.FetchManyOffsets(ctx, names...)
	topics := map[string]bool{}
	for _, f := range fetched {
		f.Fetched.Each(func(o kadm.OffsetResponse) { topics[o.Topic] = true })
	}
	ends, endsErr := c.listEnds(ctx, slices.Sorted(maps.Keys(topics)))
	for _, g := range groups {
		if d, ok := described[g.Group]; ok {
			if d.Err != nil {
				g.Error = d.Err.Error()
			} else {
				g.State, g.Members, g.ProtocolType = d.State, len(d.Members), d.ProtocolType
			}
		}
		g.Lag = -1
		f, ok := fetched[g.Group]
		switch {
		case !ok:
			g.Error = joinMsg(g.Error, "offsets were not fetched")
		case f.Err != nil && !errors.Is(f.Err, kerr.GroupIDNotFound):
			g.Error = joinMsg(g.Error, "fetch offsets: "+f.Err.Error())
		case endsErr != nil:
			g.Error = joinMsg(g.Error, endsErr.Error())
		default:
			g.Lag = groupinfo.TotalLag(f.Fetched, ends)
			seen := map[string]bool{}
			f.Fetched.Each(func(o kadm.OffsetResponse) {
				if o.Err == nil && o.At >= 0 && !seen[o.Topic] {
					seen[o.Topic] = true
					g.Topics = append(g.Topics, o.Topic)
				}
			})
			slices.Sort(g.Topics)
		}
		v.Groups = append(v.Groups, g)
	}
	v.TimeMs = time.Now().UnixMilli()
	return v, nil
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func joinMsg(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// listEnds lists the high watermarks of topics (none for no topics).
func (c *Console) listEnds(ctx context.Context, topics []string) (kadm.ListedOffsets, error) {
	if len(topics) == 0 {
		return kadm.ListedOffsets{}, nil
	}
	ends, err := c.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list high watermarks: %w", err)
	}
	return ends, nil
}

// groupMember is a member of a described group, classic or KIP-848.
type groupMember struct {
	MemberID    string           `json:"member_id"`
	InstanceID  string           `json:"instance_id,omitempty"`
	ClientID    string           `json:"client_id"`
	ClientHost  string           `json:"client_host"`
	Assignments []topicPartition `json:"assignments"`
}

type topicPartition struct {
	Topic      string  `json:"topic"`
	Partitions []int32 `json:"partitions"`
}

type groupDescription struct {
	Group        string        `json:"group"`
	Type         string        `json:"type"`
	State        string        `json:"state"`
	ProtocolType string        `json:"protocol_type"`
	Protocol     string        `json:"protocol"`
	Coordinator  int32         `json:"coordinator"`
	Members      []groupMember `json:"members"`
}

// toGroupDescription is d as the API shows it.
func toGroupDescription(d groupinfo.Description) groupDescription {
	gd := groupDescription{Group: d.Group, Type: d.Type, State: d.State, ProtocolType: d.ProtocolType, Protocol: d.Protocol, Coordinator: d.Coordinator, Members: []groupMember{}}
	for _, m := range d.Members {
		gm := groupMember{MemberID: m.MemberID, InstanceID: m.InstanceID, ClientID: m.ClientID, ClientHost: m.ClientHost, Assignments: []topicPartition{}}
		for _, a := range m.Assigned {
			gm.Assignments = append(gm.Assignments, topicPartition{Topic: a.Topic, Partitions: a.Partitions})
		}
		gd.Members = append(gd.Members, gm)
	}
	return gd
}

// describeGroups describes groups of either protocol (see
// groupinfo.Describe). Assigned topics a broker sent only by ID are named
// by their IDs when the metadata to name them cannot be read.
func (c *Console) describeGroups(ctx context.Context, groups []string, known map[string]string) (map[string]groupinfo.Described, error) {
	described, err := groupinfo.Describe(ctx, c.cl, c.adm, groups, known)
	var names *groupinfo.TopicNamesError
	if errors.As(err, &names) {
		err = nil
	}
	return described, err
}

// describeOne describes one group, 404 when the cluster does not know it.
func (c *Console) describeOne(ctx context.Context, group string) (groupinfo.Description, error) {
	described, err := c.describeGroups(ctx, []string{group}, nil)
	if err != nil {
		return groupinfo.Description{}, err
	}
	d := described[group]
	switch {
	case errors.Is(d.Err, kerr.GroupIDNotFound):
		return d.Description, notFound("group %q does not exist", group)
	case d.Err != nil:
		return d.Description, fmt.Errorf("describe group %q: %w", group, d.Err)
	}
	return d.Description, nil
}

// groupOffset is one partition's row of a group's detail.
type groupOffset struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Committed int64  `json:"committed"`  // -1: nothing committed
	EndOffset int64  `json:"end_offset"` // high watermark, -1 if unknown
	Lag       int64  `json:"lag"`        // -1 if unknown
	MemberID  string `json:"member_id"`  // assigned member, "" if none
	Error     string `json:"error,omitempty"`
}

type groupDetail struct {
	groupDescription
	Offsets []groupOffset `json:"offsets"`
	Lag     int64         `json:"lag"`
	TimeMs  int64         `json:"time_ms"`
}

func (c *Console) getGroup(ctx context.Context, r *request) (any, error) {
	group := r.param("group")
	desc, err := c.describeOne(ctx, group)
	if err != nil {
		return nil, err
	}
	committed, err := c.committedOffsets(ctx, group)
	if err != nil {
		return nil, err
	}
	ends, err := c.listEnds(ctx, groupinfo.OffsetTopics(desc.Members, committed))
	if err != nil {
		return nil, err
	}
	d := groupDetail{groupDescription: toGroupDescription(desc), Offsets: []groupOffset{}}
	for _, o := range groupinfo.Offsets(desc.Members, committed, ends) {
		row := groupOffset{Topic: o.Topic, Partition: o.Partition, Committed: o.Committed, EndOffset: o.EndOffset, Lag: -1, MemberID: o.MemberID}
		if o.CommitErr != nil {
			row.Error = o.CommitErr.Error()
		}
		if o.EndErr != nil {
			row.Error = joinMsg(row.Error, "list high watermark: "+o.EndErr.Error())
		}
		if lag, ok := o.Lag(); ok {
			row.Lag = max(0, lag)
			d.Lag += row.Lag
		}
		d.Offsets = append(d.Offsets, row)
	}
	d.TimeMs = time.Now().UnixMilli()
	return d, nil
}

// committedOffsets returns the offsets a group committed, as
// groupinfo.Committed does.
func (c *Console) committedOffsets(ctx context.Context, group string) (kadm.OffsetResponses, error) {
	os, err := groupinfo.Committed(ctx, c.adm, group)
	if err != nil {
		return nil, fmt.Errorf("fetch committed offsets of %q: %w", group, err)
	}
	return os, nil
}

func (c *Console) deleteGroup(ctx context.Context, r *request) (any, error) {
	group := r.param("group")
	resp, err := c.adm.DeleteGroup(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("delete group %q: %w", group, err)
	}
	if resp.Err != nil {
		return nil, fmt.Errorf("delete group %q: %w", group, resp.Err)
	}
	return map[string]any{"deleted": group}, nil
}

// resetBody is POST /console/api/groups/{group}/reset-offsets. Topics
// names partitions to reset (all of a topic's when Partitions is empty),
// or AllTopics every partition the group has committed offsets for. To is
// earliest, latest, offset (Offset), timestamp (Timestamp: Unix ms or RFC
// 3339) or shift (Shift, negative moves back). New offsets are clamped
// into [log start offset, high watermark]. DryRun previews without
// committing.
type resetBody struct {
	Topics    []topicPartition `json:"topics"`
	AllTopics bool             `json:"all_topics"`
	To        string           `json:"to"`
	Offset    int64            `json:"offset"`
	Timestamp string           `json:"timestamp"`
	Shift     int64            `json:"shift"`
	DryRun    bool             `json:"dry_run"`
}

type resetRow struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Current   int64  `json:"current"` // -1: nothing committed
	New       int64  `json:"new"`
	Error     string `json:"error,omitempty"` // the commit failed for this partition
}

type resetView struct {
	Group     string     `json:"group"`
	DryRun    bool       `json:"dry_run"`
	Committed bool       `json:"committed"`
	Rows      []resetRow `json:"rows"`
}

func (c *Console) resetOffsets(ctx context.Context, r *request) (any, error) {
	group := r.param("group")
	var b resetBody
	if err := r.decodeBody(&b); err != nil {
		return nil, err
	}
	var ts int64
	switch b.To {
	case "earliest", "latest", "shift":
	case "offset":
		if b.Offset < 0 {
			return nil, badRequest("offset must not be negative, got %d", b.Offset)
		}
	case "timestamp":
		var err error
		if ts, err = parseTimestamp(b.Timestamp); err != nil {
			return nil, err
		}
	default:
		return nil, badRequest("to must be earliest, latest, offset, timestamp or shift; got %q", b.To)
	}
	if b.AllTopics == (len(b.Topics) > 0) {
		return nil, badRequest("give either topics or all_topics")
	}
	for _, t := range b.Topics {
		if t.Topic == "" {
			return nil, badRequest("a topic to reset has an empty name")
		}
		for _, p := range t.Partitions {
			if p < 0 {
				return nil, badRequest("topic %q: partition %d is negative", t.Topic, p)
			}
		}
	}

	described, err := c.describeGroups(ctx, []string{group}, nil)
	if err != nil {
		return nil, err
	}
	switch d := described[group]; {
	case errors.Is(d.Err, kerr.GroupIDNotFound):
		// No such group yet: committing creates it, Empty.
	case d.Err != nil:
		return nil, fmt.Errorf("describe group %q: %w", group, d.Err)
	case d.State == "Empty" || d.State == "Dead":
	default:
		return nil, conflict("offsets can be reset only while the group is inactive (Empty), but %q is %s with %d members; stop its consumers first",
			group, d.State, len(d.Members))
	}
	committed, err := c.committedOffsets(ctx, group)
	if err != nil {
		return nil, err
	}
	parts, err := c.resetPartitions(ctx, group, b, committed)
	if err != nil {
		return nil, err
	}
	rows, err := c.computeResets(ctx, parts, committed, b, ts)
	if err != nil {
		return nil, err
	}
	v := resetView{Group: group, DryRun: b.DryRun, Rows: rows}
	if b.DryRun {
		return v, nil
	}
	offsets := make(kadm.Offsets)
	for _, row := range rows {
		offsets.Add(kadm.Offset{Topic: row.Topic, Partition: row.Partition, At: row.New, LeaderEpoch: -1})
	}
	resps, err := c.adm.CommitOffsets(ctx, group, offsets)
	if err != nil {
		return nil, fmt.Errorf("commit offsets of %q: %w", group, err)
	}
	v.Committed = true
	for i := range v.Rows {
		row := &v.Rows[i]
		o, ok := resps.Lookup(row.Topic, row.Partition)
		switch {
		case !ok:
			row.Error, v.Committed = "missing from the OffsetCommit answer", false
		case o.Err != nil:
			row.Error, v.Committed = o.Err.Error(), false
		}
	}
	return v, nil
}

// resetPartitions resolves the partitions to reset.
func (c *Console) resetPartitions(ctx context.Context, group string, b resetBody, committed kadm.OffsetResponses) (kadm.TopicsSet, error) {
	parts := make(kadm.TopicsSet)
	if b.AllTopics {
		committed.Each(func(o kadm.OffsetResponse) {
			if o.Err == nil {
				parts.Add(o.Topic, o.Partition)
			}
		})
		if len(parts) == 0 {
			return nil, badRequest("group %q has no committed offsets to reset; name topics instead", group)
		}
		return parts, nil
	}
	for _, t := range b.Topics {
		td, err := c.lookupTopic(ctx, t.Topic)
		if err != nil {
			return nil, err
		}
		ps := t.Partitions
		if len(ps) == 0 {
			ps = td.Partitions.Numbers()
		}
		for _, p := range ps {
			if _, ok := td.Partitions[p]; !ok {
				return nil, notFound("partition %d of topic %q does not exist (it has %d)", p, t.Topic, len(td.Partitions))
			}
			parts.Add(t.Topic, p)
		}
	}
	return parts, nil
}

// computeResets picks each partition's new offset, sorted by topic and
// partition.
func (c *Console) computeResets(ctx context.Context, parts kadm.TopicsSet, committed kadm.OffsetResponses, b resetBody, ts int64) ([]resetRow, error) {
	topics := parts.Topics()
	starts, err := c.adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list log start offsets: %w", err)
	}
	ends, err := c.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list high watermarks: %w", err)
	}
	var byTime kadm.ListedOffsets
	if b.To == "timestamp" {
		if byTime, err = c.adm.ListOffsetsAfterMilli(ctx, ts, topics...); err != nil {
			return nil, fmt.Errorf("list offsets by time: %w", err)
		}
	}
	rows := []resetRow{}
	for _, t := range parts.Sorted() {
		for _, p := range slices.Sorted(slices.Values(t.Partitions)) {
			row := resetRow{Topic: t.Topic, Partition: p, Current: -1}
			if o, ok := committed.Lookup(t.Topic, p); ok && o.Err == nil {
				row.Current = o.At
			}
			start, err := listed(starts, t.Topic, p)
			if err != nil {
				return nil, fmt.Errorf("topic %q: %w", t.Topic, err)
			}
			end, err := listed(ends, t.Topic, p)
			if err != nil {
				return nil, fmt.Errorf("topic %q: %w", t.Topic, err)
			}
			var next int64
			switch b.To {
			case "earliest":
				next = start
			case "latest":
				next = end
			case "offset":
				next = b.Offset
			case "timestamp":
				if next, err = listed(byTime, t.Topic, p); err != nil {
					return nil, fmt.Errorf("topic %q: %w", t.Topic, err)
				}
				if next < 0 {
					next = end
				}
			case "shift":
				if row.Current < 0 {
					return nil, badRequest("topic %q partition %d: nothing committed to shift", t.Topic, p)
				}
				next = addClamped(row.Current, b.Shift)
			}
			row.New = min(max(next, start), end)
			rows = append(rows, row)
		}
	}
	return rows, nil
}

// addClamped adds without overflowing int64.
func addClamped(a, b int64) int64 {
	switch {
	case b > 0 && a > math.MaxInt64-b:
		return math.MaxInt64
	case b < 0 && a < math.MinInt64-b:
		return math.MinInt64
	}
	return a + b
}
