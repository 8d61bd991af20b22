package group

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/strata-io/strata/internal/coordinator"
	"github.com/strata-io/strata/internal/storage"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// memLog is an in-memory Log, one entry per offset. Commit makes
// everything appended up to end replayable. recs[i] is offset i's record
// (empty for a marker); txns describes the offsets written by a producer.
// Like storage, it fences an older producer epoch
// (ErrInvalidProducerEpoch, markers ErrProducerFenced) and markers from an
// older coordinator epoch (ErrCoordinatorFenced).
type memLog struct {
	mu        sync.Mutex
	recs      []Record
	txns      map[int64]memTxnEntry // offset → producer entry; absent for plain records
	producers map[int64]memProducer // producer id → what the log last saw of it
	committed int64
	appendErr error // returned by Append when set
	commitErr error // returned by Commit when set

	replayGate chan struct{} // when set, Replay waits for it to close
	commitGate chan struct{} // when set, Commit waits for it to close
}

type memTxnEntry struct {
	producerID    int64
	producerEpoch int16
	control       bool
	commit        bool
}

type memProducer struct {
	epoch            int16
	coordinatorEpoch int32
}

func (l *memLog) Append(recs []Record) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.appendErr != nil {
		return 0, l.appendErr
	}
	l.appendLocked(recs)
	return int64(len(l.recs)), nil
}

func (l *memLog) appendLocked(recs []Record) {
	for _, r := range recs {
		c := Record{Key: append([]byte(nil), r.Key...)}
		if r.Value != nil {
			c.Value = append([]byte(nil), r.Value...)
		}
		l.recs = append(l.recs, c)
	}
}

func (l *memLog) AppendTransactional(producerID int64, producerEpoch int16, recs []Record) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.appendErr != nil {
		return 0, l.appendErr
	}
	p, ok := l.producers[producerID]
	if !ok {
		p.coordinatorEpoch = -1
	} else if producerEpoch < p.epoch {
		return 0, fmt.Errorf("%w: epoch %d below %d", storage.ErrInvalidProducerEpoch, producerEpoch, p.epoch)
	}
	p.epoch = producerEpoch
	l.setProducerLocked(producerID, p)
	first := len(l.recs)
	l.appendLocked(recs)
	for i := first; i < len(l.recs); i++ {
		l.setTxnLocked(i, memTxnEntry{producerID: producerID, producerEpoch: producerEpoch})
	}
	return int64(len(l.recs)), nil
}

func (l *memLog) AppendMarker(producerID int64, producerEpoch int16, coordinatorEpoch int32, commit bool) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.appendErr != nil {
		return 0, l.appendErr
	}
	if p, ok := l.producers[producerID]; ok {
		if producerEpoch < p.epoch {
			return 0, fmt.Errorf("%w: epoch %d below %d", storage.ErrProducerFenced, producerEpoch, p.epoch)
		}
		if coordinatorEpoch < p.coordinatorEpoch {
			return 0, fmt.Errorf("%w: coordinator epoch %d below %d", storage.ErrCoordinatorFenced, coordinatorEpoch, p.coordinatorEpoch)
		}
	}
	l.setProducerLocked(producerID, memProducer{epoch: producerEpoch, coordinatorEpoch: coordinatorEpoch})
	l.recs = append(l.recs, Record{})
	l.setTxnLocked(len(l.recs)-1, memTxnEntry{producerID: producerID, producerEpoch: producerEpoch, control: true, commit: commit})
	return int64(len(l.recs)), nil
}

func (l *memLog) setProducerLocked(id int64, p memProducer) {
	if l.producers == nil {
		l.producers = make(map[int64]memProducer)
	}
	l.producers[id] = p
}

func (l *memLog) setTxnLocked(offset int, e memTxnEntry) {
	if l.txns == nil {
		l.txns = make(map[int64]memTxnEntry)
	}
	l.txns[int64(offset)] = e
}

func (l *memLog) Commit(ctx context.Context, end int64) error {
	if l.commitGate != nil {
		select {
		case <-l.commitGate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.commitErr != nil {
		return l.commitErr
	}
	l.committed = max(l.committed, end)
	return nil
}

func (l *memLog) Replay(ctx context.Context, fn func(r coordinator.ReplayRecord) error) error {
	if l.replayGate != nil {
		select {
		case <-l.replayGate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	l.mu.Lock()
	recs := append([]Record(nil), l.recs[:l.committed]...)
	txns := maps.Clone(l.txns)
	l.mu.Unlock()
	for i, r := range recs {
		rr := coordinator.ReplayRecord{Offset: int64(i), Key: r.Key, Value: r.Value, ProducerID: -1, ProducerEpoch: -1}
		if e, ok := txns[int64(i)]; ok {
			rr.ProducerID, rr.ProducerEpoch, rr.Transactional = e.producerID, e.producerEpoch, true
			rr.Control, rr.Commit = e.control, e.commit
			rr.Key, rr.Value = nil, nil
			if !e.control {
				rr.Key, rr.Value = r.Key, r.Value
			}
		}
		if err := fn(rr); err != nil {
			return err
		}
	}
	return nil
}

func (l *memLog) setAppendErr(err error) {
	l.mu.Lock()
	l.appendErr = err
	l.mu.Unlock()
}

// decoded returns the committed records, decoded.
func (l *memLog) decoded(t *testing.T) []decodedRecord {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []decodedRecord
	for i, r := range l.recs[:l.committed] {
		if l.txns[int64(i)].control {
			continue
		}
		d, err := decodeRecord(r.Key, r.Value)
		if err != nil {
			t.Fatalf("decodeRecord of a record we wrote: %v", err)
		}
		out = append(out, d)
	}
	return out
}

// testLogger logs through t.Log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

// testConfig is DefaultConfig for tests: one partition (every group in
// shard 0).
func testConfig(t *testing.T) Config {
	cfg := DefaultConfig()
	cfg.Logger = testLogger(t)
	cfg.NumPartitions = 1
	return cfg
}

// startCoordinator runs a coordinator with shard 0 loaded from log and
// stops it at cleanup. Call it inside a synctest bubble.
func startCoordinator(t *testing.T, cfg Config, log *memLog) *Coordinator {
	t.Helper()
	c := NewCoordinator(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v, want nil", err)
		}
	})
	if log != nil {
		c.Load(0, 0, log)
		synctest.Wait()
	}
	return c
}

// bubble runs f in a synctest bubble.
func bubble(t *testing.T, f func(t *testing.T)) {
	synctest.Test(t, f)
}

// async runs f in a goroutine; the channel yields its result.
func async[T any](f func() T) <-chan T {
	ch := make(chan T, 1)
	go func() { ch <- f() }()
	return ch
}

// ready returns the value of ch if it is there after everything in the
// bubble settled.
func ready[T any](ch <-chan T) (T, bool) {
	synctest.Wait()
	select {
	case v := <-ch:
		return v, true
	default:
		var zero T
		return zero, false
	}
}

// await waits (in fake time) for ch, failing after an hour.
func await[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(time.Hour):
		t.Fatalf("%s: no answer within an hour", what)
		panic("unreachable")
	}
}

func mustReady[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	v, ok := ready(ch)
	if !ok {
		t.Fatalf("%s: still waiting, want an answer", what)
	}
	return v
}

func codeName(code int16) string {
	if code == 0 {
		return "NONE"
	}
	return kerr.ErrorForCode(code).Error()
}

func wantCode(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	var w int16
	if want != nil {
		w = want.Code
	}
	if got != w {
		t.Fatalf("%s: error code %s, want %s", what, codeName(got), codeName(w))
	}
}

// consumerMetadata is a consumer-protocol subscription to topics.
func consumerMetadata(topics ...string) []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Version = 0
	m.Topics = topics
	return m.AppendTo(nil)
}

type joinOpts struct {
	version    int16
	memberID   string
	instanceID string
	protocols  []string
	topics     []string
	ptype      string
	session    int32
	rebalance  int32
}

func joinReq(group string, o joinOpts) *kmsg.JoinGroupRequest {
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version = 9
	if o.version != 0 {
		req.Version = o.version
	}
	req.Group = group
	req.MemberID = o.memberID
	if o.instanceID != "" {
		iid := o.instanceID
		req.InstanceID = &iid
	}
	req.ProtocolType = "consumer"
	if o.ptype != "" {
		req.ProtocolType = o.ptype
	}
	req.SessionTimeoutMillis = 10_000
	if o.session != 0 {
		req.SessionTimeoutMillis = o.session
	}
	req.RebalanceTimeoutMillis = 30_000
	if o.rebalance != 0 {
		req.RebalanceTimeoutMillis = o.rebalance
	}
	protocols := o.protocols
	if protocols == nil {
		protocols = []string{"range"}
	}
	topics := o.topics
	if topics == nil {
		topics = []string{"t"}
	}
	for _, p := range protocols {
		jp := kmsg.NewJoinGroupRequestProtocol()
		jp.Name = p
		jp.Metadata = consumerMetadata(topics...)
		req.Protocols = append(req.Protocols, jp)
	}
	return req
}

func (c *Coordinator) testJoin(group string, o joinOpts) <-chan *kmsg.JoinGroupResponse {
	ctx := WithClientInfo(context.Background(), ClientInfo{ClientID: "client", ClientHost: "/127.0.0.1"})
	return async(func() *kmsg.JoinGroupResponse { return c.JoinGroup(ctx, joinReq(group, o)) })
}

// joinNew performs the KIP-394 dance for a new dynamic member: the first
// JoinGroup returns MEMBER_ID_REQUIRED and the id, the second is left
// waiting in the rebalance.
func joinNew(t *testing.T, c *Coordinator, group string, o joinOpts) (memberID string, join <-chan *kmsg.JoinGroupResponse) {
	t.Helper()
	first := mustReady(t, "first JoinGroup", c.testJoin(group, o))
	wantCode(t, "first JoinGroup", first.ErrorCode, kerr.MemberIDRequired)
	if first.MemberID == "" {
		t.Fatalf("first JoinGroup: no member id with MEMBER_ID_REQUIRED")
	}
	o.memberID = first.MemberID
	return first.MemberID, c.testJoin(group, o)
}

func syncReq(group, memberID string, generation int32, assignments map[string]string) *kmsg.SyncGroupRequest {
	req := kmsg.NewPtrSyncGroupRequest()
	req.Version = 5
	req.Group = group
	req.MemberID = memberID
	req.Generation = generation
	for id, a := range assignments {
		ga := kmsg.NewSyncGroupRequestGroupAssignment()
		ga.MemberID = id
		ga.MemberAssignment = []byte(a)
		req.GroupAssignment = append(req.GroupAssignment, ga)
	}
	return req
}

func (c *Coordinator) testSync(group, memberID string, generation int32, assignments map[string]string) <-chan *kmsg.SyncGroupResponse {
	return async(func() *kmsg.SyncGroupResponse {
		return c.SyncGroup(context.Background(), syncReq(group, memberID, generation, assignments))
	})
}

func (c *Coordinator) heartbeat(group, memberID string, generation int32) int16 {
	req := kmsg.NewPtrHeartbeatRequest()
	req.Version = 4
	req.Group, req.MemberID, req.Generation = group, memberID, generation
	return c.Heartbeat(context.Background(), req).ErrorCode
}

func (c *Coordinator) describe(t *testing.T, group string) kmsg.DescribeGroupsResponseGroup {
	t.Helper()
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Version = 5
	req.Groups = []string{group}
	resp := c.DescribeGroups(context.Background(), req)
	if len(resp.Groups) != 1 {
		t.Fatalf("DescribeGroups(%q): %d groups, want 1", group, len(resp.Groups))
	}
	return resp.Groups[0]
}

func wantState(t *testing.T, c *Coordinator, group, want string) {
	t.Helper()
	if got := c.describe(t, group).State; got != want {
		t.Fatalf("DescribeGroups(%q).State = %s, want %s", group, got, want)
	}
}

// stableGroup forms a Stable group of n dynamic members and returns their
// ids (the leader first) and the generation.
func stableGroup(t *testing.T, c *Coordinator, group string, n int, o joinOpts) ([]string, int32) {
	t.Helper()
	ids := make([]string, n)
	joins := make([]<-chan *kmsg.JoinGroupResponse, n)
	for i := range n {
		ids[i], joins[i] = joinNew(t, c, group, o)
	}
	var leader string
	var generation int32
	for i := range n {
		r := await(t, fmt.Sprintf("JoinGroup of member %d", i), joins[i])
		wantCode(t, "JoinGroup", r.ErrorCode, nil)
		leader, generation = r.LeaderID, r.Generation
	}
	assign := make(map[string]string)
	for _, id := range ids {
		assign[id] = "assignment-of-" + id
	}
	var syncs []<-chan *kmsg.SyncGroupResponse
	for _, id := range ids {
		if id == leader {
			syncs = append(syncs, c.testSync(group, id, generation, assign))
		} else {
			syncs = append(syncs, c.testSync(group, id, generation, nil))
		}
	}
	for i, ch := range syncs {
		r := await(t, "SyncGroup", ch)
		wantCode(t, "SyncGroup", r.ErrorCode, nil)
		if got, want := string(r.MemberAssignment), "assignment-of-"+ids[i]; got != want {
			t.Fatalf("SyncGroup of %s: assignment %q, want %q", ids[i], got, want)
		}
	}
	wantState(t, c, group, "Stable")
	// Leader first.
	for i, id := range ids {
		if id == leader {
			ids[0], ids[i] = ids[i], ids[0]
		}
	}
	return ids, generation
}

func commitReq(group, memberID string, generation int32, version int16, offsets map[string]map[int32]int64) *kmsg.OffsetCommitRequest {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version = version
	req.Group, req.MemberID, req.Generation = group, memberID, generation
	req.RetentionTimeMillis = -1
	for topic, ps := range offsets {
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = topic
		for p, o := range ps {
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch = p, o, 7
			md := "md"
			rp.Metadata = &md
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	return req
}

// commit commits one offset and returns the partition's error code.
func (c *Coordinator) commit(group, memberID string, generation int32, topic string, partition int32, offset int64) int16 {
	resp := c.OffsetCommit(context.Background(), commitReq(group, memberID, generation, 9, map[string]map[int32]int64{topic: {partition: offset}}))
	return resp.Topics[0].Partitions[0].ErrorCode
}

// fetch returns the committed offset of one partition (-1: none).
func (c *Coordinator) fetch(t *testing.T, group, topic string, partition int32) int64 {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 7
	req.Group = group
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic, rt.Partitions = topic, []int32{partition}
	req.Topics = []kmsg.OffsetFetchRequestTopic{rt}
	resp := c.OffsetFetch(context.Background(), req)
	wantCode(t, "OffsetFetch", resp.ErrorCode, nil)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("OffsetFetch(%s %s-%d): %d topics, want one partition", group, topic, partition, len(resp.Topics))
	}
	p := resp.Topics[0].Partitions[0]
	wantCode(t, "OffsetFetch partition", p.ErrorCode, nil)
	return p.Offset
}

func (c *Coordinator) listGroups(t *testing.T, states ...string) map[string]string {
	t.Helper()
	req := kmsg.NewPtrListGroupsRequest()
	req.Version = 5
	req.StatesFilter = states
	resp := c.ListGroups(context.Background(), req)
	wantCode(t, "ListGroups", resp.ErrorCode, nil)
	out := make(map[string]string)
	for _, g := range resp.Groups {
		out[g.Group] = g.GroupState
	}
	return out
}

var errTestAppend = errors.New("disk on fire")

// advance moves fake time forward by d and lets the bubble settle.
func advance(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}
