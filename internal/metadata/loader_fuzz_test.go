package metadata

import (
	"encoding/binary"
	"testing"
)

// FuzzLoader drives the raft state machine as hashicorp/raft does: a
// snapshot restore, then committed entries (any bytes) applied in order.
// Bad entries are skipped with an error, never a panic; whatever state
// results snapshots and restores (as a follower installing the leader's
// snapshot) to the same bytes.
//
// Input: a 4-byte big-endian length and the snapshot, then entries each
// as a 4-byte length and its bytes.
func FuzzLoader(f *testing.F) {
	frame := func(parts ...[]byte) []byte {
		var out []byte
		for _, p := range parts {
			out = binary.BigEndian.AppendUint32(out, uint32(len(p)))
			out = append(out, p...)
		}
		return out
	}
	snap, _ := sampleImage(f).MarshalSnapshot()
	empty, _ := Empty().MarshalSnapshot()
	batch, _ := EncodeBatch(sampleRecords())
	var entries [][]byte
	for _, r := range sampleRecords() {
		b, _ := EncodeBatch([]Record{r})
		entries = append(entries, b)
	}
	f.Add(frame(append([][]byte{empty}, entries...)...))
	f.Add(frame(empty, batch))
	f.Add(frame(snap, batch))
	f.Add(frame(snap))
	f.Add(frame(nil, []byte{1, 0}))
	f.Fuzz(func(t *testing.T, in []byte) {
		var parts [][]byte
		for len(in) >= 4 {
			n := binary.BigEndian.Uint32(in)
			in = in[4:]
			if uint64(n) > uint64(len(in)) {
				n = uint32(len(in))
			}
			parts = append(parts, in[:n])
			in = in[n:]
		}
		if len(parts) == 0 {
			return
		}
		l := NewLoader(LoaderConfig{})
		if len(parts[0]) > 0 {
			_ = l.Restore(parts[0])
		}
		for i, e := range parts[1:] {
			_ = l.Apply(l.Image().Index()+uint64(i)+1, e)
		}
		s1, err := l.Snapshot()
		if err != nil {
			t.Fatalf("Snapshot: %v", err)
		}
		l2 := NewLoader(LoaderConfig{})
		if err := l2.Restore(s1); err != nil {
			t.Fatalf("Restore of the loader's own snapshot: %v", err)
		}
		s2, err := l2.Snapshot()
		if err != nil || string(s1) != string(s2) {
			t.Fatalf("snapshot-restore-snapshot changed the bytes (%d -> %d, %v)", len(s1), len(s2), err)
		}
	})
}
