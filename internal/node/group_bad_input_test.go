package node

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// joinAndSync makes rc the only member (and leader) of group, returning its
// member id and generation.
func joinAndSync(t *testing.T, rc *rawConn, group string) (string, int32) {
	t.Helper()
	join := kmsg.NewPtrJoinGroupRequest()
	join.Version = 9
	join.Group = group
	join.SessionTimeoutMillis = 10000
	join.RebalanceTimeoutMillis = 10000
	join.ProtocolType = "consumer"
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{0, 1, 0, 0, 0, 0, 0, 0, 0, 0}}}
	resp := rc.send(join).(*kmsg.JoinGroupResponse)
	if resp.ErrorCode == kerr.MemberIDRequired.Code {
		join.MemberID = resp.MemberID
		resp = rc.send(join).(*kmsg.JoinGroupResponse)
	}
	if resp.ErrorCode != 0 {
		t.Fatalf("JoinGroup %s: %v", group, kerr.ErrorForCode(resp.ErrorCode))
	}
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Version = 5
	sync.Group, sync.MemberID, sync.Generation = group, resp.MemberID, resp.Generation
	sync.ProtocolType, sync.Protocol = kmsg.StringPtr("consumer"), kmsg.StringPtr("range")
	sync.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: resp.MemberID, MemberAssignment: []byte{0, 1, 0, 0, 0, 0, 0, 0, 0, 0}}}
	if sr := rc.send(sync).(*kmsg.SyncGroupResponse); sr.ErrorCode != 0 {
		t.Fatalf("SyncGroup %s: %v", group, kerr.ErrorForCode(sr.ErrorCode))
	}
	return resp.MemberID, resp.Generation
}

func commitReq(group, member string, generation int32, topic string, partition int32, metadata string) *kmsg.OffsetCommitRequest {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version = 8
	req.Group, req.MemberID, req.Generation = group, member, generation
	p := kmsg.NewOffsetCommitRequestTopicPartition()
	p.Partition, p.Offset = partition, 5
	p.Metadata = &metadata
	req.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: topic, Partitions: []kmsg.OffsetCommitRequestTopicPartition{p}}}
	return req
}

func commitCode(t *testing.T, rc *rawConn, req *kmsg.OffsetCommitRequest) int16 {
	t.Helper()
	resp := rc.send(req).(*kmsg.OffsetCommitResponse)
	return resp.Topics[0].Partitions[0].ErrorCode
}

func TestGroupBadInputGetsKafkaErrors(t *testing.T) {
	tn := startNode(t, withFastGroups())
	tn.createTopic("gbad", 1, nil)
	rc := dialRaw(t, tn.addr)
	member, gen := joinAndSync(t, rc, "g-bad")

	tests := []struct {
		name string
		give *kmsg.OffsetCommitRequest
		want *kerr.Error
	}{
		{"valid commit", commitReq("g-bad", member, gen, "gbad", 0, ""), nil},
		{"wrong generation", commitReq("g-bad", member, gen+5, "gbad", 0, ""), kerr.IllegalGeneration},
		{"unknown member", commitReq("g-bad", "nobody", gen, "gbad", 0, ""), kerr.UnknownMemberID},
		{"metadata over offset.metadata.max.bytes", commitReq("g-bad", member, gen, "gbad", 0, strings.Repeat("m", 5000)), kerr.OffsetMetadataTooLarge},
		{"unknown topic", commitReq("g-bad", member, gen, "no-such-topic", 0, ""), kerr.UnknownTopicOrPartition},
		{"unknown partition", commitReq("g-bad", member, gen, "gbad", 7, ""), kerr.UnknownTopicOrPartition},
	}
	for _, tt := range tests {
		want := int16(0)
		if tt.want != nil {
			want = tt.want.Code
		}
		if got := commitCode(t, rc, tt.give); got != want {
			t.Errorf("%s: OffsetCommit error %v, want %v", tt.name, kerr.ErrorForCode(got), kerr.ErrorForCode(want))
		}
	}

	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Version = 4
	hb.Group, hb.MemberID, hb.Generation = "g-bad", member, gen+1
	if r := rc.send(hb).(*kmsg.HeartbeatResponse); r.ErrorCode != kerr.IllegalGeneration.Code {
		t.Errorf("Heartbeat with a wrong generation: %v, want ILLEGAL_GENERATION", kerr.ErrorForCode(r.ErrorCode))
	}
	hb.Group = "g-unknown"
	hb.Generation = gen
	if r := rc.send(hb).(*kmsg.HeartbeatResponse); r.ErrorCode != kerr.UnknownMemberID.Code && r.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Errorf("Heartbeat to an unknown group: %v, want UNKNOWN_MEMBER_ID or GROUP_ID_NOT_FOUND", kerr.ErrorForCode(r.ErrorCode))
	}

	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Version = 2
	del.Groups = []string{"g-bad", "g-never"}
	dr := rc.send(del).(*kmsg.DeleteGroupsResponse)
	codes := map[string]int16{}
	for _, g := range dr.Groups {
		codes[g.Group] = g.ErrorCode
	}
	if codes["g-bad"] != kerr.NonEmptyGroup.Code || codes["g-never"] != kerr.GroupIDNotFound.Code {
		t.Errorf("DeleteGroups: g-bad %v (want NON_EMPTY_GROUP), g-never %v (want GROUP_ID_NOT_FOUND)",
			kerr.ErrorForCode(codes["g-bad"]), kerr.ErrorForCode(codes["g-never"]))
	}

	// The committed offset is readable, and a group that never committed
	// gets -1.
	fetch := kmsg.NewPtrOffsetFetchRequest()
	fetch.Version = 8
	fetch.Groups = []kmsg.OffsetFetchRequestGroup{{Group: "g-bad"}, {Group: "g-never"}}
	fr := rc.send(fetch).(*kmsg.OffsetFetchResponse)
	for _, g := range fr.Groups {
		for _, tp := range g.Topics {
			for _, p := range tp.Partitions {
				want := int64(5)
				if g.Group == "g-never" {
					want = -1
				}
				if p.Offset != want || p.ErrorCode != 0 {
					t.Errorf("OffsetFetch %s %s-%d = %d (%v), want %d", g.Group, tp.Topic, p.Partition, p.Offset, kerr.ErrorForCode(p.ErrorCode), want)
				}
			}
		}
	}
	stillServes(t, tn.addr)
	_ = time.Second
}
