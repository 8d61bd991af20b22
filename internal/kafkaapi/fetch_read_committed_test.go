package kafkaapi

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/record"
)

// TestFetchReadCommittedOverTheWire: a read_committed fetch stops at the
// last stable offset and lists the aborted transactions its records
// overlap; ListOffsets latest answers the last stable offset for
// read_committed and the high watermark otherwise.
func TestFetchReadCommittedOverTheWire(t *testing.T) {
	wh := newWireHandler(t)
	s := startWire(t, wh.h, false)
	w := dialWire(t, s.Addr().String())
	now := time.Now()
	txn := func(pid int64) []byte {
		b := record.NewBuilder(record.CodecNone, now.UnixMilli())
		b.SetProducer(pid, 0, 0)
		b.SetTransactional(true)
		b.Add(now.UnixMilli(), nil, []byte("in a transaction"), nil)
		out, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// 0: producer 7 (aborted at 1); 2: producer 8 (open); 3: plain.
	if _, err := wh.p.AppendAsLeader(txn(7), now, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := wh.p.AppendControlAsLeader(7, 0, 0, false, now); err != nil {
		t.Fatal(err)
	}
	if _, err := wh.p.AppendAsLeader(txn(8), now, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := wh.p.AppendAsLeader(batchOf(t, 0, 1, 10), now, 1); err != nil {
		t.Fatal(err)
	}

	fetch := func(isolation int8) kmsg.FetchResponseTopicPartition {
		req := wh.fetchRequest(12, 0, 1<<20)
		req.IsolationLevel = isolation
		resp := kmsg.NewPtrFetchResponse()
		resp.Version = 12
		w.receive(t, w.send(t, req), resp)
		return resp.Topics[0].Partitions[0]
	}
	got := fetch(1)
	if got.ErrorCode != 0 || got.HighWatermark != 4 || got.LastStableOffset != 2 {
		t.Fatalf("read_committed fetch = error %d, HW %d, LSO %d; want 0, 4, 2", got.ErrorCode, got.HighWatermark, got.LastStableOffset)
	}
	var offsets []int64
	for rest := got.RecordBatches; len(rest) > 0; {
		b, r, err := record.NextBatch(rest)
		if err != nil {
			t.Fatal(err)
		}
		rest = r
		h, _ := record.ParseHeader(b)
		offsets = append(offsets, h.BaseOffset)
	}
	if diff := cmp.Diff([]int64{0, 1}, offsets); diff != "" {
		t.Errorf("read_committed batches (-want +got):\n%s", diff)
	}
	if len(got.AbortedTransactions) != 1 || got.AbortedTransactions[0].ProducerID != 7 || got.AbortedTransactions[0].FirstOffset != 0 {
		t.Errorf("read_committed aborted transactions = %+v, want producer 7 from offset 0", got.AbortedTransactions)
	}
	got = fetch(0)
	if got.LastStableOffset != 2 || got.AbortedTransactions != nil || len(got.RecordBatches) == 0 {
		t.Errorf("read_uncommitted fetch = LSO %d, aborted %+v, %d bytes; want LSO 2, a null aborted list, the records", got.LastStableOffset, got.AbortedTransactions, len(got.RecordBatches))
	}

	for _, tt := range []struct {
		isolation int8
		want      int64
	}{{0, 4}, {1, 2}} {
		req := kmsg.NewPtrListOffsetsRequest()
		req.Version, req.IsolationLevel = 7, tt.isolation
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp = -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := kmsg.NewPtrListOffsetsResponse()
		resp.Version = 7
		w.receive(t, w.send(t, req), resp)
		if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.Offset != tt.want {
			t.Errorf("ListOffsets latest, isolation %d = error %d offset %d, want %d", tt.isolation, p.ErrorCode, p.Offset, tt.want)
		}
	}
}
