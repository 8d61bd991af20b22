package kafkaapi

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/group"
	"github.com/strata-io/strata/internal/partition"
	"github.com/strata-io/strata/internal/record"
	"github.com/strata-io/strata/internal/storage"
)

// txnBatch returns a transactional batch of one record for producer pid.
func txnBatch(t testing.TB, pid int64, epoch int16, seq int32) []byte {
	t.Helper()
	now := time.Now().UnixMilli()
	b := record.NewBuilder(record.CodecNone, now)
	b.SetProducer(pid, epoch, seq)
	b.SetTransactional(true)
	b.Add(now, nil, []byte("in a transaction"), nil)
	out, err := b.Build()
	if err != nil {
		t.Fatalf("build transactional batch: %v", err)
	}
	return out
}

// markerSpec is one marker of a WriteTxnMarkers request.
type markerSpec struct {
	pid        int64
	epoch      int16
	coordEpoch int32
	commit     bool
	topic      string
	partitions []int32
}

func markersRequest(version int16, specs ...markerSpec) *kmsg.WriteTxnMarkersRequest {
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	req.Version = version
	for _, s := range specs {
		m := kmsg.NewWriteTxnMarkersRequestMarker()
		m.ProducerID, m.ProducerEpoch, m.CoordinatorEpoch, m.Committed = s.pid, s.epoch, s.coordEpoch, s.commit
		rt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
		rt.Topic, rt.Partitions = s.topic, s.partitions
		m.Topics = append(m.Topics, rt)
		req.Markers = append(req.Markers, m)
	}
	return req
}

type markerErr struct {
	ProducerID int64
	Topic      string
	Partition  int32
	Code       string
}

func markerErrs(resp *kmsg.WriteTxnMarkersResponse) []markerErr {
	var out []markerErr
	for _, m := range resp.Markers {
		for _, t := range m.Topics {
			for _, p := range t.Partitions {
				code := "OK"
				if p.ErrorCode != 0 {
					code = kerr.ErrorForCode(p.ErrorCode).(*kerr.Error).Message
				}
				out = append(out, markerErr{m.ProducerID, t.Topic, p.Partition, code})
			}
		}
	}
	return out
}

func writeMarkers(t *testing.T, h *Handler, req *kmsg.WriteTxnMarkersRequest) []markerErr {
	t.Helper()
	rc := &reqCtx{ctx: t.Context(), hdr: hdrVersion(req.Version), log: slog.New(slog.DiscardHandler)}
	return markerErrs(await(t, h.writeTxnMarkers(rc, req)).(*kmsg.WriteTxnMarkersResponse))
}

// TestWriteTxnMarkersEndTransactions: commit and abort markers end the
// transactions on a partition led here; the last stable offset moves to
// the log end and a read_committed fetch lists the aborted transaction.
func TestWriteTxnMarkersEndTransactions(t *testing.T) {
	wh := newWireHandler(t)
	now := time.Now()
	for _, pid := range []int64{7, 8} {
		if _, err := wh.p.AppendAsLeader(txnBatch(t, pid, 0, 0), now, 1); err != nil {
			t.Fatalf("append transactional batch of producer %d: %v", pid, err)
		}
	}
	if lso := wh.p.Log().LastStableOffset(wh.p.HighWatermark()); lso != 0 {
		t.Fatalf("last stable offset with two open transactions = %d, want 0", lso)
	}

	got := writeMarkers(t, wh.h, markersRequest(1,
		markerSpec{pid: 7, topic: "t", partitions: []int32{0}},               // abort
		markerSpec{pid: 8, commit: true, topic: "t", partitions: []int32{0}}, // commit
	))
	want := []markerErr{{7, "t", 0, "OK"}, {8, "t", 0, "OK"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("WriteTxnMarkers(abort 7, commit 8) (-want +got):\n%s", diff)
	}
	if leo, hw, lso := wh.p.LogEndOffset(), wh.p.HighWatermark(), wh.p.Log().LastStableOffset(wh.p.HighWatermark()); leo != 4 || hw != 4 || lso != 4 {
		t.Fatalf("after both markers: log end %d, high watermark %d, last stable %d; want 4, 4, 4", leo, hw, lso)
	}

	s := startWire(t, wh.h, false)
	w := dialWire(t, s.Addr().String())
	req := wh.fetchRequest(12, 0, 1<<20)
	req.IsolationLevel = 1
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = 12
	w.receive(t, w.send(t, req), resp)
	fp := resp.Topics[0].Partitions[0]
	if fp.ErrorCode != 0 || fp.LastStableOffset != 4 || len(fp.RecordBatches) == 0 {
		t.Fatalf("read_committed fetch = error %d, LSO %d, %d bytes; want 0, 4, the records", fp.ErrorCode, fp.LastStableOffset, len(fp.RecordBatches))
	}
	if len(fp.AbortedTransactions) != 1 || fp.AbortedTransactions[0].ProducerID != 7 || fp.AbortedTransactions[0].FirstOffset != 0 {
		t.Errorf("read_committed aborted transactions = %+v, want producer 7 from offset 0", fp.AbortedTransactions)
	}

	t.Run("stale epochs are fenced", func(t *testing.T) {
		// Producer 7 moves to epoch 1 from coordinator epoch 2.
		if got := writeMarkers(t, wh.h, markersRequest(2, markerSpec{pid: 7, epoch: 1, coordEpoch: 2, topic: "t", partitions: []int32{0}})); got[0].Code != "OK" {
			t.Fatalf("WriteTxnMarkers(7, epoch 1) = %+v, want OK", got)
		}
		leo := wh.p.LogEndOffset()
		got := writeMarkers(t, wh.h, markersRequest(2,
			markerSpec{pid: 7, epoch: 0, coordEpoch: 2, topic: "t", partitions: []int32{0}},
			markerSpec{pid: 8, epoch: 0, coordEpoch: 0, topic: "t", partitions: []int32{0}}, // fine: 8's last marker had coordinator epoch 0
			markerSpec{pid: 7, epoch: 1, coordEpoch: 1, topic: "t", partitions: []int32{0}},
		))
		want := []markerErr{
			{7, "t", 0, kerr.InvalidProducerEpoch.Message},
			{8, "t", 0, "OK"},
			{7, "t", 0, kerr.TransactionCoordinatorFenced.Message},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("WriteTxnMarkers with stale epochs (-want +got):\n%s", diff)
		}
		if n := wh.p.LogEndOffset() - leo; n != 1 {
			t.Errorf("stale markers: log grew by %d, want 1 (only producer 8's)", n)
		}
	})
	t.Run("unknown partitions", func(t *testing.T) {
		got := writeMarkers(t, wh.h, markersRequest(1,
			markerSpec{pid: 9, topic: "t", partitions: []int32{5}},
			markerSpec{pid: 9, topic: "nope", partitions: []int32{0}},
		))
		want := []markerErr{{9, "t", 5, kerr.UnknownTopicOrPartition.Message}, {9, "nope", 0, kerr.UnknownTopicOrPartition.Message}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("WriteTxnMarkers to partitions not hosted here (-want +got):\n%s", diff)
		}
	})
}

// TestWriteTxnMarkersNotLeader: a partition hosted here as a follower is
// answered NOT_LEADER_OR_FOLLOWER; one led here waits for its follower
// before answering.
func TestWriteTxnMarkersNotLeader(t *testing.T) {
	th := newTestHandler(t)
	p0, _ := th.parts.Get("t", 0)
	if _, err := p0.AppendAsLeader(txnBatch(t, 3, 0, 0), time.Now(), 1); err != nil {
		t.Fatal(err)
	}
	rc := th.rc(t, 1)
	r := th.h.writeTxnMarkers(rc, markersRequest(1, markerSpec{pid: 3, commit: true, topic: "t", partitions: []int32{0, 1}}))
	if r.Later == nil {
		t.Fatal("WriteTxnMarkers to a partition with a follower in the ISR answered at once, want a wait for the commit")
	}
	// The follower fetches the marker: the high watermark reaches it.
	p0.UpdateFollower(2, -1, p0.LogEndOffset(), 0, time.Now())
	got := markerErrs(await(t, r).(*kmsg.WriteTxnMarkersResponse))
	want := []markerErr{{3, "t", 0, "OK"}, {3, "t", 1, kerr.NotLeaderForPartition.Message}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("WriteTxnMarkers to t-0 (leader) and t-1 (follower) (-want +got):\n%s", diff)
	}
}

// fakeGroups completes transactions on __consumer_offsets with a set
// error per partition.
type fakeGroups struct{ errs map[int32]error }

func (g fakeGroups) CompleteTransaction(_ context.Context, p int32, _ int64, _ int16, _ int32, _ bool) error {
	return g.errs[p]
}

// hostPartition adds a one-replica partition led here to h's table.
func hostPartition(t *testing.T, h *Handler, topic string, index int32) {
	t.Helper()
	ld, err := storage.OpenLogDir(storage.DefaultConfig(t.TempDir()))
	if err != nil {
		t.Fatalf("OpenLogDir: %v", err)
	}
	t.Cleanup(func() { _ = ld.Close() })
	l, err := ld.CreateLog(storage.TopicPartition{Topic: topic, Partition: index}, [16]byte{1}, storage.DefaultLogConfig())
	if err != nil {
		t.Fatalf("CreateLog: %v", err)
	}
	p := partition.New(l, partition.Config{NodeID: 1, Logger: slog.New(slog.DiscardHandler)}, partition.LeaderAndISR{Leader: 1, Replicas: []int32{1}, ISR: []int32{1}})
	p.Topic, p.Index = topic, index
	p.SetLimits(partition.Limits{MaxMessageBytes: 1 << 20, TimestampBeforeMaxMs: math.MaxInt64, TimestampAfterMaxMs: math.MaxInt64})
	h.partitions.Put(p)
}

// TestWriteTxnMarkersConsumerOffsets: markers for __consumer_offsets go to
// the group coordinator, whose coordinator errors become
// NOT_LEADER_OR_FOLLOWER as in Kafka.
func TestWriteTxnMarkersConsumerOffsets(t *testing.T) {
	wh := newWireHandler(t)
	for i := range int32(5) {
		hostPartition(t, wh.h, group.OffsetsTopic, i)
	}
	req := markersRequest(1, markerSpec{pid: 4, commit: true, topic: group.OffsetsTopic, partitions: []int32{0, 1, 2, 3, 4, 9}})

	// No group coordinator wired: retriable.
	got := writeMarkers(t, wh.h, req)
	for _, g := range got[:5] {
		if g.Code != kerr.NotLeaderForPartition.Message {
			t.Fatalf("WriteTxnMarkers to %s-%d without a group coordinator = %s, want NOT_LEADER_OR_FOLLOWER", g.Topic, g.Partition, g.Code)
		}
	}

	wh.h.SetTxnMarkerGroups(fakeGroups{errs: map[int32]error{
		1: fmt.Errorf("partition 1: %w", group.ErrLoadInProgress),
		2: fmt.Errorf("partition 2: %w", group.ErrNotCoordinator),
		3: fmt.Errorf("marker: %w", storage.ErrProducerFenced),
		4: fmt.Errorf("marker: %w", storage.ErrCoordinatorFenced),
	}})
	got = writeMarkers(t, wh.h, req)
	want := []markerErr{
		{4, group.OffsetsTopic, 0, "OK"},
		{4, group.OffsetsTopic, 1, kerr.NotLeaderForPartition.Message},
		{4, group.OffsetsTopic, 2, kerr.NotLeaderForPartition.Message},
		{4, group.OffsetsTopic, 3, kerr.InvalidProducerEpoch.Message},
		{4, group.OffsetsTopic, 4, kerr.TransactionCoordinatorFenced.Message},
		{4, group.OffsetsTopic, 9, kerr.UnknownTopicOrPartition.Message},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("WriteTxnMarkers to __consumer_offsets (-want +got):\n%s", diff)
	}
}
