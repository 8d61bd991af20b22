package kafkaapi

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"

	"github.com/strata-io/strata/internal/controller"
	"github.com/strata-io/strata/internal/metadata"
	"github.com/strata-io/strata/internal/partition"
	"github.com/strata-io/strata/internal/protocol"
	"github.com/strata-io/strata/internal/raft"
	"github.com/strata-io/strata/internal/record"
	"github.com/strata-io/strata/internal/server"
	"github.com/strata-io/strata/internal/storage"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeQuorum applies proposals to the loader at once, as a one-voter
// quorum would; leader says whether this node may propose.
type fakeQuorum struct {
	loader *metadata.Loader
	mu     sync.Mutex
	index  uint64
	leader atomic.Bool
}

func (q *fakeQuorum) Propose(_ context.Context, data []byte) (uint64, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.index++
	return q.index, q.loader.Apply(q.index, data)
}
func (q *fakeQuorum) WaitReady(context.Context) error { return nil }
func (q *fakeQuorum) IsLeader() bool                  { return q.leader.Load() }
func (q *fakeQuorum) AddNonvoter(context.Context, int32, string) error {
	return errors.New("fakeQuorum has no observers")
}

type testChannel struct{ ctrl *controller.Controller }

func (c testChannel) ActiveControllerID() int32 { return 1 }
func (c testChannel) CreateTopics(ctx context.Context, ts []controller.CreateTopic) []controller.CreateTopicResult {
	return c.ctrl.CreateTopics(ctx, ts, false)
}
func (c testChannel) AllocateProducerIDs(ctx context.Context, n int64) (int64, error) {
	return c.ctrl.AllocateProducerIDs(ctx, n)
}
func (c testChannel) Forward(context.Context, kmsg.Request) (kmsg.Response, error) {
	return nil, errors.New("testChannel does not forward")
}
func (c testChannel) Quorum(context.Context) (raft.QuorumState, error) {
	return raft.QuorumState{LeaderID: 1, Term: 3, CommitIndex: 10, LastIndex: 10, Voters: []int32{1}}, nil
}
func (c testChannel) ListenerOf(int32) (string, int32, bool) { return "", 0, false }

// testHandler is a handler for broker 1 of a two-broker cluster whose
// controller runs here, with topic "t" (two partitions, replicas [1 2]
// and [2 1]) hosted in a temporary log directory.
type testHandler struct {
	h      *Handler
	q      *fakeQuorum
	ctrl   *controller.Controller
	parts  *partition.Table
	logDir string
}

// startTestController runs node 1's controller on a fakeQuorum, with a
// cluster id, until the test ends.
func startTestController(tb testing.TB) (*controller.Controller, *fakeQuorum) {
	tb.Helper()
	log := slog.New(slog.DiscardHandler)
	loader := metadata.NewLoader(metadata.LoaderConfig{Logger: log})
	q := &fakeQuorum{loader: loader}
	q.leader.Store(true)
	ccfg := controller.DefaultConfig()
	ccfg.NodeID, ccfg.Quorum, ccfg.Loader, ccfg.Logger = 1, q, loader, log
	ccfg.AutoLeaderRebalance = false
	ctrl, err := controller.New(ccfg)
	if err != nil {
		tb.Fatalf("controller.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = ctrl.Run(ctx) })
	tb.Cleanup(func() { cancel(); wg.Wait() })
	if err := ctrl.EnsureClusterID(ctx); err != nil {
		tb.Fatalf("EnsureClusterID: %v", err)
	}
	return ctrl, q
}

func newTestHandler(t *testing.T) *testHandler {
	t.Helper()
	ctrl, q := startTestController(t)
	log := slog.New(slog.DiscardHandler)
	for _, id := range []int32{1, 2} {
		if err := ctrl.RegisterBroker(t.Context(), controller.BrokerRegistration{NodeID: id, Host: "host", Port: 9090 + id}); err != nil {
			t.Fatalf("RegisterBroker(%d): %v", id, err)
		}
		b, _ := ctrl.Image().Broker(id)
		if _, err := ctrl.BrokerHeartbeat(t.Context(), controller.HeartbeatRequest{BrokerID: id, BrokerEpoch: b.BrokerEpoch, CurrentMetadataOffset: int64(ctrl.Image().Index())}); err != nil {
			t.Fatalf("BrokerHeartbeat(%d): %v", id, err)
		}
	}
	res := ctrl.CreateTopics(t.Context(), []controller.CreateTopic{{Name: "t", Assignments: map[int32][]int32{0: {1, 2}, 1: {2, 1}}, NumPartitions: -1, ReplicationFactor: -1}}, false)
	if res[0].Err != nil {
		t.Fatalf("CreateTopics: %v", res[0].Err)
	}

	dir := filepath.Join(t.TempDir(), "logs")
	ld, err := storage.OpenLogDir(storage.DefaultConfig(dir))
	if err != nil {
		t.Fatalf("OpenLogDir: %v", err)
	}
	t.Cleanup(func() { _ = ld.Close() })
	parts := partition.NewTable()
	topic, _ := ctrl.Image().TopicByName("t")
	for _, pi := range topic.Partitions {
		l, err := ld.CreateLog(storage.TopicPartition{Topic: "t", Partition: pi.Partition}, topic.ID, storage.DefaultLogConfig())
		if err != nil {
			t.Fatalf("CreateLog: %v", err)
		}
		st := partition.LeaderAndISR{Leader: pi.Leader, LeaderEpoch: pi.LeaderEpoch, PartitionEpoch: pi.PartitionEpoch, Replicas: pi.Replicas, ISR: pi.ISR}
		p := partition.New(l, partition.Config{NodeID: 1, Logger: log}, st)
		p.Topic, p.Index, p.TopicID = "t", pi.Partition, topic.ID
		p.SetLimits(partition.Limits{MaxMessageBytes: 1 << 20, TimestampBeforeMaxMs: math.MaxInt64, TimestampAfterMaxMs: math.MaxInt64})
		parts.Put(p)
	}
	h := New(Config{NodeID: 1, LogDir: dir, Logger: log}, parts, ctrl, testChannel{ctrl}, nil)
	return &testHandler{h: h, q: q, ctrl: ctrl, parts: parts, logDir: dir}
}

func (th *testHandler) rc(t *testing.T, version int16) *reqCtx {
	return &reqCtx{ctx: t.Context(), hdr: hdrVersion(version), log: slog.New(slog.DiscardHandler)}
}

// await returns the response of r, waiting for a deferred one.
func await(t *testing.T, r server.Response) kmsg.Response {
	t.Helper()
	if r.Later == nil {
		return r.Msg
	}
	select {
	case got := <-r.Later:
		return got.Msg
	case <-time.After(30 * time.Second):
		t.Fatal("no response within 30s")
		return nil
	}
}

type partErr struct {
	Topic     string
	Partition int32
	Code      int16
}

func electErrs(resp *kmsg.ElectLeadersResponse) []partErr {
	var out []partErr
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			out = append(out, partErr{t.Topic, p.Partition, p.ErrorCode})
		}
	}
	return out
}

func TestElectLeaders(t *testing.T) {
	th := newTestHandler(t)
	elect := func(version int16, typ int8, topics []kmsg.ElectLeadersRequestTopic) *kmsg.ElectLeadersResponse {
		req := kmsg.NewPtrElectLeadersRequest()
		req.Version, req.ElectionType, req.Topics = version, typ, topics
		return await(t, th.h.electLeaders(th.rc(t, version), req)).(*kmsg.ElectLeadersResponse)
	}
	named := []kmsg.ElectLeadersRequestTopic{{Topic: "t", Partitions: []int32{0, 1, 7}}, {Topic: "nope", Partitions: []int32{0}}}

	t.Run("preferred leaders already lead", func(t *testing.T) {
		resp := elect(2, 0, named)
		want := []partErr{
			{"t", 0, kerr.ElectionNotNeeded.Code}, {"t", 1, kerr.ElectionNotNeeded.Code},
			{"t", 7, kerr.UnknownTopicOrPartition.Code}, {"nope", 0, kerr.UnknownTopicOrPartition.Code},
		}
		if diff := cmp.Diff(want, electErrs(resp)); resp.ErrorCode != 0 || diff != "" {
			t.Errorf("ElectLeaders(preferred) top-level %d, partitions (-want +got):\n%s", resp.ErrorCode, diff)
		}
	})
	t.Run("unclean with leaders is not needed", func(t *testing.T) {
		resp := elect(1, 1, named[:1])
		want := []partErr{{"t", 0, kerr.ElectionNotNeeded.Code}, {"t", 1, kerr.ElectionNotNeeded.Code}, {"t", 7, kerr.UnknownTopicOrPartition.Code}}
		if diff := cmp.Diff(want, electErrs(resp)); diff != "" {
			t.Errorf("ElectLeaders(unclean) partitions (-want +got):\n%s", diff)
		}
	})
	t.Run("null topics leave out elections not needed", func(t *testing.T) {
		if resp := elect(2, 0, nil); resp.ErrorCode != 0 || len(resp.Topics) != 0 {
			t.Errorf("ElectLeaders(all) = code %d topics %+v, want none", resp.ErrorCode, resp.Topics)
		}
	})
	t.Run("preferred replica moves back", func(t *testing.T) {
		// Move partition 0's leadership to broker 2 by fencing broker 1 in
		// a controlled shutdown, then bring broker 1 back.
		b1, _ := th.ctrl.Image().Broker(1)
		if _, err := th.ctrl.BrokerHeartbeat(t.Context(), controller.HeartbeatRequest{BrokerID: 1, BrokerEpoch: b1.BrokerEpoch, CurrentMetadataOffset: int64(th.ctrl.Image().Index()), WantShutDown: true}); err != nil {
			t.Fatalf("BrokerHeartbeat(shutdown): %v", err)
		}
		if p, _ := th.ctrl.Image().Partition(mustTopicID(t, th), 0); p.Leader != 2 {
			t.Fatalf("after controlled shutdown of 1, partition 0 leader = %d, want 2", p.Leader)
		}
		if err := th.ctrl.RegisterBroker(t.Context(), controller.BrokerRegistration{NodeID: 1, Host: "host", Port: 9091}); err != nil {
			t.Fatalf("RegisterBroker(1): %v", err)
		}
		b1, _ = th.ctrl.Image().Broker(1)
		if _, err := th.ctrl.BrokerHeartbeat(t.Context(), controller.HeartbeatRequest{BrokerID: 1, BrokerEpoch: b1.BrokerEpoch, CurrentMetadataOffset: int64(th.ctrl.Image().Index())}); err != nil {
			t.Fatalf("BrokerHeartbeat(1): %v", err)
		}
		only0 := []kmsg.ElectLeadersRequestTopic{{Topic: "t", Partitions: []int32{0}}}
		p, _ := th.ctrl.Image().Partition(mustTopicID(t, th), 0)
		resp := elect(2, 0, only0)
		if diff := cmp.Diff([]partErr{{"t", 0, kerr.PreferredLeaderNotAvailable.Code}}, electErrs(resp)); diff != "" {
			t.Errorf("ElectLeaders(preferred) with ISR %v (-want +got):\n%s", p.ISR, diff)
		}
		// Broker 2, leading, lets 1 back into the ISR.
		b2, _ := th.ctrl.Image().Broker(2)
		if _, err := th.ctrl.AlterPartition(t.Context(), controller.AlterPartitionRequest{BrokerID: 2, BrokerEpoch: b2.BrokerEpoch,
			Topics: []controller.AlterPartitionTopic{{TopicID: mustTopicID(t, th), Partitions: []controller.AlterPartitionData{
				{Partition: 0, LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch, NewISR: []int32{2, 1}},
			}}}}); err != nil {
			t.Fatalf("AlterPartition: %v", err)
		}
		resp = elect(2, 0, only0)
		if diff := cmp.Diff([]partErr{{"t", 0, 0}}, electErrs(resp)); diff != "" {
			t.Errorf("ElectLeaders(preferred) with 1 in the ISR (-want +got):\n%s", diff)
		}
		if p, _ := th.ctrl.Image().Partition(mustTopicID(t, th), 0); p.Leader != 1 {
			t.Errorf("after the preferred election t-0 leader = %d, want 1", p.Leader)
		}
	})
	t.Run("not the controller", func(t *testing.T) {
		th.q.leader.Store(false)
		defer th.q.leader.Store(true)
		resp := elect(2, 0, named[:1])
		want := []partErr{{"t", 0, kerr.NotController.Code}, {"t", 1, kerr.NotController.Code}, {"t", 7, kerr.NotController.Code}}
		if diff := cmp.Diff(want, electErrs(resp)); resp.ErrorCode != kerr.NotController.Code || diff != "" {
			t.Errorf("ElectLeaders on a non-controller: top-level %d, partitions (-want +got):\n%s", resp.ErrorCode, diff)
		}
	})
	t.Run("unknown election type", func(t *testing.T) {
		if resp := elect(2, 5, named[:1]); resp.ErrorCode != kerr.InvalidRequest.Code {
			t.Errorf("ElectLeaders(type 5) top-level = %d, want INVALID_REQUEST", resp.ErrorCode)
		}
	})
}

func mustTopicID(t *testing.T, th *testHandler) metadata.UUID {
	t.Helper()
	topic, ok := th.ctrl.Image().TopicByName("t")
	if !ok {
		t.Fatal(`topic "t" missing from the image`)
	}
	return topic.ID
}

func hdrVersion(v int16) protocol.RequestHeader { return protocol.RequestHeader{APIVersion: v} }

func TestDescribeLogDirs(t *testing.T) {
	th := newTestHandler(t)
	p0, _ := th.parts.Get("t", 0)
	if _, err := th.h.appendOne(p0, oneBatch(t), time.Now(), 1); err != nil {
		t.Fatalf("append to t-0: %v", err)
	}
	req := kmsg.NewPtrDescribeLogDirsRequest()
	req.Version = 4
	resp := await(t, th.h.describeLogDirs(th.rc(t, 4), req)).(*kmsg.DescribeLogDirsResponse)
	if len(resp.Dirs) != 1 {
		t.Fatalf("DescribeLogDirs: %d dirs, want 1", len(resp.Dirs))
	}
	d := resp.Dirs[0]
	if d.Dir != th.logDir || d.ErrorCode != 0 || d.TotalBytes <= 0 || d.UsableBytes < 0 || d.UsableBytes > d.TotalBytes {
		t.Errorf("DescribeLogDirs dir = %q code %d total %d usable %d, want %q, 0 and sizes of a volume", d.Dir, d.ErrorCode, d.TotalBytes, d.UsableBytes, th.logDir)
	}
	if len(d.Topics) != 1 || d.Topics[0].Topic != "t" || len(d.Topics[0].Partitions) != 2 {
		t.Fatalf("DescribeLogDirs topics = %+v, want t with 2 partitions", d.Topics)
	}
	ps := d.Topics[0].Partitions
	if ps[0].Partition != 0 || ps[0].Size != p0.Log().Size() || ps[0].Size == 0 || ps[1].Partition != 1 || ps[1].Size != 0 || ps[0].OffsetLag != 0 || ps[0].IsFuture {
		t.Errorf("DescribeLogDirs partitions = %+v, want t-0 with %d bytes, t-1 empty", ps, p0.Log().Size())
	}

	req.Topics = []kmsg.DescribeLogDirsRequestTopic{{Topic: "t", Partitions: []int32{1, 9}}, {Topic: "nope", Partitions: []int32{0}}}
	req.Version = 3
	resp = await(t, th.h.describeLogDirs(th.rc(t, 3), req)).(*kmsg.DescribeLogDirsResponse)
	d = resp.Dirs[0]
	if len(d.Topics) != 1 || len(d.Topics[0].Partitions) != 1 || d.Topics[0].Partitions[0].Partition != 1 || d.TotalBytes != -1 {
		t.Errorf("DescribeLogDirs v3 for t-1, t-9, nope-0 = %+v, want only t-1 and no volume sizes", d)
	}
}

func TestProduceToFollowerHintsLeader(t *testing.T) {
	th := newTestHandler(t)
	produce := func(version int16, partition int32) *kmsg.ProduceResponse {
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis = version, 1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition, rp.Records = partition, oneBatch(t)
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return await(t, th.h.produce(th.rc(t, version), req)).(*kmsg.ProduceResponse)
	}
	p1, _ := th.ctrl.Image().Partition(mustTopicID(t, th), 1)
	resp := produce(11, 1) // led by broker 2
	got := resp.Topics[0].Partitions[0]
	if got.ErrorCode != kerr.NotLeaderForPartition.Code || got.CurrentLeader.LeaderID != 2 || got.CurrentLeader.LeaderEpoch != p1.LeaderEpoch {
		t.Errorf("produce v11 to t-1 on a follower = code %d leader %+v, want NOT_LEADER_OR_FOLLOWER leader 2 epoch %d", got.ErrorCode, got.CurrentLeader, p1.LeaderEpoch)
	}
	if len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != 2 || resp.Brokers[0].Host != "host" || resp.Brokers[0].Port != 9092 || resp.Brokers[0].Rack != nil {
		t.Errorf("produce v11 brokers = %+v, want broker 2 at host:9092", resp.Brokers)
	}

	resp = produce(9, 1)
	got = resp.Topics[0].Partitions[0]
	if got.ErrorCode != kerr.NotLeaderForPartition.Code || got.CurrentLeader.LeaderID != -1 || len(resp.Brokers) != 0 {
		t.Errorf("produce v9 to t-1 on a follower = code %d leader %+v brokers %v, want no hint before v10", got.ErrorCode, got.CurrentLeader, resp.Brokers)
	}

	// A partition the metadata has but this broker does not host.
	if res := th.ctrl.CreateTopics(t.Context(), []controller.CreateTopic{{Name: "u", Assignments: map[int32][]int32{0: {2}}, NumPartitions: -1, ReplicationFactor: -1}}, false); res[0].Err != nil {
		t.Fatalf("CreateTopics(u): %v", res[0].Err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks = 11, 1
	req.Topics = []kmsg.ProduceRequestTopic{{Topic: "u", Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: oneBatch(t)}}}}
	uresp := await(t, th.h.produce(th.rc(t, 11), req)).(*kmsg.ProduceResponse)
	if got := uresp.Topics[0].Partitions[0]; got.ErrorCode != kerr.NotLeaderForPartition.Code || got.CurrentLeader.LeaderID != 2 || len(uresp.Brokers) != 1 {
		t.Errorf("produce v11 to u-0, hosted elsewhere = code %d leader %+v brokers %v, want NOT_LEADER_OR_FOLLOWER leader 2 with its endpoint", got.ErrorCode, got.CurrentLeader, uresp.Brokers)
	}

	if resp = produce(11, 0); resp.Topics[0].Partitions[0].ErrorCode != 0 || len(resp.Brokers) != 0 {
		t.Errorf("produce v11 to the leader = %+v, brokers %v; want success without brokers", resp.Topics[0].Partitions[0], resp.Brokers)
	}
}

func TestFetchFromFollowerHintsLeader(t *testing.T) {
	th := newTestHandler(t)
	fetch := func(version int16, partition, epoch int32) *kmsg.FetchResponse {
		req := kmsg.NewPtrFetchRequest()
		req.Version, req.ReplicaID, req.MaxBytes = version, -1, 1<<20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = "t", mustTopicID(t, th)
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.CurrentLeaderEpoch, rp.PartitionMaxBytes = partition, epoch, 1<<20
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return await(t, th.h.fetch(th.rc(t, version), req)).(*kmsg.FetchResponse)
	}
	p1, _ := th.ctrl.Image().Partition(mustTopicID(t, th), 1)
	resp := fetch(16, 1, -1)
	got := resp.Topics[0].Partitions[0]
	if got.ErrorCode != kerr.NotLeaderForPartition.Code || got.CurrentLeader.LeaderID != 2 || got.CurrentLeader.LeaderEpoch != p1.LeaderEpoch {
		t.Errorf("fetch v16 t-1 on a follower = code %d leader %+v, want NOT_LEADER_OR_FOLLOWER leader 2 epoch %d", got.ErrorCode, got.CurrentLeader, p1.LeaderEpoch)
	}
	if len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != 2 || resp.Brokers[0].Port != 9092 {
		t.Errorf("fetch v16 brokers = %+v, want broker 2", resp.Brokers)
	}
	resp = fetch(15, 1, -1)
	if got := resp.Topics[0].Partitions[0]; got.CurrentLeader.LeaderID != 2 || len(resp.Brokers) != 0 {
		t.Errorf("fetch v15 t-1 on a follower = leader %+v brokers %v, want the hint without brokers (v16+)", got.CurrentLeader, resp.Brokers)
	}
	// Move t-0 here to leader epoch 1 so that epoch 0 is fenced.
	p0, _ := th.parts.Get("t", 0)
	st := p0.State()
	st.LeaderEpoch++
	if err := p0.MakeLeader(st); err != nil {
		t.Fatalf("MakeLeader(%+v): %v", st, err)
	}
	resp = fetch(12, 0, st.LeaderEpoch-1)
	if got := resp.Topics[0].Partitions[0]; got.ErrorCode != kerr.FencedLeaderEpoch.Code || got.CurrentLeader.LeaderID != 1 {
		t.Errorf("fetch v12 t-0 with an old epoch = code %d leader %+v, want FENCED_LEADER_EPOCH leader 1", got.ErrorCode, got.CurrentLeader)
	}
}

// oneBatch returns a valid uncompressed batch of one record.
func oneBatch(t *testing.T) []byte {
	t.Helper()
	now := time.Now().UnixMilli()
	b := record.NewBuilder(record.CodecNone, now)
	b.Add(now, []byte("k"), []byte("v"), nil)
	batch, err := b.Build()
	if err != nil {
		t.Fatalf("build batch: %v", err)
	}
	return batch
}
