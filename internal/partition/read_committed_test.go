package partition

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/strata-io/strata/internal/record"
	"github.com/strata-io/strata/internal/storage"
)

// txnBatch returns a transactional batch of n records of producer pid.
func txnBatch(t *testing.T, pid int64, seq int32, n int) []byte {
	t.Helper()
	now := time.Now().UnixMilli()
	b := record.NewBuilder(record.CodecNone, now)
	b.SetProducer(pid, 0, seq)
	b.SetTransactional(true)
	for range n {
		b.Add(now, nil, []byte("v"), nil)
	}
	out, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReadCommittedStopsAtLastStableOffset: read_committed reads stop at
// the first offset of the oldest ongoing transaction and name the aborted
// transactions their records overlap; read_uncommitted reads go to the
// high watermark and name none.
func TestReadCommittedStopsAtLastStableOffset(t *testing.T) {
	p := newPartition(t, false) // sole replica: the high watermark follows appends
	now := time.Now()
	mustRead := func(offset int64, committed bool) ReadResult {
		t.Helper()
		res, err := p.Read(offset, 1<<20, true, committed)
		if err != nil {
			t.Fatalf("Read(%d, read_committed=%v): %v", offset, committed, err)
		}
		return res
	}
	if _, err := p.AppendAsLeader(txnBatch(t, 10, 0, 2), now, 1); err != nil { // 0-1, producer 10
		t.Fatal(err)
	}
	mustAppend(t, p, 1, 1) // 2, not transactional
	res := mustRead(0, true)
	if res.LastStableOffset != 0 || res.HighWatermark != 3 || res.Size != 0 || res.AbortedTransactions != nil {
		t.Fatalf("read_committed with producer 10's transaction open = LSO %d HW %d, %d bytes, aborted %v; want LSO 0, HW 3, nothing",
			res.LastStableOffset, res.HighWatermark, res.Size, res.AbortedTransactions)
	}
	if res := mustRead(0, false); res.Size == 0 || res.LastStableOffset != 0 || res.AbortedTransactions != nil {
		t.Fatalf("read_uncommitted = %d bytes, LSO %d, aborted %v; want the records, LSO 0, no aborted list", res.Size, res.LastStableOffset, res.AbortedTransactions)
	}

	// Producer 10 aborts (marker at 3): everything up to the high
	// watermark is stable, and the read names the aborted transaction.
	if _, err := p.AppendControlAsLeader(10, 0, 0, false, now); err != nil {
		t.Fatalf("AppendControlAsLeader(abort): %v", err)
	}
	res = mustRead(0, true)
	if res.LastStableOffset != 4 || res.Size == 0 {
		t.Fatalf("read_committed after the abort = LSO %d, %d bytes; want LSO 4 and the records", res.LastStableOffset, res.Size)
	}
	want := []storage.AbortedTxn{{ProducerID: 10, FirstOffset: 0, LastOffset: 3, LastStableOffset: 4}}
	if diff := cmp.Diff(want, res.AbortedTransactions); diff != "" {
		t.Fatalf("aborted transactions (-want +got):\n%s", diff)
	}

	// Producer 11 commits a transaction (4, marker at 5): a read from 4 on
	// overlaps no aborted transaction.
	if _, err := p.AppendAsLeader(txnBatch(t, 11, 0, 1), now, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := p.AppendControlAsLeader(11, 0, 0, true, now); err != nil {
		t.Fatalf("AppendControlAsLeader(commit): %v", err)
	}
	res = mustRead(4, true)
	if res.LastStableOffset != 6 || res.Size == 0 || len(res.AbortedTransactions) != 0 {
		t.Fatalf("read_committed from 4 = LSO %d, %d bytes, aborted %v; want LSO 6, the records, none aborted", res.LastStableOffset, res.Size, res.AbortedTransactions)
	}
}
