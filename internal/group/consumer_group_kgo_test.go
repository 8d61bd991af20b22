package group

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// These tests run franz-go's KIP-848 consumer (kgo.ServerSideBalancer)
// against this coordinator: a kfake cluster serves metadata, produce and
// fetch, and hands every group request to the Coordinator. They check what
// no hand-written client can: that a real client's heartbeats,
// revocations, commits and leaves work with it. Real time, with deadlines.

type kgoHarness struct {
	cluster *kfake.Cluster
	c       *Coordinator
	cutOff  atomic.Pointer[string] // heartbeats of this member id close the connection
}

func startKgoHarness(t *testing.T, partitions int32, names ...string) *kgoHarness {
	t.Helper()
	if testing.Short() {
		t.Skip("runs real clients for a few seconds")
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, names...))
	if err != nil {
		t.Fatalf("kfake.NewCluster: %v", err)
	}
	t.Cleanup(cluster.Close)
	topics := newFakeTopics(nil)
	for _, name := range names {
		topics.m[name] = TopicInfo{ID: cluster.TopicInfo(name).TopicID, Partitions: partitions}
	}
	cfg := consumerConfig(t, topics)
	cfg.ConsumerGroupHeartbeatInterval = 50 * time.Millisecond
	cfg.ConsumerGroupSessionTimeout = time.Second
	h := &kgoHarness{cluster: cluster, c: NewCoordinator(cfg)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = h.c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	h.c.Load(0, 0, &memLog{})

	for _, key := range []int16{kmsg.ConsumerGroupHeartbeat.Int16(), kmsg.ConsumerGroupDescribe.Int16(), kmsg.OffsetCommit.Int16(), kmsg.OffsetFetch.Int16()} {
		cluster.ControlKey(key, func(req kmsg.Request) (kmsg.Response, error, bool) {
			cluster.KeepControl()
			ctx := WithClientInfo(context.Background(), ClientInfo{ClientID: "kgo", ClientHost: "/127.0.0.1"})
			switch r := req.(type) {
			case *kmsg.ConsumerGroupHeartbeatRequest:
				if id := h.cutOff.Load(); id != nil && *id == r.MemberID {
					return nil, errors.New("member cut off"), true
				}
				return h.c.ConsumerGroupHeartbeat(ctx, r), nil, true
			case *kmsg.ConsumerGroupDescribeRequest:
				return h.c.ConsumerGroupDescribe(ctx, r), nil, true
			case *kmsg.OffsetCommitRequest:
				return h.c.OffsetCommit(ctx, r), nil, true
			case *kmsg.OffsetFetchRequest:
				return h.c.OffsetFetch(ctx, r), nil, true
			}
			return nil, nil, false
		})
	}
	return h
}

// consumer starts a KIP-848 group consumer of group g; onRecord (may be
// nil) sees what it polls. It is closed at cleanup unless closed before.
func (h *kgoHarness) consumer(t *testing.T, onRecord func(*kgo.Record), opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{
		kgo.SeedBrokers(h.cluster.ListenAddrs()...),
		kgo.ConsumerGroup("g"),
		kgo.ServerSideBalancer(),
		kgo.FetchMaxWait(100 * time.Millisecond),
		// The group APIs at the versions this package serves (Kafka 4.0's).
		kgo.MaxVersions(kversion.V4_0_0()),
	}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	var closeOnce sync.Once
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for {
			fs := cl.PollFetches(context.Background())
			if fs.IsClientClosed() {
				return
			}
			if onRecord != nil {
				fs.EachRecord(onRecord)
			}
		}
	}()
	t.Cleanup(func() { closeOnce.Do(cl.Close); <-polled })
	return cl
}

// awaitGroup polls ConsumerGroupDescribe until ok or a deadline.
func (h *kgoHarness) awaitGroup(t *testing.T, what string, ok func(kmsg.ConsumerGroupDescribeResponseGroup) bool) kmsg.ConsumerGroupDescribeResponseGroup {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		d := describe848(t, h.c, "g")
		if ok(d) {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within 30s; group %+v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// balanced is true for a Stable group of n members owning partitions
// between them, each within one of the others.
func balanced(n, partitions int) func(kmsg.ConsumerGroupDescribeResponseGroup) bool {
	return func(d kmsg.ConsumerGroupDescribeResponseGroup) bool {
		if d.State != consumerStateStable || len(d.Members) != n {
			return false
		}
		total := 0
		for _, m := range d.Members {
			got := fromDescribed(m.Assignment).size()
			if got < partitions/n || got > (partitions+n-1)/n {
				return false
			}
			total += got
		}
		return total == partitions
	}
}

func TestFranzGoServerSideBalancer(t *testing.T) {
	const partitions = 6
	h := startKgoHarness(t, partitions, "t")
	producer, err := kgo.NewClient(kgo.SeedBrokers(h.cluster.ListenAddrs()...), kgo.DefaultProduceTopic("t"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	defer producer.Close()
	const records = 60
	for i := range records {
		r := &kgo.Record{Value: fmt.Appendf(nil, "%d", i), Partition: int32(i % partitions)}
		if err := producer.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}

	var mu sync.Mutex
	seen := make(map[string]bool)
	onRecord := func(r *kgo.Record) {
		mu.Lock()
		seen[string(r.Value)] = true
		mu.Unlock()
	}
	consumers := make([]*kgo.Client, 3)
	for i := range consumers {
		consumers[i] = h.consumer(t, onRecord, kgo.ConsumeTopics("t"))
	}
	h.awaitGroup(t, "three kgo consumers sharing six partitions", balanced(3, partitions))
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n == records {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumed %d distinct records of %d within 30s", n, records)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, cl := range consumers {
		if err := cl.CommitUncommittedOffsets(context.Background()); err != nil {
			t.Fatalf("CommitUncommittedOffsets: %v", err)
		}
	}

	// One consumer leaves: the other two take over its partitions.
	consumers[2].Close()
	h.awaitGroup(t, "two kgo consumers after one left", balanced(2, partitions))

	// Another one stops heartbeating (as if killed): a session timeout
	// later the last one owns everything.
	victim, _ := consumers[1].GroupMetadata()
	h.cutOff.Store(&victim)
	h.awaitGroup(t, "one kgo consumer after another's session expired", func(d kmsg.ConsumerGroupDescribeResponseGroup) bool {
		return balanced(1, partitions)(d) && d.Members[0].MemberID != victim
	})

	var committed int64
	for p := range int32(partitions) {
		committed += h.c.fetch(t, "g", "t", p)
	}
	if committed != records {
		t.Fatalf("committed offsets sum to %d, want %d (every partition committed at its end)", committed, records)
	}
}

func TestFranzGoRegexRangeAndStaticMembers(t *testing.T) {
	h := startKgoHarness(t, 2, "orders-a", "orders-b", "payments")
	opts := func(instance string) []kgo.Opt {
		return []kgo.Opt{kgo.ConsumeRegex(), kgo.ConsumeTopics("orders-.*"), kgo.Balancers(kgo.RangeBalancer()), kgo.InstanceID(instance)}
	}
	first := h.consumer(t, nil, opts("i1")...)
	h.consumer(t, nil, opts("i2")...)
	d := h.awaitGroup(t, "two regex consumers sharing the orders topics", balanced(2, 4))
	if d.AssignorName != RangeAssignor {
		t.Fatalf("assignor %s, want range", d.AssignorName)
	}
	for _, m := range d.Members {
		for _, tp := range m.Assignment.TopicPartitions {
			if tp.Topic == "payments" || len(tp.Partitions) != 1 || tp.Partitions[0] != m.Assignment.TopicPartitions[0].Partitions[0] {
				t.Fatalf("member %s got %+v, want one partition of each orders topic, the same number (range, co-partitioned)", m.MemberID, m.Assignment)
			}
		}
	}

	// A static member that shuts down is fenced when its session expires
	// and the other takes its partitions. (NB: kgo 1.22's static leave
	// sends epoch -2 without the instance id, which Kafka 4.0 and this
	// coordinator reject as INVALID_REQUEST, so the member stays until its
	// session expires instead of leaving for a while.)
	first.Close()
	h.awaitGroup(t, "remaining static member owning the orders topics", func(d kmsg.ConsumerGroupDescribeResponseGroup) bool {
		return balanced(1, 4)(d) && *d.Members[0].InstanceID == "i2"
	})
}
