package group

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Expected bytes are Kafka 4.0's schemas worked out by hand: keys are
// int16 type + int16-length strings; values are int16 version 0 + compact
// fields (uvarint length+1) + a tagged-field count (0) per struct.
func TestConsumerRecordEncodingIsKafkas(t *testing.T) {
	epoch := int32(5)
	r1 := "r"
	id := testTopicID("t")
	tests := []struct {
		name      string
		give      consumerRecord
		wantKey   []byte
		wantValue []byte
	}{
		{
			name:      "ConsumerGroupMetadata",
			give:      consumerRecord{typ: recordTypeConsumerGroupMetadata, group: "g", hasValue: true, groupEpoch: &epoch},
			wantKey:   []byte{0, 3, 0, 1, 'g'},
			wantValue: []byte{0, 0, 0, 0, 0, 5, 0},
		},
		{
			name: "ConsumerGroupPartitionMetadata",
			give: consumerRecord{typ: recordTypeConsumerGroupPartitionMetadata, group: "g", hasValue: true,
				topics: []topicMetadata{{ID: id, Name: "t", Partitions: 3}}},
			wantKey: []byte{0, 4, 0, 1, 'g'},
			wantValue: bytes.Join([][]byte{
				{0, 0, 2}, id[:], {2, 't', 0, 0, 0, 3, 1, 0}, {0},
			}, nil),
		},
		{
			name: "ConsumerGroupMemberMetadata",
			give: consumerRecord{typ: recordTypeConsumerGroupMemberMetadata, group: "g", member: "m", hasValue: true,
				memberMetadata: &memberMetadata{rackID: &r1, clientID: "c", clientHost: "/h", subscribedTopics: []string{"t"},
					rebalanceTimeoutMs: 30000, serverAssignor: "uniform"}},
			wantKey: []byte{0, 5, 0, 1, 'g', 0, 1, 'm'},
			wantValue: []byte{0, 0,
				0,      // instance id: null
				2, 'r', // rack
				2, 'c', // client id
				3, '/', 'h', // client host
				2, 2, 't', // subscribed topics
				0,                // regex: null
				0, 0, 0x75, 0x30, // rebalance timeout 30000
				8, 'u', 'n', 'i', 'f', 'o', 'r', 'm',
				0},
		},
		{
			name:      "ConsumerGroupTargetAssignmentMetadata",
			give:      consumerRecord{typ: recordTypeConsumerGroupTargetAssignmentMetadata, group: "g", hasValue: true, assignmentEpoch: &epoch},
			wantKey:   []byte{0, 6, 0, 1, 'g'},
			wantValue: []byte{0, 0, 0, 0, 0, 5, 0},
		},
		{
			name:      "ConsumerGroupTargetAssignmentMember",
			give:      consumerRecord{typ: recordTypeConsumerGroupTargetAssignmentMember, group: "g", member: "m", hasValue: true, target: assignment{id: {0, 2}}},
			wantKey:   []byte{0, 7, 0, 1, 'g', 0, 1, 'm'},
			wantValue: bytes.Join([][]byte{{0, 0, 2}, id[:], {3, 0, 0, 0, 0, 0, 0, 0, 2, 0}, {0}}, nil),
		},
		{
			name: "ConsumerGroupCurrentMemberAssignment",
			give: consumerRecord{typ: recordTypeConsumerGroupCurrentMemberAssignment, group: "g", member: "m", hasValue: true,
				current: &memberAssignment{memberEpoch: 3, previousMemberEpoch: 2, state: memberUnrevokedPartitions,
					assigned: assignment{id: {1}}, pendingRevocation: assignment{}}},
			wantKey: []byte{0, 8, 0, 1, 'g', 0, 1, 'm'},
			wantValue: bytes.Join([][]byte{
				{0, 0, 0, 0, 0, 3, 0, 0, 0, 2, 1},
				{2}, id[:], {2, 0, 0, 0, 1, 0}, // assigned
				{1}, // pending revocation: empty
				{0},
			}, nil),
		},
		{
			name: "ConsumerGroupRegularExpression",
			give: consumerRecord{typ: recordTypeConsumerGroupRegularExpression, group: "g", regex: "t.*", hasValue: true,
				resolved: &resolvedRegex{topics: []string{"t"}, timestamp: 258}},
			wantKey:   []byte{0, 16, 0, 1, 'g', 0, 3, 't', '.', '*'},
			wantValue: []byte{0, 0, 2, 2, 't', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0},
		},
		{
			name:    "tombstone",
			give:    consumerRecord{typ: recordTypeConsumerGroupCurrentMemberAssignment, group: "g", member: "m"},
			wantKey: []byte{0, 8, 0, 1, 'g', 0, 1, 'm'},
		},
	}
	opts := cmp.Options{cmp.AllowUnexported(consumerRecord{}, memberMetadata{}, memberAssignment{}, resolvedRegex{}), cmpopts.EquateEmpty()}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := tt.give.encode()
			if !bytes.Equal(rec.Key, tt.wantKey) || !bytes.Equal(rec.Value, tt.wantValue) {
				t.Fatalf("encode() = %x / %x, want %x / %x", rec.Key, rec.Value, tt.wantKey, tt.wantValue)
			}
			d, err := decodeRecord(rec.Key, rec.Value)
			if err != nil {
				t.Fatalf("decodeRecord(%x, %x): %v", rec.Key, rec.Value, err)
			}
			if diff := cmp.Diff(&tt.give, d.consumer, opts); diff != "" {
				t.Fatalf("decodeRecord(encode()) differs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConsumerRecordDecodeSkipsTaggedFields(t *testing.T) {
	// A ConsumerGroupMemberMetadataValue with ClassicMemberMetadata (tag 0)
	// and an unknown tag 7, as a newer Kafka may write.
	value := []byte{0, 0, 0, 0, 2, 'c', 2, '/', 1, 0, 0, 0, 0, 1, 0,
		2,             // two tagged fields
		0, 3, 1, 2, 3, // tag 0, 3 bytes
		7, 1, 9} // tag 7, 1 byte
	d, err := decodeRecord([]byte{0, 5, 0, 1, 'g', 0, 1, 'm'}, value)
	if err != nil {
		t.Fatalf("decodeRecord with tagged fields: %v", err)
	}
	if m := d.consumer.memberMetadata; m.clientID != "c" || m.rebalanceTimeoutMs != 1 {
		t.Fatalf("decoded %+v, want client c and rebalance timeout 1", m)
	}
	if _, err := decodeRecord([]byte{0, 5, 0, 1, 'g', 0, 1, 'm'}, value[:len(value)-1]); err == nil {
		t.Fatalf("decodeRecord of a truncated tagged field = nil error, want ErrCorruptRecord")
	}
}
