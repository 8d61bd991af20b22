package group

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzDecodeRecord feeds decodeRecord what a corrupt log could hold.
// Properties: no panic; what decodes re-encodes (at its own version) to
// bytes that decode to the same record.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(offsetCommitKey("g", "t", 1), offsetCommitRecord("g", "t", 1, offsetEntry{offset: 3, leaderEpoch: 2, metadata: "m", commitTimestamp: 4, expireTimestamp: -1}).Value)
	f.Add(offsetCommitKey("g", "t", 1), offsetCommitRecord("g", "t", 1, offsetEntry{offset: 3, expireTimestamp: 7}).Value)
	f.Add(offsetCommitKey("g", "t", 1), []byte(nil))
	v := kmsg.NewGroupMetadataValue()
	v.ProtocolType, v.Generation = "consumer", 2
	p, l, iid := "range", "m1", "i1"
	v.Protocol, v.Leader = &p, &l
	m := kmsg.NewGroupMetadataValueMember()
	m.MemberID, m.InstanceID, m.ClientID, m.ClientHost = "m1", &iid, "c", "/h"
	m.Subscription, m.Assignment = []byte{1, 2}, []byte{3}
	v.Members = []kmsg.GroupMetadataValueMember{m}
	f.Add(groupMetadataKey("g"), groupMetadataRecord("g", &v).Value)
	v4 := v
	v4.Version = 4
	f.Add(groupMetadataKey("g"), v4.AppendTo(nil))
	f.Add([]byte{0, 9, 1}, []byte{1})
	g := newConsumerGroup("g")
	cm := newConsumerMember("m")
	iid, re := "i", "t.*"
	cm.meta.instanceID, cm.meta.subscribedRegex, cm.meta.subscribedTopics = &iid, re, []string{"a", "b"}
	cm.cur.assigned = assignment{testTopicID("a"): {0, 3}}
	cm.cur.state = memberUnrevokedPartitions
	for _, r := range []*consumerRecord{
		groupEpochRecord("g", 3),
		subscriptionRecord("g", map[string]topicMetadata{"a": {ID: testTopicID("a"), Name: "a", Partitions: 4}}),
		memberMetadataRecord("g", cm),
		targetEpochRecord("g", 3),
		targetMemberRecord("g", "m", cm.cur.assigned),
		currentAssignmentRecord("g", cm),
		regexRecord("g", re, &resolvedRegex{topics: []string{"a"}, timestamp: 7}),
	} {
		enc := r.encode()
		f.Add(enc.Key, enc.Value)
	}
	for _, r := range g.deleteRecords() {
		f.Add(r.Key, r.Value)
	}

	opts := cmp.Options{cmpopts.EquateEmpty(), cmp.AllowUnexported(decodedRecord{}, kmsg.Tags{},
		consumerRecord{}, memberMetadata{}, memberAssignment{}, resolvedRegex{})}
	f.Fuzz(func(t *testing.T, key, value []byte) {
		d, err := decodeRecord(key, value)
		if err != nil {
			return
		}
		var k2, v2 []byte
		switch d.typ {
		case recordTypeOffsetCommitV0, recordTypeOffsetCommit:
			k2 = d.offsetKey.AppendTo(nil)
			if d.offsetValue != nil {
				v2 = d.offsetValue.AppendTo(nil)
			}
		case recordTypeGroupMetadata:
			k2 = d.groupKey.AppendTo(nil)
			if d.groupValue != nil {
				v2 = d.groupValue.AppendTo(nil)
			}
		default:
			rec := d.consumer.encode()
			k2, v2 = rec.Key, rec.Value
		}
		d2, err := decodeRecord(k2, v2)
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if diff := cmp.Diff(d, d2, opts); diff != "" {
			t.Fatalf("decode-encode-decode differs (-first +second):\n%s", diff)
		}
	})
}
