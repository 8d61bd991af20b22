package txn

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kafkaV0Value builds a version 0 TransactionLogValue byte by byte from
// Kafka's schema, independently of kmsg.
func kafkaV0Value(pid int64, epoch int16, timeout int32, state int8, topics map[string][]int32, order []string, last, start int64) []byte {
	b := binary.BigEndian.AppendUint16(nil, 0)
	b = binary.BigEndian.AppendUint64(b, uint64(pid))
	b = binary.BigEndian.AppendUint16(b, uint16(epoch))
	b = binary.BigEndian.AppendUint32(b, uint32(timeout))
	b = append(b, byte(state))
	if order == nil {
		b = binary.BigEndian.AppendUint32(b, 0xffffffff) // null array
	} else {
		b = binary.BigEndian.AppendUint32(b, uint32(len(order)))
	}
	for _, t := range order {
		b = binary.BigEndian.AppendUint16(b, uint16(len(t)))
		b = append(b, t...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(topics[t])))
		for _, p := range topics[t] {
			b = binary.BigEndian.AppendUint32(b, uint32(p))
		}
	}
	b = binary.BigEndian.AppendUint64(b, uint64(last))
	return binary.BigEndian.AppendUint64(b, uint64(start))
}

func TestRecordEncodingIsKafkas(t *testing.T) {
	wantKey := append(binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, 0), 5), "txn-1"...)
	if diff := cmp.Diff(wantKey, EncodeKey("txn-1")); diff != "" {
		t.Errorf("EncodeKey(txn-1) (-want +got):\n%s", diff)
	}
	m := &Metadata{
		ProducerID: 4000, ProducerEpoch: 3, TimeoutMs: 60000, State: kmsg.TransactionStateOngoing,
		Partitions:          []Partition{{"a", 1}, {"b", 0}, {"a", 0}},
		LastUpdateTimestamp: 1700000000123, StartTimestamp: 1700000000000,
		PreviousProducerID: -1, NextProducerID: -1, NextProducerEpoch: -1,
	}
	want := kafkaV0Value(4000, 3, 60000, 1, map[string][]int32{"a": {1, 0}, "b": {0}}, []string{"a", "b"}, 1700000000123, 1700000000000)
	if diff := cmp.Diff(want, EncodeValue(m, false)); diff != "" {
		t.Errorf("EncodeValue(v0) (-want +got):\n%s", diff)
	}
	// Empty writes a null partition array, as Kafka does.
	empty := *m
	empty.State = kmsg.TransactionStateEmpty
	want = kafkaV0Value(4000, 3, 60000, 0, nil, nil, 1700000000123, 1700000000000)
	if diff := cmp.Diff(want, EncodeValue(&empty, false)); diff != "" {
		t.Errorf("EncodeValue(Empty) (-want +got):\n%s", diff)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	base := Metadata{
		ProducerID: 7, ProducerEpoch: 1, TimeoutMs: 900000, State: kmsg.TransactionStatePrepareCommit,
		Partitions:          []Partition{{"out", 2}, {"out", 0}, {"__consumer_offsets", 17}},
		LastUpdateTimestamp: 20, StartTimestamp: 10,
		PreviousProducerID: -1, NextProducerID: -1, NextProducerEpoch: -1,
	}
	flexible := base
	flexible.PreviousProducerID, flexible.NextProducerID, flexible.NextProducerEpoch, flexible.ClientTransactionVersion = 6, 8, 0, 2
	sorted := []Partition{{"out", 2}, {"out", 0}, {"__consumer_offsets", 17}}
	tests := []struct {
		name     string
		give     Metadata
		flexible bool
		want     Metadata
	}{
		{"v0", base, false, base},
		{"v0 drops the flexible fields", flexible, false, base},
		{"v1", flexible, true, flexible},
	}
	for _, tt := range tests {
		got, err := DecodeValue(EncodeValue(&tt.give, tt.flexible))
		if err != nil {
			t.Fatalf("%s: DecodeValue: %v", tt.name, err)
		}
		tt.want.Partitions = sorted
		if diff := cmp.Diff(&tt.want, got); diff != "" {
			t.Errorf("%s: round trip (-want +got):\n%s", tt.name, diff)
		}
	}
	id, err := DecodeKey(EncodeKey("é-id"))
	if err != nil || id != "é-id" {
		t.Errorf("DecodeKey(EncodeKey(é-id)) = %q, %v", id, err)
	}
}

func TestDecodeRejectsBadRecords(t *testing.T) {
	if m, err := DecodeValue(nil); m != nil || err != nil {
		t.Errorf("DecodeValue(nil) = %v, %v; want a tombstone (nil, nil)", m, err)
	}
	valid := EncodeValue(&Metadata{State: kmsg.TransactionStateOngoing, Partitions: []Partition{{"t", 0}}}, false)
	badState := append([]byte(nil), valid...)
	badState[16] = 9 // version 2, pid 8, epoch 2, timeout 4: state at 16
	tests := []struct {
		name string
		key  []byte
		val  []byte
		want error
	}{
		{"short key", []byte{0}, nil, ErrCorruptRecord},
		{"key version 1", binary.BigEndian.AppendUint16(nil, 1), nil, ErrUnknownVersion},
		{"truncated key", []byte{0, 0, 0, 9, 'a'}, nil, ErrCorruptRecord},
		{"value version 2", nil, binary.BigEndian.AppendUint16(nil, 2), ErrUnknownVersion},
		{"truncated value", nil, valid[:len(valid)-3], ErrCorruptRecord},
		{"one byte value", nil, []byte{0}, ErrCorruptRecord},
		{"unknown state", nil, badState, ErrCorruptRecord},
		{"huge partition count", nil, append(valid[:17:17], 0x7f, 0xff, 0xff, 0xff), ErrCorruptRecord},
	}
	for _, tt := range tests {
		var err error
		if tt.key != nil {
			_, err = DecodeKey(tt.key)
		} else {
			_, err = DecodeValue(tt.val)
		}
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: decode = %v, want %v", tt.name, err, tt.want)
		}
	}
}

// FuzzDecodeRecord: decoding arbitrary bytes never panics, and a value
// that decodes re-encodes to a value that decodes to the same metadata.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(EncodeKey("t"), EncodeValue(&Metadata{ProducerID: 1, State: kmsg.TransactionStateOngoing, Partitions: []Partition{{"x", 1}}}, false))
	f.Add(EncodeKey(""), EncodeValue(&Metadata{ProducerID: 2, State: kmsg.TransactionStateCompleteAbort, NextProducerID: 3}, true))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		DecodeKey(key)
		m, err := DecodeValue(value)
		if err != nil || m == nil {
			return
		}
		flexible := binary.BigEndian.Uint16(value) == uint16(valueVersionFlexible)
		again, err := DecodeValue(EncodeValue(m, flexible))
		if err != nil {
			t.Fatalf("re-encoded value does not decode: %v", err)
		}
		if diff := cmp.Diff(m, again); diff != "" {
			t.Fatalf("decode-encode-decode differs (-first +second):\n%s", diff)
		}
	})
}
