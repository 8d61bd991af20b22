package group

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// randomSpec builds a seeded assignment problem: up to 8 members, up to 4
// topics; homogeneous when every member subscribes to every topic.
func randomSpec(rng *rand.Rand, homogeneous bool) *assignmentSpec {
	spec := &assignmentSpec{partitions: make(map[[16]byte]int32)}
	nTopics := 1 + rng.IntN(4)
	for i := range nTopics {
		id := testTopicID(fmt.Sprintf("t%d", i))
		spec.partitions[id] = int32(1 + rng.IntN(20))
		spec.topicOrder = append(spec.topicOrder, id)
	}
	nMembers := 1 + rng.IntN(8)
	for i := range nMembers {
		m := assignorMember{id: fmt.Sprintf("m%02d", i)}
		for _, id := range spec.topicOrder {
			if homogeneous || rng.IntN(2) == 0 {
				m.topics = append(m.topics, id)
			}
		}
		spec.members = append(spec.members, m)
	}
	return spec
}

// checkValid fails unless every partition of a subscribed topic goes to
// exactly one member subscribing to it, and nothing else is assigned.
func checkValid(t *testing.T, spec *assignmentSpec, got map[string]assignment) {
	t.Helper()
	owner := make(map[topicPartition]string)
	for _, m := range spec.members {
		got[m.id].each(func(id [16]byte, p int32) {
			if !slices.Contains(m.topics, id) {
				t.Fatalf("%s got %x-%d of a topic it does not subscribe to", m.id, id[:2], p)
			}
			if p < 0 || p >= spec.partitions[id] {
				t.Fatalf("%s got partition %d of a topic with %d", m.id, p, spec.partitions[id])
			}
			if o, dup := owner[topicPartition{id, p}]; dup {
				t.Fatalf("%x-%d assigned to %s and %s", id[:2], p, o, m.id)
			}
			owner[topicPartition{id, p}] = m.id
		})
	}
	for _, id := range spec.topicOrder {
		subscribed := slices.ContainsFunc(spec.members, func(m assignorMember) bool { return slices.Contains(m.topics, id) })
		for p := range spec.partitions[id] {
			if _, ok := owner[topicPartition{id, p}]; ok != subscribed {
				t.Fatalf("%x-%d assigned = %v, want %v (subscribed)", id[:2], p, ok, subscribed)
			}
		}
	}
}

func loads(spec *assignmentSpec, got map[string]assignment) []int {
	out := make([]int, len(spec.members))
	for i, m := range spec.members {
		out[i] = got[m.id].size()
	}
	return out
}

func TestUniformAssignorIsBalancedAndSticky(t *testing.T) {
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 1))
		homogeneous := seed%2 == 0
		spec := randomSpec(rng, homogeneous)
		got := uniformAssignor{}.assign(spec)
		checkValid(t, spec, got)
		l := loads(spec, got)
		if homogeneous && slices.Max(l)-slices.Min(l) > 1 {
			t.Fatalf("seed %d: homogeneous loads %v differ by more than one", seed, l)
		}
		if !homogeneous {
			// No partition could move to a subscriber with two fewer.
			for i, m := range spec.members {
				for id := range got[m.id] {
					for j, o := range spec.members {
						if slices.Contains(o.topics, id) && l[i]-l[j] >= 2 {
							t.Fatalf("seed %d: %s (load %d) owns a partition %s (load %d) could take", seed, m.id, l[i], o.id, l[j])
						}
					}
				}
			}
		}

		// Stickiness: one member leaves, the others keep everything.
		if len(spec.members) < 2 || !homogeneous {
			continue
		}
		gone := rng.IntN(len(spec.members))
		next := &assignmentSpec{partitions: spec.partitions, topicOrder: spec.topicOrder}
		for i, m := range spec.members {
			if i != gone {
				m.previous = got[m.id]
				next.members = append(next.members, m)
			}
		}
		after := uniformAssignor{}.assign(next)
		checkValid(t, next, after)
		for _, m := range next.members {
			if lost := subtract(m.previous, after[m.id]); lost.size() > 0 {
				t.Fatalf("seed %d: %s lost %v when another member left", seed, m.id, lost)
			}
		}
		// And one joins: nobody loses more than its excess over the new
		// fair share.
		joined := &assignmentSpec{partitions: spec.partitions, topicOrder: spec.topicOrder}
		total := 0
		for _, n := range spec.partitions {
			total += int(n)
		}
		for _, m := range spec.members {
			m.previous = got[m.id]
			joined.members = append(joined.members, m)
		}
		joined.members = append(joined.members, assignorMember{id: "zz", topics: spec.topicOrder})
		after = uniformAssignor{}.assign(joined)
		checkValid(t, joined, after)
		ceil := (total + len(joined.members) - 1) / len(joined.members)
		for _, m := range joined.members[:len(joined.members)-1] {
			if kept := intersect(m.previous, after[m.id]).size(); kept < min(m.previous.size(), ceil-1) {
				t.Fatalf("seed %d: %s kept %d of %d when a member joined, want at least %d", seed, m.id, kept, m.previous.size(), min(m.previous.size(), ceil-1))
			}
		}
	}
}

func TestRangeAssignor(t *testing.T) {
	a, b := testTopicID("a"), testTopicID("b")
	i1, i2 := "i1", "i2"
	tests := []struct {
		name    string
		members []assignorMember
		want    map[string]assignment
	}{
		{
			name:    "co-partitioned topics",
			members: []assignorMember{{id: "m1", topics: [][16]byte{a, b}}, {id: "m2", topics: [][16]byte{a, b}}},
			want: map[string]assignment{
				"m1": {a: {0, 1, 2}, b: {0, 1, 2}},
				"m2": {a: {3, 4}, b: {3, 4}},
			},
		},
		{
			name:    "static members first, by instance id",
			members: []assignorMember{{id: "m1", topics: [][16]byte{a}}, {id: "m2", instanceID: &i2, topics: [][16]byte{a}}, {id: "m3", instanceID: &i1, topics: [][16]byte{a}}},
			want: map[string]assignment{
				"m3": {a: {0, 1}},
				"m2": {a: {2, 3}},
				"m1": {a: {4}},
			},
		},
		{
			name:    "per topic among its subscribers",
			members: []assignorMember{{id: "m1", topics: [][16]byte{a}}, {id: "m2", topics: [][16]byte{a, b}}},
			want: map[string]assignment{
				"m1": {a: {0, 1, 2}},
				"m2": {a: {3, 4}, b: {0, 1, 2, 3, 4}},
			},
		},
		{
			name:    "more members than partitions",
			members: []assignorMember{{id: "m1", topics: [][16]byte{b}}, {id: "m2", topics: [][16]byte{b}}, {id: "m3", topics: [][16]byte{b}}},
			want: map[string]assignment{
				"m1": {b: {0, 1}},
				"m2": {b: {2, 3}},
				"m3": {b: {4}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := &assignmentSpec{partitions: map[[16]byte]int32{a: 5, b: 5}, topicOrder: [][16]byte{a, b}, members: tt.members}
			got := rangeAssignor{}.assign(spec)
			checkValid(t, spec, got)
			for id, want := range tt.want {
				if !got[id].equal(want) {
					t.Fatalf("range assign: %s got %v, want %v", id, got[id], want)
				}
			}
		})
	}
}

func TestReconciliation(t *testing.T) {
	a := testTopicID("a")
	owners := map[topicPartition]string{{a, 0}: "me", {a, 1}: "me", {a, 2}: "other"}
	free := func(id [16]byte, p int32) bool { o, ok := owners[topicPartition{id, p}]; return !ok || o == "me" }
	cur := &memberAssignment{memberEpoch: 4, previousMemberEpoch: 3, state: memberStable, assigned: assignment{a: {0, 1}}, pendingRevocation: assignment{}}
	tests := []struct {
		name   string
		target assignment
		owned  assignment
		known  bool
		want   memberAssignment
	}{
		{
			name: "revoke first", target: assignment{a: {0, 2, 3}}, owned: assignment{a: {0, 1}}, known: true,
			want: memberAssignment{memberEpoch: 4, previousMemberEpoch: 4, state: memberUnrevokedPartitions, assigned: assignment{a: {0}}, pendingRevocation: assignment{a: {1}}},
		},
		{
			name: "already revoked: new epoch, free partitions only", target: assignment{a: {0, 2, 3}}, owned: assignment{a: {0}}, known: true,
			want: memberAssignment{memberEpoch: 5, previousMemberEpoch: 4, state: memberUnreleasedPartitions, assigned: assignment{a: {0, 3}}, pendingRevocation: assignment{}},
		},
		{
			name: "owned left out counts as owned", target: assignment{a: {0}}, known: false,
			want: memberAssignment{memberEpoch: 4, previousMemberEpoch: 4, state: memberUnrevokedPartitions, assigned: assignment{a: {0}}, pendingRevocation: assignment{a: {1}}},
		},
		{
			name: "only additions", target: assignment{a: {0, 1, 3}}, known: false,
			want: memberAssignment{memberEpoch: 5, previousMemberEpoch: 4, state: memberStable, assigned: assignment{a: {0, 1, 3}}, pendingRevocation: assignment{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := reconciliation{targetEpoch: 5, target: tt.target, owned: tt.owned, ownedKnown: tt.known, free: free}
			got, fenced := r.next(cur)
			if fenced || !got.equal(&tt.want) {
				t.Fatalf("next() = %+v (fenced %v), want %+v", got, fenced, tt.want)
			}
		})
	}
	unknown := *cur
	unknown.state = memberUnknown
	r := reconciliation{targetEpoch: 5, target: assignment{}, ownedKnown: true, owned: assignment{a: {0}}, free: free}
	if _, fenced := r.next(&unknown); !fenced {
		t.Fatalf("next() of a member in an unknown state owning partitions: not fenced, want fenced")
	}
}
