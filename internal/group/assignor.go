package group

import (
	"slices"
)

// Server-side assignors of consumer groups (KIP-848). A group's target
// assignment is computed by one of them whenever its group epoch moves past
// its assignment epoch. They are pure functions of an assignmentSpec: no
// state, no I/O, deterministic for a given input.

// Assignor names, as clients send them in ServerAssignor and Kafka's
// group.consumer.assignors names them.
const (
	UniformAssignor = "uniform"
	RangeAssignor   = "range"
)

// assignorFor returns the assignor of a name, or nil.
func assignorFor(name string) assignor {
	switch name {
	case UniformAssignor:
		return uniformAssignor{}
	case RangeAssignor:
		return rangeAssignor{}
	}
	return nil
}

type assignor interface {
	// assign returns the target of every member of spec (a member with
	// nothing assigned may be missing).
	assign(spec *assignmentSpec) map[string]assignment
}

// assignmentSpec is the input of an assignor.
type assignmentSpec struct {
	// members, sorted by member id.
	members []assignorMember
	// partitions is the partition count of every subscribed topic that
	// exists.
	partitions map[[16]byte]int32
	// topicOrder lists the topics of partitions by name, the order in
	// which assignors hand out unowned partitions.
	topicOrder [][16]byte
}

type assignorMember struct {
	id         string
	instanceID *string
	// topics the member subscribes to that exist, in topicOrder.
	topics [][16]byte
	// previous is the member's target in the previous target assignment
	// (uniform keeps what it can of it).
	previous assignment
}

// buildAssignment turns per-member partition sets into assignments.
func buildAssignment(sets map[[16]byte]map[int32]struct{}) assignment {
	a := make(assignment, len(sets))
	for id, ps := range sets {
		if len(ps) == 0 {
			continue
		}
		out := make([]int32, 0, len(ps))
		for p := range ps {
			out = append(out, p)
		}
		slices.Sort(out)
		a[id] = out
	}
	return a
}

// uniformAssignor spreads partitions so that member partition counts differ
// by at most one wherever subscriptions allow it, while keeping each member
// on as many of its previous partitions as it can (Kafka's "uniform", the
// default assignor). Members with different subscriptions are balanced
// topic by topic among the members that subscribe to each.
//
// The algorithm: every member keeps the partitions of its previous target
// that still exist and that it still subscribes to; each partition nobody
// keeps goes to the least loaded member subscribing to its topic; then,
// topic by topic, a partition moves from the most loaded member owning one
// of the topic's partitions to the least loaded member subscribing to the
// topic while their counts differ by two or more. Each move lowers the sum
// of squared member loads, so the last phase ends; for members with equal
// subscriptions it ends with counts within one of each other.
type uniformAssignor struct{}

func (uniformAssignor) assign(spec *assignmentSpec) map[string]assignment {
	n := len(spec.members)
	load := make([]int, n)
	owned := make([]map[[16]byte]map[int32]struct{}, n)
	eligible := make(map[[16]byte][]int, len(spec.partitions))
	taken := make(map[topicPartition]bool)
	for i, m := range spec.members {
		owned[i] = make(map[[16]byte]map[int32]struct{})
		for _, t := range m.topics {
			eligible[t] = append(eligible[t], i)
		}
	}
	give := func(i int, id [16]byte, p int32) {
		ps := owned[i][id]
		if ps == nil {
			ps = make(map[int32]struct{})
			owned[i][id] = ps
		}
		ps[p] = struct{}{}
		load[i]++
		taken[topicPartition{id, p}] = true
	}

	// Keep.
	for i, m := range spec.members {
		for _, id := range m.previous.topicIDs() {
			if !slices.Contains(m.topics, id) {
				continue
			}
			for _, p := range m.previous[id] {
				if p < spec.partitions[id] && !taken[topicPartition{id, p}] {
					give(i, id, p)
				}
			}
		}
	}
	// Hand out what nobody kept.
	for _, id := range spec.topicOrder {
		members := eligible[id]
		if len(members) == 0 {
			continue
		}
		for p := range spec.partitions[id] {
			if taken[topicPartition{id, p}] {
				continue
			}
			best := members[0]
			for _, i := range members[1:] {
				if load[i] < load[best] {
					best = i
				}
			}
			give(best, id, p)
		}
	}
	// Balance.
	for moved := true; moved; {
		moved = false
		for _, id := range spec.topicOrder {
			members := eligible[id]
			if len(members) < 2 {
				continue
			}
			for {
				hi, lo := -1, members[0]
				for _, i := range members {
					if len(owned[i][id]) > 0 && (hi < 0 || load[i] > load[hi]) {
						hi = i
					}
					if load[i] < load[lo] {
						lo = i
					}
				}
				if hi < 0 || load[hi]-load[lo] < 2 {
					break
				}
				// Move the highest partition, so that low ones stay put.
				var p int32 = -1
				for q := range owned[hi][id] {
					p = max(p, q)
				}
				delete(owned[hi][id], p)
				load[hi]--
				give(lo, id, p)
				moved = true
			}
		}
	}

	out := make(map[string]assignment, n)
	for i, m := range spec.members {
		out[m.id] = buildAssignment(owned[i])
	}
	return out
}

// rangeAssignor gives each member, topic by topic, a contiguous range of
// the topic's partitions, as Kafka's server-side "range" assignor and the
// classic RangeAssignor: the members subscribing to a topic are ordered
// (static members first by group.instance.id, then the others by member
// id), the first partitions%members of them get one partition more. Topics
// with the same partition count are therefore co-partitioned: a member gets
// the same partition numbers of each. Previous assignments play no part.
type rangeAssignor struct{}

func (rangeAssignor) assign(spec *assignmentSpec) map[string]assignment {
	order := slices.Clone(spec.members)
	slices.SortStableFunc(order, func(a, b assignorMember) int {
		switch {
		case a.instanceID != nil && b.instanceID != nil:
			if *a.instanceID < *b.instanceID {
				return -1
			} else if *a.instanceID > *b.instanceID {
				return 1
			}
			return 0
		case a.instanceID != nil:
			return -1
		case b.instanceID != nil:
			return 1
		}
		return 0 // already sorted by member id
	})
	subscribers := make(map[[16]byte]int)
	for _, m := range order {
		for _, t := range m.topics {
			subscribers[t]++
		}
	}
	next := make(map[[16]byte]int32)  // next partition to hand out
	extra := make(map[[16]byte]int32) // members still owed one more
	for id, n := range subscribers {
		extra[id] = spec.partitions[id] % int32(n)
	}
	out := make(map[string]assignment, len(order))
	for _, m := range order {
		a := make(assignment)
		for _, t := range m.topics {
			quota := spec.partitions[t] / int32(subscribers[t])
			if extra[t] > 0 {
				quota++
				extra[t]--
			}
			start := next[t]
			end := min(start+quota, spec.partitions[t])
			next[t] = end
			if start < end {
				ps := make([]int32, 0, end-start)
				for p := start; p < end; p++ {
					ps = append(ps, p)
				}
				a[t] = ps
			}
		}
		out[m.id] = a
	}
	return out
}
