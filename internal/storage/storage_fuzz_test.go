package storage

import (
	"bytes"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/strata-io/strata/internal/record"
)

// Properties checked by every decoder fuzzer: no panic, and whatever
// decodes re-encodes to something that decodes to the same value (for the
// binary formats, to the very same bytes).

func FuzzOffsetCheckpoint(f *testing.F) {
	f.Add([]byte("0\n2\na 0 5\nb-c 3 100\n"))
	f.Add([]byte("0\n0\n"))
	f.Add([]byte("0\n1\n__consumer_offsets 49 9223372036854775807\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeOffsetCheckpoint(b)
		if err != nil {
			return
		}
		again, err := decodeOffsetCheckpoint(encodeOffsetCheckpoint(m))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if diff := cmp.Diff(m, again); diff != "" {
			t.Fatalf("decode-encode-decode (-first +second):\n%s", diff)
		}
	})
}

func FuzzEpochCheckpoint(f *testing.F) {
	f.Add([]byte("0\n3\n0 0\n2 10\n7 5000\n"))
	f.Add([]byte("0\n0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := decodeEpochCheckpoint(b)
		if err != nil {
			return
		}
		again, err := decodeEpochCheckpoint(encodeEpochCheckpoint(entries))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if diff := cmp.Diff(entries, again); diff != "" {
			t.Fatalf("decode-encode-decode (-first +second):\n%s", diff)
		}
	})
}

func FuzzPartitionMetadata(f *testing.F) {
	f.Add(encodePartitionMetadata([16]byte{1, 2, 3}))
	f.Add([]byte("version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAA\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := decodePartitionMetadata(b)
		if err != nil {
			return
		}
		again, err := decodePartitionMetadata(encodePartitionMetadata(id))
		if err != nil || again != id {
			t.Fatalf("decode-encode-decode = %x, %v; want %x", again, err, id)
		}
	})
}

func FuzzOffsetIndex(f *testing.F) {
	f.Add(encodeOffsetIndex([]offsetEntry{{1, 0}, {5, 4096}, {9, 9000}}), int64(10000))
	f.Add([]byte{}, int64(0))
	f.Fuzz(func(t *testing.T, b []byte, logSize int64) {
		entries, err := decodeOffsetIndex(b, logSize)
		if err != nil {
			return
		}
		if got := encodeOffsetIndex(entries); !bytes.Equal(got, b) {
			t.Fatalf("re-encode differs: %x, want %x", got, b)
		}
		// Lookups over the decoded entries find the floor.
		v := offsetIndexView{mem: entries}
		for _, e := range entries {
			got, found, err := v.floor(func(x offsetEntry) bool { return x.RelOffset <= e.RelOffset })
			if err != nil || !found || got != e {
				t.Fatalf("floor(%d) = %v, %v, %v; want %v", e.RelOffset, got, found, err, e)
			}
		}
	})
}

func FuzzTimeIndex(f *testing.F) {
	f.Add(encodeTimeIndex([]timeEntry{{100, 0}, {200, 7}, {300, 9}}), int64(10))
	f.Add([]byte{}, int64(0))
	f.Fuzz(func(t *testing.T, b []byte, maxRel int64) {
		entries, err := decodeTimeIndex(b, maxRel)
		if err != nil {
			return
		}
		if got := encodeTimeIndex(entries); !bytes.Equal(got, b) {
			t.Fatalf("re-encode differs: %x, want %x", got, b)
		}
		v := timeIndexView{mem: entries}
		for _, e := range entries {
			got, found, err := floorTimestamp(v, e.Timestamp)
			if err != nil || !found || got != e {
				t.Fatalf("floorTimestamp(%d) = %v, %v, %v; want %v", e.Timestamp, got, found, err, e)
			}
		}
	})
}

func FuzzProducerSnapshot(f *testing.F) {
	s := newProducerState()
	s.producers[3] = &producerEntry{ProducerID: 3, Epoch: 1, LastTimestamp: 5, Batches: []batchMetadata{{0, 1, 10, 11, 5}}, CurrentTxnFirstOffset: 10, CoordinatorEpoch: 4}
	s.producers[9] = &producerEntry{ProducerID: 9, Epoch: 0, LastTimestamp: 7, CurrentTxnFirstOffset: -1, CoordinatorEpoch: -1}
	f.Add(encodeProducerSnapshot(12, s))
	f.Add(encodeProducerSnapshot(0, newProducerState()))
	f.Add(producerSnapshotV1)
	f.Fuzz(func(t *testing.T, b []byte) {
		off, state, err := decodeProducerSnapshot(b)
		if err != nil {
			return
		}
		got := encodeProducerSnapshot(off, state)
		if b[1] == snapshotVersion {
			if !bytes.Equal(got, b) {
				t.Fatalf("re-encode differs:\n%x\nwant\n%x", got, b)
			}
			return
		}
		// Version 1 is read, never written: it must decode the same as
		// the version 2 written from it.
		off2, state2, err := decodeProducerSnapshot(got)
		if err != nil || off2 != off {
			t.Fatalf("decode of re-encoded version 1 = %d, %v; want %d, nil", off2, err, off)
		}
		if diff := cmp.Diff(state, state2, cmp.AllowUnexported(producerState{})); diff != "" {
			t.Fatalf("version 1 re-encoded as 2 decodes differently (-v1 +v2):\n%s", diff)
		}
	})
}

func FuzzTxnIndex(f *testing.F) {
	f.Add(encodeTxnIndex([]AbortedTxn{abortedP2, abortedP1, abortedP4}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := decodeTxnIndex(b)
		if err != nil {
			return
		}
		if len(entries) != len(b)/txnEntrySize {
			t.Fatalf("decoded %d entries from %d bytes", len(entries), len(b))
		}
		if got := encodeTxnIndex(entries); !bytes.Equal(got, b) {
			t.Fatalf("re-encode differs:\n%x\nwant\n%x", got, b)
		}
		// Every range query answers within the entries, oldest first.
		if len(entries) > 0 {
			lo, hi := entries[0].FirstOffset, entries[len(entries)-1].LastOffset+1
			got, _ := collectAbortedTxns(nil, entries, lo, hi)
			if len(got) > len(entries) {
				t.Fatalf("collectAbortedTxns(%d, %d) returned %d of %d entries", lo, hi, len(got), len(entries))
			}
		}
	})
}

// validPrefix is an in-memory oracle for segment recovery: the length and
// next offset of the longest run of valid batches at the start of b, for a
// segment based at 0.
func validPrefix(b []byte) (size, next int64, batches int) {
	table := crc32.MakeTable(crc32.Castagnoli)
	rest := b
	for len(rest) > 0 {
		batch, r, err := record.NextBatch(rest)
		if err != nil {
			break
		}
		h, err := record.ParseHeader(batch)
		if err != nil || h.Magic != 2 || crc32.Checksum(batch[21:], table) != h.CRC {
			break
		}
		if h.BaseOffset < next || h.LastOffsetDelta < 0 || h.NumRecords < 0 || int64(h.NumRecords) > int64(h.LastOffsetDelta)+1 ||
			h.Codec() > record.CodecZstd || h.BaseOffset > math.MaxInt32-int64(h.LastOffsetDelta) {
			break
		}
		size += int64(len(batch))
		next = h.NextOffset()
		batches++
		rest = r
	}
	return size, next, batches
}

func FuzzSegmentRecovery(f *testing.F) {
	var seed []byte
	for i := range 4 {
		s := spec(1+i).idem(int64(i%2), 0, int32(i*3))
		b := buildBatch(f, s)
		record.SetBaseOffset(b, int64(len(seed)/10)) // any increasing offsets
		record.SetPartitionLeaderEpoch(b, int32(i))
		seed = append(seed, b...)
	}
	f.Add(seed)
	f.Add(seed[:len(seed)-7])
	f.Add(append(bytes.Clone(seed), 0, 0, 0, 0))
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0}, 200))
	f.Fuzz(func(t *testing.T, segment []byte) {
		dir := t.TempDir()
		pdir := filepath.Join(dir, testTP.String())
		if err := os.MkdirAll(pdir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(pdir, segmentFileName(0, logFileSuffix)), segment, 0o644); err != nil {
			t.Fatal(err)
		}
		clock := newTestClock()
		d, err := OpenLogDir(testConfig(dir, clock))
		if err != nil {
			return
		}
		defer d.Close()
		l, ok := d.Log(testTP)
		if !ok {
			t.Fatalf("log missing after open")
		}
		wantSize, wantNext, wantBatches := validPrefix(segment)
		if l.LogEndOffset() != wantNext || l.Size() != wantSize {
			t.Fatalf("after recovery: LEO %d size %d; want %d %d", l.LogEndOffset(), l.Size(), wantNext, wantSize)
		}
		if got := fileSize(t, filepath.Join(pdir, segmentFileName(0, logFileSuffix))); got != wantSize {
			t.Fatalf("segment file is %d bytes, want %d", got, wantSize)
		}
		if got := countBatches(t, l); got != wantBatches {
			t.Fatalf("readAll = %d batches, want %d", got, wantBatches)
		}
		if _, err := l.AppendAsLeader(buildBatch(t, spec(1)), max(l.LatestEpoch(), 0), t0); err != nil {
			t.Fatalf("append after recovery: %v", err)
		}
	})
}

// countBatches reads the whole log and counts its batches by framing alone.
func countBatches(t *testing.T, l *Log) int {
	t.Helper()
	res, err := l.Read(l.LogStartOffset(), math.MaxInt32, l.LogEndOffset(), true)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	b, err := res.AppendTo(nil)
	if err != nil {
		t.Fatalf("AppendTo: %v", err)
	}
	n := 0
	for len(b) > 0 {
		if _, b, err = record.NextBatch(b); err != nil {
			t.Fatalf("NextBatch: %v", err)
		}
		n++
	}
	return n
}
