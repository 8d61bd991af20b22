package node

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strata-io/strata/internal/clock"
)

// TestWallClockJumps jumps the broker's wall clock (internal/clock, what
// --test-clock-offset-file drives) forward an hour and back, and an hour
// behind, with the default retention (7 days): committed transactions,
// the group's committed offsets and every record survive, no segment is
// deleted, LogAppendTime follows the shifted clock, and a transaction open
// across a forward jump is aborted as timed out (Kafka compares its start
// with the wall clock too) instead of staying stuck.
func TestWallClockJumps(t *testing.T) {
	defer clock.SetOffset(0)
	tn := startNode(t, withAutoCreate(false), withTxnPartitions(1), func(s *configStatic) { s.TransactionAbortInterval = 200 * time.Millisecond })
	tn.createTopic("jump", 1, nil)
	lat := "LogAppendTime"
	tn.createTopic("jump-lat", 1, map[string]*string{"message.timestamp.type": &lat})
	ctx := ctxTimeout(t, 3*time.Minute)
	adm := tn.admin()

	prod := tn.client(kgo.TransactionalID("jump-app"), kgo.TransactionTimeout(20*time.Second))
	group := tn.client(kgo.ConsumerGroup("jump-g"), kgo.ConsumeTopics("jump"), kgo.DisableAutoCommit(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	plain := tn.client()
	var want, consumed []string
	var latWant []time.Time
	for i, off := range []time.Duration{0, time.Hour, 0, -time.Hour, 0} {
		clock.SetOffset(off)
		committed := seq(fmt.Sprintf("p%d", i), 5)
		produceTxn(t, prod, "jump", 1, committed, true)
		produceTxn(t, prod, "jump", 1, seq(fmt.Sprintf("a%d", i), 2), false)
		want = append(want, committed...)

		// The group reads the phase's committed records and commits.
		for len(consumed) < len(want) {
			fs := group.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("phase %d (offset %v): consumed %d of %d", i, off, len(consumed), len(want))
			}
			fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("phase %d: fetch: %v", i, err) })
			fs.EachRecord(func(r *kgo.Record) { consumed = append(consumed, string(r.Value)) })
		}
		if err := group.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatalf("phase %d (offset %v): commit: %v", i, off, err)
		}

		// LogAppendTime is the shifted clock (checked below).
		latWant = append(latWant, time.Now().Add(off))
		if err := plain.ProduceSync(ctx, &kgo.Record{Topic: "jump-lat", Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
			t.Fatalf("phase %d: produce to jump-lat: %v", i, err)
		}
	}
	for i, r := range consumeAll(t, tn, "jump-lat", len(latWant)) {
		if d := r.Timestamp.Sub(latWant[i]); d < -time.Minute || d > time.Minute {
			t.Errorf("jump-lat record %d: LogAppendTime %v is %v from the shifted clock of its phase", i, r.Timestamp, d)
		}
	}
	if !slices.Equal(consumed, want) {
		t.Fatalf("the group consumed %q, want %q", consumed, want)
	}

	// A transaction open when the clock jumps forward past its timeout is
	// aborted by the coordinator: read_committed moves on.
	clock.SetOffset(0)
	if err := prod.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := prod.ProduceSync(ctx, &kgo.Record{Topic: "jump", Value: []byte("timed-out")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	clock.SetOffset(time.Hour)
	waitStable(t, ctx, adm, "jump")
	if err := prod.EndTransaction(ctx, kgo.TryCommit); err == nil {
		t.Fatal("commit of a transaction the coordinator aborted succeeded")
	}
	prod.Close()
	clock.SetOffset(0)
	prod2 := tn.client(kgo.TransactionalID("jump-app"))
	produceTxn(t, prod2, "jump", 1, []string{"after"}, true)
	want = append(want, "after")

	got := valuesOf(t, tn.addr, "jump", len(want), kgo.ReadCommitted())
	if !slices.Equal(got[0], want) {
		t.Fatalf("read_committed from the start = %q, want %q", got[0], want)
	}
	starts, err := adm.ListStartOffsets(ctx, "jump", "jump-lat")
	if err != nil {
		t.Fatal(err)
	}
	starts.Each(func(o kadm.ListedOffset) {
		if o.Err != nil || o.Offset != 0 {
			t.Errorf("log start offset of %s[%d] = %d, %v; want 0 (nothing deleted)", o.Topic, o.Partition, o.Offset, o.Err)
		}
	})
	offs, err := adm.FetchOffsets(ctx, "jump-g")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := offs.Lookup("jump", 0); !ok || o.Err != nil || o.At <= 0 {
		t.Fatalf("committed offset of jump-g = %+v, %v", o, ok)
	}
	group.Close()
}

// waitStable waits until topic's last stable offset reaches its high
// watermark on every partition: no transaction is left open.
func waitStable(t *testing.T, ctx context.Context, adm *kadm.Client, topic string) {
	t.Helper()
	for {
		hw, err1 := adm.ListEndOffsets(ctx, topic)
		lso, err2 := adm.ListCommittedOffsets(ctx, topic)
		if err1 == nil && err2 == nil {
			stable := true
			hw.Each(func(o kadm.ListedOffset) {
				if l, ok := lso.Lookup(o.Topic, o.Partition); !ok || l.Offset != o.Offset {
					stable = false
				}
			})
			if stable {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: the last stable offset never reached the high watermark (a stuck transaction)", topic)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestClockOffsetFileShiftsAChildBroker: `strata serve
// --test-clock-offset-file` shifts a broker process's wall clock by the
// file's duration and follows the file when it changes (LogAppendTime
// shows it).
func TestClockOffsetFileShiftsAChildBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	offsetFile := filepath.Join(t.TempDir(), "clock-offset")
	if err := os.WriteFile(offsetFile, []byte("+1h\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	startChild(t, t.TempDir(), addr, "--test-clock-offset-file", offsetFile)
	lat := "LogAppendTime"
	adm := kadm.NewClient(kgoClient(t, addr))
	ctx := ctxTimeout(t, time.Minute)
	if r, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"message.timestamp.type": &lat}, "lat"); err != nil || r.Err != nil {
		t.Fatalf("CreateTopic: %v / %v", err, r.Err)
	}
	cl := kgoClient(t, addr, kgo.DefaultProduceTopic("lat"), kgo.ConsumeTopics("lat"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	// appendTime produces one record and returns the LogAppendTime the
	// broker gave it.
	appendTime := func(v string) time.Time {
		t.Helper()
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		for {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("record %s not consumed", v)
			}
			var ts time.Time
			fs.EachRecord(func(r *kgo.Record) {
				if string(r.Value) == v {
					ts = r.Timestamp
				}
			})
			if !ts.IsZero() {
				return ts
			}
		}
	}
	near := func(what string, got time.Time, off time.Duration) bool {
		d := got.Sub(time.Now().Add(off))
		t.Logf("%s: LogAppendTime is %v from now%+v", what, d.Round(time.Millisecond), off)
		return d > -time.Minute && d < time.Minute
	}
	if ts := appendTime("plus-1h"); !near("+1h", ts, time.Hour) {
		t.Fatalf("LogAppendTime %v with +1h in the file", ts)
	}
	if err := os.WriteFile(offsetFile, []byte("-30m"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the broker to read -30m from the file", 30*time.Second, func() bool {
		return near("-30m", appendTime(fmt.Sprint("minus-30m-", time.Now().UnixNano())), -30*time.Minute)
	})
}
