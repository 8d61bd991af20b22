package group

import (
	"bytes"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestPartitionForMatchesKafka(t *testing.T) {
	// Expected values are Java's String.hashCode worked out by hand
	// (h = 31*h + UTF-16 unit, int32 wraparound), then Kafka's
	// Utils.abs(h) % 50.
	tests := []struct {
		give string
		want int32
	}{
		{"", 0},                       // h = 0
		{"a", 47},                     // h = 97
		{"ab", 5},                     // h = 97*31 + 98 = 3105
		{"group", 47},                 // h = 98629247
		{"é", 33},                     // U+00E9: h = 233
		{"😀", 49},                     // U+1F600 = D83D DE00: h = 55357*31 + 56832 = 1772899
		{"my-consumer-group", 13},     // h = 1513705513
		{"console-consumer-12345", 6}, // h = 158455506
		{"日本語グループ", 31},               // h = -305235731 (negative: abs)
		{"polygenelubricants", 0},     // h = MinInt32: Kafka's abs gives 0
	}
	c := NewCoordinator(Config{NumPartitions: 50})
	for _, tt := range tests {
		if got := c.PartitionFor(tt.give); got != tt.want {
			t.Errorf("PartitionFor(%q) = %d, want %d", tt.give, got, tt.want)
		}
	}
}

func TestRecordEncodingIsKafkas(t *testing.T) {
	rec := offsetCommitRecord("g", "t", 2, offsetEntry{offset: 5, leaderEpoch: 1, metadata: "m", commitTimestamp: 9, expireTimestamp: -1})
	wantKey := []byte{0, 1, 0, 1, 'g', 0, 1, 't', 0, 0, 0, 2}
	wantValue := []byte{0, 3, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 1, 0, 1, 'm', 0, 0, 0, 0, 0, 0, 0, 9}
	if !bytes.Equal(rec.Key, wantKey) || !bytes.Equal(rec.Value, wantValue) {
		t.Fatalf("offsetCommitRecord = %x / %x, want %x / %x", rec.Key, rec.Value, wantKey, wantValue)
	}
	withExpire := offsetCommitRecord("g", "t", 2, offsetEntry{offset: 5, leaderEpoch: 1, metadata: "m", commitTimestamp: 9, expireTimestamp: 10})
	if withExpire.Value[1] != 1 {
		t.Fatalf("offset commit with an expire timestamp: value version %d, want 1", withExpire.Value[1])
	}
	d, err := decodeRecord(withExpire.Key, withExpire.Value)
	if err != nil {
		t.Fatalf("decodeRecord: %v", err)
	}
	if got := entryFromValue(d.offsetValue); got.expireTimestamp != 10 || got.leaderEpoch != -1 {
		t.Fatalf("decoded v1 entry %+v, want expire 10, leader epoch -1", got)
	}

	if g := groupTombstone("g"); !bytes.Equal(g.Key, []byte{0, 2, 0, 1, 'g'}) || g.Value != nil {
		t.Fatalf("groupTombstone = %x / %x, want key 0002 0001 67 and nil value", g.Key, g.Value)
	}
	v := kmsg.NewGroupMetadataValue()
	v.ProtocolType, v.Generation = "consumer", 3
	gm := groupMetadataRecord("g", &v)
	if gm.Value[1] != 3 {
		t.Fatalf("group metadata value version %d, want 3", gm.Value[1])
	}
}

func TestDecodeRecordErrors(t *testing.T) {
	tests := []struct {
		name       string
		key, value []byte
		unknown    bool
	}{
		{name: "short key", key: []byte{0}},
		{name: "truncated offset key", key: []byte{0, 1, 0, 5, 'a'}},
		{name: "truncated group key", key: []byte{0, 2, 0, 5}},
		{name: "offset value of unknown version", key: offsetCommitKey("g", "t", 0), value: []byte{0, 9, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		{name: "truncated group value", key: groupMetadataKey("g"), value: []byte{0, 3, 0, 8}},
		{name: "unknown type", key: []byte{0, 42, 0, 0}, unknown: true},
		{name: "truncated consumer group member key", key: []byte{0, 7, 0, 1, 'g', 0, 5}},
		{name: "consumer group value of unknown version", key: []byte{0, 3, 0, 1, 'g'}, value: []byte{0, 1, 0, 0, 0, 1, 0}},
		{name: "consumer group value with trailing bytes", key: []byte{0, 3, 0, 1, 'g'}, value: []byte{0, 0, 0, 0, 0, 1, 0, 9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeRecord(tt.key, tt.value)
			var u errUnknownRecordType
			if tt.unknown {
				if !errors.As(err, &u) {
					t.Fatalf("decodeRecord(%x, %x) = %v, want an unknown record type", tt.key, tt.value, err)
				}
				return
			}
			if !errors.Is(err, ErrCorruptRecord) {
				t.Fatalf("decodeRecord(%x, %x) = %v, want ErrCorruptRecord", tt.key, tt.value, err)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v, want nil", err)
	}
	bad := DefaultConfig()
	bad.NumPartitions = 0
	bad.GroupMaxSessionTimeout = bad.GroupMinSessionTimeout / 2
	bad.Logger = nil
	err := bad.Validate()
	if err == nil {
		t.Fatalf("Validate of a bad config = nil, want errors")
	}
	if n := len(err.(interface{ Unwrap() []error }).Unwrap()); n != 3 {
		t.Fatalf("Validate reported %d problems, want 3: %v", n, err)
	}
}
