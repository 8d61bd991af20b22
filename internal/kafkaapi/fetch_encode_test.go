package kafkaapi

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/server"
	"github.com/strata-io/strata/internal/storage"
)

// resolveBody returns the bytes b stands for, reading its file sections.
func resolveBody(t *testing.T, b *server.Body) []byte {
	t.Helper()
	var out []byte
	for _, p := range b.Pieces {
		if p.File == nil {
			out = append(out, p.Bytes...)
			continue
		}
		buf := make([]byte, p.Size)
		if _, err := p.File.ReadAt(buf, p.Pos); err != nil {
			t.Fatalf("ReadAt(%d, %d) of %s: %v", p.Size, p.Pos, p.File.Name(), err)
		}
		out = append(out, buf...)
	}
	return out
}

// randomFetchResponse builds a response of version v with every field the
// broker may set, and for each partition its record bytes (nil, empty or
// random) in response order.
func randomFetchResponse(rng *rand.Rand, v int16) (*kmsg.FetchResponse, [][]byte) {
	str := func() string {
		n := rng.IntN(12)
		if rng.IntN(8) == 0 {
			n = 120 + rng.IntN(200) // multi-byte length varints
		}
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('a' + rng.IntN(26))
		}
		if n > 0 && rng.IntN(4) == 0 {
			return string(b) + "é"
		}
		return string(b)
	}
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = v
	resp.ThrottleMillis = rng.Int32N(1000)
	resp.ErrorCode = int16(rng.IntN(3)) * 35
	resp.SessionID = rng.Int32()
	var recs [][]byte
	for range rng.IntN(4) {
		rt := kmsg.NewFetchResponseTopic()
		rt.Topic = str()
		for i := range rt.TopicID {
			rt.TopicID[i] = byte(rng.IntN(256))
		}
		for range rng.IntN(5) {
			rp := kmsg.NewFetchResponseTopicPartition()
			rp.Partition = rng.Int32N(1000)
			rp.ErrorCode = []int16{0, 0, 0, 1, 6, 74}[rng.IntN(6)]
			rp.HighWatermark = rng.Int64N(1 << 40)
			rp.LastStableOffset = rng.Int64N(1<<40) - 1
			rp.LogStartOffset = rng.Int64N(1<<40) - 1
			switch rng.IntN(3) {
			case 0: // nil: null array
			case 1:
				rp.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
			case 2:
				for range 1 + rng.IntN(3) {
					a := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
					a.ProducerID, a.FirstOffset = rng.Int64(), rng.Int64N(1<<40)
					rp.AbortedTransactions = append(rp.AbortedTransactions, a)
				}
			}
			if rng.IntN(3) == 0 {
				rp.PreferredReadReplica = rng.Int32N(5)
			}
			// Tagged structs: default (not sent), or either or both fields
			// differing from the default -1 (e.g. a leaderless hint).
			tagged := func(a *int32, b *int64) {
				switch rng.IntN(4) {
				case 1:
					*a = rng.Int32N(100)
				case 2:
					*b = rng.Int64N(1 << 40)
				case 3:
					*a, *b = rng.Int32N(100), rng.Int64N(1<<40)
				}
			}
			tagged(&rp.DivergingEpoch.Epoch, &rp.DivergingEpoch.EndOffset)
			tagged(&rp.SnapshotID.Epoch, &rp.SnapshotID.EndOffset)
			switch rng.IntN(4) {
			case 1:
				rp.CurrentLeader.LeaderID = rng.Int32N(5)
			case 2:
				rp.CurrentLeader.LeaderEpoch = rng.Int32N(100)
			case 3:
				rp.CurrentLeader.LeaderID, rp.CurrentLeader.LeaderEpoch = rng.Int32N(5), rng.Int32N(100)
			}
			var r []byte
			switch rng.IntN(4) {
			case 0: // nil: null records
			case 1:
				r = []byte{}
			default:
				n := 1 + rng.IntN(300)
				if rng.IntN(4) == 0 {
					n = 16<<10 + rng.IntN(20000)
				}
				r = make([]byte, n)
				for i := range r {
					r[i] = byte(rng.IntN(256))
				}
			}
			recs = append(recs, r)
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	for range rng.IntN(3) {
		b := kmsg.NewFetchResponseBroker()
		b.NodeID, b.Host, b.Port = rng.Int32N(10), str(), rng.Int32N(65536)
		if rng.IntN(2) == 0 {
			rack := str()
			b.Rack = &rack
		}
		resp.Brokers = append(resp.Brokers, b)
	}
	return resp, recs
}

// chunksOf writes data to f and returns sections covering it, cut into one
// to three chunks.
func chunksOf(t *testing.T, rng *rand.Rand, f *os.File, data []byte) []storage.Chunk {
	t.Helper()
	pos, err := f.Seek(0, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	var out []storage.Chunk
	for len(data) > 0 {
		n := len(data)
		if rng.IntN(2) == 0 {
			n = 1 + rng.IntN(len(data))
		}
		out = append(out, storage.Chunk{File: f, Pos: pos, Size: int64(n)})
		pos += int64(n)
		data = data[n:]
	}
	return out
}

func TestFetchEncodingMatchesKmsg(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	f, err := os.Create(filepath.Join(t.TempDir(), "records"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for v := int16(0); v <= 17; v++ {
		for i := range 200 {
			resp, recs := randomFetchResponse(rng, v)
			// The encoder reads records from files; kmsg from the bytes.
			chunks := make([][]storage.Chunk, len(recs))
			j := 0
			for ti := range resp.Topics {
				for pi := range resp.Topics[ti].Partitions {
					rp := &resp.Topics[ti].Partitions[pi]
					rp.RecordBatches = recs[j]
					if len(recs[j]) > 0 && rng.IntN(4) != 0 {
						chunks[j] = chunksOf(t, rng, f, recs[j])
					}
					j++
				}
			}
			want := resp.AppendTo(nil)
			// Records in files are not in the message the encoder sees.
			for ti := range resp.Topics {
				for pi := range resp.Topics[ti].Partitions {
					if rp := &resp.Topics[ti].Partitions[pi]; len(rp.RecordBatches) > 0 && chunks[flatIndex(resp, ti, pi)] != nil {
						rp.RecordBatches = []byte{}
					}
				}
			}
			body := encodeFetchResponse(resp, chunks)
			got := resolveBody(t, body)
			if body.Flexible != resp.IsFlexible() {
				t.Fatalf("v%d #%d: Body.Flexible = %v, want %v", v, i, body.Flexible, resp.IsFlexible())
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("v%d #%d: encodeFetchResponse differs from kmsg at byte %d of %d/%d\ngot  %x\nwant %x",
					v, i, firstDiff(got, want), len(got), len(want), clip(got), clip(want))
			}
			if n := body.Len(); n != int64(len(want)) {
				t.Fatalf("v%d #%d: Body.Len() = %d, want %d", v, i, n, len(want))
			}
		}
	}
}

func flatIndex(resp *kmsg.FetchResponse, ti, pi int) int {
	n := 0
	for i := range ti {
		n += len(resp.Topics[i].Partitions)
	}
	return n + pi
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func clip(b []byte) string {
	if len(b) > 200 {
		return fmt.Sprintf("%x...", b[:200])
	}
	return fmt.Sprintf("%x", b)
}

// TestFetchEncodingKeepsRecordsOutOfMemory checks that records in files
// stay file pieces: the framing is all the encoder copies.
func TestFetchEncodingKeepsRecordsOutOfMemory(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "records"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = 16
	rt := kmsg.NewFetchResponseTopic()
	for p := range int32(3) {
		rp := kmsg.NewFetchResponseTopicPartition()
		rp.Partition = p
		rp.RecordBatches = []byte{}
		rt.Partitions = append(rt.Partitions, rp)
	}
	resp.Topics = append(resp.Topics, rt)
	chunks := [][]storage.Chunk{
		{{File: f, Pos: 0, Size: 1 << 20}, {File: f, Pos: 1 << 20, Size: 4096}},
		nil,
		{{File: f, Pos: 8 << 20, Size: 3 << 20}},
	}
	body := encodeFetchResponse(resp, chunks)
	var files, framing int64
	var sections []storage.Chunk
	for _, p := range body.Pieces {
		if p.File != nil {
			files += p.Size
			sections = append(sections, storage.Chunk{File: p.File, Pos: p.Pos, Size: p.Size})
		} else {
			framing += int64(len(p.Bytes))
		}
	}
	want := []storage.Chunk{chunks[0][0], chunks[0][1], chunks[2][0]}
	if len(sections) != len(want) {
		t.Fatalf("encodeFetchResponse file pieces = %v, want %v", sections, want)
	}
	for i := range want {
		if sections[i].File != want[i].File || sections[i].Pos != want[i].Pos || sections[i].Size != want[i].Size {
			t.Fatalf("encodeFetchResponse file piece %d = %+v, want %+v", i, sections[i], want[i])
		}
	}
	if files != 4<<20+4096 || framing > 200 {
		t.Fatalf("encodeFetchResponse = %d file bytes and %d framing bytes, want %d and under 200", files, framing, 4<<20+4096)
	}
}
