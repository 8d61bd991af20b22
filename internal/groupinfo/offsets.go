package groupinfo

import (
	"cmp"
	"context"
	"errors"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Committed returns the offsets group committed, without the "nothing
// committed" (-1) entries; entries with a per-partition error stay. A group
// the coordinator does not know has none. The error is FetchOffsets's, for
// the caller to word.
func Committed(ctx context.Context, adm *kadm.Client, group string) (kadm.OffsetResponses, error) {
	os, err := adm.FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return kadm.OffsetResponses{}, nil
	}
	if err != nil {
		return nil, err
	}
	os.KeepFunc(func(o kadm.OffsetResponse) bool { return o.Err != nil || o.At >= 0 })
	return os, nil
}

// OffsetTopics returns, sorted, the topics whose log end offsets Offsets
// needs: those with a committed offset (or error) and those with a
// partition assigned to one of members.
func OffsetTopics(members []Member, committed kadm.OffsetResponses) []string {
	topics := map[string]bool{}
	committed.Each(func(o kadm.OffsetResponse) { topics[o.Topic] = true })
	for _, m := range members {
		m.Assigned.Each(func(t string, _ int32) { topics[t] = true })
	}
	out := make([]string, 0, len(topics))
	for t := range topics {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// PartitionOffsets is one partition of a group: its committed offset, its
// log end offset and the member it is assigned to.
type PartitionOffsets struct {
	Topic     string
	Partition int32
	MemberID  string // the member it is assigned to, "" if none
	Committed int64  // -1 when nothing is committed or CommitErr is set
	CommitErr error  // the committed offset could not be fetched
	EndOffset int64  // the log end offset (high watermark); -1 when not listed or EndErr is set
	EndErr    error  // the log end offset could not be listed
}

// Lag is how far the log end offset is ahead of the committed offset, and
// whether both are known. It is negative when the committed offset is past
// the log end, as kafka-consumer-groups.sh shows it.
func (o PartitionOffsets) Lag() (int64, bool) {
	if o.Committed < 0 || o.EndOffset < 0 {
		return 0, false
	}
	return o.EndOffset - o.Committed, true
}

// Offsets lines up a group's committed offsets (as Committed returns them)
// with the log end offsets ends (of the topics OffsetTopics names) and
// the assignments of members: a row for each partition with a committed
// offset or error and each assigned partition, sorted by topic, then
// partition. A partition assigned to several members shows the last.
func Offsets(members []Member, committed kadm.OffsetResponses, ends kadm.ListedOffsets) []PartitionOffsets {
	type tp struct {
		topic     string
		partition int32
	}
	rows := map[tp]*PartitionOffsets{}
	row := func(t string, p int32) *PartitionOffsets {
		k := tp{t, p}
		if rows[k] == nil {
			rows[k] = &PartitionOffsets{Topic: t, Partition: p, Committed: -1, EndOffset: -1}
		}
		return rows[k]
	}
	for _, m := range members {
		m.Assigned.Each(func(t string, p int32) { row(t, p).MemberID = m.MemberID })
	}
	committed.Each(func(o kadm.OffsetResponse) {
		r := row(o.Topic, o.Partition)
		if o.Err != nil {
			r.CommitErr = o.Err
			return
		}
		r.Committed = o.At
	})
	out := make([]PartitionOffsets, 0, len(rows))
	for _, r := range rows {
		if e, ok := ends.Lookup(r.Topic, r.Partition); ok {
			if e.Err != nil {
				r.EndErr = e.Err
			} else {
				r.EndOffset = e.Offset
			}
		}
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b PartitionOffsets) int {
		if c := cmp.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return cmp.Compare(a.Partition, b.Partition)
	})
	return out
}

// TotalLag sums, over the partitions with a committed offset, how far the
// log end offset in ends is ahead of it. A partition whose committed offset
// is past the log end, or whose log end offset is unknown, adds nothing.
func TotalLag(committed kadm.OffsetResponses, ends kadm.ListedOffsets) int64 {
	var lag int64
	committed.Each(func(o kadm.OffsetResponse) {
		if o.Err != nil || o.At < 0 {
			return
		}
		if e, ok := ends.Lookup(o.Topic, o.Partition); ok && e.Err == nil && e.Offset > o.At {
			lag += e.Offset - o.At
		}
	})
	return lag
}
