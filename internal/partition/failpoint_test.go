//go:build failpoints

package partition

import (
	"context"
	"testing"
	"time"

	"github.com/strata-io/strata/internal/failpoint"
	"github.com/strata-io/strata/internal/record"
)

// enable switches a failpoint on for the rest of the test.
func enable(t *testing.T, name failpoint.Name, spec string) {
	t.Helper()
	restore, err := failpoint.Enable(name, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(restore)
}

// firstOffsets lists the base offsets of the batches a read returned.
func firstOffsets(t *testing.T, res ReadResult) []int64 {
	t.Helper()
	b, err := res.AppendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for len(b) > 0 {
		batch, rest, err := record.NextBatch(b)
		if err != nil {
			t.Fatal(err)
		}
		h, err := record.ParseHeader(batch)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h.BaseOffset)
		b = rest
	}
	return out
}

// TestFailpointAckBeforeISRAnswersBeforeTheHighWatermark: with no follower fetching,
// an acks=all write waits; with ack-before-isr it is acknowledged at once
// although the high watermark is below it: only the leader has it.
func TestFailpointAckBeforeISRAnswersBeforeTheHighWatermark(t *testing.T) {
	p, _, _ := newLeader(t, 2)
	end := mustAppend(t, p, 2, -1)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := p.WaitCommitted(ctx, end, -1); err != context.DeadlineExceeded {
		t.Fatalf("WaitCommitted without the failpoint = %v, want it to wait (deadline exceeded)", err)
	}

	enable(t, failpoint.AckBeforeISR, "return")
	end = mustAppend(t, p, 3, -1)
	if err := p.WaitCommitted(t.Context(), end, -1); err != nil {
		t.Fatalf("WaitCommitted with ack-before-isr = %v, want nil at once", err)
	}
	if hw := p.HighWatermark(); hw != 0 {
		t.Fatalf("HighWatermark = %d, want 0: no follower has the records", hw)
	}
	// A follower that becomes leader now has none of the acknowledged
	// records: the acknowledged write is lost.
	f := New(openLog(t), Config{NodeID: 2}, LeaderAndISR{Leader: 2, LeaderEpoch: 2, PartitionEpoch: 2, Replicas: []int32{1, 2, 3}, ISR: []int32{2, 3}})
	if leo := f.Log().LogEndOffset(); leo != 0 {
		t.Fatalf("new leader's log end offset = %d", leo)
	}
}

// TestFailpointServePastHWReadsToTheLogEnd: a consumer read stops at the high
// watermark; with serve-past-hw it returns records no follower has.
func TestFailpointServePastHWReadsToTheLogEnd(t *testing.T) {
	p, _, _ := newLeader(t, 1)
	mustAppend(t, p, 2, -1)
	mustAppend(t, p, 2, -1)
	res, err := p.Read(0, 1<<20, true, false)
	if err != nil || res.Size != 0 || res.HighWatermark != 0 {
		t.Fatalf("Read without the failpoint = %d bytes, HW %d, err %v; want nothing below HW 0", res.Size, res.HighWatermark, err)
	}
	enable(t, failpoint.ServePastHW, "return")
	res, err = p.Read(0, 1<<20, true, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := firstOffsets(t, res); len(got) != 2 || got[0] != 0 || got[1] != 2 || res.HighWatermark != 4 {
		t.Fatalf("Read with serve-past-hw = batches at %v, HW %d; want [0 2] and HW 4 (the log end)", got, res.HighWatermark)
	}
	if hw := p.HighWatermark(); hw != 0 {
		t.Fatalf("the real high watermark moved to %d", hw)
	}
}

// TestFailpointReadCommittedIgnoresAbortsDropsTheAbortedList: a read_committed read
// over an aborted transaction names it, so the client drops its records;
// with the failpoint it names none and the client delivers them.
func TestFailpointReadCommittedIgnoresAbortsDropsTheAbortedList(t *testing.T) {
	p := newPartition(t, false)
	now := time.Now()
	if _, err := p.AppendAsLeader(txnBatch(t, 10, 0, 2), now, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := p.AppendControlAsLeader(10, 0, 0, false, now); err != nil {
		t.Fatal(err)
	}
	res, err := p.Read(0, 1<<20, true, true)
	if err != nil || res.Size == 0 || len(res.AbortedTransactions) != 1 {
		t.Fatalf("read_committed = %d bytes, aborted %v, err %v; want the records and one aborted transaction", res.Size, res.AbortedTransactions, err)
	}
	enable(t, failpoint.ReadCommittedIgnoresAborts, "return")
	res, err = p.Read(0, 1<<20, true, true)
	if err != nil || res.Size == 0 || len(res.AbortedTransactions) != 0 {
		t.Fatalf("read_committed with the failpoint = %d bytes, aborted %v, err %v; want the records and no aborted list", res.Size, res.AbortedTransactions, err)
	}
}

// TestFailpointFetchSkipBatchSkipsOneBatch: a read from offset 0 starts at batch 0;
// with fetch-skip-batch a read starts at the batch after the fetch offset's,
// except a read of the last batch below the high watermark; once the
// failpoint is off reads are right again.
func TestFailpointFetchSkipBatchSkipsOneBatch(t *testing.T) {
	p := newPartition(t, false)
	for range 3 {
		mustAppend(t, p, 2, 1) // batches at 0, 2, 4
	}
	read := func(offset int64) []int64 {
		t.Helper()
		res, err := p.Read(offset, 1<<20, true, false)
		if err != nil {
			t.Fatal(err)
		}
		return firstOffsets(t, res)
	}
	if got := read(0); len(got) != 3 || got[0] != 0 {
		t.Fatalf("Read(0) = %v, want [0 2 4]", got)
	}
	enable(t, failpoint.FetchSkipBatch, "return")
	if got := read(4); len(got) != 1 || got[0] != 4 {
		t.Fatalf("Read(4) of the last batch with the failpoint = %v, want [4]", got)
	}
	if got := read(1); len(got) != 2 || got[0] != 2 {
		t.Fatalf("Read(1) with the failpoint = %v, want [2 4]: batch 0-1 skipped", got)
	}
	failpoint.Disable(failpoint.FetchSkipBatch)
	if got := read(0); len(got) != 3 || got[0] != 0 {
		t.Fatalf("Read(0) after the failpoint = %v, want [0 2 4]", got)
	}
}
