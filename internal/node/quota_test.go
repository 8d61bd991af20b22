package node

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// throttleHook counts the throttles brokers impose on a client, by node.
type throttleHook struct {
	mu     sync.Mutex
	byNode map[int32]int
	max    time.Duration
}

func (h *throttleHook) OnBrokerThrottle(meta kgo.BrokerMetadata, d time.Duration, _ bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.byNode == nil {
		h.byNode = map[int32]int{}
	}
	h.byNode[meta.NodeID]++
	h.max = max(h.max, d)
}

func (h *throttleHook) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, c := range h.byNode {
		n += c
	}
	return n
}

func sp(s string) *string { return &s }

func alterQuotas(t *testing.T, adm *kadm.Client, entries ...kadm.AlterClientQuotaEntry) {
	t.Helper()
	res, err := adm.AlterClientQuotas(ctxTimeout(t, 10*time.Second), entries)
	if err != nil {
		t.Fatalf("AlterClientQuotas: %v", err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("AlterClientQuotas %v: %v (%s)", r.Entity, r.Err, r.ErrMessage)
		}
	}
}

func TestClientQuotasAlterAndDescribe(t *testing.T) {
	tn := startNode(t)
	adm := tn.admin()
	ctx := ctxTimeout(t, 30*time.Second)
	alice := kadm.ClientQuotaEntity{{Type: "user", Name: sp("alice")}, {Type: "client-id"}}
	alterQuotas(t, adm,
		kadm.AlterClientQuotaEntry{Entity: alice, Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1024}, {Key: "request_percentage", Value: 12.5}}},
		kadm.AlterClientQuotaEntry{Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: sp("app")}}, Ops: []kadm.AlterClientQuotaOp{{Key: "consumer_byte_rate", Value: 2048}}},
		kadm.AlterClientQuotaEntry{Entity: kadm.ClientQuotaEntity{{Type: "ip", Name: sp("10.1.2.3")}}, Ops: []kadm.AlterClientQuotaOp{{Key: "connection_creation_rate", Value: 5}}},
	)

	tests := []struct {
		name   string
		strict bool
		give   []kadm.DescribeClientQuotaComponent
		want   []string
	}{
		{"everything", false, nil, []string{"{client-id=app}[consumer_byte_rate=2048.000000]", "{ip=10.1.2.3}[connection_creation_rate=5.000000]",
			"{client-id=<default>, user=alice}[producer_byte_rate=1024.000000 request_percentage=12.500000]"}},
		{"exact user", false, []kadm.DescribeClientQuotaComponent{{Type: "user", MatchName: sp("alice"), MatchType: 0}},
			[]string{"{client-id=<default>, user=alice}[producer_byte_rate=1024.000000 request_percentage=12.500000]"}},
		{"exact user strict", true, []kadm.DescribeClientQuotaComponent{{Type: "user", MatchName: sp("alice"), MatchType: 0}}, nil},
		{"default client id", false, []kadm.DescribeClientQuotaComponent{{Type: "client-id", MatchType: 1}},
			[]string{"{client-id=<default>, user=alice}[producer_byte_rate=1024.000000 request_percentage=12.500000]"}},
		{"any client id strict", true, []kadm.DescribeClientQuotaComponent{{Type: "client-id", MatchType: 2}}, []string{"{client-id=app}[consumer_byte_rate=2048.000000]"}},
		{"any ip", false, []kadm.DescribeClientQuotaComponent{{Type: "ip", MatchType: 2}}, []string{"{ip=10.1.2.3}[connection_creation_rate=5.000000]"}},
	}
	for _, tt := range tests {
		got, err := adm.DescribeClientQuotas(ctx, tt.strict, tt.give)
		if err != nil {
			t.Fatalf("%s: DescribeClientQuotas: %v", tt.name, err)
		}
		var lines []string
		for _, q := range got {
			slices.SortFunc(q.Entity, func(a, b kadm.ClientQuotaEntityComponent) int { return strings.Compare(a.Type, b.Type) })
			vals := ""
			for i, v := range q.Values {
				if i > 0 {
					vals += " "
				}
				vals += v.String()
			}
			lines = append(lines, q.Entity.String()+"["+vals+"]")
		}
		slices.Sort(lines)
		want := slices.Clone(tt.want)
		slices.Sort(want)
		if !slices.Equal(lines, want) {
			t.Errorf("%s: DescribeClientQuotas = %q, want %q", tt.name, lines, want)
		}
	}

	// Kafka's validation: each bad entity is refused with INVALID_REQUEST
	// and changes nothing.
	bad := []kadm.AlterClientQuotaEntry{
		{Entity: kadm.ClientQuotaEntity{{Type: "user", Name: sp("bob")}}, Ops: []kadm.AlterClientQuotaOp{{Key: "bogus_rate", Value: 1}}},
		{Entity: kadm.ClientQuotaEntity{{Type: "user", Name: sp("bob")}, {Type: "ip"}}, Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1}}},
		{Entity: kadm.ClientQuotaEntity{{Type: "group", Name: sp("g")}}, Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1}}},
		{Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: sp("x")}}, Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1.5}}},
		{Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: sp("y")}}, Ops: []kadm.AlterClientQuotaOp{{Key: "consumer_byte_rate", Value: -3}}},
		{Entity: kadm.ClientQuotaEntity{{Type: "ip", Name: sp("not-an-ip")}}, Ops: []kadm.AlterClientQuotaOp{{Key: "connection_creation_rate", Value: 1}}},
		{Entity: kadm.ClientQuotaEntity{{Type: "ip"}}, Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1}}},
		{Entity: kadm.ClientQuotaEntity{}, Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1}}},
	}
	res, err := adm.AlterClientQuotas(ctx, bad)
	if err != nil || len(res) != len(bad) {
		t.Fatalf("AlterClientQuotas(bad) = %v, %v", res, err)
	}
	for i, r := range res {
		if !errors.Is(r.Err, kerr.InvalidRequest) {
			t.Errorf("AlterClientQuotas(%v %+v) = %v, want INVALID_REQUEST", bad[i].Entity, bad[i].Ops, r.Err)
		}
	}
	all, err := adm.DescribeClientQuotas(ctx, false, nil)
	if err != nil || len(all) != 3 {
		t.Errorf("after refused alterations: %d quota entities (%v), want still 3", len(all), err)
	}
	_, err = adm.DescribeClientQuotas(ctx, false, []kadm.DescribeClientQuotaComponent{{Type: "group", MatchType: 2}})
	if !errors.Is(err, kerr.UnsupportedVersion) {
		t.Errorf("DescribeClientQuotas(type group) = %v, want UNSUPPORTED_VERSION", err)
	}
	_, err = adm.DescribeClientQuotas(ctx, false, []kadm.DescribeClientQuotaComponent{{Type: "ip", MatchType: 2}, {Type: "user", MatchType: 2}})
	if !errors.Is(err, kerr.InvalidRequest) {
		t.Errorf("DescribeClientQuotas(ip and user) = %v, want INVALID_REQUEST", err)
	}

	// Removing values; an entity without values disappears.
	alterQuotas(t, adm, kadm.AlterClientQuotaEntry{Entity: alice, Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Remove: true}, {Key: "request_percentage", Remove: true}}})
	got, err := adm.DescribeClientQuotas(ctx, false, []kadm.DescribeClientQuotaComponent{{Type: "user", MatchType: 2}})
	if err != nil || len(got) != 0 {
		t.Errorf("DescribeClientQuotas(any user) after removal = %v, %v; want none", got, err)
	}
}

// quotaWindow is how long throughput is measured: 10s by default,
// STRATA_QUOTA_WINDOW (a Go duration, such as 30s as the criterion
// asks) otherwise.
func quotaWindow(t *testing.T) time.Duration {
	if s := os.Getenv("STRATA_QUOTA_WINDOW"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("STRATA_QUOTA_WINDOW=%q: %v", s, err)
		}
		return d
	}
	return 10 * time.Second
}

const (
	quotaRecordBytes = 10 << 10
	quotaWarmUp      = 11 * time.Second
)

// produceFor produces random 10 KiB records to topic for d and returns
// the value bytes acknowledged within d of the first produce.
func produceFor(t *testing.T, cl *kgo.Client, topic string, d time.Duration) (bytes int64, elapsed time.Duration) {
	t.Helper()
	ctx := ctxTimeout(t, d+60*time.Second)
	value := make([]byte, quotaRecordBytes)
	rand.Read(value)
	var acked atomic.Int64
	var firstErr atomic.Pointer[error]
	start := time.Now()
	deadline := start.Add(d)
	for time.Now().Before(deadline) {
		cl.Produce(ctx, &kgo.Record{Topic: topic, Value: value}, func(r *kgo.Record, err error) {
			if err != nil {
				firstErr.CompareAndSwap(nil, &err)
				return
			}
			if time.Now().Before(deadline) {
				acked.Add(int64(len(r.Value)))
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatalf("flush %s: %v", topic, err)
	}
	if err := firstErr.Load(); err != nil {
		t.Fatalf("produce to %s: %v", topic, *err)
	}
	return acked.Load(), d
}

// consumeFor consumes topic from the start for d (or until want bytes)
// and returns the value bytes received and the time taken.
func consumeFor(t *testing.T, cl *kgo.Client, d time.Duration, want int64) (bytes int64, elapsed time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	start := time.Now()
	for bytes < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s[%d]: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) { bytes += int64(len(r.Value)) })
	}
	return bytes, time.Since(start)
}

func mbps(bytes int64, d time.Duration) float64 { return float64(bytes) / d.Seconds() / 1e6 }

// TestQuotasHoldClientsToTheirByteRates is the criterion: a
// producer with producer_byte_rate 5 MB/s and a consumer with
// consumer_byte_rate 5 MB/s are held to 5 MB/s ±10% over the window;
// clients without a quota are not held back (no throttle, and well above
// the quota). throttle_time_ms reaches the client (kgo's OnBrokerThrottle).
func TestQuotasHoldClientsToTheirByteRates(t *testing.T) {
	if testing.Short() {
		t.Skip("measures throughput for tens of seconds")
	}
	const quota = 5e6
	window := quotaWindow(t)
	tn := startNode(t)
	tn.createTopic("quota-limited", 1, nil)
	tn.createTopic("quota-free", 1, nil)
	producerOpts := []kgo.Opt{kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.MaxBufferedBytes(8 << 20),
		kgo.ProducerBatchMaxBytes(1 << 20), kgo.ProducerLinger(0)}

	// Baseline: how fast an unthrottled producer goes on this machine.
	freeHook := &throttleHook{}
	free := tn.client(append(producerOpts, kgo.ClientID("free"), kgo.WithHooks(freeHook))...)
	// Short runs: an unthrottled producer writes hundreds of MB/s.
	baseBytes, baseTime := produceFor(t, free, "quota-free", time.Second)
	baseline := mbps(baseBytes, baseTime)
	t.Logf("unthrottled producer baseline: %.1f MB/s", baseline)
	if baseline < 2*quota/1e6 {
		t.Skipf("this machine produces %.1f MB/s unthrottled, too slow to measure a 5 MB/s quota", baseline)
	}

	adm := tn.admin()
	alterQuotas(t, adm,
		kadm.AlterClientQuotaEntry{Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: sp("limited-producer")}}, Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: quota}}},
		kadm.AlterClientQuotaEntry{Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: sp("limited-consumer")}}, Ops: []kadm.AlterClientQuotaOp{{Key: "consumer_byte_rate", Value: quota}}},
	)

	// The limited producer and the free one side by side.
	limitedHook := &throttleHook{}
	limited := tn.client(append(producerOpts, kgo.ClientID("limited-producer"), kgo.WithHooks(limitedHook))...)
	// A fresh client may burst quota × 11 s at once (the byte-rate token
	// bucket starts full): measure after 11 s of warm-up, by when that
	// burst is spent.
	warmBytes, _ := produceFor(t, limited, "quota-limited", quotaWarmUp)
	var wg sync.WaitGroup
	var freeBytes int64
	var freeTime time.Duration
	wg.Add(1)
	go func() {
		defer wg.Done()
		freeBytes, freeTime = produceFor(t, free, "quota-free", 2*time.Second)
	}()
	limBytes, limTime := produceFor(t, limited, "quota-limited", window)
	wg.Wait()
	limRate, freeRate := mbps(limBytes, limTime), mbps(freeBytes, freeTime)
	t.Logf("over %v: limited producer %.2f MB/s (%d throttles, longest %v), free producer %.1f MB/s (%d throttles)",
		window, limRate, limitedHook.count(), limitedHook.max, freeRate, freeHook.count())
	if limRate < 4.5 || limRate > 5.5 {
		t.Errorf("producer with producer_byte_rate 5 MB/s produced %.2f MB/s over %v, want 5 ±10%%", limRate, window)
	}
	if limitedHook.count() == 0 {
		t.Errorf("limited producer saw no throttle_time_ms")
	}
	if freeHook.count() != 0 || freeRate < 1.5*quota/1e6 {
		t.Errorf("producer without a quota: %.1f MB/s with %d throttles, want no throttle and well above 5 MB/s (baseline %.1f)", freeRate, freeHook.count(), baseline)
	}

	// Consumers: the limited one reads quota-free (far more than it may
	// read in the window), the free one reads quota-limited to the end.
	needed := int64(1.3 * quota * (window + quotaWarmUp).Seconds())
	if have := baseBytes + freeBytes; have < needed {
		t.Fatalf("only %d bytes to consume, need %d for the window", have, needed)
	}
	consumerOpts := []kgo.Opt{kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}
	limCHook, freeCHook := &throttleHook{}, &throttleHook{}
	limC := tn.client(append(consumerOpts, kgo.ClientID("limited-consumer"), kgo.ConsumeTopics("quota-free"), kgo.WithHooks(limCHook))...)
	freeC := tn.client(append(consumerOpts, kgo.ClientID("free-consumer"), kgo.ConsumeTopics("quota-limited"), kgo.WithHooks(freeCHook))...)
	var freeCBytes int64
	var freeCTime time.Duration
	wg.Add(1)
	go func() {
		defer wg.Done()
		freeCBytes, freeCTime = consumeFor(t, freeC, window+30*time.Second, limBytes+warmBytes)
	}()
	consumeFor(t, limC, quotaWarmUp, 1<<62) // warm-up, as for the producer
	limCBytes, limCTime := consumeFor(t, limC, window, 1<<62)
	wg.Wait()
	limCRate, freeCRate := mbps(limCBytes, limCTime), mbps(freeCBytes, freeCTime)
	t.Logf("over %v: limited consumer %.2f MB/s (%d throttles, longest %v); free consumer read %d bytes at %.1f MB/s (%d throttles)",
		window, limCRate, limCHook.count(), limCHook.max, freeCBytes, freeCRate, freeCHook.count())
	if limCRate < 4.5 || limCRate > 5.5 {
		t.Errorf("consumer with consumer_byte_rate 5 MB/s consumed %.2f MB/s over %v, want 5 ±10%%", limCRate, window)
	}
	if limCHook.count() == 0 {
		t.Errorf("limited consumer saw no throttle_time_ms")
	}
	if freeCBytes < limBytes+warmBytes || freeCHook.count() != 0 || freeCRate < 1.5*quota/1e6 {
		t.Errorf("consumer without a quota: %d of %d bytes at %.1f MB/s with %d throttles, want all, no throttle, well above 5 MB/s",
			freeCBytes, limBytes+warmBytes, freeCRate, freeCHook.count())
	}
}

// TestClientQuotasApplyOnEveryNode sets a quota through one node of a
// three-node cluster and checks that every node describes it and
// throttles by it (per-broker enforcement, as Kafka).
func TestClientQuotasApplyOnEveryNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	tc := startCluster(t, 3, "--offsets-topic-partitions", "3")
	adm := kadm.NewClient(kgoClient(t, tc.addrs[0]))
	waitFor(t, "creating a topic with a partition led by each node", 30*time.Second, func() bool {
		r, err := adm.CreateTopic(ctxTimeout(t, 10*time.Second), 3, 3, nil, "quota-spread")
		return err == nil && (r.Err == nil || errors.Is(r.Err, kerr.TopicAlreadyExists))
	})
	alterQuotas(t, adm, kadm.AlterClientQuotaEntry{Entity: kadm.ClientQuotaEntity{{Type: "user", Name: sp("ANONYMOUS")}},
		Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 100e3}}})
	for i, addr := range tc.addrs {
		req := kmsg.NewPtrDescribeClientQuotasRequest()
		resp := dialRaw(t, addr).send(req).(*kmsg.DescribeClientQuotasResponse)
		if resp.ErrorCode != 0 || len(resp.Entries) != 1 || len(resp.Entries[0].Values) != 1 || resp.Entries[0].Values[0].Value != 100e3 {
			t.Fatalf("node %d DescribeClientQuotas = %+v, want user=ANONYMOUS producer_byte_rate 100000", i+1, resp)
		}
	}
	// 1.5 MB per partition: over the 1 MB a 100 kB/s quota allows in its
	// first (10 s) window, on each broker.
	hook := &throttleHook{}
	cl := kgoClient(t, tc.addrs[0], kgo.WithHooks(hook), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	value := make([]byte, 50<<10)
	ctx := ctxTimeout(t, 90*time.Second)
	for range 30 {
		for p := range int32(3) {
			cl.Produce(ctx, &kgo.Record{Topic: "quota-spread", Partition: p, Value: value}, func(_ *kgo.Record, err error) {
				if err != nil {
					t.Errorf("produce: %v", err)
				}
			})
		}
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	hook.mu.Lock()
	defer hook.mu.Unlock()
	for id := int32(1); id <= 3; id++ {
		if hook.byNode[id] == 0 {
			t.Errorf("node %d never throttled the producer (throttles by node: %v)", id, hook.byNode)
		}
	}
	t.Logf("throttles by node: %v, longest %v", hook.byNode, hook.max)
}

func TestQuotaCLIAgainstStrata(t *testing.T) {
	tn := startNode(t)
	b := "--bootstrap=" + tn.addr
	if _, err := runCLI(t, "quota", "alter", "--client-id", "app", "--add-config", "producer_byte_rate=5242880,consumer_byte_rate=1024", b); err != nil {
		t.Fatalf("quota alter --client-id app: %v", err)
	}
	if _, err := runCLI(t, "quota", "alter", "--user", "<default>", "--client-id", "<default>", "--add-config", "request_percentage=12.5", b); err != nil {
		t.Fatalf("quota alter default user and client: %v", err)
	}
	if _, err := runCLI(t, "quota", "alter", "--client-id", "app", "--add-config", "bogus=1", b); err == nil || !strings.Contains(err.Error(), "INVALID_REQUEST") {
		t.Errorf("quota alter bogus key: %v, want INVALID_REQUEST", err)
	}
	out, err := runCLI(t, "quota", "describe", b)
	if err != nil {
		t.Fatalf("quota describe: %v", err)
	}
	want := []string{
		`{client-id=<default>, user=<default>}  request_percentage=12.5`,
		`{client-id=app}                        consumer_byte_rate=1024,producer_byte_rate=5242880`,
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("quota describe output\n%s\nlacks %q", out, w)
		}
	}
	if _, err := runCLI(t, "quota", "alter", "--client-id", "app", "--delete-config", "producer_byte_rate,consumer_byte_rate", b); err != nil {
		t.Fatalf("quota alter --delete-config: %v", err)
	}
	out, err = runCLI(t, "quota", "describe", "--client-id", "app", b)
	if err != nil || strings.Contains(out, "app") {
		t.Errorf("quota describe --client-id app after removal = %q, %v; want no entity", out, err)
	}
}
