package storage

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/strata-io/strata/internal/record"
)

// appendTxnKV appends one transactional batch of kvs for producer pid
// (epoch 0, base sequence seq) and returns the offset of its first record.
func appendTxnKV(t testing.TB, l *Log, clock *testClock, pid int64, seq int32, kvs ...kv) int64 {
	t.Helper()
	b := record.NewBuilder(record.CodecNone, clock.Now().UnixMilli())
	b.SetProducer(pid, 0, seq)
	b.SetTransactional(true)
	info, err := l.AppendAsLeader(keyedBatchFrom(t, b, clock.Now().UnixMilli(), kvs...), 0, clock.Now())
	if err != nil {
		t.Fatalf("AppendAsLeader(transactional, producer %d): %v", pid, err)
	}
	return info.FirstOffset
}

// endTxn appends producer pid's marker and returns its offset.
func endTxn(t testing.TB, l *Log, clock *testClock, pid int64, commit bool) int64 {
	t.Helper()
	info, err := l.AppendControlAsLeader(pid, 0, 0, commit, 0, clock.Now())
	if err != nil {
		t.Fatalf("AppendControlAsLeader(producer %d, commit %v): %v", pid, commit, err)
	}
	return info.FirstOffset
}

// readCommitted reads l below its last stable offset as a read_committed
// consumer does (Kafka's CompletedFetch): the aborted transactions of the
// range, ordered by first offset, put their producer in an aborted set
// once a batch of the producer reaches their first offset; the producer's
// ABORT marker takes it out again; transactional batches of a producer in
// the set and control batches are skipped. A marker removed while its
// transaction still had records would show as records skipped wrongly.
func readCommitted(t testing.TB, l *Log) []consumed {
	t.Helper()
	lso := l.LastStableOffset(l.LogEndOffset())
	aborted, err := l.AbortedTransactions(l.LogStartOffset(), lso)
	if err != nil {
		t.Fatalf("AbortedTransactions: %v", err)
	}
	slices.SortFunc(aborted, func(a, b AbortedTxn) int { return int(a.FirstOffset - b.FirstOffset) })
	abortedPIDs := map[int64]bool{}
	var out []consumed
	next := l.LogStartOffset()
	for next < lso {
		res, err := l.Read(next, 1<<16, lso, true)
		if err != nil {
			t.Fatalf("Read(%d): %v", next, err)
		}
		b, err := res.AppendTo(nil)
		if err != nil || len(b) == 0 {
			break // the rest lies above the last stable offset
		}
		for len(b) > 0 {
			batch, rest, err := record.NextBatch(b)
			if err != nil {
				t.Fatalf("NextBatch at %d: %v", next, err)
			}
			b = rest
			h, err := record.ValidateBatch(batch)
			if err != nil {
				t.Fatalf("ValidateBatch at %d: %v", next, err)
			}
			next = h.NextOffset()
			if h.HasProducerID() {
				for len(aborted) > 0 && aborted[0].FirstOffset <= h.LastOffset() {
					abortedPIDs[aborted[0].ProducerID] = true
					aborted = aborted[1:]
				}
				if h.IsControl() {
					if m, err := parseTxnMarker(batch); err == nil && m != nil && !m.Commit {
						delete(abortedPIDs, h.ProducerID)
					}
					continue
				}
				if h.IsTransactional() && abortedPIDs[h.ProducerID] {
					continue
				}
			}
			if h.IsControl() {
				continue
			}
			err = record.Records(batch, 1<<20, func(r *record.Record) error {
				out = append(out, consumed{Offset: h.BaseOffset + int64(r.OffsetDelta), Key: string(r.Key),
					Value: string(r.Value), Tombstone: r.Value == nil, Timestamp: h.BaseTimestamp + r.TimestampDelta})
				return nil
			})
			if err != nil {
				t.Fatalf("records of batch at %d: %v", h.BaseOffset, err)
			}
		}
	}
	return out
}

// batchKinds lists l's batches as "offset:kind/records" (kind: d data,
// t transactional, C commit, A abort, m emptied marker).
func batchKinds(t testing.TB, l *Log) []string {
	t.Helper()
	var out []string
	for _, h := range readAll(t, l, l.LogStartOffset()) {
		kind := "d"
		switch {
		case h.IsControl() && h.NumRecords == 0:
			kind = "m"
		case h.IsControl():
			kind = "?"
		case h.IsTransactional():
			kind = "t"
		}
		out = append(out, fmt.Sprintf("%d:%s%d", h.BaseOffset, kind, h.NumRecords))
	}
	return out
}

// markerOffsets returns the offsets of l's non-empty control batches.
func markerOffsets(t testing.TB, l *Log) []int64 {
	t.Helper()
	var out []int64
	for _, h := range readAll(t, l, l.LogStartOffset()) {
		if h.IsControl() && h.NumRecords > 0 {
			out = append(out, h.BaseOffset)
		}
	}
	return out
}

func keysAt(records []consumed) []string {
	var out []string
	for _, r := range records {
		out = append(out, fmt.Sprintf("%s@%d=%s", r.Key, r.Offset, r.Value))
	}
	return out
}

func TestCompactTransactions(t *testing.T) {
	cfg := compactLogConfig() // delete.retention.ms: an hour
	d, l, clock := testLog(t, cfg)

	//	segment 0:  0-1 a,b  2-3 p1 a,c  4-5 p2 b,d  6 c  7 commit p1  8 abort p2
	//	segment 9:  9 p3 a  10 d  11 p2 e  12 commit p3  13 abort p2
	//	active 14:  14 f
	appendKV(t, l, clock, put("a", "1"), put("b", "1"))
	appendTxnKV(t, l, clock, 1, 0, put("a", "p1"), put("c", "p1"))
	appendTxnKV(t, l, clock, 2, 0, put("b", "p2"), put("d", "p2"))
	appendKV(t, l, clock, put("c", "2"))
	endTxn(t, l, clock, 1, true)
	endTxn(t, l, clock, 2, false)
	roll(t, l)
	appendTxnKV(t, l, clock, 3, 0, put("a", "p3"))
	appendKV(t, l, clock, put("d", "3"))
	appendTxnKV(t, l, clock, 2, 2, put("e", "p2"))
	endTxn(t, l, clock, 3, true)
	endTxn(t, l, clock, 2, false)
	roll(t, l)
	appendKV(t, l, clock, put("f", "1"))

	before := readCommitted(t, l)
	wantVisible := []string{"a@0=1", "b@1=1", "a@2=p1", "c@3=p1", "c@6=2", "a@9=p3", "d@10=3", "f@14=1"}
	if diff := cmp.Diff(wantVisible, keysAt(before)); diff != "" {
		t.Fatalf("read_committed before Compact (-want +got):\n%s", diff)
	}
	// After cleaning, a read_committed reader sees the latest visible
	// value of each key: committed and plain records compete, aborted
	// ones never win (b keeps its plain value, d its plain value).
	want := latestOnly(before)
	wantKeys := []string{"b@1=1", "c@6=2", "a@9=p3", "d@10=3", "f@14=1"}
	if diff := cmp.Diff(wantKeys, keysAt(want)); diff != "" {
		t.Fatalf("latestOnly(read_committed) (-want +got):\n%s", diff)
	}

	firstClean := clock.Now()
	st := mustCompact(t, l, firstClean)
	if diff := cmp.Diff(want, readCommitted(t, l)); diff != "" {
		t.Fatalf("read_committed after the first pass (-want +got):\n%s", diff)
	}
	// read_uncommitted sees the same: the aborted records are gone.
	if diff := cmp.Diff(wantKeys, keysAt(consumeData(t, l))); diff != "" {
		t.Fatalf("read_uncommitted after the first pass (-want +got):\n%s", diff)
	}
	if st.AbortedRecordsRemoved != 3 || st.MarkersRemoved != 0 || st.EndOffset != 14 {
		t.Fatalf("first pass stats = %+v, want 3 aborted records removed, no marker, end 14", st)
	}
	// Every marker stays: its transaction had data in the pass. The
	// producers' last data batches stay, emptied (p1's 2-3, p2's 11).
	wantBatches := []string{"0:d1", "2:t0", "6:d1", "7:?1", "8:?1", "9:t1", "10:d1", "11:t0", "12:?1", "13:?1", "14:d1"}
	if diff := cmp.Diff(wantBatches, batchKinds(t, l)); diff != "" {
		t.Fatalf("batches after the first pass (-want +got):\n%s", diff)
	}
	abortedP2a := AbortedTxn{ProducerID: 2, FirstOffset: 4, LastOffset: 8, LastStableOffset: 9}
	abortedP2b := AbortedTxn{ProducerID: 2, FirstOffset: 11, LastOffset: 13, LastStableOffset: 14}
	if diff := cmp.Diff([]AbortedTxn{abortedP2a, abortedP2b}, allAborted(t, l)); diff != "" {
		t.Fatalf("AbortedTransactions after the first pass (-want +got):\n%s", diff)
	}

	// Later passes (each with new dirty data) keep p2's first abort,
	// whose data went in the first pass, until delete.retention.ms after
	// that pass.
	pass := func(k string) CompactStats {
		t.Helper()
		appendKV(t, l, clock, put(k, "1"))
		roll(t, l)
		return mustCompact(t, l, clock.Now())
	}
	clock.Advance(time.Hour - time.Millisecond)
	pass("h") // 15
	if diff := cmp.Diff([]int64{7, 8, 12, 13}, markerOffsets(t, l)); diff != "" {
		t.Fatalf("markers a ms before delete.retention.ms (-want +got):\n%s", diff)
	}
	clock.Advance(time.Millisecond)
	st = pass("i") // 16
	if diff := cmp.Diff([]int64{7, 12, 13}, markerOffsets(t, l)); diff != "" || st.MarkersRemoved != 1 {
		t.Fatalf("markers at delete.retention.ms (%+v) (-want +got):\n%s", st, diff)
	}
	// Its index entry went with it.
	if diff := cmp.Diff([]AbortedTxn{abortedP2b}, allAborted(t, l)); diff != "" {
		t.Fatalf("AbortedTransactions at delete.retention.ms (-want +got):\n%s", diff)
	}

	// p1 runs a second transaction: its first one's empty batch is no
	// longer the producer's last and goes in the next pass, which starts
	// the clock of p1's first commit.
	clock.Advance(time.Millisecond)
	appendTxnKV(t, l, clock, 1, 2, put("g", "p1")) // 17
	endTxn(t, l, clock, 1, true)                   // 18
	roll(t, l)
	mustCompact(t, l, clock.Now())
	if diff := cmp.Diff([]string{"0:d1", "6:d1", "7:?1", "9:t1"}, batchKinds(t, l)[:4]); diff != "" {
		t.Fatalf("first batches once p1 moved on (-want +got):\n%s", diff)
	}
	clock.Advance(time.Hour - time.Millisecond)
	pass("j") // 19
	if diff := cmp.Diff([]int64{7, 12, 13, 18}, markerOffsets(t, l)); diff != "" {
		t.Fatalf("markers a ms before delete.retention.ms after p1's data went (-want +got):\n%s", diff)
	}
	clock.Advance(time.Millisecond)
	pass("k") // 20
	// p1's first commit goes. p3's commit (its data is the latest a) and
	// p2's second abort (its data is p2's last batch, kept empty) stay,
	// and so does p1's second commit.
	if diff := cmp.Diff([]int64{12, 13, 18}, markerOffsets(t, l)); diff != "" {
		t.Fatalf("markers at delete.retention.ms after p1's data went (-want +got):\n%s", diff)
	}
	final := keysAt(readCommitted(t, l))
	wantFinal := []string{"b@1=1", "c@6=2", "a@9=p3", "d@10=3", "f@14=1", "h@15=1", "i@16=1", "g@17=p1", "j@19=1", "k@20=1"}
	if diff := cmp.Diff(wantFinal, final); diff != "" {
		t.Fatalf("read_committed at the end (-want +got):\n%s", diff)
	}

	t.Run("restart reads the same", func(t *testing.T) {
		var l2 *Log
		d, l2 = reopen(t, d, clock, cfg)
		if diff := cmp.Diff(final, keysAt(readCommitted(t, l2))); diff != "" {
			t.Fatalf("read_committed after reopen (-want +got):\n%s", diff)
		}
		if fu := l2.FirstUnstableOffset(); fu != -1 {
			t.Fatalf("FirstUnstableOffset after reopen = %d, want -1", fu)
		}
		l = l2
	})
	t.Run("crash restart", func(t *testing.T) {
		var l2 *Log
		d, l2 = crashAndReopen(t, d, clock, cfg)
		if diff := cmp.Diff(final, keysAt(readCommitted(t, l2))); diff != "" {
			t.Fatalf("read_committed after a crash (-want +got):\n%s", diff)
		}
		if fu := l2.FirstUnstableOffset(); fu != -1 {
			t.Fatalf("FirstUnstableOffset after a crash = %d, want -1", fu)
		}
	})
	t.Run("restart without snapshots", func(t *testing.T) {
		_, l2 := reopenWithout(t, d, clock, cfg, "*.snapshot")
		if diff := cmp.Diff(final, keysAt(readCommitted(t, l2))); diff != "" {
			t.Fatalf("read_committed after a restart without snapshots (-want +got):\n%s", diff)
		}
		if fu := l2.FirstUnstableOffset(); fu != -1 {
			t.Fatalf("FirstUnstableOffset after a restart without snapshots = %d, want -1", fu)
		}
		// p2's sequence survived in its emptied last batch: a retry is
		// a duplicate, and its next transaction continues at 3.
		if got := l2.ActiveProducers(); !slices.ContainsFunc(got, func(p ProducerInfo) bool { return p.ProducerID == 2 && p.LastSequence == 2 }) {
			t.Fatalf("ActiveProducers after a restart without snapshots = %+v, want producer 2 at sequence 2", got)
		}
		appendTxnKV(t, l2, clock, 2, 3, put("j", "p2"))
	})
}

// consumeData is consume without control batches (read_uncommitted).
func consumeData(t testing.TB, l *Log) []consumed {
	t.Helper()
	var out []consumed
	res, err := l.Read(l.LogStartOffset(), math.MaxInt32, l.LogEndOffset(), true)
	if err != nil {
		t.Fatal(err)
	}
	b, err := res.AppendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	for len(b) > 0 {
		batch, rest, err := record.NextBatch(b)
		if err != nil {
			t.Fatal(err)
		}
		b = rest
		h, err := record.ParseHeader(batch)
		if err != nil {
			t.Fatal(err)
		}
		if h.IsControl() {
			continue
		}
		_ = record.Records(batch, 1<<20, func(r *record.Record) error {
			out = append(out, consumed{Offset: h.BaseOffset + int64(r.OffsetDelta), Key: string(r.Key),
				Value: string(r.Value), Tombstone: r.Value == nil, Timestamp: h.BaseTimestamp + r.TimestampDelta})
			return nil
		})
	}
	return out
}

func TestCompactStopsAtOngoingTransaction(t *testing.T) {
	tests := []struct {
		name string
		give bool // commit, else abort
		want []string
	}{
		{"committed later", true, []string{"a@1=p1", "b@2=1", "c@4=1"}},
		{"aborted later", false, []string{"a@0=1", "b@2=1", "c@4=1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, l, clock := testLog(t, compactLogConfig())
			appendKV(t, l, clock, put("a", "1"))
			appendTxnKV(t, l, clock, 1, 0, put("a", "p1"))
			appendKV(t, l, clock, put("b", "1"))
			roll(t, l)
			// p1's transaction is undecided: nothing from its first
			// offset on is cleaned, so its record cannot hide a@0.
			st := mustCompact(t, l, clock.Now())
			if st.FirstUncleanableOffset != 1 || st.EndOffset != 1 {
				t.Fatalf("Compact with a transaction open at 1 = %+v, want the range to end at 1", st)
			}
			if diff := cmp.Diff([]string{"a@0=1"}, keysAt(readCommitted(t, l))); diff != "" {
				t.Fatalf("read_committed with the transaction open (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"a@0=1", "a@1=p1", "b@2=1"}, keysAt(consumeData(t, l))); diff != "" {
				t.Fatalf("records with the transaction open (-want +got):\n%s", diff)
			}
			endTxn(t, l, clock, 1, tt.give) // 3
			appendKV(t, l, clock, put("c", "1"))
			roll(t, l)
			mustCompact(t, l, clock.Now())
			if diff := cmp.Diff(tt.want, keysAt(readCommitted(t, l))); diff != "" {
				t.Fatalf("read_committed once decided and cleaned (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, keysAt(consumeData(t, l))); diff != "" {
				t.Fatalf("records once decided and cleaned (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompactKeepsEpochOfProducerWithoutData(t *testing.T) {
	cfg := compactLogConfig()
	d, l, clock := testLog(t, cfg)
	appendTxnKV(t, l, clock, 5, 0, put("a", "p5"))
	// The coordinator aborted the transaction with a bumped epoch (as on
	// a timeout): the producer has no data in epoch 1, so its marker is
	// what carries the epoch.
	if _, err := l.AppendControlAsLeader(5, 1, 0, false, 0, clock.Now()); err != nil {
		t.Fatal(err)
	}
	appendKV(t, l, clock, put("b", "1"))
	roll(t, l)
	mustCompact(t, l, clock.Now())
	clock.Advance(time.Hour)
	appendKV(t, l, clock, put("c", "1"))
	roll(t, l)
	st := mustCompact(t, l, clock.Now())
	// The aborted data went in the first pass; an hour later the marker
	// is discarded but its batch stays, empty, for the epoch.
	if diff := cmp.Diff([]string{"1:m0", "2:d1", "3:d1"}, batchKinds(t, l)); diff != "" || st.MarkersRemoved != 1 {
		t.Fatalf("batches (%+v) (-want +got):\n%s", st, diff)
	}
	if got := allAborted(t, l); len(got) != 0 {
		t.Fatalf("AbortedTransactions = %+v, want none", got)
	}
	_, l = reopenWithout(t, d, clock, cfg, "*.snapshot")
	b := record.NewBuilder(record.CodecNone, clock.Now().UnixMilli())
	b.SetProducer(5, 0, 1)
	_, err := l.AppendAsLeader(keyedBatchFrom(t, b, clock.Now().UnixMilli(), put("z", "zombie")), 0, clock.Now())
	wantErr(t, "AppendAsLeader(producer 5, epoch 0) after a restart without snapshots", err, ErrInvalidProducerEpoch)
}
