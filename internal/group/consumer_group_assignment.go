package group

import (
	"bytes"
	"maps"
	"slices"
)

// assignment maps a topic id to its partitions, sorted and without
// duplicates; a topic is present only with at least one partition. Values
// are treated as immutable once built: functions return new maps.
type assignment map[[16]byte][]int32

// topicPartition names one partition by topic id.
type topicPartition struct {
	topicID   [16]byte
	partition int32
}

// topicIDs returns the topics in byte order of their ids.
func (a assignment) topicIDs() [][16]byte {
	ids := slices.Collect(maps.Keys(a))
	slices.SortFunc(ids, func(x, y [16]byte) int { return bytes.Compare(x[:], y[:]) })
	return ids
}

func (a assignment) size() int {
	n := 0
	for _, ps := range a {
		n += len(ps)
	}
	return n
}

func (a assignment) contains(id [16]byte, p int32) bool {
	_, ok := slices.BinarySearch(a[id], p)
	return ok
}

func (a assignment) equal(b assignment) bool {
	if len(a) != len(b) {
		return false
	}
	for id, ps := range a {
		if !slices.Equal(ps, b[id]) {
			return false
		}
	}
	return true
}

// each calls fn for every partition, in topic id then partition order.
func (a assignment) each(fn func(id [16]byte, p int32)) {
	for _, id := range a.topicIDs() {
		for _, p := range a[id] {
			fn(id, p)
		}
	}
}

// filter returns the partitions of a for which keep is true.
func (a assignment) filter(keep func(id [16]byte, p int32) bool) assignment {
	out := make(assignment, len(a))
	for id, ps := range a {
		var kept []int32
		for _, p := range ps {
			if keep(id, p) {
				kept = append(kept, p)
			}
		}
		if len(kept) > 0 {
			out[id] = kept
		}
	}
	return out
}

// intersect returns a ∩ b; subtract a − b; union a ∪ b.
func intersect(a, b assignment) assignment {
	return a.filter(func(id [16]byte, p int32) bool { return b.contains(id, p) })
}

func subtract(a, b assignment) assignment {
	return a.filter(func(id [16]byte, p int32) bool { return !b.contains(id, p) })
}

func union(a, b assignment) assignment {
	out := make(assignment, len(a)+len(b))
	for id, ps := range a {
		out[id] = slices.Clone(ps)
	}
	for id, ps := range b {
		out[id] = sortedUnique(append(out[id], ps...))
	}
	return out
}

// overlaps reports whether a and b share a partition.
func overlaps(a, b assignment) bool {
	for id, ps := range a {
		for _, p := range ps {
			if b.contains(id, p) {
				return true
			}
		}
	}
	return false
}

// memberState is a consumer group member's reconciliation state, with
// Kafka's MemberState byte values (stored in
// ConsumerGroupCurrentMemberAssignmentValue.State).
type memberState int8

const (
	// memberStable: the member owns its whole assignment at its epoch.
	memberStable memberState = 0
	// memberUnrevokedPartitions: the member must first revoke
	// partitionsPendingRevocation; it stays at its epoch until it has.
	memberUnrevokedPartitions memberState = 1
	// memberUnreleasedPartitions: the member is at the target epoch but
	// waits for partitions other members still own.
	memberUnreleasedPartitions memberState = 2
	// memberUnknown: a state written by a newer version; the member is
	// fenced unless it owns nothing.
	memberUnknown memberState = 127
)

func memberStateFromByte(b int8) memberState {
	switch s := memberState(b); s {
	case memberStable, memberUnrevokedPartitions, memberUnreleasedPartitions:
		return s
	}
	return memberUnknown
}

func (s memberState) String() string {
	switch s {
	case memberStable:
		return "stable"
	case memberUnrevokedPartitions:
		return "unrevoked_partitions"
	case memberUnreleasedPartitions:
		return "unreleased_partitions"
	default:
		return "unknown"
	}
}

// reconciliation moves one member's current assignment towards the
// target assignment, as Kafka's CurrentAssignmentBuilder:
//
//   - A member first gives up what is no longer in its target: it keeps
//     the intersection, and while it still reports owning any of the rest
//     it stays at its epoch in UNREVOKED_PARTITIONS with those partitions
//     pending revocation.
//   - It then moves to the target epoch and receives the partitions of its
//     target that no other member owns; those still owned elsewhere leave
//     it in UNRELEASED_PARTITIONS until their owners revoke them.
//
// So a partition is never owned by two members at once, and a member never
// loses a partition that stays in its target.
type reconciliation struct {
	targetEpoch int32
	target      assignment
	// owned is what the member reports owning; ownedKnown is false when
	// the request left it out (nothing changed since the last heartbeat),
	// which counts as still owning everything.
	owned      assignment
	ownedKnown bool
	// free reports whether no other member owns a partition.
	free func(id [16]byte, p int32) bool
}

// next returns the member's next current assignment, or cur itself when
// nothing changes; fenced is true for a member in an unknown state that
// must abandon its partitions.
func (r *reconciliation) next(cur *memberAssignment) (out *memberAssignment, fenced bool) {
	switch cur.state {
	case memberStable:
		if cur.memberEpoch == r.targetEpoch {
			return cur, false
		}
		return r.compute(cur, cur.memberEpoch), false
	case memberUnrevokedPartitions:
		if r.ownsAny(cur.pendingRevocation) {
			return cur, false
		}
		return r.compute(cur, cur.memberEpoch+1), false
	case memberUnreleasedPartitions:
		return r.compute(cur, cur.memberEpoch), false
	default:
		if !r.ownedKnown || r.owned.size() > 0 {
			return cur, true
		}
		return r.compute(cur, r.targetEpoch), false
	}
}

func (r *reconciliation) ownsAny(a assignment) bool {
	if !r.ownedKnown {
		return true
	}
	return overlaps(r.owned, a)
}

func (r *reconciliation) compute(cur *memberAssignment, epoch int32) *memberAssignment {
	kept := intersect(cur.assigned, r.target)
	revoke := subtract(cur.assigned, kept)
	wanted := subtract(r.target, kept)
	unreleased := false
	grant := wanted.filter(func(id [16]byte, p int32) bool {
		if r.free(id, p) {
			return true
		}
		unreleased = true
		return false
	})
	out := &memberAssignment{previousMemberEpoch: cur.memberEpoch, pendingRevocation: assignment{}}
	switch {
	case len(revoke) > 0 && r.ownsAny(revoke):
		out.state = memberUnrevokedPartitions
		out.memberEpoch = epoch
		out.assigned = kept
		out.pendingRevocation = revoke
	case len(grant) > 0:
		out.state = memberStable
		if unreleased {
			out.state = memberUnreleasedPartitions
		}
		out.memberEpoch = r.targetEpoch
		out.assigned = union(kept, grant)
	default:
		out.state = memberStable
		if unreleased {
			out.state = memberUnreleasedPartitions
		}
		out.memberEpoch = r.targetEpoch
		out.assigned = kept
	}
	return out
}

func (a *memberAssignment) equal(b *memberAssignment) bool {
	return a.memberEpoch == b.memberEpoch && a.previousMemberEpoch == b.previousMemberEpoch &&
		a.state == b.state && a.assigned.equal(b.assigned) && a.pendingRevocation.equal(b.pendingRevocation)
}
