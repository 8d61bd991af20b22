package storage

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestIdempotentProducer(t *testing.T) {
	const pid = 42
	_, l, _ := testLog(t, testLogConfig())
	mustAppend(t, l, buildBatch(t, spec(3))) // offsets 0-2, no producer
	first := mustAppend(t, l, buildBatch(t, spec(2).idem(pid, 0, 0)))
	second := mustAppend(t, l, buildBatch(t, spec(3).idem(pid, 0, 2)))
	if first.FirstOffset != 3 || second.FirstOffset != 5 {
		t.Fatalf("first offsets %d, %d; want 3, 5", first.FirstOffset, second.FirstOffset)
	}

	t.Run("duplicate returns the original offsets", func(t *testing.T) {
		leo := l.LogEndOffset()
		for _, tt := range []struct {
			give batchSpec
			want AppendInfo
		}{
			{spec(2).idem(pid, 0, 0), AppendInfo{FirstOffset: 3, LastOffset: 4, LogAppendTime: -1, LogStartOffset: 0, Duplicate: true}},
			{spec(3).idem(pid, 0, 2), AppendInfo{FirstOffset: 5, LastOffset: 7, LogAppendTime: -1, LogStartOffset: 0, Duplicate: true}},
		} {
			got, err := l.AppendAsLeader(buildBatch(t, tt.give), 1, t0)
			if err != nil {
				t.Fatalf("AppendAsLeader(retry seq %d): %v", tt.give.seq, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("AppendAsLeader(retry seq %d) (-want +got):\n%s", tt.give.seq, diff)
			}
		}
		if l.LogEndOffset() != leo {
			t.Fatalf("duplicate appended: LEO %d, want %d", l.LogEndOffset(), leo)
		}
	})
	t.Run("gap is out of order", func(t *testing.T) {
		_, err := l.AppendAsLeader(buildBatch(t, spec(1).idem(pid, 0, 6)), 1, t0)
		wantErr(t, "AppendAsLeader(seq 6 after 4)", err, ErrOutOfOrderSequence)
	})
	t.Run("overlapping range is out of order", func(t *testing.T) {
		_, err := l.AppendAsLeader(buildBatch(t, spec(2).idem(pid, 0, 1)), 1, t0)
		wantErr(t, "AppendAsLeader(seq 1-2)", err, ErrOutOfOrderSequence)
	})
	t.Run("nothing is appended when one batch of a call fails", func(t *testing.T) {
		leo := l.LogEndOffset()
		_, err := l.AppendAsLeader(append(buildBatch(t, spec(1).idem(pid, 0, 5)), buildBatch(t, spec(1).idem(pid, 0, 9))...), 1, t0)
		wantErr(t, "AppendAsLeader(good then gap)", err, ErrOutOfOrderSequence)
		if l.LogEndOffset() != leo {
			t.Fatalf("LEO %d after failed call, want %d", l.LogEndOffset(), leo)
		}
		// The good batch was not recorded either: seq 5 is still next.
		if _, err := l.AppendAsLeader(buildBatch(t, spec(1).idem(pid, 0, 5)), 1, t0); err != nil {
			t.Fatalf("AppendAsLeader(seq 5): %v", err)
		}
	})
	t.Run("several batches of one producer in one call", func(t *testing.T) {
		info, err := l.AppendAsLeader(append(buildBatch(t, spec(1).idem(pid, 0, 6)), buildBatch(t, spec(2).idem(pid, 0, 7))...), 1, t0)
		if err != nil || info.LastOffset-info.FirstOffset != 2 {
			t.Fatalf("AppendAsLeader(seq 6, 7-8) = %+v, %v", info, err)
		}
	})
	t.Run("epoch bump must start at zero", func(t *testing.T) {
		_, err := l.AppendAsLeader(buildBatch(t, spec(1).idem(pid, 1, 9)), 1, t0)
		wantErr(t, "AppendAsLeader(epoch 1 seq 9)", err, ErrOutOfOrderSequence)
		if _, err := l.AppendAsLeader(buildBatch(t, spec(1).idem(pid, 1, 0)), 1, t0); err != nil {
			t.Fatalf("AppendAsLeader(epoch 1 seq 0): %v", err)
		}
	})
	t.Run("stale epoch is fenced", func(t *testing.T) {
		_, err := l.AppendAsLeader(buildBatch(t, spec(1).idem(pid, 0, 9)), 1, t0)
		wantErr(t, "AppendAsLeader(epoch 0 after 1)", err, ErrInvalidProducerEpoch)
	})
	t.Run("unknown producer may start anywhere", func(t *testing.T) {
		if _, err := l.AppendAsLeader(buildBatch(t, spec(1).idem(77, 3, 1234)), 1, t0); err != nil {
			t.Fatalf("AppendAsLeader(new producer seq 1234): %v", err)
		}
	})
	t.Run("sequence wraps at int32 max", func(t *testing.T) {
		if _, err := l.AppendAsLeader(buildBatch(t, spec(2).idem(78, 0, 1<<31-2)), 1, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := l.AppendAsLeader(buildBatch(t, spec(1).idem(78, 0, 0)), 1, t0); err != nil {
			t.Fatalf("AppendAsLeader(seq 0 after int32 max): %v", err)
		}
	})
}

func TestIdempotentProducerKeepsFiveBatches(t *testing.T) {
	_, l, _ := testLog(t, testLogConfig())
	for i := range int32(6) {
		mustAppend(t, l, buildBatch(t, spec(1).idem(5, 0, i)))
	}
	for seq := int32(1); seq < 6; seq++ {
		info, err := l.AppendAsLeader(buildBatch(t, spec(1).idem(5, 0, seq)), 1, t0)
		if err != nil || !info.Duplicate || info.FirstOffset != int64(seq) {
			t.Fatalf("retry seq %d = %+v, %v; want duplicate at %d", seq, info, err, seq)
		}
	}
	_, err := l.AppendAsLeader(buildBatch(t, spec(1).idem(5, 0, 0)), 1, t0)
	wantErr(t, "retry of the sixth-newest batch", err, ErrOutOfOrderSequence)
}

func TestIdempotentProducerSurvivesRestarts(t *testing.T) {
	cfg := testLogConfig()
	cfg.SegmentBytes = 1500
	for _, mode := range []string{"clean", "crash"} {
		t.Run(mode, func(t *testing.T) {
			d, l, clock := testLog(t, cfg)
			var infos []AppendInfo
			for i := range int32(30) {
				infos = append(infos, mustAppend(t, l, buildBatch(t, spec(2).size(100).idem(int64(i%3), 0, (i/3)*2))))
			}
			if l.NumSegments() < 3 {
				t.Fatalf("NumSegments = %d, want several (snapshots at rolls)", l.NumSegments())
			}
			if mode == "clean" {
				_, l = reopen(t, d, clock, cfg)
				if l.stats.headersRead > 10 {
					t.Fatalf("clean open replayed %d headers, want the snapshot at the log end offset to suffice", l.stats.headersRead)
				}
			} else {
				_, l = crashAndReopen(t, d, clock, cfg)
			}
			for i := 27; i < 30; i++ {
				retry := buildBatch(t, spec(2).size(100).idem(int64(i%3), 0, int32(i/3)*2))
				got, err := l.AppendAsLeader(retry, 1, t0)
				if err != nil || !got.Duplicate || got.FirstOffset != infos[i].FirstOffset {
					t.Fatalf("retry of batch %d after %s restart = %+v, %v; want duplicate at %d", i, mode, got, err, infos[i].FirstOffset)
				}
			}
			_, err := l.AppendAsLeader(buildBatch(t, spec(1).idem(0, 0, 30)), 1, t0)
			wantErr(t, "gap after restart", err, ErrOutOfOrderSequence)
			if _, err := l.AppendAsLeader(buildBatch(t, spec(1).idem(0, 0, 20)), 1, t0); err != nil {
				t.Fatalf("next sequence after restart: %v", err)
			}
		})
	}
}

func TestIdempotentProducerStateFollowsTruncation(t *testing.T) {
	cfg := testLogConfig()
	cfg.SegmentBytes = 1000
	_, l, _ := testLog(t, cfg)
	for i := range int32(20) {
		mustAppend(t, l, buildBatch(t, spec(1).size(100).idem(1, 0, i)))
	}
	if err := l.TruncateTo(12); err != nil {
		t.Fatal(err)
	}
	// The producer's last batch is now seq 11: 12 is next, 19 is gone.
	info, err := l.AppendAsLeader(buildBatch(t, spec(1).size(100).idem(1, 0, 11)), 1, t0)
	if err != nil || !info.Duplicate || info.FirstOffset != 11 {
		t.Fatalf("retry seq 11 = %+v, %v; want duplicate at 11", info, err)
	}
	if _, err := l.AppendAsLeader(buildBatch(t, spec(1).size(100).idem(1, 0, 12)), 1, t0); err != nil {
		t.Fatalf("seq 12 after truncation: %v", err)
	}
}

func TestProducerExpiration(t *testing.T) {
	cfg := testLogConfig()
	cfg.ProducerIDExpiration = time.Hour
	_, l, _ := testLog(t, cfg)
	mustAppend(t, l, buildBatch(t, spec(1).idem(1, 0, 0).at(t0.UnixMilli())))
	mustAppend(t, l, buildBatch(t, spec(1).idem(2, 0, 0).at(t0.Add(30*time.Minute).UnixMilli())))
	if n := l.removeExpiredProducers(t0.Add(time.Hour)); n != 1 {
		t.Fatalf("removeExpiredProducers = %d, want 1", n)
	}
	// Producer 1 is forgotten: any sequence is accepted again.
	if _, err := l.AppendAsLeader(buildBatch(t, spec(1).idem(1, 0, 50)), 1, t0); err != nil {
		t.Fatalf("expired producer's append: %v", err)
	}
	_, err := l.AppendAsLeader(buildBatch(t, spec(1).idem(2, 0, 50)), 1, t0)
	wantErr(t, "live producer's gap", err, ErrOutOfOrderSequence)
}

func TestProducerSnapshotRoundTrip(t *testing.T) {
	s := newProducerState()
	s.producers[7] = &producerEntry{ProducerID: 7, Epoch: 3, LastTimestamp: 99, Batches: []batchMetadata{
		{FirstSeq: 0, LastSeq: 4, FirstOffset: 10, LastOffset: 14, Timestamp: 98},
		{FirstSeq: 5, LastSeq: 5, FirstOffset: 20, LastOffset: 20, Timestamp: 99},
	}}
	s.producers[1] = &producerEntry{ProducerID: 1, Epoch: 0, LastTimestamp: -1}
	b := encodeProducerSnapshot(21, s)
	off, got, err := decodeProducerSnapshot(b)
	if err != nil || off != 21 {
		t.Fatalf("decodeProducerSnapshot = %d, %v", off, err)
	}
	if diff := cmp.Diff(s.producers, got.producers); diff != "" {
		t.Fatalf("snapshot round trip (-want +got):\n%s", diff)
	}
	b[len(b)-1] ^= 1
	if _, _, err := decodeProducerSnapshot(b); err == nil {
		t.Fatalf("decodeProducerSnapshot(flipped bit) succeeded")
	}
}

func TestSnapshotsDoNotAccumulateAcrossRestarts(t *testing.T) {
	cfg := testLogConfig()
	d, l, clock := testLog(t, cfg)
	for range 5 {
		mustAppend(t, l, buildBatch(t, spec(1).idem(1, 0, int32(l.LogEndOffset()))))
		d, l = reopen(t, d, clock, cfg)
	}
	offs, err := l.listSnapshots()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{5}, offs); diff != "" {
		t.Fatalf("snapshots after 5 restarts (-want +got):\n%s", diff)
	}
}
