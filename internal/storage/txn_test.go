package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// txnOp is one step of a transaction script: append a batch, append a
// marker, or roll the active segment.
type txnOp struct {
	data    batchSpec // appended when records > 0
	marker  *markerOp
	roll    bool
	wantErr error
	wantFUO int64 // FirstUnstableOffset after the step
}

type markerOp struct {
	pid    int64
	epoch  int16
	coord  int32
	commit bool
}

func data(s batchSpec, wantFUO int64) txnOp { return txnOp{data: s, wantFUO: wantFUO} }

func commitOp(pid int64, epoch int16, coord int32, wantFUO int64) txnOp {
	return txnOp{marker: &markerOp{pid, epoch, coord, true}, wantFUO: wantFUO}
}

func abortOp(pid int64, epoch int16, coord int32, wantFUO int64) txnOp {
	return txnOp{marker: &markerOp{pid, epoch, coord, false}, wantFUO: wantFUO}
}

func (o txnOp) fails(err error) txnOp { o.wantErr = err; return o }

func rollOp(wantFUO int64) txnOp { return txnOp{roll: true, wantFUO: wantFUO} }

// runTxnOps applies ops to l, checking errors and the first unstable
// offset after each.
func runTxnOps(t *testing.T, l *Log, ops []txnOp) {
	t.Helper()
	for i, op := range ops {
		leo := l.LogEndOffset()
		var err error
		switch {
		case op.roll:
			roll(t, l)
		case op.marker != nil:
			m := op.marker
			_, err = l.AppendControlAsLeader(m.pid, m.epoch, m.coord, m.commit, 1, t0)
		default:
			_, err = l.AppendAsLeader(buildBatch(t, op.data), 1, t0)
		}
		if op.wantErr != nil {
			wantErr(t, fmt.Sprintf("step %d", i), err, op.wantErr)
			if got := l.LogEndOffset(); got != leo {
				t.Fatalf("step %d: refused append moved the log end offset from %d to %d", i, leo, got)
			}
		} else if err != nil {
			t.Fatalf("step %d (%+v): %v", i, op, err)
		}
		if got := l.FirstUnstableOffset(); got != op.wantFUO {
			t.Fatalf("step %d: FirstUnstableOffset() = %d, want %d", i, got, op.wantFUO)
		}
	}
}

// copyToFollower appends every batch of leader to follower as fetched.
func copyToFollower(t *testing.T, leader, follower *Log) {
	t.Helper()
	res, err := leader.Read(0, math.MaxInt32, leader.LogEndOffset(), true)
	if err != nil {
		t.Fatalf("Read(0): %v", err)
	}
	b, err := res.AppendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := follower.AppendAsFollower(b); err != nil {
		t.Fatalf("AppendAsFollower: %v", err)
	}
}

func allAborted(t *testing.T, l *Log) []AbortedTxn {
	t.Helper()
	got, err := l.AbortedTransactions(0, math.MaxInt64)
	if err != nil {
		t.Fatalf("AbortedTransactions(0, max): %v", err)
	}
	return got
}

func TestTransactionsThroughAppends(t *testing.T) {
	tests := []struct {
		name        string
		give        []txnOp
		wantAborted []AbortedTxn
	}{
		{
			name: "commit ends the transaction",
			give: []txnOp{
				data(spec(2).inTxn(1, 0, 0), 0), // 0-1
				data(spec(2).inTxn(1, 0, 2), 0), // 2-3
				commitOp(1, 0, 0, -1),           // 4
				data(spec(2).inTxn(1, 0, 4), 5), // 5-6: a new transaction
				commitOp(1, 0, 0, -1),           // 7
			},
		},
		{
			name: "abort is indexed",
			give: []txnOp{
				data(spec(2).inTxn(1, 0, 0), 0), // 0-1
				abortOp(1, 0, 0, -1),            // 2
			},
			wantAborted: []AbortedTxn{{ProducerID: 1, FirstOffset: 0, LastOffset: 2, LastStableOffset: 3}},
		},
		{
			name: "interleaved, the first to start ends first",
			give: []txnOp{
				data(spec(2).inTxn(1, 0, 0), 0), // 0-1
				data(spec(2).inTxn(2, 0, 0), 0), // 2-3
				commitOp(1, 0, 0, 2),            // 4
				data(spec(2), 2),                // 5-6, not transactional
				data(spec(1).idem(4, 0, 0), 2),  // 7, idempotent only
				abortOp(2, 0, 0, -1),            // 8
			},
			wantAborted: []AbortedTxn{{ProducerID: 2, FirstOffset: 2, LastOffset: 8, LastStableOffset: 9}},
		},
		{
			name: "interleaved, a later one ends first",
			give: []txnOp{
				data(spec(2).inTxn(1, 0, 0), 0), // 0-1
				data(spec(2).inTxn(2, 0, 0), 0), // 2-3
				abortOp(2, 0, 0, 0),             // 4
				data(spec(2).inTxn(3, 0, 0), 0), // 5-6
				abortOp(1, 0, 0, 5),             // 7
				commitOp(3, 0, 0, -1),           // 8
			},
			wantAborted: []AbortedTxn{
				{ProducerID: 2, FirstOffset: 2, LastOffset: 4, LastStableOffset: 0},
				{ProducerID: 1, FirstOffset: 0, LastOffset: 7, LastStableOffset: 5},
			},
		},
		{
			name: "marker without a transaction changes only epochs",
			give: []txnOp{
				data(spec(2).idem(1, 0, 0), -1), // 0-1
				commitOp(1, 1, 3, -1),           // 2: epoch 1, coordinator epoch 3
				data(spec(1).idem(1, 0, 2), -1).fails(ErrInvalidProducerEpoch),
				abortOp(1, 1, 2, -1).fails(ErrCoordinatorFenced),
				abortOp(1, 1, 3, -1), // 3
			},
		},
		{
			name: "marker with an old producer epoch is fenced",
			give: []txnOp{
				data(spec(2).inTxn(1, 2, 0), 0), // 0-1
				abortOp(1, 1, 0, 0).fails(ErrProducerFenced),
				data(spec(1).inTxn(1, 1, 2), 0).fails(ErrInvalidProducerEpoch),
				abortOp(1, 2, 0, -1), // 2
			},
			wantAborted: []AbortedTxn{{ProducerID: 1, FirstOffset: 0, LastOffset: 2, LastStableOffset: 3}},
		},
		{
			name: "marker from an old coordinator epoch is fenced",
			give: []txnOp{
				data(spec(2).inTxn(1, 0, 0), 0), // 0-1
				commitOp(1, 0, 5, -1),           // 2
				data(spec(2).inTxn(1, 0, 2), 3), // 3-4
				abortOp(1, 0, 4, 3).fails(ErrCoordinatorFenced),
				abortOp(1, 0, 5, -1), // 5
			},
			wantAborted: []AbortedTxn{{ProducerID: 1, FirstOffset: 3, LastOffset: 5, LastStableOffset: 6}},
		},
		{
			name: "transactions across segment rolls",
			give: []txnOp{
				data(spec(2).inTxn(1, 0, 0), 0), // 0-1
				rollOp(0),
				data(spec(2).inTxn(2, 0, 0), 0), // 2-3
				rollOp(0),
				abortOp(1, 0, 0, 2), // 4
				rollOp(2),
				abortOp(2, 0, 0, -1), // 5
			},
			wantAborted: []AbortedTxn{
				{ProducerID: 1, FirstOffset: 0, LastOffset: 4, LastStableOffset: 2},
				{ProducerID: 2, FirstOffset: 2, LastOffset: 5, LastStableOffset: 6},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, l, _ := testLog(t, testLogConfig())
			runTxnOps(t, l, tt.give)
			if diff := cmp.Diff(tt.wantAborted, allAborted(t, l)); diff != "" {
				t.Fatalf("AbortedTransactions(0, max) (-want +got):\n%s", diff)
			}

			_, f, _ := testLog(t, testLogConfig())
			copyToFollower(t, l, f)
			if got, want := f.FirstUnstableOffset(), l.FirstUnstableOffset(); got != want {
				t.Fatalf("follower FirstUnstableOffset() = %d, want the leader's %d", got, want)
			}
			if diff := cmp.Diff(tt.wantAborted, allAborted(t, f)); diff != "" {
				t.Fatalf("follower AbortedTransactions(0, max) (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLastStableOffset(t *testing.T) {
	_, l, _ := testLog(t, testLogConfig())
	tests := []struct {
		give int64 // high watermark
		want int64
	}{{0, 0}, {5, 5}, {9, 9}}
	for _, tt := range tests {
		if got := l.LastStableOffset(tt.give); got != tt.want {
			t.Errorf("no transaction: LastStableOffset(%d) = %d, want %d", tt.give, got, tt.want)
		}
	}
	mustAppend(t, l, buildBatch(t, spec(3)))                // 0-2
	mustAppend(t, l, buildBatch(t, spec(2).inTxn(7, 0, 0))) // 3-4
	mustAppend(t, l, buildBatch(t, spec(2)))                // 5-6
	tests = []struct {
		give int64
		want int64
	}{{2, 2}, {3, 3}, {4, 3}, {7, 3}}
	for _, tt := range tests {
		if got := l.LastStableOffset(tt.give); got != tt.want {
			t.Errorf("transaction from 3: LastStableOffset(%d) = %d, want %d", tt.give, got, tt.want)
		}
	}
	if _, err := l.AppendControlAsLeader(7, 0, 0, true, 1, t0); err != nil {
		t.Fatal(err)
	}
	if got := l.LastStableOffset(8); got != 8 {
		t.Errorf("after commit: LastStableOffset(8) = %d, want 8", got)
	}
}

// abortedScript leaves aborted transactions in three segments and pid 5's
// transaction ongoing from offset 13:
//
//	segment 0:  0-1 p1 txn, 2-3 p2 txn, 4 abort p2
//	segment 5:  5-6 p3 txn, 7 abort p1, 8 commit p3
//	segment 9:  9-10 p4 txn, 11 abort p4, 12 plain, 13-14 p5 txn
func abortedScript() []txnOp {
	return []txnOp{
		data(spec(2).inTxn(1, 0, 0), 0),
		data(spec(2).inTxn(2, 0, 0), 0),
		abortOp(2, 0, 0, 0),
		rollOp(0),
		data(spec(2).inTxn(3, 0, 0), 0),
		abortOp(1, 0, 0, 5),
		commitOp(3, 0, 0, -1),
		rollOp(-1),
		data(spec(2).inTxn(4, 0, 0), 9),
		abortOp(4, 0, 0, -1),
		data(spec(1), -1),
		data(spec(2).inTxn(5, 0, 0), 13),
	}
}

var (
	abortedP2 = AbortedTxn{ProducerID: 2, FirstOffset: 2, LastOffset: 4, LastStableOffset: 0}
	abortedP1 = AbortedTxn{ProducerID: 1, FirstOffset: 0, LastOffset: 7, LastStableOffset: 5}
	abortedP4 = AbortedTxn{ProducerID: 4, FirstOffset: 9, LastOffset: 11, LastStableOffset: 12}
)

func checkAbortedRanges(t *testing.T, l *Log) {
	t.Helper()
	tests := []struct {
		give [2]int64 // fetch offset, upper bound
		want []AbortedTxn
	}{
		{[2]int64{0, 15}, []AbortedTxn{abortedP2, abortedP1, abortedP4}},
		{[2]int64{0, 1}, []AbortedTxn{abortedP1}},            // p1 began at 0; its marker is in segment 5
		{[2]int64{0, 3}, []AbortedTxn{abortedP2, abortedP1}}, // p2's range starts at 2
		{[2]int64{5, 9}, []AbortedTxn{abortedP1}},            // p2 ended at 4
		{[2]int64{4, 5}, []AbortedTxn{abortedP2, abortedP1}}, // p1 still spans 4
		{[2]int64{8, 9}, nil},                                // p1 ended at 7
		{[2]int64{8, 12}, []AbortedTxn{abortedP4}},           // into the third segment
		{[2]int64{12, 15}, nil},                              // after every abort
		{[2]int64{9, 10}, []AbortedTxn{abortedP4}},           // first offset only
		{[2]int64{11, 12}, []AbortedTxn{abortedP4}},          // the marker alone
		{[2]int64{0, 0}, nil},                                // empty range at the start
	}
	for _, tt := range tests {
		got, err := l.AbortedTransactions(tt.give[0], tt.give[1])
		if err != nil {
			t.Fatalf("AbortedTransactions(%d, %d): %v", tt.give[0], tt.give[1], err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("AbortedTransactions(%d, %d) (-want +got):\n%s", tt.give[0], tt.give[1], diff)
		}
	}
}

// txnIndexFiles returns the decoded .txnindex files of l's directory by
// segment base.
func txnIndexFiles(t *testing.T, l *Log) map[int64][]AbortedTxn {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(l.dir, "*"+txnIndexFileSuffix))
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64][]AbortedTxn{}
	for _, p := range paths {
		base, _ := parseOffsetFileName(filepath.Base(p), txnIndexFileSuffix)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		entries, err := decodeTxnIndex(b)
		if err != nil {
			t.Fatalf("decodeTxnIndex(%s): %v", p, err)
		}
		out[base] = entries
	}
	return out
}

func TestAbortedTransactionsAcrossSegments(t *testing.T) {
	d, l, clock := testLog(t, testLogConfig())
	runTxnOps(t, l, abortedScript())
	checkAbortedRanges(t, l)
	// Sealed segments have their file; the active one writes it at close.
	want := map[int64][]AbortedTxn{0: {abortedP2}, 5: {abortedP1}}
	if diff := cmp.Diff(want, txnIndexFiles(t, l)); diff != "" {
		t.Fatalf(".txnindex files before close (-want +got):\n%s", diff)
	}
	_, l = reopen(t, d, clock, testLogConfig())
	want[9] = []AbortedTxn{abortedP4}
	if diff := cmp.Diff(want, txnIndexFiles(t, l)); diff != "" {
		t.Fatalf(".txnindex files after close (-want +got):\n%s", diff)
	}
}

func TestTransactionsSurviveCleanRestart(t *testing.T) {
	d, l, clock := testLog(t, testLogConfig())
	runTxnOps(t, l, abortedScript())
	_, l = reopen(t, d, clock, testLogConfig())
	if l.stats.batchesValidated != 0 {
		t.Fatalf("clean open validated %d batches, want 0", l.stats.batchesValidated)
	}
	if got := l.FirstUnstableOffset(); got != 13 {
		t.Fatalf("FirstUnstableOffset() after clean restart = %d, want 13", got)
	}
	checkAbortedRanges(t, l)
	runTxnOps(t, l, []txnOp{abortOp(5, 0, 0, -1)}) // 15
	want := append([]AbortedTxn{abortedP2, abortedP1, abortedP4}, AbortedTxn{ProducerID: 5, FirstOffset: 13, LastOffset: 15, LastStableOffset: 16})
	if diff := cmp.Diff(want, allAborted(t, l)); diff != "" {
		t.Fatalf("AbortedTransactions after restart and abort (-want +got):\n%s", diff)
	}
}

func TestCrashRecoveryRebuildsTransactions(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"files as left", func(*testing.T, string) {}},
		{"index files torn", func(t *testing.T, dir string) {
			paths, _ := filepath.Glob(filepath.Join(dir, "*"+txnIndexFileSuffix))
			for _, p := range paths {
				if err := os.Truncate(p, txnEntrySize-1); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"snapshots lost", func(t *testing.T, dir string) {
			paths, _ := filepath.Glob(filepath.Join(dir, "*"+snapshotFileSuffix))
			for _, p := range paths {
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, l, clock := testLog(t, testLogConfig())
			runTxnOps(t, l, abortedScript())
			dir := l.dir
			crash(t, d)
			tt.damage(t, dir)
			d, l = openAgain(t, d.cfg.Dir, clock, testLogConfig())
			if got := l.FirstUnstableOffset(); got != 13 {
				t.Fatalf("FirstUnstableOffset() after crash = %d, want 13", got)
			}
			checkAbortedRanges(t, l)
			_, l = reopen(t, d, clock, testLogConfig())
			want := map[int64][]AbortedTxn{0: {abortedP2}, 5: {abortedP1}, 9: {abortedP4}}
			if diff := cmp.Diff(want, txnIndexFiles(t, l)); diff != "" {
				t.Fatalf(".txnindex files after recovery and close (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTruncationDropsAbortedEntriesAndReopensTransactions(t *testing.T) {
	tests := []struct {
		give        int64 // truncation offset
		wantFUO     int64
		wantAborted []AbortedTxn
		wantFiles   map[int64][]AbortedTxn
	}{
		{give: 13, wantFUO: -1, wantAborted: []AbortedTxn{abortedP2, abortedP1, abortedP4}, wantFiles: map[int64][]AbortedTxn{0: {abortedP2}, 5: {abortedP1}}},
		{give: 11, wantFUO: 9, wantAborted: []AbortedTxn{abortedP2, abortedP1}, wantFiles: map[int64][]AbortedTxn{0: {abortedP2}, 5: {abortedP1}}},
		{give: 8, wantFUO: 5, wantAborted: []AbortedTxn{abortedP2, abortedP1}, wantFiles: map[int64][]AbortedTxn{0: {abortedP2}}},
		{give: 7, wantFUO: 0, wantAborted: []AbortedTxn{abortedP2}, wantFiles: map[int64][]AbortedTxn{0: {abortedP2}}},
		{give: 4, wantFUO: 0, wantAborted: nil, wantFiles: map[int64][]AbortedTxn{}},
	}
	for _, tt := range tests {
		_, l, _ := testLog(t, testLogConfig())
		runTxnOps(t, l, abortedScript())
		if err := l.TruncateTo(tt.give); err != nil {
			t.Fatalf("TruncateTo(%d): %v", tt.give, err)
		}
		if got := l.FirstUnstableOffset(); got != tt.wantFUO {
			t.Errorf("TruncateTo(%d): FirstUnstableOffset() = %d, want %d", tt.give, got, tt.wantFUO)
		}
		if diff := cmp.Diff(tt.wantAborted, allAborted(t, l)); diff != "" {
			t.Errorf("TruncateTo(%d): AbortedTransactions (-want +got):\n%s", tt.give, diff)
		}
		if diff := cmp.Diff(tt.wantFiles, txnIndexFiles(t, l)); diff != "" {
			t.Errorf("TruncateTo(%d): .txnindex files (-want +got):\n%s", tt.give, diff)
		}
	}
}

func TestTruncatedAbortIsIndexedAgain(t *testing.T) {
	_, l, _ := testLog(t, testLogConfig())
	runTxnOps(t, l, abortedScript())
	if err := l.TruncateTo(7); err != nil { // p1's abort goes; p1 and p3 are ongoing again
		t.Fatal(err)
	}
	runTxnOps(t, l, []txnOp{abortOp(1, 0, 0, 5)}) // 7 again
	if diff := cmp.Diff([]AbortedTxn{abortedP2, abortedP1}, allAborted(t, l)); diff != "" {
		t.Fatalf("AbortedTransactions after re-abort (-want +got):\n%s", diff)
	}
}

func TestRetentionDeletesTxnIndex(t *testing.T) {
	_, l, clock := testLog(t, testLogConfig())
	runTxnOps(t, l, abortedScript())
	if err := l.DeleteRecordsBefore(9); err != nil {
		t.Fatalf("DeleteRecordsBefore(9): %v", err)
	}
	clock.Advance(2 * testLogConfig().FileDeleteDelay)
	if err := l.deleter.runDue(clock.Now(), false); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[int64][]AbortedTxn{}, txnIndexFiles(t, l)); diff != "" {
		t.Fatalf(".txnindex files after deleting segments 0 and 5 (-want +got):\n%s", diff)
	}
	if left, _ := filepath.Glob(filepath.Join(l.dir, "*.deleted")); len(left) != 0 {
		t.Fatalf("files left after the delete delay: %v", left)
	}
	if diff := cmp.Diff([]AbortedTxn{abortedP4}, allAborted(t, l)); diff != "" {
		t.Fatalf("AbortedTransactions after deletion (-want +got):\n%s", diff)
	}
}

func TestProducerWithOngoingTransactionDoesNotExpire(t *testing.T) {
	s := newProducerState()
	s.producers[1] = &producerEntry{ProducerID: 1, LastTimestamp: 0, CurrentTxnFirstOffset: 4, CoordinatorEpoch: -1}
	s.producers[2] = &producerEntry{ProducerID: 2, LastTimestamp: 0, CurrentTxnFirstOffset: -1, CoordinatorEpoch: -1}
	s.rebuildOngoing()
	if n := s.removeExpired(1000, 10); n != 1 {
		t.Fatalf("removeExpired(1000, 10) = %d, want 1", n)
	}
	if _, ok := s.producers[1]; !ok {
		t.Fatalf("removeExpired dropped producer 1 with a transaction ongoing since 4")
	}
	if got := s.firstUnstableOffset(); got != 4 {
		t.Fatalf("firstUnstableOffset() = %d, want 4", got)
	}
}

func TestProducerSnapshotV2RoundTrip(t *testing.T) {
	s := newProducerState()
	s.producers[3] = &producerEntry{ProducerID: 3, Epoch: 1, LastTimestamp: 5, Batches: []batchMetadata{{0, 1, 10, 11, 5}}, CurrentTxnFirstOffset: 10, CoordinatorEpoch: 7}
	s.producers[9] = &producerEntry{ProducerID: 9, Epoch: 0, LastTimestamp: 7, CurrentTxnFirstOffset: -1, CoordinatorEpoch: 2}
	s.rebuildOngoing()
	b := encodeProducerSnapshot(12, s)
	if len(b) != snapshotHeaderSize+2*snapshotProducerSize+snapshotBatchSize {
		t.Fatalf("snapshot of 2 producers and 1 batch is %d bytes", len(b))
	}
	off, got, err := decodeProducerSnapshot(b)
	if err != nil || off != 12 {
		t.Fatalf("decodeProducerSnapshot = %d, %v; want 12, nil", off, err)
	}
	if diff := cmp.Diff(s, got, cmp.AllowUnexported(producerState{})); diff != "" {
		t.Fatalf("decodeProducerSnapshot (-want +got):\n%s", diff)
	}
	// A transaction cannot start at or above the snapshot offset.
	s.producers[9].CurrentTxnFirstOffset = 12
	if _, _, err := decodeProducerSnapshot(encodeProducerSnapshot(12, s)); err == nil {
		t.Fatalf("decodeProducerSnapshot accepted a transaction starting at the snapshot offset")
	}
}

// producerSnapshotV1 is a version-1 snapshot at offset 12 of producer 3
// (epoch 1, last timestamp 5, one batch: seq 0-1, offsets 10-11, ts 5) and
// producer 9 (epoch 0, last timestamp 7, no batch), as written before
// transactions.
var producerSnapshotV1 = []byte{
	0x00, 0x01, // version 1
	0x00, 0x00, 0x00, 0x00, // CRC, filled in by init
	0, 0, 0, 0, 0, 0, 0, 12, // offset
	0, 0, 0, 2, // producers
	0, 0, 0, 0, 0, 0, 0, 3, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 1,
	0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 11, 0, 0, 0, 0, 0, 0, 0, 5,
	0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0,
}

func init() {
	binary.BigEndian.PutUint32(producerSnapshotV1[2:], crc32.Checksum(producerSnapshotV1[snapshotCRCStart:], castagnoli))
}

func TestProducerSnapshotV1StillReadable(t *testing.T) {
	off, got, err := decodeProducerSnapshot(producerSnapshotV1)
	if err != nil || off != 12 {
		t.Fatalf("decodeProducerSnapshot(v1) = %d, %v; want 12, nil", off, err)
	}
	want := newProducerState()
	want.producers[3] = &producerEntry{ProducerID: 3, Epoch: 1, LastTimestamp: 5, Batches: []batchMetadata{{0, 1, 10, 11, 5}}, CurrentTxnFirstOffset: -1, CoordinatorEpoch: -1}
	want.producers[9] = &producerEntry{ProducerID: 9, Epoch: 0, LastTimestamp: 7, CurrentTxnFirstOffset: -1, CoordinatorEpoch: -1}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(producerState{})); diff != "" {
		t.Fatalf("decodeProducerSnapshot(v1) (-want +got):\n%s", diff)
	}
}

func TestProducerSnapshotV1OnDiskIsLoaded(t *testing.T) {
	d, l, clock := testLog(t, testLogConfig())
	mustAppend(t, l, buildBatch(t, spec(12)))
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(l.dir, segmentFileName(12, snapshotFileSuffix))
	if err := os.WriteFile(snap, producerSnapshotV1, 0o644); err != nil {
		t.Fatal(err)
	}
	_, l = openAgain(t, d.cfg.Dir, clock, testLogConfig())
	// An unreadable snapshot would have been deleted; this one was used.
	if got, err := os.ReadFile(snap); err != nil || !bytes.Equal(got, producerSnapshotV1) {
		t.Fatalf("version-1 snapshot after open: %v (changed: %v)", err, err == nil)
	}
	if got := l.FirstUnstableOffset(); got != -1 {
		t.Fatalf("FirstUnstableOffset() = %d, want -1", got)
	}
}

func TestCompactionKeepsAbortedTransactions(t *testing.T) {
	d, l, clock := testLog(t, compactLogConfig())
	script := append(abortedScript(), abortOp(5, 0, 0, -1), rollOp(-1), data(spec(1), -1)) // 15, then 16 in a new segment
	runTxnOps(t, l, script)
	mustCompact(t, l, clock.Now())
	abortedP5 := AbortedTxn{ProducerID: 5, FirstOffset: 13, LastOffset: 15, LastStableOffset: 16}
	want := []AbortedTxn{abortedP2, abortedP1, abortedP4, abortedP5}
	if diff := cmp.Diff(want, allAborted(t, l)); diff != "" {
		t.Fatalf("AbortedTransactions after Compact (-want +got):\n%s", diff)
	}
	if got, err := l.AbortedTransactions(8, 12); err != nil || !cmp.Equal(got, []AbortedTxn{abortedP4}) {
		t.Fatalf("AbortedTransactions(8, 12) after Compact = %+v, %v; want p4's", got, err)
	}
	_, l = reopen(t, d, clock, compactLogConfig())
	if diff := cmp.Diff(want, allAborted(t, l)); diff != "" {
		t.Fatalf("AbortedTransactions after Compact and restart (-want +got):\n%s", diff)
	}
	// The pass merged the three sealed segments into one, which carries
	// all their entries.
	if diff := cmp.Diff(map[int64][]AbortedTxn{0: want}, txnIndexFiles(t, l)); diff != "" {
		t.Fatalf(".txnindex files after Compact (-want +got):\n%s", diff)
	}
}
