package metadata

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/strata-io/strata/internal/acl"
)

// sampleImage builds an image with a cluster id, two brokers, two topics
// with partitions and configs, broker configs and producer ids.
func sampleImage(t testing.TB) *Image {
	t.Helper()
	img, _, err := Empty().Apply(10,
		&ClusterIDRecord{ClusterID: "cluster-1"},
		&RegisterBrokerRecord{NodeID: 1, Host: "h1", Port: 9092, BrokerEpoch: 1},
		&RegisterBrokerRecord{NodeID: 2, Host: "h2", Port: 9092, BrokerEpoch: 2, Rack: "r2"},
		&TopicRecord{Name: "orders", TopicID: topicA},
		&PartitionRecord{TopicID: topicA, Partition: 0, Replicas: []int32{1, 2}, ISR: []int32{1, 2}, Leader: 1},
		&PartitionRecord{TopicID: topicA, Partition: 1, Replicas: []int32{3, 2, 1}, ISR: []int32{2, 1}, Leader: 2, AddingReplicas: []int32{3}, RemovingReplicas: []int32{1}},
		&ConfigRecord{ResourceType: ResourceTopic, ResourceName: "orders", Name: "retention.ms", Value: strp("1000")},
		&TopicRecord{Name: "audit", TopicID: topicB},
		&PartitionRecord{TopicID: topicB, Partition: 0, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1},
		&ConfigRecord{ResourceType: ResourceBroker, ResourceName: "", Name: "log.retention.ms", Value: strp("5")},
		&ConfigRecord{ResourceType: ResourceBroker, ResourceName: "2", Name: "log.segment.bytes", Value: strp("100")},
		&ProducerIDsRecord{NextProducerID: 2000},
		&ClientQuotaRecord{Entity: []QuotaEntityComponent{{Type: QuotaEntityUser, Name: strp("alice")}}, Key: "producer_byte_rate", Value: 1024},
		&ClientQuotaRecord{Entity: []QuotaEntityComponent{{Type: QuotaEntityClientID}, {Type: QuotaEntityUser}}, Key: "request_percentage", Value: 50.5},
		&AccessControlEntryRecord{ID: topicA, Binding: acl.Binding{ResourceType: acl.ResourceTopic, ResourceName: "orders",
			PatternType: acl.PatternLiteral, Principal: "User:alice", Host: "*", Operation: acl.OpRead, Permission: acl.PermissionAllow}},
	)
	if err != nil {
		t.Fatalf("building sample image: %v", err)
	}
	return img
}

// imageState flattens an image for comparison with cmp.Diff.
type imageState struct {
	Index          uint64
	ClusterID      string
	Brokers        []BrokerInfo
	Topics         []Topic
	BrokerConfigs  map[string]map[string]string
	NextProducerID int64
	ClientQuotas   []ClientQuota
	ACLs           []string
}

func stateOf(img *Image) imageState {
	s := imageState{Index: img.Index(), ClusterID: img.ClusterID(), Brokers: img.Brokers(), NextProducerID: img.NextProducerID(), BrokerConfigs: map[string]map[string]string{}}
	// Deep copies, so that a later in-place modification of the image shows.
	for _, t := range img.Topics() {
		c := Topic{Name: t.Name, ID: t.ID, Configs: maps.Clone(t.Configs)}
		for _, p := range t.Partitions {
			p.Replicas, p.ISR = slices.Clone(p.Replicas), slices.Clone(p.ISR)
			c.Partitions = append(c.Partitions, p)
		}
		s.Topics = append(s.Topics, c)
	}
	for _, r := range img.BrokerConfigResources() {
		s.BrokerConfigs[r] = maps.Clone(img.BrokerConfigs(r))
	}
	for _, q := range img.ClientQuotas() {
		s.ClientQuotas = append(s.ClientQuotas, ClientQuota{Entity: slices.Clone(q.Entity), Values: maps.Clone(q.Values)})
	}
	for _, id := range img.ACLs().IDs() {
		b, _ := img.ACLs().Get(id)
		s.ACLs = append(s.ACLs, fmt.Sprint(id, b))
	}
	return s
}

func TestApplyBuildsImage(t *testing.T) {
	img := sampleImage(t)
	if img.Index() != 10 || img.ClusterID() != "cluster-1" || img.NextProducerID() != 2000 {
		t.Errorf("sample image = (index %d, cluster %q, next pid %d), want (10, cluster-1, 2000)", img.Index(), img.ClusterID(), img.NextProducerID())
	}
	orders, ok := img.TopicByName("orders")
	if !ok || orders.ID != topicA || len(orders.Partitions) != 2 || orders.Configs["retention.ms"] != "1000" {
		t.Fatalf("TopicByName(orders) = (%+v, %v), want topic A with 2 partitions and retention.ms", orders, ok)
	}
	if byID, _ := img.TopicByID(topicA); byID != orders {
		t.Errorf("TopicByID(A) = %p, want the same topic as TopicByName (%p)", byID, orders)
	}
	p, ok := img.Partition(topicA, 1)
	if !ok || p.Leader != 2 || !slices.Equal(p.Replicas, []int32{3, 2, 1}) || !p.Reassigning() ||
		!slices.Equal(p.TargetReplicas(), []int32{3, 2}) || !slices.Equal(p.OriginalReplicas(), []int32{2, 1}) {
		t.Errorf("Partition(A, 1) = (%+v, %v), want leader 2 replicas [3 2 1] moving from [2 1] to [3 2]", p, ok)
	}
	if _, ok := img.Partition(topicA, 2); ok {
		t.Errorf("Partition(A, 2) found a partition, want none")
	}
	if names := []string{img.Topics()[0].Name, img.Topics()[1].Name}; !slices.Equal(names, []string{"audit", "orders"}) {
		t.Errorf("Topics() names = %v, want [audit orders]", names)
	}
	if b, ok := img.Broker(2); !ok || b.Rack != "r2" {
		t.Errorf("Broker(2) = (%+v, %v), want rack r2", b, ok)
	}
	if got := img.BrokerConfigs(""); got["log.retention.ms"] != "5" {
		t.Errorf("BrokerConfigs(\"\") = %v, want log.retention.ms=5", got)
	}
}

func TestApplyIsCopyOnWrite(t *testing.T) {
	img := sampleImage(t)
	before := stateOf(img)
	next, _, err := img.Apply(11,
		&PartitionRecord{TopicID: topicA, Partition: 0, Replicas: []int32{1, 2}, ISR: []int32{1}, Leader: 1, LeaderEpoch: 1},
		&PartitionRecord{TopicID: topicA, Partition: 2, Replicas: []int32{1, 2}, ISR: []int32{1, 2}, Leader: 1},
		&ConfigRecord{ResourceType: ResourceTopic, ResourceName: "orders", Name: "retention.ms", Value: nil},
		&ConfigRecord{ResourceType: ResourceBroker, ResourceName: "", Name: "log.retention.ms", Value: strp("6")},
		&RegisterBrokerRecord{NodeID: 3, Host: "h3", Port: 1},
		&RemoveTopicRecord{TopicID: topicB},
		&ProducerIDsRecord{NextProducerID: 3000},
	)
	if err != nil {
		t.Fatalf("Apply error: %v", err)
	}
	if d := cmp.Diff(before, stateOf(img)); d != "" {
		t.Errorf("Apply modified the previous image (-before +after):\n%s", d)
	}
	if _, ok := next.TopicByName("audit"); ok {
		t.Errorf("next image still has the removed topic")
	}
	orders, _ := next.TopicByName("orders")
	if len(orders.Partitions) != 3 || len(orders.Configs) != 0 || orders.Partitions[0].LeaderEpoch != 1 {
		t.Errorf("next orders = %+v, want 3 partitions, no configs, leader epoch 1 on p0", orders)
	}
	// Topics the batch did not touch are shared, not copied.
	img2, _, _ := img.Apply(12, &ProducerIDsRecord{NextProducerID: 2001})
	a1, _ := img.TopicByName("audit")
	a2, _ := img2.TopicByName("audit")
	if a1 != a2 {
		t.Errorf("an untouched topic was copied")
	}
}

func TestApplyDelta(t *testing.T) {
	img := sampleImage(t)
	topicC := UUID{0xc}
	next, d, err := img.Apply(11,
		&TopicRecord{Name: "new", TopicID: topicC},
		&PartitionRecord{TopicID: topicC, Partition: 0, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1},
		&ConfigRecord{ResourceType: ResourceTopic, ResourceName: "new", Name: "cleanup.policy", Value: strp("compact")},
		&PartitionRecord{TopicID: topicA, Partition: 1, Replicas: []int32{2, 1}, ISR: []int32{2}, Leader: 2, LeaderEpoch: 1},
		&PartitionRecord{TopicID: topicA, Partition: 0, Replicas: []int32{1, 2}, ISR: []int32{1, 2}, Leader: 1}, // unchanged
		&PartitionRecord{TopicID: topicA, Partition: 2, Replicas: []int32{1, 2}, ISR: []int32{1, 2}, Leader: 1},
		&RemoveTopicRecord{TopicID: topicB},
		&ConfigRecord{ResourceType: ResourceBroker, ResourceName: "2", Name: "log.segment.bytes", Value: nil},
		&RegisterBrokerRecord{NodeID: 1, Host: "h1", Port: 9092, BrokerEpoch: 1}, // unchanged
		&RegisterBrokerRecord{NodeID: 2, Host: "h2", Port: 9093, BrokerEpoch: 3, Rack: "r2"},
	)
	if err != nil {
		t.Fatalf("Apply error: %v", err)
	}
	audit, _ := img.TopicByName("audit")
	want := &Delta{
		Prev:                 img,
		Index:                11,
		ChangedBrokers:       []int32{2},
		CreatedTopics:        []UUID{topicC},
		DeletedTopics:        []*Topic{audit},
		ChangedPartitions:    map[UUID][]int32{topicC: {0}, topicA: {1, 2}},
		ChangedTopicConfigs:  map[UUID][]string{topicC: {"cleanup.policy"}},
		ChangedBrokerConfigs: map[string][]string{"2": {"log.segment.bytes"}},
	}
	if diff := cmp.Diff(want, d, cmp.Comparer(func(a, b *Image) bool { return a == b })); diff != "" {
		t.Errorf("Apply delta mismatch (-want +got):\n%s", diff)
	}
	if !d.TopicCreated(topicC) || d.TopicCreated(topicA) {
		t.Errorf("TopicCreated(C)=%v TopicCreated(A)=%v, want true false", d.TopicCreated(topicC), d.TopicCreated(topicA))
	}
	if !d.PartitionCreated(topicA, 2) || d.PartitionCreated(topicA, 1) {
		t.Errorf("PartitionCreated(A,2)=%v PartitionCreated(A,1)=%v, want true false", d.PartitionCreated(topicA, 2), d.PartitionCreated(topicA, 1))
	}
	if diff := cmp.Diff(Diff(img, next), d, cmp.Comparer(func(a, b *Image) bool { return a == b })); diff != "" {
		t.Errorf("Diff(prev, next) differs from Apply's delta (-diff +apply):\n%s", diff)
	}
	if _, d2, _ := next.Apply(12); !d2.Empty() {
		t.Errorf("empty batch delta = %+v, want empty", d2)
	}
}

func TestApplyCreateAndDeleteInOneBatch(t *testing.T) {
	img := sampleImage(t)
	topicC := UUID{0xc}
	_, d, err := img.Apply(11,
		&TopicRecord{Name: "tmp", TopicID: topicC},
		&PartitionRecord{TopicID: topicC, Partition: 0, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1},
		&RemoveTopicRecord{TopicID: topicC},
		&RemoveTopicRecord{TopicID: topicB},
		&TopicRecord{Name: "audit", TopicID: topicC},
	)
	if err != nil {
		t.Fatalf("Apply error: %v", err)
	}
	if len(d.CreatedTopics) != 1 || d.CreatedTopics[0] != topicC || len(d.DeletedTopics) != 1 || d.DeletedTopics[0].ID != topicB {
		t.Errorf("delta created=%v deleted=%v, want created [C] (recreated audit) deleted [B]", d.CreatedTopics, d.DeletedTopics)
	}
}

func TestApplyRejectsInconsistentBatches(t *testing.T) {
	img := sampleImage(t)
	tests := []struct {
		name string
		give []Record
	}{
		{"change cluster id", []Record{&ClusterIDRecord{ClusterID: "other"}}},
		{"empty cluster id", []Record{&ClusterIDRecord{}}},
		{"negative broker id", []Record{&RegisterBrokerRecord{NodeID: -1}}},
		{"duplicate topic name", []Record{&TopicRecord{Name: "orders", TopicID: UUID{9}}}},
		{"duplicate topic id", []Record{&TopicRecord{Name: "x", TopicID: topicA}}},
		{"zero topic id", []Record{&TopicRecord{Name: "x"}}},
		{"empty topic name", []Record{&TopicRecord{TopicID: UUID{9}}}},
		{"partition of unknown topic", []Record{&PartitionRecord{TopicID: UUID{9}, Replicas: []int32{1}}}},
		{"partition gap", []Record{&PartitionRecord{TopicID: topicA, Partition: 3, Replicas: []int32{1}}}},
		{"negative partition", []Record{&PartitionRecord{TopicID: topicA, Partition: -1, Replicas: []int32{1}}}},
		{"no replicas", []Record{&PartitionRecord{TopicID: topicA, Partition: 2}}},
		{"adding a non-replica", []Record{&PartitionRecord{TopicID: topicA, Partition: 0, Replicas: []int32{1, 2}, AddingReplicas: []int32{3}}}},
		{"removing twice", []Record{&PartitionRecord{TopicID: topicA, Partition: 0, Replicas: []int32{1, 2}, RemovingReplicas: []int32{1, 1}}}},
		{"adding and removing", []Record{&PartitionRecord{TopicID: topicA, Partition: 0, Replicas: []int32{1, 2}, AddingReplicas: []int32{2}, RemovingReplicas: []int32{2}}}},
		{"removing every replica", []Record{&PartitionRecord{TopicID: topicA, Partition: 0, Replicas: []int32{1, 2}, RemovingReplicas: []int32{2, 1}}}},
		{"remove unknown topic", []Record{&RemoveTopicRecord{TopicID: UUID{9}}}},
		{"config of unknown topic", []Record{&ConfigRecord{ResourceType: ResourceTopic, ResourceName: "nope", Name: "a", Value: strp("b")}}},
		{"bad broker resource", []Record{&ConfigRecord{ResourceType: ResourceBroker, ResourceName: "01", Name: "a", Value: strp("b")}}},
		{"unsupported resource", []Record{&ConfigRecord{ResourceType: 8, ResourceName: "", Name: "a", Value: strp("b")}}},
		{"empty config name", []Record{&ConfigRecord{ResourceType: ResourceBroker, Value: strp("b")}}},
		{"producer ids go back", []Record{&ProducerIDsRecord{NextProducerID: 2000}}},
		{"change of unregistered broker", []Record{&BrokerRegistrationChangeRecord{NodeID: 9, BrokerEpoch: 1, Fenced: true}}},
		{"change with stale broker epoch", []Record{&BrokerRegistrationChangeRecord{NodeID: 2, BrokerEpoch: 1, Fenced: true}}},
		{"unregistration of unregistered broker", []Record{&UnregisterBrokerRecord{NodeID: 9, BrokerEpoch: 1}}},
		{"unregistration with stale broker epoch", []Record{&UnregisterBrokerRecord{NodeID: 2, BrokerEpoch: 1}}},
		{"unregistered twice", []Record{&UnregisterBrokerRecord{NodeID: 2, BrokerEpoch: 2}, &UnregisterBrokerRecord{NodeID: 2, BrokerEpoch: 2}}},
		{"nil record", []Record{nil}},
		{"typed nil record", []Record{(*TopicRecord)(nil)}},
		{"good then bad", []Record{&ProducerIDsRecord{NextProducerID: 5000}, &RemoveTopicRecord{TopicID: UUID{9}}}},
	}
	for _, tt := range tests {
		next, d, err := img.Apply(11, tt.give...)
		if !errors.Is(err, ErrInconsistent) || next != nil || d != nil {
			t.Errorf("%s: Apply = (%v, %v, %v), want (nil, nil, ErrInconsistent)", tt.name, next, d, err)
		}
	}
	if img.NextProducerID() != 2000 {
		t.Errorf("a rejected batch changed the image")
	}
	if next, _, err := img.Apply(11, &ClusterIDRecord{ClusterID: "cluster-1"}); err != nil || next.ClusterID() != "cluster-1" {
		t.Errorf("re-applying the same cluster id = %v, want accepted", err)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	for _, img := range []*Image{Empty(), sampleImage(t)} {
		b, err := img.MarshalSnapshot()
		if err != nil {
			t.Fatalf("MarshalSnapshot error: %v", err)
		}
		got, err := UnmarshalSnapshot(b)
		if err != nil {
			t.Fatalf("UnmarshalSnapshot error: %v", err)
		}
		if diff := cmp.Diff(stateOf(img), stateOf(got)); diff != "" {
			t.Errorf("UnmarshalSnapshot(MarshalSnapshot) mismatch (-want +got):\n%s", diff)
		}
		if !Diff(img, got).Empty() {
			t.Errorf("Diff(image, restored) = %+v, want empty", Diff(img, got))
		}
	}
}

func TestBrokerListeners(t *testing.T) {
	ssl := Endpoint{Name: "SSL", Host: "h1", Port: 9093, SecurityProtocol: "SSL"}
	plain := Endpoint{Name: "PLAINTEXT", Host: "h1", Port: 9092, SecurityProtocol: "PLAINTEXT"}
	img, _, err := Empty().Apply(1, &RegisterBrokerRecord{NodeID: 1, Host: "h1", Port: 9093, Listeners: []Endpoint{ssl, plain}})
	if err != nil {
		t.Fatalf("Apply(RegisterBrokerRecord) error: %v", err)
	}
	b, _ := img.Broker(1)
	tests := []struct {
		give   string
		want   Endpoint
		wantOK bool
	}{
		{give: "", want: ssl, wantOK: true},
		{give: "SSL", want: ssl, wantOK: true},
		{give: "PLAINTEXT", want: plain, wantOK: true},
		{give: "SASL_SSL"},
	}
	for _, tt := range tests {
		got, ok := b.Endpoint(tt.give)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("Endpoint(%q) = %+v, %v, want %+v, %v", tt.give, got, ok, tt.want, tt.wantOK)
		}
	}
	if _, _, err := img.Apply(2, &RegisterBrokerRecord{NodeID: 2, Host: "h1", Port: 9093, Listeners: []Endpoint{ssl, ssl}}); err == nil {
		t.Errorf("Apply(RegisterBrokerRecord with SSL twice) succeeded, want an error")
	}
	// A version 1 record (no listeners) is one PLAINTEXT listener.
	rec := &RegisterBrokerRecord{NodeID: 2, Host: "h2", Port: 9092, Listeners: []Endpoint{{Name: "PLAINTEXT", Host: "h2", Port: 9092, SecurityProtocol: "PLAINTEXT"}}}
	if v := rec.Version(); v != 0 {
		t.Errorf("Version() of a PLAINTEXT-only registration = %d, want 0", v)
	}
	enc, _ := Encode(rec)
	dec, err := Decode(enc)
	if err != nil {
		t.Fatalf("Decode error: %v", err)
	}
	img, _, err = img.Apply(2, dec)
	if err != nil {
		t.Fatalf("Apply(decoded v0 record) error: %v", err)
	}
	b, _ = img.Broker(2)
	if got, ok := b.Endpoint("PLAINTEXT"); !ok || got.Host != "h2" || got.Port != 9092 || got.SecurityProtocol != "PLAINTEXT" {
		t.Errorf("Endpoint(PLAINTEXT) of a v0 registration = %+v, %v, want PLAINTEXT://h2:9092", got, ok)
	}
}

func TestBrokerRegistrationChange(t *testing.T) {
	img := sampleImage(t)
	next, d, err := img.Apply(11, &BrokerRegistrationChangeRecord{NodeID: 2, BrokerEpoch: 2, Fenced: true, InControlledShutdown: true})
	if err != nil {
		t.Fatalf("Apply(BrokerRegistrationChangeRecord) error: %v", err)
	}
	want := BrokerInfo{NodeID: 2, Host: "h2", Port: 9092, BrokerEpoch: 2, Rack: "r2", Fenced: true, InControlledShutdown: true,
		Listeners: []Endpoint{{Name: "PLAINTEXT", Host: "h2", Port: 9092, SecurityProtocol: "PLAINTEXT"}}}
	if got, _ := next.Broker(2); !cmp.Equal(got, want) {
		t.Errorf("Broker(2) after change = %+v, want %+v", got, want)
	}
	if diff := cmp.Diff([]int32{2}, d.ChangedBrokers); diff != "" {
		t.Errorf("Delta.ChangedBrokers (-want +got):\n%s", diff)
	}
	if got, _ := img.Broker(2); got.Fenced {
		t.Errorf("the change modified the earlier image: %+v", got)
	}
	// The state survives a snapshot.
	b, err := next.MarshalSnapshot()
	if err != nil {
		t.Fatalf("MarshalSnapshot error: %v", err)
	}
	restored, err := UnmarshalSnapshot(b)
	if err != nil {
		t.Fatalf("UnmarshalSnapshot error: %v", err)
	}
	if diff := cmp.Diff(stateOf(next), stateOf(restored)); diff != "" {
		t.Errorf("snapshot of a broker in controlled shutdown (-want +got):\n%s", diff)
	}
	// A new registration clears controlled shutdown.
	again, _, err := next.Apply(12, &RegisterBrokerRecord{NodeID: 2, Host: "h2", Port: 9092, BrokerEpoch: 12, Fenced: true})
	if err != nil {
		t.Fatalf("Apply(RegisterBrokerRecord) error: %v", err)
	}
	if got, _ := again.Broker(2); got.InControlledShutdown || got.BrokerEpoch != 12 {
		t.Errorf("Broker(2) after re-registration = %+v, want epoch 12 and not in controlled shutdown", got)
	}
}

func TestSnapshotRejectsCorruption(t *testing.T) {
	b, _ := sampleImage(t).MarshalSnapshot()
	for i := range b {
		c := slices.Clone(b)
		c[i] ^= 0x01
		if _, err := UnmarshalSnapshot(c); err == nil {
			t.Fatalf("UnmarshalSnapshot with byte %d flipped = nil error, want an error", i)
		}
	}
	for n := range len(b) {
		if _, err := UnmarshalSnapshot(b[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("UnmarshalSnapshot(truncated to %d) = %v, want ErrCorrupt", n, err)
		}
	}
}

// TestRandomBatches applies random, mostly valid batches and checks that
// Apply's delta always equals Diff, that snapshots rebuild the image, and
// that earlier images never change.
func TestRandomBatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	img := Empty()
	var history []*Image
	var states []imageState
	for i := range 400 {
		recs := randomBatch(rng, img)
		next, d, err := img.Apply(uint64(i+1), recs...)
		if err != nil {
			if !errors.Is(err, ErrInconsistent) {
				t.Fatalf("batch %d: Apply error %v, want nil or ErrInconsistent", i, err)
			}
			continue
		}
		want := Diff(img, next)
		if diff := cmp.Diff(want, d, cmp.Comparer(func(a, b *Image) bool { return a == b })); diff != "" {
			t.Fatalf("batch %d: delta differs from Diff (-diff +apply):\n%s", i, diff)
		}
		history = append(history, img)
		states = append(states, stateOf(img))
		img = next
	}
	for i, old := range history {
		if diff := cmp.Diff(states[i], stateOf(old)); diff != "" {
			t.Fatalf("image %d changed after later batches:\n%s", i, diff)
		}
	}
	b, err := img.MarshalSnapshot()
	if err != nil {
		t.Fatalf("MarshalSnapshot error: %v", err)
	}
	got, err := UnmarshalSnapshot(b)
	if err != nil {
		t.Fatalf("UnmarshalSnapshot error: %v", err)
	}
	if diff := cmp.Diff(stateOf(img), stateOf(got)); diff != "" {
		t.Errorf("snapshot of the final image mismatch (-want +got):\n%s", diff)
	}
	if img.NumTopics() == 0 {
		t.Errorf("random batches left no topics; the generator is too destructive to test much")
	}
}

func randomBatch(rng *rand.Rand, img *Image) []Record {
	var recs []Record
	topics := img.Topics()
	for range 1 + rng.IntN(4) {
		switch rng.IntN(10) {
		case 0:
			recs = append(recs, &RegisterBrokerRecord{NodeID: rng.Int32N(4), Host: "h", Port: rng.Int32N(3), BrokerEpoch: rng.Int64N(5)})
		case 1, 2:
			var id UUID
			id[0], id[1] = byte(rng.IntN(256)), byte(rng.IntN(256))
			name := fmt.Sprintf("t%d", rng.IntN(30))
			recs = append(recs, &TopicRecord{Name: name, TopicID: id})
			for p := range rng.IntN(3) {
				recs = append(recs, &PartitionRecord{TopicID: id, Partition: int32(p), Replicas: []int32{1}, ISR: []int32{1}, Leader: 1})
			}
		case 3:
			if len(topics) > 0 {
				t := topics[rng.IntN(len(topics))]
				p := rng.Int32N(int32(len(t.Partitions)) + 1)
				recs = append(recs, &PartitionRecord{TopicID: t.ID, Partition: p, Replicas: []int32{1, 2}, ISR: []int32{rng.Int32N(3)}, Leader: 1, LeaderEpoch: rng.Int32N(3)})
			}
		case 4:
			if len(topics) > 0 && rng.IntN(3) == 0 {
				recs = append(recs, &RemoveTopicRecord{TopicID: topics[rng.IntN(len(topics))].ID})
			}
		case 5:
			if len(topics) > 0 {
				var v *string
				if rng.IntN(3) > 0 {
					v = strp(fmt.Sprint(rng.IntN(3)))
				}
				recs = append(recs, &ConfigRecord{ResourceType: ResourceTopic, ResourceName: topics[rng.IntN(len(topics))].Name, Name: fmt.Sprintf("c%d", rng.IntN(3)), Value: v})
			}
		case 6:
			var v *string
			if rng.IntN(3) > 0 {
				v = strp(fmt.Sprint(rng.IntN(3)))
			}
			res := []string{"", "1", "2"}[rng.IntN(3)]
			recs = append(recs, &ConfigRecord{ResourceType: ResourceBroker, ResourceName: res, Name: fmt.Sprintf("c%d", rng.IntN(3)), Value: v})
		case 7:
			recs = append(recs, &ProducerIDsRecord{NextProducerID: img.NextProducerID() + rng.Int64N(3)})
		case 8:
			recs = append(recs, &BrokerRegistrationChangeRecord{NodeID: rng.Int32N(4), BrokerEpoch: rng.Int64N(5), Fenced: rng.IntN(2) == 0, InControlledShutdown: rng.IntN(2) == 0})
		case 9:
			recs = append(recs, &UnregisterBrokerRecord{NodeID: rng.Int32N(4), BrokerEpoch: rng.Int64N(5)})
		}
		if rng.IntN(4) == 0 {
			id := UUID{0xac, byte(rng.IntN(8))}
			if rng.IntN(2) == 0 {
				recs = append(recs, &RemoveAccessControlEntryRecord{ID: id})
			} else {
				recs = append(recs, &AccessControlEntryRecord{ID: id, Binding: acl.Binding{ResourceType: acl.ResourceTopic,
					ResourceName: fmt.Sprint("t", rng.IntN(3)), PatternType: acl.PatternLiteral, Principal: "User:u", Host: "*",
					Operation: acl.OpRead, Permission: acl.PermissionAllow}})
			}
		}
	}
	if rng.IntN(20) == 0 {
		recs = append(recs, &ClusterIDRecord{ClusterID: fmt.Sprint("c", rng.IntN(2))})
	}
	return recs
}

func TestClientQuotaRecordsSetAndRemove(t *testing.T) {
	alice := []QuotaEntityComponent{{Type: QuotaEntityClientID, Name: strp("app")}, {Type: QuotaEntityUser, Name: strp("alice")}}
	img, d, err := Empty().Apply(1,
		&ClientQuotaRecord{Entity: alice, Key: "producer_byte_rate", Value: 100},
		&ClientQuotaRecord{Entity: alice, Key: "consumer_byte_rate", Value: 200},
		&ClientQuotaRecord{Entity: []QuotaEntityComponent{{Type: QuotaEntityIP}}, Key: "connection_creation_rate", Value: 3},
	)
	if err != nil {
		t.Fatalf("Apply(set quotas) error: %v", err)
	}
	if !d.ClientQuotasChanged {
		t.Errorf("Apply(set quotas) delta ClientQuotasChanged = false, want true")
	}
	// Component order does not matter.
	reversed := []QuotaEntityComponent{alice[1], alice[0]}
	q := img.ClientQuota(reversed)
	if q == nil || !maps.Equal(q.Values, map[string]float64{"producer_byte_rate": 100, "consumer_byte_rate": 200}) {
		t.Fatalf("ClientQuota(alice/app) = %+v, want both byte rates", q)
	}
	next, d, err := img.Apply(2,
		&ClientQuotaRecord{Entity: reversed, Key: "producer_byte_rate", Remove: true},
		&ClientQuotaRecord{Entity: alice, Key: "consumer_byte_rate", Remove: true},
	)
	if err != nil {
		t.Fatalf("Apply(remove quotas) error: %v", err)
	}
	if next.ClientQuota(alice) != nil || len(next.ClientQuotas()) != 1 || !d.ClientQuotasChanged {
		t.Errorf("after removing alice/app's quotas: ClientQuotas() = %+v, changed %v; want only the ip default", next.ClientQuotas(), d.ClientQuotasChanged)
	}
	if q := img.ClientQuota(alice); q == nil || len(q.Values) != 2 {
		t.Errorf("Apply modified the previous image: %+v", q)
	}
	_, d, _ = next.Apply(3, &ClientQuotaRecord{Entity: alice, Key: "producer_byte_rate", Remove: true})
	if d.ClientQuotasChanged {
		t.Errorf("removing an absent quota: ClientQuotasChanged = true, want false")
	}
	tests := []struct {
		name string
		give *ClientQuotaRecord
	}{
		{"no entity", &ClientQuotaRecord{Key: "k", Value: 1}},
		{"type twice", &ClientQuotaRecord{Entity: []QuotaEntityComponent{{Type: "user"}, {Type: "user", Name: strp("a")}}, Key: "k", Value: 1}},
		{"empty type", &ClientQuotaRecord{Entity: []QuotaEntityComponent{{Type: ""}}, Key: "k", Value: 1}},
		{"empty key", &ClientQuotaRecord{Entity: []QuotaEntityComponent{{Type: "user"}}, Value: 1}},
		{"infinite value", &ClientQuotaRecord{Entity: []QuotaEntityComponent{{Type: "user"}}, Key: "k", Value: math.Inf(1)}},
	}
	for _, tt := range tests {
		if _, _, err := Empty().Apply(1, tt.give); !errors.Is(err, ErrInconsistent) {
			t.Errorf("%s: Apply(%+v) = %v, want ErrInconsistent", tt.name, tt.give, err)
		}
	}
}
