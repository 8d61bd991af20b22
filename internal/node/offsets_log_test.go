package node

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/strata-io/strata/internal/coordinator"
	"github.com/strata-io/strata/internal/group"
	"github.com/strata-io/strata/internal/partition"
	"github.com/strata-io/strata/internal/storage"
)

// TestOffsetsLogReplaysTransactionalBatchesAndMarkers: what a group shard
// writes through offsetsLog (plain, transactional, markers) replays with
// its producer ids and markers, in offset order.
func TestOffsetsLogReplaysTransactionalBatchesAndMarkers(t *testing.T) {
	d, err := storage.OpenLogDir(storage.DefaultConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	l, err := d.CreateLog(storage.TopicPartition{Topic: offsetsTopic, Partition: 0}, [16]byte{1}, storage.DefaultLogConfig())
	if err != nil {
		t.Fatal(err)
	}
	p := partition.New(l, partition.Config{NodeID: 1, Limits: partition.Limits{MaxMessageBytes: 1 << 20}},
		partition.LeaderAndISR{Leader: 1, LeaderEpoch: 1, Replicas: []int32{1}, ISR: []int32{1}})
	p.Topic = offsetsTopic
	ol := offsetsLog{p: p}

	rec := func(k, v string) group.Record { return group.Record{Key: []byte(k), Value: []byte(v)} }
	steps := []func() (int64, error){
		func() (int64, error) { return ol.Append([]group.Record{rec("a", "1")}) },
		func() (int64, error) {
			return ol.AppendTransactional(7, 2, []group.Record{rec("b", "2"), rec("c", "3")})
		},
		func() (int64, error) { return ol.AppendTransactional(7, 2, []group.Record{rec("d", "4")}) }, // sequence -1 again
		func() (int64, error) { return ol.AppendMarker(7, 2, 5, true) },
		func() (int64, error) { return ol.AppendTransactional(8, 0, []group.Record{rec("e", "5")}) },
		func() (int64, error) { return ol.AppendMarker(8, 0, 5, false) },
	}
	wantEnds := []int64{1, 3, 4, 5, 6, 7}
	for i, step := range steps {
		end, err := step()
		if err != nil || end != wantEnds[i] {
			t.Fatalf("step %d = %d, %v; want end %d", i, end, err, wantEnds[i])
		}
	}
	if err := ol.Commit(t.Context(), 7); err != nil {
		t.Fatalf("Commit(7): %v", err)
	}
	_, err = ol.AppendMarker(7, 2, 4, true)
	if !errors.Is(err, storage.ErrCoordinatorFenced) {
		t.Fatalf("AppendMarker(coordinator epoch 4 after 5) = %v, want ErrCoordinatorFenced", err)
	}

	var got []coordinator.ReplayRecord
	if err := ol.Replay(t.Context(), func(r coordinator.ReplayRecord) error { got = append(got, r); return nil }); err != nil {
		t.Fatalf("Replay: %v", err)
	}
	txn := func(off int64, pid int64, epoch int16, k, v string) coordinator.ReplayRecord {
		return coordinator.ReplayRecord{Offset: off, Key: []byte(k), Value: []byte(v), ProducerID: pid, ProducerEpoch: epoch, Transactional: true}
	}
	want := []coordinator.ReplayRecord{
		{Offset: 0, Key: []byte("a"), Value: []byte("1"), ProducerID: -1, ProducerEpoch: -1},
		txn(1, 7, 2, "b", "2"),
		txn(2, 7, 2, "c", "3"),
		txn(3, 7, 2, "d", "4"),
		{Offset: 4, ProducerID: 7, ProducerEpoch: 2, Transactional: true, Control: true, Commit: true},
		txn(5, 8, 0, "e", "5"),
		{Offset: 6, ProducerID: 8, ProducerEpoch: 0, Transactional: true, Control: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Replay (-want +got):\n%s", diff)
	}
}

// TestOffsetsLogReplaysPastTheHighWatermark: a new leader's high watermark
// lags its log end until its followers fetch in its epoch; the previous
// coordinator's last writes (acknowledged once replicated here) sit in
// that lag, so a shard loads to the log end, as Kafka's coordinators do.
func TestOffsetsLogReplaysPastTheHighWatermark(t *testing.T) {
	d, err := storage.OpenLogDir(storage.DefaultConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	l, err := d.CreateLog(storage.TopicPartition{Topic: offsetsTopic, Partition: 0}, [16]byte{1}, storage.DefaultLogConfig())
	if err != nil {
		t.Fatal(err)
	}
	// Follower 2 never fetches: nothing appended here is committed.
	p := partition.New(l, partition.Config{NodeID: 1, Limits: partition.Limits{MaxMessageBytes: 1 << 20}},
		partition.LeaderAndISR{Leader: 1, LeaderEpoch: 1, Replicas: []int32{1, 2}, ISR: []int32{1, 2}})
	p.Topic = offsetsTopic
	ol := offsetsLog{p: p}
	for _, k := range []string{"a", "b"} {
		if _, err := ol.Append([]group.Record{{Key: []byte(k), Value: []byte("v")}}); err != nil {
			t.Fatal(err)
		}
	}
	if hw := p.HighWatermark(); hw != 0 {
		t.Fatalf("high watermark = %d, want 0 (the follower has fetched nothing)", hw)
	}
	var keys []string
	if err := ol.Replay(t.Context(), func(r coordinator.ReplayRecord) error { keys = append(keys, string(r.Key)); return nil }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "b"}, keys); diff != "" {
		t.Fatalf("replayed keys (-want +got):\n%s", diff)
	}
}
