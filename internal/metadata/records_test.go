package metadata

import (
	"encoding/hex"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/strata-io/strata/internal/acl"
)

func strp(s string) *string { return &s }

var (
	topicA = UUID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	topicB = UUID{0xb0, 15: 0xb}
)

// sampleRecords has one record of every type, with every field set.
func sampleRecords() []Record {
	return []Record{
		&ClusterIDRecord{ClusterID: "q1Sh-9_ISia_zwGINzRvyQ"},
		&RegisterBrokerRecord{NodeID: 1, IncarnationID: topicB, BrokerEpoch: 7, Host: "localhost", Port: 9092, Rack: "r1", Fenced: true},
		&TopicRecord{Name: "orders", TopicID: topicA},
		&PartitionRecord{TopicID: topicA, Partition: 0, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2}, Leader: 1, LeaderEpoch: 4, PartitionEpoch: 5},
		&PartitionRecord{TopicID: topicA, Partition: 1, Replicas: []int32{4, 1, 2}, ISR: []int32{1, 2}, Leader: 1, LeaderEpoch: 4, PartitionEpoch: 5,
			AddingReplicas: []int32{4}, RemovingReplicas: []int32{2}},
		&ConfigRecord{ResourceType: ResourceTopic, ResourceName: "orders", Name: "retention.ms", Value: strp("1000")},
		&ConfigRecord{ResourceType: ResourceBroker, ResourceName: "", Name: "log.retention.ms", Value: nil},
		&ConfigRecord{ResourceType: ResourceTopic, ResourceName: "orders", Name: "cleanup.policy", Value: strp("")},
		&RemoveTopicRecord{TopicID: topicA},
		&ProducerIDsRecord{NextProducerID: 1000},
		&BrokerRegistrationChangeRecord{NodeID: 1, BrokerEpoch: 7, Fenced: false, InControlledShutdown: true},
		&UnregisterBrokerRecord{NodeID: 1, BrokerEpoch: 7},
		&RegisterBrokerRecord{NodeID: 2, IncarnationID: topicA, BrokerEpoch: 8, Host: "h2", Port: 9093, Fenced: true,
			Features: []SupportedFeature{{Name: ELRVersionFeature, MinLevel: 0, MaxLevel: 1}, {Name: MetadataVersionFeature, MinLevel: 7, MaxLevel: 33}}},
		&PartitionRecord{TopicID: topicA, Partition: 2, Replicas: []int32{1, 2, 3}, Leader: -1, LeaderEpoch: 6, PartitionEpoch: 9,
			ELR: []int32{2, 3}, LastKnownELR: []int32{1}},
		&FeatureLevelRecord{Name: ELRVersionFeature, Level: 1},
		&RegisterBrokerRecord{NodeID: 3, IncarnationID: topicA, BrokerEpoch: 9, Host: "h3", Port: 9093,
			Listeners: []Endpoint{{Name: "INTERNAL", Host: "h3", Port: 9093, SecurityProtocol: "SSL"}, {Name: "PLAINTEXT", Host: "h3", Port: 9092, SecurityProtocol: "PLAINTEXT"}}},
		&UserScramCredentialRecord{Name: "alice", Mechanism: ScramSHA512, Salt: []byte("salt"), StoredKey: []byte("stored"), ServerKey: []byte("server"), Iterations: 4096},
		&RemoveUserScramCredentialRecord{Name: "alice", Mechanism: ScramSHA256},
		&ClientQuotaRecord{Entity: []QuotaEntityComponent{{Type: QuotaEntityUser, Name: strp("alice")}, {Type: QuotaEntityClientID}}, Key: "producer_byte_rate", Value: 5e6},
		&ClientQuotaRecord{Entity: []QuotaEntityComponent{{Type: QuotaEntityIP}}, Key: "connection_creation_rate", Remove: true},
		&AccessControlEntryRecord{ID: topicB, Binding: acl.Binding{ResourceType: acl.ResourceTopic, ResourceName: "orders-",
			PatternType: acl.PatternPrefixed, Principal: "User:alice", Host: "*", Operation: acl.OpWrite, Permission: acl.PermissionAllow}},
		&RemoveAccessControlEntryRecord{ID: topicB},
	}
}

func TestRecordsRoundTrip(t *testing.T) {
	for _, want := range sampleRecords() {
		b, err := Encode(want)
		if err != nil {
			t.Fatalf("Encode(%T) error: %v", want, err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("Decode(Encode(%T)) error: %v", want, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Decode(Encode(%T)) mismatch (-want +got):\n%s", want, diff)
		}
	}
}

// TestEncodingIsStable pins the bytes of records so that a change of the
// on-disk format is noticed: bump the record version and update
// docs/format/metadata-records.md together with this test.
func TestEncodingIsStable(t *testing.T) {
	tests := []struct {
		give Record
		want string
	}{
		{&ClusterIDRecord{ClusterID: "ab"}, "010100" + "026162"},
		{&TopicRecord{Name: "t", TopicID: topicA}, "010300" + "0174" + "0102030405060708090a0b0c0d0e0f10"},
		{&PartitionRecord{TopicID: topicA, Partition: 2, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1, LeaderEpoch: 3, PartitionEpoch: 4},
			"010400" + "0102030405060708090a0b0c0d0e0f10" + "00000002" + "0100000001" + "0100000001" + "00000001" + "00000003" + "00000004"},
		{&PartitionRecord{TopicID: topicA, Partition: 2, Replicas: []int32{2, 1}, ISR: []int32{1}, Leader: 1, LeaderEpoch: 3, PartitionEpoch: 4, AddingReplicas: []int32{2}, RemovingReplicas: []int32{1}},
			"010401" + "0102030405060708090a0b0c0d0e0f10" + "00000002" + "020000000200000001" + "0100000001" + "00000001" + "00000003" + "00000004" + "0100000002" + "0100000001"},
		{&ConfigRecord{ResourceType: ResourceTopic, ResourceName: "t", Name: "k", Value: strp("v")}, "010600" + "02" + "0174" + "016b" + "0276"},
		{&ConfigRecord{ResourceType: ResourceBroker, ResourceName: "", Name: "k"}, "010600" + "04" + "00" + "016b" + "00"},
		{&RemoveTopicRecord{TopicID: topicA}, "010500" + "0102030405060708090a0b0c0d0e0f10"},
		{&ProducerIDsRecord{NextProducerID: 1000}, "010700" + "00000000000003e8"},
		{&UserScramCredentialRecord{Name: "a", Mechanism: ScramSHA256, Salt: []byte{1}, StoredKey: []byte{2}, ServerKey: []byte{3}, Iterations: 4096},
			"011400" + "0161" + "01" + "0101" + "0102" + "0103" + "00001000"},
		{&RemoveUserScramCredentialRecord{Name: "a", Mechanism: ScramSHA512}, "011500" + "0161" + "02"},
		{&RegisterBrokerRecord{NodeID: 1, IncarnationID: topicA, BrokerEpoch: 2, Host: "h", Port: 9092, Rack: "", Fenced: false},
			"010200" + "00000001" + "0102030405060708090a0b0c0d0e0f10" + "0000000000000002" + "0168" + "00002384" + "00" + "00"},
		{&BrokerRegistrationChangeRecord{NodeID: 3, BrokerEpoch: 9, Fenced: true, InControlledShutdown: false},
			"010800" + "00000003" + "0000000000000009" + "01" + "00"},
		{&UnregisterBrokerRecord{NodeID: 3, BrokerEpoch: 9}, "010900" + "00000003" + "0000000000000009"},
		{&PartitionRecord{TopicID: topicA, Partition: 2, Replicas: []int32{1, 2}, ISR: []int32{1}, Leader: 1, LeaderEpoch: 3, PartitionEpoch: 4, ELR: []int32{2}},
			"010402" + "0102030405060708090a0b0c0d0e0f10" + "00000002" + "020000000100000002" + "0100000001" + "00000001" + "00000003" + "00000004" + "00" + "00" + "0100000002" + "00"},
		{&RegisterBrokerRecord{NodeID: 1, IncarnationID: topicA, BrokerEpoch: 2, Host: "h", Port: 9092, Features: []SupportedFeature{{Name: "f", MinLevel: 0, MaxLevel: 2}}},
			"010201" + "00000001" + "0102030405060708090a0b0c0d0e0f10" + "0000000000000002" + "0168" + "00002384" + "00" + "00" + "01" + "0166" + "0000" + "0002"},
		{&FeatureLevelRecord{Name: "f", Level: 258}, "010c00" + "0166" + "0102"},
		{&ClientQuotaRecord{Entity: []QuotaEntityComponent{{Type: "u", Name: strp("a")}, {Type: "c"}}, Key: "k", Value: 1.5},
			"011800" + "02" + "0175" + "0261" + "0163" + "00" + "016b" + "3ff8000000000000" + "00"},
		{&ClientQuotaRecord{Entity: []QuotaEntityComponent{{Type: "ip"}}, Key: "k", Remove: true},
			"011800" + "01" + "026970" + "00" + "016b" + "0000000000000000" + "01"},
		{&AccessControlEntryRecord{ID: topicA, Binding: acl.Binding{ResourceType: acl.ResourceGroup, ResourceName: "g",
			PatternType: acl.PatternLiteral, Principal: "User:a", Host: "*", Operation: acl.OpRead, Permission: acl.PermissionDeny}},
			"011600" + "0102030405060708090a0b0c0d0e0f10" + "03" + "0167" + "03" + "06557365723a61" + "012a" + "03" + "02"},
		{&RemoveAccessControlEntryRecord{ID: topicA}, "011700" + "0102030405060708090a0b0c0d0e0f10"},
	}
	for _, tt := range tests {
		b, err := Encode(tt.give)
		if err != nil {
			t.Fatalf("Encode(%+v) error: %v", tt.give, err)
		}
		if got := hex.EncodeToString(b); got != tt.want {
			t.Errorf("Encode(%+v) = %s, want %s", tt.give, got, tt.want)
		}
	}
}

func TestDecodeRejectsBadInput(t *testing.T) {
	good, _ := Encode(&PartitionRecord{TopicID: topicA, Replicas: []int32{1, 2}, ISR: []int32{1}})
	tests := []struct {
		name string
		give []byte
		want error
	}{
		{"empty", nil, ErrCorrupt},
		{"short header", []byte{1, 4}, ErrCorrupt},
		{"unknown frame version", append([]byte{2}, good[1:]...), ErrUnknownRecord},
		{"unknown type", []byte{1, 200, 0}, ErrUnknownRecord},
		{"type zero", []byte{1, 0, 0}, ErrUnknownRecord},
		{"newer record version", append([]byte{1, 4, 3}, good[3:]...), ErrUnknownRecord},
		{"version 2 without its fields", append([]byte{1, 4, 2}, good[3:]...), ErrCorrupt},
		{"version 1 without its fields", append([]byte{1, 4, 1}, good[3:]...), ErrCorrupt},
		{"trailing byte", append(append([]byte{}, good...), 0), ErrCorrupt},
		{"huge array count", []byte{1, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}, ErrCorrupt},
		{"empty string field", []byte{1, 1, 0, 0}, nil}, // decodes; Apply rejects an empty cluster id
	}
	for _, tt := range tests {
		_, err := Decode(tt.give)
		if tt.want == nil {
			if err != nil {
				t.Errorf("%s: Decode(%x) = %v, want nil", tt.name, tt.give, err)
			}
			continue
		}
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: Decode(%x) = %v, want %v", tt.name, tt.give, err, tt.want)
		}
	}
	for n := range len(good) {
		if _, err := Decode(good[:n]); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Decode(truncated to %d of %d bytes) = %v, want ErrCorrupt", n, len(good), err)
		}
	}
	b, _ := Encode(&RegisterBrokerRecord{Fenced: true})
	b[len(b)-1] = 2
	if _, err := Decode(b); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Decode(bool byte 2) = %v, want ErrCorrupt", err)
	}
}

func TestEncodeRejectsNil(t *testing.T) {
	var p *TopicRecord
	if _, err := Encode(p); err == nil {
		t.Errorf("Encode(typed nil) = nil error, want an error")
	}
	if _, err := EncodeBatch([]Record{nil}); err == nil {
		t.Errorf("EncodeBatch([nil]) = nil error, want an error")
	}
}

func TestBatchRoundTrip(t *testing.T) {
	want := sampleRecords()
	b, err := EncodeBatch(want)
	if err != nil {
		t.Fatalf("EncodeBatch error: %v", err)
	}
	got, err := DecodeBatch(b)
	if err != nil {
		t.Fatalf("DecodeBatch error: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DecodeBatch(EncodeBatch) mismatch (-want +got):\n%s", diff)
	}
	for n := range len(b) {
		if _, err := DecodeBatch(b[:n]); err == nil {
			t.Errorf("DecodeBatch(truncated to %d of %d bytes) = nil error, want an error", n, len(b))
		}
	}
	empty, _ := EncodeBatch(nil)
	if recs, err := DecodeBatch(empty); err != nil || len(recs) != 0 {
		t.Errorf("DecodeBatch(empty batch) = (%v, %v), want no records", recs, err)
	}
}

func TestUUID(t *testing.T) {
	u, err := ParseUUID(topicA.String())
	if err != nil || u != topicA {
		t.Errorf("ParseUUID(%q) = (%v, %v), want %v", topicA.String(), u, err, topicA)
	}
	if len(topicA.String()) != 22 {
		t.Errorf("UUID.String() = %q, want 22 characters", topicA.String())
	}
	if _, err := ParseUUID("short"); err == nil {
		t.Errorf("ParseUUID(short) = nil error, want an error")
	}
	// A reader that first yields all-zero ids, then a good one: NewUUID must
	// skip nothing valid and never return the zero id.
	r := &cycleReader{b: []byte{0x5a}}
	id, err := NewUUID(r)
	if err != nil || id.IsZero() || id[6]>>4 != 4 {
		t.Errorf("NewUUID() = (%v, %v), want a non-zero version-4 id", id, err)
	}
}

type cycleReader struct{ b []byte }

func (c *cycleReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = c.b[i%len(c.b)]
	}
	return len(p), nil
}
