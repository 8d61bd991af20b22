package storage

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCreateLogIsIdempotentAndReplacesStaleTopic(t *testing.T) {
	d, l, _ := testLog(t, testLogConfig())
	mustAppend(t, l, buildBatch(t, spec(3)))
	again, err := d.CreateLog(testTP, testTopicID, testLogConfig())
	if err != nil || again != l {
		t.Fatalf("CreateLog(same topic id) = %p, %v; want the existing log %p", again, err, l)
	}
	b, err := os.ReadFile(filepath.Join(l.dir, partitionMetadataFile))
	if err != nil || string(b) != "version: 0\ntopic_id: AQIDBAUGBwgJCgsMDQ4PEA\n" {
		t.Fatalf("partition.metadata = %q, %v", b, err)
	}
	newID := [16]byte{9}
	fresh, err := d.CreateLog(testTP, newID, testLogConfig())
	if err != nil {
		t.Fatal(err)
	}
	if fresh == l || fresh.LogEndOffset() != 0 || fresh.TopicID() != newID {
		t.Fatalf("CreateLog(new topic id): same log %v, LEO %d, id %x; want a fresh empty log", fresh == l, fresh.LogEndOffset(), fresh.TopicID())
	}
	_, err = l.Read(0, 100, 3, true)
	wantErr(t, "Read on the replaced log", err, ErrLogClosed)
	if got, ok := d.Log(testTP); !ok || got != fresh {
		t.Fatalf("Log(%v) is not the fresh log", testTP)
	}
}

func TestDeleteLog(t *testing.T) {
	d, l, _ := testLog(t, testLogConfig())
	mustAppend(t, l, buildBatch(t, spec(3)))
	other := TopicPartition{Topic: "my-topic-with-dashes", Partition: 12}
	if _, err := d.CreateLog(other, [16]byte{7}, testLogConfig()); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteLog(testTP); err != nil {
		t.Fatal(err)
	}
	if _, ok := d.Log(testTP); ok {
		t.Fatalf("Log(%v) still present after DeleteLog", testTP)
	}
	_, err := l.AppendAsLeader(buildBatch(t, spec(1)), 1, t0)
	wantErr(t, "AppendAsLeader on deleted log", err, ErrLogClosed)
	matches, _ := filepath.Glob(filepath.Join(d.cfg.Dir, "events-3.*-delete"))
	if len(matches) != 1 {
		t.Fatalf("renamed dirs = %v, want one events-3.<hex>-delete", matches)
	}
	if err := d.deleter.runDue(d.now(), false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(matches[0]); !os.IsNotExist(err) {
		t.Fatalf("deleted dir still present: %v", err)
	}
	if err := d.DeleteLog(testTP); err != nil {
		t.Fatalf("DeleteLog(missing) = %v, want nil", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d2 := openDir(t, d.cfg.Dir, newTestClock())
	defer d2.Close()
	logs := d2.Logs()
	if len(logs) != 1 || logs[0].TopicPartition() != other || logs[0].TopicID() != [16]byte{7} {
		t.Fatalf("after reopen: %d logs, want only %v", len(logs), other)
	}
}

func TestCloseWritesCheckpointsAndMarker(t *testing.T) {
	d, l, clock := testLog(t, testLogConfig())
	mustAppend(t, l, buildBatch(t, spec(3)))
	if _, err := d.CreateLog(TopicPartition{Topic: "a.b_c", Partition: 0}, [16]byte{1}, testLogConfig()); err != nil {
		t.Fatal(err)
	}
	if err := l.DeleteRecordsBefore(1); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(d.cfg.Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got, want := read(recoveryPointFile), "0\n2\na.b_c 0 0\nevents 3 3\n"; got != want {
		t.Errorf("%s = %q, want %q", recoveryPointFile, got, want)
	}
	if got, want := read(logStartOffsetFile), "0\n2\na.b_c 0 0\nevents 3 1\n"; got != want {
		t.Errorf("%s = %q, want %q", logStartOffsetFile, got, want)
	}
	if _, err := os.Stat(filepath.Join(d.cfg.Dir, cleanShutdownFile)); err != nil {
		t.Fatalf("no clean shutdown marker: %v", err)
	}
	d2 := openDir(t, d.cfg.Dir, clock)
	defer d2.Close()
	if _, err := os.Stat(filepath.Join(d.cfg.Dir, cleanShutdownFile)); !os.IsNotExist(err) {
		t.Fatalf("clean shutdown marker still present after open: %v", err)
	}
	l2, _ := d2.Log(testTP)
	if l2.LogStartOffset() != 1 || l2.LogEndOffset() != 3 {
		t.Fatalf("after reopen: LSO %d LEO %d, want 1 3", l2.LogStartOffset(), l2.LogEndOffset())
	}
	_, err := l2.Read(0, 100, 3, true)
	wantErr(t, "Read(0) below log start offset", err, ErrOffsetOutOfRange)
}

func TestOpenLogDirRejectsCorruptCheckpoint(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, recoveryPointFile), []byte("0\n2\nevents 0 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := OpenLogDir(testConfig(dir, newTestClock()))
	wantErr(t, "OpenLogDir(corrupt checkpoint)", err, ErrCorruptLog)
}

func TestParsePartitionDir(t *testing.T) {
	tests := []struct {
		give string
		want TopicPartition
		ok   bool
	}{
		{"events-0", TopicPartition{"events", 0}, true},
		{"my-topic-12", TopicPartition{"my-topic", 12}, true},
		{"__consumer_offsets-49", TopicPartition{"__consumer_offsets", 49}, true},
		{"events", TopicPartition{}, false},
		{"events-", TopicPartition{}, false},
		{"-3", TopicPartition{}, false},
		{"events-01", TopicPartition{}, false},
		{"events-1.abc-delete", TopicPartition{}, false},
		{"events-1.abc-future", TopicPartition{}, false},
		{"bad topic-1", TopicPartition{}, false},
	}
	for _, tt := range tests {
		got, ok := parsePartitionDir(tt.give)
		if ok != tt.ok || got != tt.want {
			t.Errorf("parsePartitionDir(%q) = %v, %v; want %v, %v", tt.give, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseFsyncPolicy(t *testing.T) {
	for _, p := range []FsyncPolicy{FsyncNever, FsyncInterval, FsyncAlways} {
		got, err := ParseFsyncPolicy(strings.ToUpper(p.String()))
		if err != nil || got != p {
			t.Errorf("ParseFsyncPolicy(%q) = %v, %v; want %v", p.String(), got, err, p)
		}
	}
	if _, err := ParseFsyncPolicy("sometimes"); err == nil {
		t.Errorf("ParseFsyncPolicy(sometimes) succeeded")
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultLogConfig().Validate(); err != nil {
		t.Fatalf("DefaultLogConfig().Validate() = %v", err)
	}
	if err := DefaultConfig("/x").Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
	bad := DefaultLogConfig()
	bad.SegmentBytes = 1
	bad.ProducerIDExpiration = 0
	err := bad.Validate()
	if err == nil || !strings.Contains(err.Error(), "segment bytes") || !strings.Contains(err.Error(), "producer id expiration") {
		t.Fatalf("Validate(two bad fields) = %v, want both reported", err)
	}
}

func TestCheckpointFormats(t *testing.T) {
	m := map[TopicPartition]int64{{"b", 1}: 7, {"a", 10}: 0, {"a", 2}: 1 << 40}
	b := encodeOffsetCheckpoint(m)
	if want := "0\n3\na 2 1099511627776\na 10 0\nb 1 7\n"; string(b) != want {
		t.Fatalf("encodeOffsetCheckpoint = %q, want %q", b, want)
	}
	got, err := decodeOffsetCheckpoint(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m, got); diff != "" {
		t.Fatalf("offset checkpoint round trip (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"", "1\n0\n", "0\n1\n", "0\n1\na 1\n", "0\n1\na -1 2\n", "0\n1\na 1 2", "0\n2\na 1 2\na 1 3\n"} {
		if _, err := decodeOffsetCheckpoint([]byte(bad)); err == nil {
			t.Errorf("decodeOffsetCheckpoint(%q) succeeded", bad)
		}
	}
	epochs := []epochEntry{{0, 0}, {3, 100}}
	if got, err := decodeEpochCheckpoint(encodeEpochCheckpoint(epochs)); err != nil || !cmp.Equal(got, epochs) {
		t.Fatalf("epoch checkpoint round trip = %v, %v", got, err)
	}
	if _, err := decodeEpochCheckpoint([]byte("0\n2\n3 100\n2 200\n")); err == nil {
		t.Fatalf("decodeEpochCheckpoint(decreasing epochs) succeeded")
	}
}

func TestEpochCache(t *testing.T) {
	var c epochCache
	c.assign(1, 0)
	c.assign(1, 5) // same epoch later: no change
	c.assign(3, 10)
	c.assign(5, 20)
	if diff := cmp.Diff([]epochEntry{{1, 0}, {3, 10}, {5, 20}}, c.snapshot()); diff != "" {
		t.Fatalf("after assigns (-want +got):\n%s", diff)
	}
	c.assign(4, 15) // conflicts with epoch 5: it goes
	if diff := cmp.Diff([]epochEntry{{1, 0}, {3, 10}, {4, 15}}, c.snapshot()); diff != "" {
		t.Fatalf("after conflicting assign (-want +got):\n%s", diff)
	}
	c.truncateFromStart(12)
	if diff := cmp.Diff([]epochEntry{{3, 12}, {4, 15}}, c.snapshot()); diff != "" {
		t.Fatalf("after truncateFromStart(12) (-want +got):\n%s", diff)
	}
	c.truncateFromEnd(15)
	if diff := cmp.Diff([]epochEntry{{3, 12}}, c.snapshot()); diff != "" {
		t.Fatalf("after truncateFromEnd(15) (-want +got):\n%s", diff)
	}
	if e, off := c.endOffsetFor(1<<31-1, 99); e != -1 || off != -1 {
		t.Fatalf("endOffsetFor(max int32) = %d, %d; want -1, -1", e, off)
	}
}

// TestHighWatermarkCheckpoint: the partition's high watermark is
// checkpointed (replication-offset-checkpoint) and offered back, capped at
// the log end offset, when the directory opens again.
func TestHighWatermarkCheckpoint(t *testing.T) {
	cfg := testLogConfig()
	d, l, clock := testLog(t, cfg)
	if got := l.CheckpointedHighWatermark(); got != -1 {
		t.Errorf("new log: CheckpointedHighWatermark = %d, want -1", got)
	}
	mustAppend(t, l, buildBatch(t, spec(10)))
	l.SetHighWatermark(6)
	d, l = reopen(t, d, clock, cfg)
	if got := l.CheckpointedHighWatermark(); got != 6 {
		t.Errorf("after a restart: CheckpointedHighWatermark = %d, want 6", got)
	}
	// A checkpointed high watermark beyond what the log holds is capped.
	l.SetHighWatermark(50)
	_, l = reopen(t, d, clock, cfg)
	if got := l.CheckpointedHighWatermark(); got != 10 {
		t.Errorf("high watermark 50 over 10 records: CheckpointedHighWatermark = %d, want 10", got)
	}
}
