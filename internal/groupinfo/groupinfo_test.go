package groupinfo

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func ptr(s string) *string { return &s }

func TestFromListGroupsNormalizesAndFilters(t *testing.T) {
	resp := kmsg.NewPtrListGroupsResponse()
	for _, g := range []struct{ name, typ, state, protocolType string }{
		{"old", "", "Stable", "consumer"}, // before ListGroups v5: classic
		{"new", "Consumer", "Stable", ""}, // KIP-848, type in any case
		{"conn", "classic", "Empty", "connect"},
		{"shared", "share", "Stable", "share"},
	} {
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group, lg.GroupType, lg.GroupState, lg.ProtocolType = g.name, g.typ, g.state, g.protocolType
		resp.Groups = append(resp.Groups, lg)
	}

	all := fromListGroups(3, resp, nil, nil)
	want := []Listed{
		{Group: "old", Type: TypeClassic, State: "Stable", ProtocolType: "consumer", Coordinator: 3},
		{Group: "new", Type: TypeConsumer, State: "Stable", ProtocolType: "", Coordinator: 3},
		{Group: "conn", Type: TypeClassic, State: "Empty", ProtocolType: "connect", Coordinator: 3},
		{Group: "shared", Type: "share", State: "Stable", ProtocolType: "share", Coordinator: 3},
	}
	if diff := cmp.Diff(want, all); diff != "" {
		t.Errorf("no filter (-want +got):\n%s", diff)
	}

	// A broker too old to filter sends everything; states match in any
	// case, types exactly.
	filtered := fromListGroups(3, resp, []string{"stable"}, []string{TypeClassic, TypeConsumer})
	if diff := cmp.Diff(want[:2], filtered); diff != "" {
		t.Errorf("filtered (-want +got):\n%s", diff)
	}
	if got := fromListGroups(3, resp, []string{"Dead"}, nil); len(got) != 0 {
		t.Errorf("state Dead: got %v, want none", got)
	}
}

func TestFromClassicGroup(t *testing.T) {
	shardErr := errors.New("broker 2 unreachable")
	described := kadm.DescribedGroups{
		"g": {
			Group:        "g",
			Coordinator:  kadm.BrokerDetail{NodeID: 2},
			State:        "Stable",
			ProtocolType: "consumer",
			Protocol:     "range",
			Members: []kadm.DescribedGroupMember{
				{MemberID: "m-b", ClientID: "cb", ClientHost: "/10.0.0.2"},
				{MemberID: "m-a", InstanceID: ptr("i-2"), ClientID: "ca", ClientHost: "/10.0.0.1"},
				{MemberID: "m-c", InstanceID: ptr("i-1"), ClientID: "cc", ClientHost: "/10.0.0.3"},
				{MemberID: "m-0", ClientID: "c0", ClientHost: "/10.0.0.4"},
			},
		},
		"dead":     {Group: "dead", State: "Dead"},
		"denied":   {Group: "denied", Err: kerr.GroupAuthorizationFailed, ErrMessage: " denied for User:bob "},
		"loading":  {Group: "loading", Err: kerr.CoordinatorLoadInProgress, ErrMessage: kerr.CoordinatorLoadInProgress.Description},
		"no-extra": {Group: "no-extra", Err: kerr.NotCoordinator},
	}

	got := fromClassicGroup(described, "g", nil)
	want := Described{Description: Description{
		Group: "g", Type: TypeClassic, State: "Stable", ProtocolType: "consumer", Protocol: "range", Coordinator: 2,
		Members: []Member{
			{MemberID: "m-c", InstanceID: "i-1", ClientID: "cc", ClientHost: "/10.0.0.3"},
			{MemberID: "m-a", InstanceID: "i-2", ClientID: "ca", ClientHost: "/10.0.0.1"},
			{MemberID: "m-0", ClientID: "c0", ClientHost: "/10.0.0.4"},
			{MemberID: "m-b", ClientID: "cb", ClientHost: "/10.0.0.2"},
		},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("described group (-want +got):\n%s", diff)
	}

	for _, tc := range []struct {
		group, shardErr string
		is              error
		text            string
	}{
		{group: "dead", is: kerr.GroupIDNotFound, text: kerr.GroupIDNotFound.Error()},
		{group: "denied", is: kerr.GroupAuthorizationFailed, text: "GROUP_AUTHORIZATION_FAILED: denied for User:bob"},
		{group: "loading", is: kerr.CoordinatorLoadInProgress, text: kerr.CoordinatorLoadInProgress.Error()},
		{group: "no-extra", is: kerr.NotCoordinator, text: kerr.NotCoordinator.Error()},
		{group: "absent", text: "missing from the DescribeGroups response"},
		{group: "absent", shardErr: "yes", is: shardErr, text: shardErr.Error()},
	} {
		var err error
		if tc.shardErr != "" {
			err = shardErr
		}
		d := fromClassicGroup(described, tc.group, err)
		if d.Err == nil {
			t.Errorf("%s: no error, want %q", tc.group, tc.text)
			continue
		}
		if d.Err.Error() != tc.text {
			t.Errorf("%s: error %q, want %q", tc.group, d.Err, tc.text)
		}
		if tc.is != nil && !errors.Is(d.Err, tc.is) {
			t.Errorf("%s: error %v does not wrap %v", tc.group, d.Err, tc.is)
		}
		if diff := cmp.Diff(Description{}, d.Description); diff != "" {
			t.Errorf("%s: failed group has a description:\n%s", tc.group, diff)
		}
	}
}

func TestFromConsumerAssignmentSortsPartitions(t *testing.T) {
	a := &kmsg.ConsumerMemberAssignment{Topics: []kmsg.ConsumerMemberAssignmentTopic{
		{Topic: "z", Partitions: []int32{3, 0, 2}},
		{Topic: "a", Partitions: []int32{1}},
		{Topic: "empty"},
	}}
	want := kadm.TopicsList{
		{Topic: "z", Partitions: []int32{0, 2, 3}},
		{Topic: "a", Partitions: []int32{1}},
		{Topic: "empty"},
	}
	if diff := cmp.Diff(want, fromConsumerAssignment(a)); diff != "" {
		t.Errorf("assignment (-want +got):\n%s", diff)
	}
}

func TestFromConsumerGroupNamesTopicsAndSortsMembers(t *testing.T) {
	known := [16]byte{1, 2, 3}
	deleted := [16]byte{0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0xf8, 0xf7, 0xf6, 0xf5, 0xf4, 0xf3, 0xf2, 0xf1, 0xf0}
	rg := kmsg.NewConsumerGroupDescribeResponseGroup()
	rg.Group, rg.State, rg.Epoch, rg.AssignmentEpoch, rg.AssignorName = "g848", "Stable", 7, 6, "uniform"
	m1 := kmsg.NewConsumerGroupDescribeResponseGroupMember()
	m1.MemberID, m1.ClientID, m1.ClientHost = "zz", "c1", "/10.0.0.1"
	m1.Assignment.TopicPartitions = []kmsg.AssignmentTopicPartition{
		{Topic: "named", Partitions: []int32{4, 1}},
		{TopicID: known, Partitions: []int32{0}},
		{TopicID: deleted, Partitions: []int32{2}},
	}
	m2 := kmsg.NewConsumerGroupDescribeResponseGroupMember()
	m2.MemberID, m2.InstanceID, m2.ClientID = "aa", ptr("static"), "c2"
	m3 := kmsg.NewConsumerGroupDescribeResponseGroupMember()
	m3.MemberID = "bb"
	rg.Members = []kmsg.ConsumerGroupDescribeResponseGroupMember{m1, m3, m2}

	got := fromConsumerGroup(5, &rg, map[[16]byte]string{known: "by-id"})
	want := Description{
		Group: "g848", Type: TypeConsumer, State: "Stable", ProtocolType: "consumer", Protocol: "uniform",
		Coordinator: 5, GroupEpoch: 7, AssignmentEpoch: 6,
		Members: []Member{
			{MemberID: "aa", InstanceID: "static", ClientID: "c2"},
			{MemberID: "bb"},
			{MemberID: "zz", ClientID: "c1", ClientHost: "/10.0.0.1", Assigned: kadm.TopicsList{
				{Topic: "named", Partitions: []int32{1, 4}},
				{Topic: "by-id", Partitions: []int32{0}},
				{Topic: "__79_Pv6-fj39vX08_Lx8A", Partitions: []int32{2}},
			}},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("description (-want +got):\n%s", diff)
	}

	// Without names (the metadata could not be read) every topic sent by
	// ID is named by it.
	got = fromConsumerGroup(5, &rg, nil)
	if a := got.Members[2].Assigned; a[1].Topic != "AQIDAAAAAAAAAAAAAAAAAA" || a[2].Topic != "__79_Pv6-fj39vX08_Lx8A" {
		t.Errorf("topics without names: %v", a)
	}
}

func TestSortMembers(t *testing.T) {
	ms := []Member{{MemberID: "c"}, {MemberID: "x", InstanceID: "b"}, {MemberID: "a"}, {MemberID: "y", InstanceID: "a"}}
	SortMembers(ms)
	var got []string
	for _, m := range ms {
		got = append(got, m.InstanceID+"/"+m.MemberID)
	}
	if diff := cmp.Diff([]string{"a/y", "b/x", "/a", "/c"}, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

func TestTopicNamesError(t *testing.T) {
	inner := errors.New("no broker answered")
	var err error = &TopicNamesError{Err: inner}
	if got, want := err.Error(), "describe topics to name assigned topic IDs: no broker answered"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, inner) {
		t.Error("TopicNamesError does not unwrap to its cause")
	}
}

func committedAt(rows ...kadm.OffsetResponse) kadm.OffsetResponses {
	os := kadm.OffsetResponses{}
	for _, r := range rows {
		if os[r.Topic] == nil {
			os[r.Topic] = map[int32]kadm.OffsetResponse{}
		}
		os[r.Topic][r.Partition] = r
	}
	return os
}

func listed(rows ...kadm.ListedOffset) kadm.ListedOffsets {
	l := kadm.ListedOffsets{}
	for _, r := range rows {
		if l[r.Topic] == nil {
			l[r.Topic] = map[int32]kadm.ListedOffset{}
		}
		l[r.Topic][r.Partition] = r
	}
	return l
}

func commit(t string, p int32, at int64) kadm.OffsetResponse {
	return kadm.OffsetResponse{Offset: kadm.Offset{Topic: t, Partition: p, At: at, LeaderEpoch: -1}}
}

func end(t string, p int32, o int64) kadm.ListedOffset {
	return kadm.ListedOffset{Topic: t, Partition: p, Offset: o, Timestamp: -1, LeaderEpoch: -1}
}

func TestOffsetsLinesUpCommittedEndsAndAssignment(t *testing.T) {
	members := []Member{
		{MemberID: "m1", Assigned: kadm.TopicsList{{Topic: "t", Partitions: []int32{0, 1}}, {Topic: "no-partitions"}}},
		{MemberID: "m2", Assigned: kadm.TopicsList{{Topic: "u", Partitions: []int32{0}}, {Topic: "t", Partitions: []int32{1}}}},
	}
	commitErr := kadm.OffsetResponse{Offset: kadm.Offset{Topic: "u", Partition: 0, At: -1}, Err: kerr.UnstableOffsetCommit}
	committed := committedAt(
		commit("t", 0, 10),
		commit("t", 1, 50), // past the log end: negative lag
		commit("old", 2, 7),
		commitErr,
	)
	ends := listed(
		end("t", 0, 25),
		end("t", 1, 40),
		kadm.ListedOffset{Topic: "old", Partition: 2, Offset: -1, Err: kerr.UnknownTopicOrPartition},
		end("u", 0, 9),
	)

	if diff := cmp.Diff([]string{"old", "t", "u"}, OffsetTopics(members, committed)); diff != "" {
		t.Errorf("OffsetTopics (-want +got):\n%s", diff)
	}

	got := Offsets(members, committed, ends)
	want := []PartitionOffsets{
		{Topic: "old", Partition: 2, Committed: 7, EndOffset: -1, EndErr: kerr.UnknownTopicOrPartition},
		{Topic: "t", Partition: 0, MemberID: "m1", Committed: 10, EndOffset: 25},
		{Topic: "t", Partition: 1, MemberID: "m2", Committed: 50, EndOffset: 40},
		{Topic: "u", Partition: 0, MemberID: "m2", Committed: -1, CommitErr: kerr.UnstableOffsetCommit, EndOffset: 9},
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateErrors()); diff != "" {
		t.Errorf("Offsets (-want +got):\n%s", diff)
	}

	type lag struct {
		Lag   int64
		Known bool
	}
	var lags []lag
	for _, o := range got {
		l, ok := o.Lag()
		lags = append(lags, lag{l, ok})
	}
	if diff := cmp.Diff([]lag{{0, false}, {15, true}, {-10, true}, {0, false}}, lags); diff != "" {
		t.Errorf("Lag (-want +got):\n%s", diff)
	}

	// Summed, a committed offset past the end counts 0, unknown ends too.
	if got := TotalLag(committed, ends); got != 15 {
		t.Errorf("TotalLag = %d, want 15", got)
	}
	more := committedAt(commit("t", 0, 10), commit("u", 0, 2), commit("t", 1, -1))
	if got := TotalLag(more, ends); got != 15+7 {
		t.Errorf("TotalLag = %d, want 22", got)
	}
	if got := TotalLag(more, nil); got != 0 {
		t.Errorf("TotalLag without ends = %d, want 0", got)
	}
}

func TestOffsetsOfAnIdleGroupAreEmpty(t *testing.T) {
	if got := Offsets(nil, kadm.OffsetResponses{}, nil); len(got) != 0 {
		t.Errorf("Offsets = %v, want none", got)
	}
	if got := OffsetTopics([]Member{{MemberID: "m", Assigned: kadm.TopicsList{{Topic: "none"}}}}, nil); len(got) != 0 {
		t.Errorf("OffsetTopics = %v, want none (a topic without assigned partitions has no rows)", got)
	}
}
