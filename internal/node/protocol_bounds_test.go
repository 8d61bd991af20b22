package node

import (
	"encoding/binary"
	"runtime"
	"testing"
	"time"
)

// TestHostileClaimsCloseTheConnection: a request whose body claims more
// than the bytes present (a 100-byte Metadata request with a 2^31 element
// array, a 2^32-1 tagged field section in 20 bytes) or more than Kafka's
// caps (1,000,000 array elements, 10,000 tagged fields) has its connection
// closed before kmsg decodes it: nothing is allocated for the claim, no
// goroutine spins on it, and the broker goes on serving.
func TestHostileClaimsCloseTheConnection(t *testing.T) {
	tn := startNode(t)
	frame := func(body []byte) []byte {
		return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
	}
	hdr := func(key, version int16) []byte {
		b := binary.BigEndian.AppendUint16(nil, uint16(key))
		b = binary.BigEndian.AppendUint16(b, uint16(version))
		return append(b, 0, 0, 0, 1, 0xff, 0xff) // correlation id 1, null client id
	}
	array2p31 := append(hdr(3, 4), 0x7f, 0xff, 0xff, 0xff)
	array2p31 = append(array2p31, make([]byte, 100-4-len(array2p31))...)
	manyTopics := binary.BigEndian.AppendUint32(hdr(3, 4), 1_000_001)
	manyTopics = append(manyTopics, make([]byte, 2*1_000_001)...) // 1,000,001 empty topic names
	manyTags := append(hdr(3, 12), 0 /* header tags */, 0 /* null topics */, 1, 0)
	manyTags = binary.AppendUvarint(manyTags, 10_001)
	manyTags = append(manyTags, make([]byte, 2*10_001)...)
	tests := []struct {
		name string
		give []byte
	}{
		{"100-byte request claiming a 2^31 element array", frame(array2p31)},
		{"2^32-1 tagged fields in 20 bytes", frame(append(hdr(3, 12), 0, 0, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f))},
		{"1,000,001 topics", frame(manyTopics)},
		{"10,001 tagged fields", frame(manyTags)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			rc := dialRaw(t, tn.addr)
			rc.writeFrame(tt.give)
			start := time.Now()
			rc.expectClosed()
			runtime.ReadMemStats(&after)
			// The frame itself is read into memory; what it claims is not.
			if grew := int64(after.TotalAlloc-before.TotalAlloc) - int64(len(tt.give)); grew > 16<<20 {
				t.Errorf("the broker allocated %d MiB beyond the %d-byte frame", grew>>20, len(tt.give))
			}
			t.Logf("closed %v after the frame was sent", time.Since(start))
			stillServes(t, tn.addr)
		})
	}
}
