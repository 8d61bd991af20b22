package controller

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/strata-io/strata/internal/config"
	"github.com/strata-io/strata/internal/metadata"
	"github.com/strata-io/strata/internal/raft"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// harness is a controller on a real single-node raft in a directory.
type harness struct {
	*Controller
	node   *raft.Node
	cancel context.CancelFunc
	wg     sync.WaitGroup
	t      *testing.T
}

type harnessOpt func(*Config)

func withDefaults(d Defaults) harnessOpt { return func(c *Config) { c.Defaults = d } }

func start(t *testing.T, dir string, seed uint64, opts ...harnessOpt) *harness {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	loader := metadata.NewLoader(metadata.LoaderConfig{Logger: logger})
	rcfg := raft.DefaultConfig()
	rcfg.Dir = dir
	rcfg.Logger = logger
	rn, err := raft.New(rcfg, loader)
	if err != nil {
		t.Fatalf("raft.New: %v", err)
	}
	var seedBytes [32]byte
	seedBytes[0] = byte(seed)
	cfg := Config{NodeID: 1, Quorum: rn, Loader: loader, Logger: logger, Rand: rand.NewChaCha8(seedBytes)}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{Controller: c, node: rn, cancel: cancel, t: t}
	h.wg.Add(2)
	go func() {
		defer h.wg.Done()
		if err := rn.Run(ctx); err != nil {
			t.Errorf("raft Run: %v", err)
		}
	}()
	go func() {
		defer h.wg.Done()
		if err := c.Run(ctx); err != nil {
			t.Errorf("controller Run: %v", err)
		}
	}()
	t.Cleanup(h.stop)
	wctx, wcancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer wcancel()
	if err := rn.WaitReady(wctx); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	if err := c.EnsureClusterID(wctx); err != nil {
		t.Fatalf("EnsureClusterID: %v", err)
	}
	if err := c.RegisterBroker(wctx, BrokerRegistration{NodeID: 1, Host: "localhost", Port: 9092, CleanShutdown: true}); err != nil {
		t.Fatalf("RegisterBroker: %v", err)
	}
	return h
}

func (h *harness) stop() {
	h.cancel()
	h.wg.Wait()
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestCreateDescribeDeleteTopics(t *testing.T) {
	h := start(t, t.TempDir(), 1)
	ctx := ctxT(t)

	var seen []*metadata.Delta
	h.Subscribe(func(_ *metadata.Image, d *metadata.Delta) { seen = append(seen, d) })
	seen = nil // drop the catch-up delta

	res := h.CreateTopics(ctx, []CreateTopic{
		{Name: "orders", NumPartitions: 3, ReplicationFactor: -1, Configs: map[string]string{"retention.ms": "1000"}},
		{Name: "audit", NumPartitions: -1, ReplicationFactor: 1},
	}, false)
	for _, r := range res {
		if r.Err != nil || r.TopicID.IsZero() {
			t.Fatalf("CreateTopics(%s) = %+v, want success with a topic id", r.Name, r)
		}
	}
	if res[0].NumPartitions != 3 || res[0].ReplicationFactor != 1 || res[1].NumPartitions != 1 {
		t.Errorf("CreateTopics results = %+v, want orders 3x1 and audit 1x1", res)
	}
	if diff := cmp.Diff(map[string]string{"retention.ms": "1000"}, res[0].Configs); diff != "" {
		t.Errorf("orders result configs (-want +got):\n%s", diff)
	}
	// The subscriber saw the change before CreateTopics returned.
	if len(seen) != 1 || len(seen[0].CreatedTopics) != 2 {
		t.Fatalf("subscriber saw %d deltas (%+v), want one creating two topics", len(seen), seen)
	}

	img := h.Image()
	orders, ok := img.TopicByName("orders")
	if !ok || orders.ID != res[0].TopicID {
		t.Fatalf("image topic orders = (%+v, %v), want id %s", orders, ok, res[0].TopicID)
	}
	for p := range int32(3) {
		got, ok := img.Partition(orders.ID, p)
		want := metadata.PartitionInfo{Partition: p, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1}
		if diff := cmp.Diff(want, got); !ok || diff != "" {
			t.Errorf("Partition(orders, %d) mismatch (-want +got):\n%s", p, diff)
		}
	}
	if orders.Configs["retention.ms"] != "1000" {
		t.Errorf("orders configs = %v, want retention.ms=1000", orders.Configs)
	}

	del := h.DeleteTopics(ctx, []TopicRef{{Name: "orders"}, {ID: res[1].TopicID}, {Name: "nope"}, {ID: metadata.UUID{7}}})
	if del[0].Err != nil || del[0].TopicID != res[0].TopicID {
		t.Errorf("DeleteTopics(orders) = %+v, want success", del[0])
	}
	if del[1].Err != nil || del[1].Name != "audit" {
		t.Errorf("DeleteTopics(audit by id) = %+v, want success naming audit", del[1])
	}
	if !errors.Is(del[2].Err, ErrUnknownTopic) || errors.Is(del[2].Err, ErrUnknownTopicID) {
		t.Errorf("DeleteTopics(nope) = %v, want ErrUnknownTopic", del[2].Err)
	}
	if !errors.Is(del[3].Err, ErrUnknownTopicID) || !errors.Is(del[3].Err, ErrUnknownTopic) {
		t.Errorf("DeleteTopics(unknown id) = %v, want ErrUnknownTopicID", del[3].Err)
	}
	if n := h.Image().NumTopics(); n != 0 {
		t.Errorf("after deleting both topics the image has %d topics", n)
	}
	dup := h.DeleteTopics(ctx, []TopicRef{{Name: "x"}, {Name: "", ID: metadata.UUID{}}})
	if !errors.Is(dup[1].Err, ErrInvalidRequest) {
		t.Errorf("DeleteTopics(empty ref) = %v, want ErrInvalidRequest", dup[1].Err)
	}

	// The name can be reused, with a new id.
	again := h.CreateTopics(ctx, []CreateTopic{{Name: "orders", NumPartitions: 1, ReplicationFactor: 1}}, false)
	if again[0].Err != nil || again[0].TopicID == res[0].TopicID {
		t.Errorf("re-creating orders = %+v, want success with a new id", again[0])
	}
}

func TestCreateTopicsValidation(t *testing.T) {
	h := start(t, t.TempDir(), 2)
	ctx := ctxT(t)
	if r := h.CreateTopics(ctx, []CreateTopic{{Name: "existing", NumPartitions: 1, ReplicationFactor: 1}, {Name: "a_b", NumPartitions: 1, ReplicationFactor: 1}}, false); r[0].Err != nil || r[1].Err != nil {
		t.Fatalf("setup CreateTopics = %+v", r)
	}
	tests := []struct {
		name string
		give CreateTopic
		want error
	}{
		{"empty name", CreateTopic{Name: "", NumPartitions: 1, ReplicationFactor: 1}, ErrInvalidTopic},
		{"dot", CreateTopic{Name: ".", NumPartitions: 1, ReplicationFactor: 1}, ErrInvalidTopic},
		{"dot dot", CreateTopic{Name: "..", NumPartitions: 1, ReplicationFactor: 1}, ErrInvalidTopic},
		{"too long", CreateTopic{Name: strings.Repeat("x", 250), NumPartitions: 1, ReplicationFactor: 1}, ErrInvalidTopic},
		{"slash", CreateTopic{Name: "a/b", NumPartitions: 1, ReplicationFactor: 1}, ErrInvalidTopic},
		{"non-ascii", CreateTopic{Name: "tōpic", NumPartitions: 1, ReplicationFactor: 1}, ErrInvalidTopic},
		{"exists", CreateTopic{Name: "existing", NumPartitions: 1, ReplicationFactor: 1}, ErrTopicExists},
		{"collides", CreateTopic{Name: "a.b", NumPartitions: 1, ReplicationFactor: 1}, ErrInvalidTopic},
		{"zero partitions", CreateTopic{Name: "t", NumPartitions: 0, ReplicationFactor: 1}, ErrInvalidPartitions},
		{"negative partitions", CreateTopic{Name: "t", NumPartitions: -2, ReplicationFactor: 1}, ErrInvalidPartitions},
		{"too many partitions", CreateTopic{Name: "t", NumPartitions: 10001, ReplicationFactor: 1}, ErrInvalidPartitions},
		{"zero rf", CreateTopic{Name: "t", NumPartitions: 1, ReplicationFactor: 0}, ErrInvalidReplicationFactor},
		{"rf above brokers", CreateTopic{Name: "t", NumPartitions: 1, ReplicationFactor: 2}, ErrInvalidReplicationFactor},
		{"unknown config", CreateTopic{Name: "t", NumPartitions: 1, ReplicationFactor: 1, Configs: map[string]string{"nope": "1"}}, config.ErrUnknownConfig},
		{"bad config", CreateTopic{Name: "t", NumPartitions: 1, ReplicationFactor: 1, Configs: map[string]string{"segment.bytes": "1"}}, config.ErrInvalidConfig},
		{"assignment and count", CreateTopic{Name: "t", NumPartitions: 1, ReplicationFactor: -1, Assignments: map[int32][]int32{0: {1}}}, ErrInvalidRequest},
		{"assignment gap", CreateTopic{Name: "t", NumPartitions: -1, ReplicationFactor: -1, Assignments: map[int32][]int32{0: {1}, 2: {1}}}, ErrInvalidReplicaAssignment},
		{"assignment unknown broker", CreateTopic{Name: "t", NumPartitions: -1, ReplicationFactor: -1, Assignments: map[int32][]int32{0: {5}}}, ErrInvalidReplicaAssignment},
		{"assignment repeats broker", CreateTopic{Name: "t", NumPartitions: -1, ReplicationFactor: -1, Assignments: map[int32][]int32{0: {1, 1}}}, ErrInvalidReplicaAssignment},
		{"assignment empty", CreateTopic{Name: "t", NumPartitions: -1, ReplicationFactor: -1, Assignments: map[int32][]int32{0: {}}}, ErrInvalidReplicaAssignment},
	}
	for _, tt := range tests {
		for _, validateOnly := range []bool{true, false} {
			r := h.CreateTopics(ctx, []CreateTopic{tt.give}, validateOnly)
			if !errors.Is(r[0].Err, tt.want) || !r[0].TopicID.IsZero() {
				t.Errorf("%s: CreateTopics(%q, validateOnly=%v) = %v, want %v", tt.name, tt.give.Name, validateOnly, r[0].Err, tt.want)
			}
		}
	}
	if r := h.CreateTopics(ctx, []CreateTopic{{Name: "bad", NumPartitions: 1, ReplicationFactor: 1, Configs: map[string]string{"nope": "1"}}}, false); !errors.Is(r[0].Err, ErrInvalidConfig) {
		t.Errorf("CreateTopics(unknown config) = %v, want it to wrap controller.ErrInvalidConfig too", r[0].Err)
	}

	// A request with duplicates and a within-request collision: the bad
	// entries fail, the good one is created.
	r := h.CreateTopics(ctx, []CreateTopic{
		{Name: "dup", NumPartitions: 1, ReplicationFactor: 1},
		{Name: "x.y", NumPartitions: 1, ReplicationFactor: 1},
		{Name: "dup", NumPartitions: 1, ReplicationFactor: 1},
		{Name: "x_y", NumPartitions: 1, ReplicationFactor: 1},
	}, false)
	if !errors.Is(r[0].Err, ErrInvalidRequest) || !errors.Is(r[2].Err, ErrInvalidRequest) {
		t.Errorf("duplicate names = %v, %v, want ErrInvalidRequest for both", r[0].Err, r[2].Err)
	}
	if r[1].Err != nil || !errors.Is(r[3].Err, ErrInvalidTopic) {
		t.Errorf("x.y then x_y = %v, %v, want success then ErrInvalidTopic", r[1].Err, r[3].Err)
	}

	// validateOnly reports what would be created, and creates nothing.
	v := h.CreateTopics(ctx, []CreateTopic{{Name: "later", NumPartitions: 4, ReplicationFactor: -1}}, true)
	if v[0].Err != nil || v[0].NumPartitions != 4 || v[0].ReplicationFactor != 1 || !v[0].TopicID.IsZero() {
		t.Errorf("validate-only CreateTopics = %+v, want 4x1 without a topic id", v[0])
	}
	if _, ok := h.Image().TopicByName("later"); ok {
		t.Errorf("validate-only CreateTopics created the topic")
	}

	// A manual assignment is honoured.
	m := h.CreateTopics(ctx, []CreateTopic{{Name: "manual", NumPartitions: -1, ReplicationFactor: -1, Assignments: map[int32][]int32{0: {1}, 1: {1}}}}, false)
	if m[0].Err != nil || m[0].NumPartitions != 2 || m[0].ReplicationFactor != 1 {
		t.Errorf("CreateTopics(manual) = %+v, want 2x1", m[0])
	}
}

func TestDefaultsAndMultipleBrokers(t *testing.T) {
	h := start(t, t.TempDir(), 3, withDefaults(Defaults{NumPartitions: 6, ReplicationFactor: 3}))
	ctx := ctxT(t)
	for _, id := range []int32{2, 3, 4} {
		registerAndUnfence(t, h.Controller, id, "")
	}
	epochs := map[int64]bool{}
	for _, b := range h.Image().Brokers() {
		if epochs[b.BrokerEpoch] {
			t.Errorf("broker %d reuses broker epoch %d", b.NodeID, b.BrokerEpoch)
		}
		epochs[b.BrokerEpoch] = true
	}
	r := h.CreateTopics(ctx, []CreateTopic{{Name: "wide", NumPartitions: -1, ReplicationFactor: -1}}, false)
	if r[0].Err != nil || r[0].NumPartitions != 6 || r[0].ReplicationFactor != 3 {
		t.Fatalf("CreateTopics(defaults) = %+v, want 6x3", r[0])
	}
	topic, _ := h.Image().TopicByName("wide")
	leaders := map[int32]int{}
	for _, p := range topic.Partitions {
		if len(p.Replicas) != 3 || len(slices.Compact(slices.Sorted(slices.Values(p.Replicas)))) != 3 {
			t.Errorf("partition %d replicas %v, want 3 distinct brokers", p.Partition, p.Replicas)
		}
		if p.Leader != p.Replicas[0] || !slices.Equal(p.ISR, p.Replicas) {
			t.Errorf("partition %d leader %d ISR %v, want leader = first replica and full ISR", p.Partition, p.Leader, p.ISR)
		}
		leaders[p.Leader]++
	}
	for id, n := range leaders {
		if n > 2 {
			t.Errorf("broker %d leads %d of 6 partitions over 4 brokers, want at most 2", id, n)
		}
	}
	if err := h.RegisterBroker(ctx, BrokerRegistration{NodeID: 5, Host: "", Port: 1}); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("RegisterBroker(no host) = %v, want ErrInvalidRequest", err)
	}
}

func TestPlacementSpreadsReplicas(t *testing.T) {
	c := &Controller{cfg: Config{Rand: rand.NewChaCha8([32]byte{9})}}
	brokers := []int32{10, 11, 12, 13, 14}
	out, err := c.place(infos(brokers...), 10, 3, 0)
	if err != nil {
		t.Fatalf("place: %v", err)
	}
	leaders := map[int32]int{}
	replicas := map[int32]int{}
	for p, rs := range out {
		if len(slices.Compact(slices.Sorted(slices.Values(rs)))) != 3 {
			t.Errorf("partition %d replicas %v, want 3 distinct", p, rs)
		}
		leaders[rs[0]]++
		for _, r := range rs {
			replicas[r]++
		}
	}
	for _, b := range brokers {
		if leaders[b] != 2 || replicas[b] != 6 {
			t.Errorf("broker %d leads %d and hosts %d replicas, want 2 and 6", b, leaders[b], replicas[b])
		}
	}
	if _, err := c.place(infos(brokers...), 1, 6, 0); !errors.Is(err, ErrInvalidReplicationFactor) {
		t.Errorf("place(rf 6 over 5 brokers) = %v, want ErrInvalidReplicationFactor", err)
	}
	if _, err := c.place(nil, 1, 1, 0); !errors.Is(err, ErrInvalidReplicationFactor) {
		t.Errorf("place(no brokers) = %v, want ErrInvalidReplicationFactor", err)
	}
}

func TestCreatePartitions(t *testing.T) {
	h := start(t, t.TempDir(), 4)
	ctx := ctxT(t)
	if r := h.CreateTopics(ctx, []CreateTopic{{Name: "t", NumPartitions: 1, ReplicationFactor: 1}}, false); r[0].Err != nil {
		t.Fatalf("CreateTopics: %v", r[0].Err)
	}
	var created []int32
	h.Subscribe(func(_ *metadata.Image, d *metadata.Delta) {
		for id, ps := range d.ChangedPartitions {
			for _, p := range ps {
				if d.PartitionCreated(id, p) {
					created = append(created, p)
				}
			}
		}
	})
	created = nil
	tests := []struct {
		name string
		give CreatePartitions
		want error
	}{
		{"decrease", CreatePartitions{Name: "t", Count: 0}, ErrInvalidPartitions},
		{"same", CreatePartitions{Name: "t", Count: 1}, ErrInvalidPartitions},
		{"unknown topic", CreatePartitions{Name: "nope", Count: 3}, ErrUnknownTopic},
		{"assignment count", CreatePartitions{Name: "t", Count: 3, Assignments: [][]int32{{1}}}, ErrInvalidReplicaAssignment},
		{"assignment rf", CreatePartitions{Name: "t", Count: 2, Assignments: [][]int32{{1, 2}}}, ErrInvalidReplicaAssignment},
		{"assignment unknown broker", CreatePartitions{Name: "t", Count: 2, Assignments: [][]int32{{3}}}, ErrInvalidReplicaAssignment},
		{"too many", CreatePartitions{Name: "t", Count: 20000}, ErrInvalidPartitions},
	}
	for _, tt := range tests {
		r := h.CreatePartitions(ctx, []CreatePartitions{tt.give}, false)
		if !errors.Is(r[0].Err, tt.want) {
			t.Errorf("%s: CreatePartitions(%+v) = %v, want %v", tt.name, tt.give, r[0].Err, tt.want)
		}
	}
	if r := h.CreatePartitions(ctx, []CreatePartitions{{Name: "t", Count: 3}}, true); r[0].Err != nil {
		t.Errorf("validate-only CreatePartitions = %v", r[0].Err)
	}
	if topic, _ := h.Image().TopicByName("t"); len(topic.Partitions) != 1 {
		t.Errorf("validate-only CreatePartitions changed the topic to %d partitions", len(topic.Partitions))
	}
	if r := h.CreatePartitions(ctx, []CreatePartitions{{Name: "t", Count: 3}}, false); r[0].Err != nil {
		t.Fatalf("CreatePartitions(3) = %v", r[0].Err)
	}
	if r := h.CreatePartitions(ctx, []CreatePartitions{{Name: "t", Count: 4, Assignments: [][]int32{{1}}}}, false); r[0].Err != nil {
		t.Fatalf("CreatePartitions(4, manual) = %v", r[0].Err)
	}
	topic, _ := h.Image().TopicByName("t")
	if len(topic.Partitions) != 4 || topic.Partitions[3].Leader != 1 {
		t.Errorf("topic t = %+v, want 4 partitions led by 1", topic.Partitions)
	}
	if !slices.Equal(created, []int32{1, 2, 3}) {
		t.Errorf("subscriber saw created partitions %v, want [1 2 3]", created)
	}
}

func TestAlterConfigs(t *testing.T) {
	h := start(t, t.TempDir(), 5, withDefaults(Defaults{StaticBrokerConfigs: map[string]string{"log.cleanup.policy": "delete"}}))
	ctx := ctxT(t)
	if r := h.CreateTopics(ctx, []CreateTopic{{Name: "t", NumPartitions: 1, ReplicationFactor: 1, Configs: map[string]string{"retention.ms": "1000"}}}, false); r[0].Err != nil {
		t.Fatalf("CreateTopics: %v", r[0].Err)
	}
	topicRes := ConfigResource{Type: metadata.ResourceTopic, Name: "t"}
	s := func(v string) *string { return &v }
	configsOf := func() map[string]string {
		topic, _ := h.Image().TopicByName("t")
		return topic.Configs
	}

	r := h.IncrementalAlterConfigs(ctx, []IncrementalAlterConfigsResource{{Resource: topicRes, Configs: []AlterConfig{
		{Name: "segment.bytes", Op: OpSet, Value: s("1048576")},
		{Name: "retention.ms", Op: OpDelete},
		{Name: "cleanup.policy", Op: OpAppend, Value: s("compact")},
	}}}, false)
	if r[0].Err != nil {
		t.Fatalf("IncrementalAlterConfigs = %v", r[0].Err)
	}
	want := map[string]string{"segment.bytes": "1048576", "cleanup.policy": "delete,compact"}
	if diff := cmp.Diff(want, configsOf()); diff != "" {
		t.Errorf("topic configs after incremental alter (-want +got):\n%s", diff)
	}
	r = h.IncrementalAlterConfigs(ctx, []IncrementalAlterConfigsResource{{Resource: topicRes, Configs: []AlterConfig{
		{Name: "cleanup.policy", Op: OpSubtract, Value: s("delete")},
	}}}, false)
	if r[0].Err != nil || configsOf()["cleanup.policy"] != "compact" {
		t.Errorf("subtract delete = %v, configs %v, want cleanup.policy=compact", r[0].Err, configsOf())
	}

	tests := []struct {
		name string
		give IncrementalAlterConfigsResource
		want error
	}{
		{"unknown topic", IncrementalAlterConfigsResource{Resource: ConfigResource{Type: metadata.ResourceTopic, Name: "nope"}}, ErrUnknownTopic},
		{"unknown config", IncrementalAlterConfigsResource{Resource: topicRes, Configs: []AlterConfig{{Name: "nope", Value: s("1")}}}, config.ErrUnknownConfig},
		{"bad value", IncrementalAlterConfigsResource{Resource: topicRes, Configs: []AlterConfig{{Name: "segment.bytes", Value: s("1")}}}, ErrInvalidConfig},
		{"null set", IncrementalAlterConfigsResource{Resource: topicRes, Configs: []AlterConfig{{Name: "segment.bytes"}}}, ErrInvalidRequest},
		{"append to non-list", IncrementalAlterConfigsResource{Resource: topicRes, Configs: []AlterConfig{{Name: "segment.bytes", Op: OpAppend, Value: s("1")}}}, ErrInvalidConfig},
		{"subtract to empty", IncrementalAlterConfigsResource{Resource: topicRes, Configs: []AlterConfig{{Name: "cleanup.policy", Op: OpSubtract, Value: s("compact")}}}, ErrInvalidConfig},
		{"duplicate key", IncrementalAlterConfigsResource{Resource: topicRes, Configs: []AlterConfig{{Name: "segment.bytes", Value: s("100")}, {Name: "segment.bytes", Op: OpDelete}}}, ErrInvalidRequest},
		{"bad op", IncrementalAlterConfigsResource{Resource: topicRes, Configs: []AlterConfig{{Name: "segment.bytes", Op: 9, Value: s("100")}}}, ErrInvalidRequest},
		{"read-only broker config", IncrementalAlterConfigsResource{Resource: ConfigResource{Type: metadata.ResourceBroker, Name: "1"}, Configs: []AlterConfig{{Name: "num.partitions", Value: s("3")}}}, ErrInvalidConfig},
		{"bad broker name", IncrementalAlterConfigsResource{Resource: ConfigResource{Type: metadata.ResourceBroker, Name: "x"}}, ErrInvalidRequest},
		{"unsupported resource", IncrementalAlterConfigsResource{Resource: ConfigResource{Type: 8, Name: "x"}}, ErrInvalidRequest},
	}
	before := configsOf()
	for _, tt := range tests {
		r := h.IncrementalAlterConfigs(ctx, []IncrementalAlterConfigsResource{tt.give}, false)
		if !errors.Is(r[0].Err, tt.want) {
			t.Errorf("%s: IncrementalAlterConfigs = %v, want %v", tt.name, r[0].Err, tt.want)
		}
	}
	if diff := cmp.Diff(before, configsOf()); diff != "" {
		t.Errorf("failed alters changed the topic configs (-before +after):\n%s", diff)
	}

	// Broker configs: cluster-wide default and per broker.
	r = h.IncrementalAlterConfigs(ctx, []IncrementalAlterConfigsResource{
		{Resource: ConfigResource{Type: metadata.ResourceBroker, Name: ""}, Configs: []AlterConfig{{Name: "log.retention.ms", Value: s("5000")}}},
		{Resource: ConfigResource{Type: metadata.ResourceBroker, Name: "1"}, Configs: []AlterConfig{{Name: "message.max.bytes", Value: s("2000000")}}},
	}, false)
	if r[0].Err != nil || r[1].Err != nil {
		t.Fatalf("broker IncrementalAlterConfigs = %v, %v", r[0].Err, r[1].Err)
	}
	if got := h.Image().BrokerConfigs("")["log.retention.ms"]; got != "5000" {
		t.Errorf("cluster default log.retention.ms = %q, want 5000", got)
	}
	if got := h.Image().BrokerConfigs("1")["message.max.bytes"]; got != "2000000" {
		t.Errorf("broker 1 message.max.bytes = %q, want 2000000", got)
	}

	// validateOnly changes nothing.
	h.IncrementalAlterConfigs(ctx, []IncrementalAlterConfigsResource{{Resource: topicRes, Configs: []AlterConfig{{Name: "retention.ms", Value: s("1")}}}}, true)
	if _, ok := configsOf()["retention.ms"]; ok {
		t.Errorf("validate-only alter changed the topic")
	}

	// Legacy AlterConfigs replaces the whole set.
	lr := h.AlterConfigs(ctx, []AlterConfigsResource{{Resource: topicRes, Configs: map[string]*string{"retention.ms": s("7"), "segment.ms": nil}}}, false)
	if lr[0].Err != nil {
		t.Fatalf("AlterConfigs = %v", lr[0].Err)
	}
	if diff := cmp.Diff(map[string]string{"retention.ms": "7"}, configsOf()); diff != "" {
		t.Errorf("topic configs after AlterConfigs (-want +got):\n%s", diff)
	}
	lr = h.AlterConfigs(ctx, []AlterConfigsResource{{Resource: topicRes, Configs: map[string]*string{"retention.ms": s("x")}}, {Resource: topicRes}}, false)
	if !errors.Is(lr[0].Err, ErrInvalidRequest) || !errors.Is(lr[1].Err, ErrInvalidRequest) {
		t.Errorf("AlterConfigs(duplicate resource) = %v, %v, want ErrInvalidRequest", lr[0].Err, lr[1].Err)
	}
}

func TestRestartRecoversImage(t *testing.T) {
	dir := t.TempDir()
	h := start(t, dir, 6)
	ctx := ctxT(t)
	if r := h.CreateTopics(ctx, []CreateTopic{
		{Name: "a", NumPartitions: 2, ReplicationFactor: 1, Configs: map[string]string{"cleanup.policy": "compact"}},
		{Name: "b", NumPartitions: 1, ReplicationFactor: 1},
	}, false); r[0].Err != nil || r[1].Err != nil {
		t.Fatalf("CreateTopics = %+v", r)
	}
	if _, err := h.AllocateProducerIDs(ctx, 1000); err != nil {
		t.Fatalf("AllocateProducerIDs: %v", err)
	}
	if err := h.node.Snapshot(ctx); err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	// After the snapshot: changes that only the log holds.
	if r := h.DeleteTopics(ctx, []TopicRef{{Name: "b"}}); r[0].Err != nil {
		t.Fatalf("DeleteTopics = %v", r[0].Err)
	}
	if r := h.CreatePartitions(ctx, []CreatePartitions{{Name: "a", Count: 3}}, false); r[0].Err != nil {
		t.Fatalf("CreatePartitions = %v", r[0].Err)
	}
	want := h.Image()
	h.stop()

	h2 := start(t, dir, 7)
	got := h2.Image()
	if got.ClusterID() != want.ClusterID() || got.ClusterID() == "" {
		t.Errorf("cluster id after restart = %q, want %q", got.ClusterID(), want.ClusterID())
	}
	// The restart re-registered broker 1 with a new epoch; compare the rest.
	if diff := cmp.Diff(recordsWithoutBrokers(want), recordsWithoutBrokers(got)); diff != "" {
		t.Errorf("image after restart mismatch (-before +after):\n%s", diff)
	}
	b1, _ := want.Broker(1)
	b2, _ := got.Broker(1)
	if b2.BrokerEpoch <= b1.BrokerEpoch {
		t.Errorf("broker epoch after re-registration = %d, want > %d", b2.BrokerEpoch, b1.BrokerEpoch)
	}
}

func recordsWithoutBrokers(img *metadata.Image) []metadata.Record {
	return slices.DeleteFunc(img.Records(), func(r metadata.Record) bool {
		_, ok := r.(*metadata.RegisterBrokerRecord)
		return ok
	})
}

func TestProducerIDBlocksNeverRepeat(t *testing.T) {
	dir := t.TempDir()
	type block struct{ first, n int64 }
	var blocks []block
	for run := range 3 {
		h := start(t, dir, uint64(10+run))
		ctx := ctxT(t)
		for _, n := range []int64{1000, 1, 1000} {
			first, err := h.AllocateProducerIDs(ctx, n)
			if err != nil {
				t.Fatalf("run %d: AllocateProducerIDs(%d): %v", run, n, err)
			}
			blocks = append(blocks, block{first, n})
		}
		if run == 1 {
			if err := h.node.Snapshot(ctx); err != nil {
				t.Fatalf("Snapshot: %v", err)
			}
		}
		h.stop()
	}
	for i := 1; i < len(blocks); i++ {
		prev := blocks[i-1]
		if blocks[i].first < prev.first+prev.n {
			t.Errorf("block %d starts at %d, inside block %d [%d, %d)", i, blocks[i].first, i-1, prev.first, prev.first+prev.n)
		}
	}
	if blocks[0].first != 0 {
		t.Errorf("first block starts at %d, want 0", blocks[0].first)
	}
	h := start(t, t.TempDir(), 20)
	for _, n := range []int64{0, -1, 1 << 21} {
		if _, err := h.AllocateProducerIDs(ctxT(t), n); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("AllocateProducerIDs(%d) = %v, want ErrInvalidRequest", n, err)
		}
	}
}

func TestDeletionDisabled(t *testing.T) {
	h := start(t, t.TempDir(), 8, withDefaults(Defaults{StaticBrokerConfigs: map[string]string{"delete.topic.enable": "false"}}))
	ctx := ctxT(t)
	h.CreateTopics(ctx, []CreateTopic{{Name: "t", NumPartitions: 1, ReplicationFactor: 1}}, false)
	if r := h.DeleteTopics(ctx, []TopicRef{{Name: "t"}}); !errors.Is(r[0].Err, ErrTopicDeletionDisabled) {
		t.Errorf("DeleteTopics with delete.topic.enable=false = %v, want ErrTopicDeletionDisabled", r[0].Err)
	}
}

// followerQuorum is a quorum on which this node is never the leader.
type followerQuorum struct{}

func (followerQuorum) Propose(context.Context, []byte) (uint64, error) {
	return 0, &raft.NotLeaderError{LeaderID: 2, LeaderAddr: "other:9093"}
}
func (followerQuorum) WaitReady(context.Context) error { return nil }
func (followerQuorum) IsLeader() bool                  { return false }
func (followerQuorum) AddNonvoter(context.Context, int32, string) error {
	return &raft.NotLeaderError{LeaderID: -1}
}

func TestNotController(t *testing.T) {
	c, err := New(Config{NodeID: 1, Quorum: followerQuorum{}, Loader: metadata.NewLoader(metadata.LoaderConfig{})})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	defer func() {
		cancel()
		<-done
	}()
	if r := c.CreateTopics(t.Context(), []CreateTopic{{Name: "t", NumPartitions: 1, ReplicationFactor: 1}}, false); !errors.Is(r[0].Err, ErrNotController) {
		t.Errorf("CreateTopics on a follower = %v, want ErrNotController", r[0].Err)
	}
	if _, err := c.AllocateProducerIDs(t.Context(), 10); !errors.Is(err, ErrNotController) {
		t.Errorf("AllocateProducerIDs on a follower = %v, want ErrNotController", err)
	}
}

func TestOperationWaitsForRunUntilContextEnds(t *testing.T) {
	c, err := New(Config{NodeID: 1, Quorum: followerQuorum{}, Loader: metadata.NewLoader(metadata.LoaderConfig{})})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if err := c.EnsureClusterID(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("EnsureClusterID without Run = %v, want DeadlineExceeded", err)
	}
}

func TestValidateTopicName(t *testing.T) {
	for _, ok := range []string{"a", "A-b_c.d", strings.Repeat("z", 249), "__consumer_offsets", "..."} {
		if err := ValidateTopicName(ok); err != nil {
			t.Errorf("ValidateTopicName(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", strings.Repeat("z", 250), "a b", "a\x00", "a*"} {
		if err := ValidateTopicName(bad); !errors.Is(err, ErrInvalidTopic) {
			t.Errorf("ValidateTopicName(%q) = %v, want ErrInvalidTopic", bad, err)
		}
	}
}
