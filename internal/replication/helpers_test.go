package replication

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"

	"github.com/strata-io/strata/internal/partition"
	"github.com/strata-io/strata/internal/record"
	"github.com/strata-io/strata/internal/storage"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var testTopicID = [16]byte{7}

// testNode is one broker of a testCluster: one replica of partition t-0
// and its replication manager.
type testNode struct {
	id  int32
	p   *partition.Partition
	m   *Manager
	log *storage.Log
}

// testCluster is an in-memory cluster of brokers, each hosting one replica
// of the same partition. Requests go through testClient to the leader's
// serveFetch, a small stand-in for kafkaapi's replica fetch path.
type testCluster struct {
	t     *testing.T
	nodes map[int32]*testNode

	mu     sync.Mutex
	paused map[int32]chan struct{} // node id -> closed on resume; its fetches hang meanwhile
}

type clusterConfig struct {
	replicas          []int32
	minISR            int
	replicaLagTimeMax time.Duration
}

// startCluster creates the replicas with leader replicas[0] at epoch 1 and
// every replica in the ISR, and runs each node's manager until the test ends.
func startCluster(t *testing.T, cc clusterConfig) *testCluster {
	t.Helper()
	c := &testCluster{t: t, nodes: make(map[int32]*testNode), paused: make(map[int32]chan struct{})}
	st := partition.LeaderAndISR{Leader: cc.replicas[0], LeaderEpoch: 1, PartitionEpoch: 1, Replicas: cc.replicas, ISR: cc.replicas}
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	for _, id := range cc.replicas {
		d, err := storage.OpenLogDir(storage.DefaultConfig(t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		l, err := d.CreateLog(storage.TopicPartition{Topic: "t", Partition: 0}, testTopicID, storage.DefaultLogConfig())
		if err != nil {
			t.Fatal(err)
		}
		n := &testNode{id: id, log: l}
		n.p = partition.New(l, partition.Config{
			NodeID:            id,
			MinInsyncReplicas: cc.minISR,
			ReplicaLagTimeMax: cc.replicaLagTimeMax,
			ISRChanger:        controllerStub{},
			Logger:            logger.With("node", id),
		}, st)
		n.m = New(Config{
			NodeID:              id,
			Client:              testClient{c: c, self: id},
			MaxWait:             500 * time.Millisecond,
			Backoff:             100 * time.Millisecond,
			ShrinkCheckInterval: time.Second,
			Logger:              logger.With("node", id),
		})
		c.nodes[id] = n
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		if n.id == st.Leader {
			n.m.Lead(n.p)
		} else {
			n.m.Follow(n.p, st.Leader)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.m.Run(ctx); err != nil {
				t.Errorf("node %d: Manager.Run: %v", n.id, err)
			}
		}()
	}
	t.Cleanup(func() {
		cancel()
		c.mu.Lock()
		for id, ch := range c.paused {
			close(ch)
			delete(c.paused, id)
		}
		c.mu.Unlock()
		wg.Wait()
	})
	return c
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(b, "\n")))
	return len(b), nil
}

// controllerStub accepts every ISR proposal at once, with the next
// partition epoch, as the controller and a new image would.
type controllerStub struct{}

func (controllerStub) ProposeISR(p *partition.Partition, prop partition.ISRProposal) {
	st := prop.LeaderAndISR
	st.PartitionEpoch++
	_ = p.MakeLeader(st) // a stale proposal is refused, as the controller would
}

// pause makes node id's fetches hang until resume.
func (c *testCluster) pause(id int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.paused[id] == nil {
		c.paused[id] = make(chan struct{})
	}
}

func (c *testCluster) resume(id int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch := c.paused[id]; ch != nil {
		close(ch)
		delete(c.paused, id)
	}
}

// testClient is one node's connection to the others.
type testClient struct {
	c    *testCluster
	self int32
}

// holdIfPaused blocks while node id is paused; it reports whether it did.
func (c *testCluster) holdIfPaused(ctx context.Context, id int32) (held bool, err error) {
	c.mu.Lock()
	hold := c.paused[id]
	c.mu.Unlock()
	if hold == nil {
		return false, nil
	}
	select {
	case <-hold:
		return true, nil
	case <-ctx.Done():
		return true, ctx.Err()
	}
}

func (tc testClient) Request(ctx context.Context, leaderID int32, req kmsg.Request) (kmsg.Response, error) {
	if _, err := tc.c.holdIfPaused(ctx, tc.self); err != nil {
		return nil, err
	}
	n := tc.c.nodes[leaderID]
	if n == nil {
		return nil, fmt.Errorf("no node %d", leaderID)
	}
	fr, ok := req.(*kmsg.FetchRequest)
	if !ok {
		return nil, fmt.Errorf("unexpected request key %d", req.Key())
	}
	resp := serveFetch(ctx, n.p, fr)
	// A pause that began during a long poll loses the response, as a cut
	// connection would.
	if held, err := tc.c.holdIfPaused(ctx, tc.self); held || err != nil {
		return nil, errors.Join(errConnectionCut, err)
	}
	return resp, nil
}

var errConnectionCut = errors.New("connection cut")

// serveFetch answers a replica fetch the way kafkaapi is to: epoch check,
// divergence check, follower state update, read to the log end offset; and
// a long poll until something changes when nothing was read.
func serveFetch(ctx context.Context, p *partition.Partition, req *kmsg.FetchRequest) *kmsg.FetchResponse {
	replicaID := req.ReplicaState.ID
	if replicaID < 0 {
		replicaID = req.ReplicaID
	}
	wake := make(chan struct{}, 1)
	p.AddWaiter(wake)
	defer p.RemoveWaiter(wake)
	for waited := false; ; waited = true {
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		total := 0
		for _, t := range req.Topics {
			rt := kmsg.NewFetchResponseTopic()
			rt.Topic, rt.TopicID = t.Topic, t.TopicID
			for _, fp := range t.Partitions {
				rp := kmsg.NewFetchResponseTopicPartition()
				rp.Partition = fp.Partition
				rp.HighWatermark, rp.LogStartOffset = -1, -1
				total += fetchPartition(p, replicaID, t.TopicID, fp, &rp)
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		if total > 0 || waited || req.MaxWaitMillis <= 0 {
			return resp
		}
		timer := time.NewTimer(time.Duration(req.MaxWaitMillis) * time.Millisecond)
		select {
		case <-wake:
		case <-timer.C:
		case <-ctx.Done():
		}
		timer.Stop()
	}
}

// fetchPartition fills rp and returns the bytes it carries; a diverged or
// failed partition counts as one byte so the fetch answers at once.
func fetchPartition(p *partition.Partition, replicaID int32, topicID [16]byte, fp kmsg.FetchRequestTopicPartition, rp *kmsg.FetchResponseTopicPartition) int {
	if topicID != p.TopicID || fp.Partition != p.Index {
		rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
		return 1
	}
	if err := p.CheckLeaderEpoch(fp.CurrentLeaderEpoch); err != nil {
		rp.ErrorCode = kerr.FencedLeaderEpoch.Code
		if errors.Is(err, partition.ErrUnknownLeaderEpoch) {
			rp.ErrorCode = kerr.UnknownLeaderEpoch.Code
		}
		return 1
	}
	if !p.IsLeader() {
		rp.ErrorCode = kerr.NotLeaderForPartition.Code
		return 1
	}
	if epoch, end, diverged := p.DivergingEpoch(fp.LastFetchedEpoch, fp.FetchOffset); diverged {
		rp.DivergingEpoch.Epoch, rp.DivergingEpoch.EndOffset = epoch, end
		rp.HighWatermark = p.HighWatermark()
		return 1
	}
	p.UpdateFollower(replicaID, -1, fp.FetchOffset, -1, time.Now())
	res, err := p.ReadForFollower(fp.FetchOffset, fp.PartitionMaxBytes)
	rp.HighWatermark, rp.LogStartOffset = res.HighWatermark, res.LogStartOffset
	if err != nil {
		rp.ErrorCode = kerr.UnknownServerError.Code
		if errors.Is(err, storage.ErrOffsetOutOfRange) {
			rp.ErrorCode = kerr.OffsetOutOfRange.Code
		}
		return 1
	}
	b, err := res.AppendTo(nil)
	if err != nil {
		rp.ErrorCode = kerr.KafkaStorageError.Code
		return 1
	}
	rp.RecordBatches = b
	return len(b)
}

// produce appends n records with value prefix v to node id's partition.
func (c *testCluster) produce(id int32, n int, v string, acks int16) int64 {
	c.t.Helper()
	b := record.NewBuilder(record.CodecNone, time.Now().UnixMilli())
	for i := range n {
		b.Add(time.Now().UnixMilli(), nil, fmt.Appendf(nil, "%s-%d", v, i), nil)
	}
	batch, err := b.Build()
	if err != nil {
		c.t.Fatal(err)
	}
	info, err := c.nodes[id].p.AppendAsLeader(batch, time.Now(), acks)
	if err != nil {
		c.t.Fatalf("node %d: AppendAsLeader(%d records, acks %d): %v", id, n, acks, err)
	}
	return info.LastOffset + 1
}

// waitCommitted runs WaitCommitted(acks=-1) in the background.
func (c *testCluster) waitCommitted(id int32, end int64) chan error {
	done := make(chan error, 1)
	p := c.nodes[id].p
	go func() { done <- p.WaitCommitted(c.t.Context(), end, -1) }()
	return done
}

// logBytes returns node id's whole log.
func (c *testCluster) logBytes(id int32) []byte {
	c.t.Helper()
	l := c.nodes[id].log
	res, err := l.Read(l.LogStartOffset(), 1<<30, l.LogEndOffset(), true)
	if err != nil {
		c.t.Fatalf("node %d: Read: %v", id, err)
	}
	b, err := res.AppendTo(nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return b
}

// wantIdentical fails unless every node's log has the same bytes.
func (c *testCluster) wantIdentical(ids ...int32) {
	c.t.Helper()
	want := c.logBytes(ids[0])
	for _, id := range ids[1:] {
		if got := c.logBytes(id); !bytes.Equal(got, want) {
			c.t.Fatalf("node %d log (%d bytes, log end offset %d) differs from node %d log (%d bytes, log end offset %d)",
				id, len(got), c.nodes[id].log.LogEndOffset(), ids[0], len(want), c.nodes[ids[0]].log.LogEndOffset())
		}
	}
}
