package node

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// withFastGroups lets tests use short session timeouts and skip the
// initial rebalance delay.
func withFastGroups() nodeOption {
	return func(s *configStatic) {
		s.GroupInitialRebalanceDelay = 0
		s.GroupMinSessionTimeout = 500 * time.Millisecond
		s.OffsetsTopicPartitions = 5
		s.ConsumerSessionTimeout = 3 * time.Second
		s.ConsumerHeartbeatInterval = 200 * time.Millisecond
	}
}

// protocols runs a group test with the classic protocol (range assignor)
// and with KIP-848 (server-side range assignor).
var protocols = []struct {
	name string
	opts []kgo.Opt
}{
	{"classic", []kgo.Opt{kgo.Balancers(kgo.RangeBalancer())}},
	{"consumer", []kgo.Opt{kgo.Balancers(kgo.RangeBalancer()), kgo.ServerSideBalancer()}},
}

// assignments tracks what one group member currently owns.
type assignments struct {
	mu    sync.Mutex
	owned map[int32]bool
}

func newAssignments() *assignments { return &assignments{owned: map[int32]bool{}} }

func (a *assignments) opts() []kgo.Opt {
	return []kgo.Opt{
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			a.mu.Lock()
			defer a.mu.Unlock()
			for _, ps := range m {
				for _, p := range ps {
					a.owned[p] = true
				}
			}
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { a.drop(m) }),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { a.drop(m) }),
	}
}

func (a *assignments) drop(m map[string][]int32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, ps := range m {
		for _, p := range ps {
			delete(a.owned, p)
		}
	}
}

func (a *assignments) get() []int32 {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []int32
	for p := range a.owned {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// waitFor polls cond until it holds or the deadline passes, naming what it
// awaited on failure.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

func groupMember(t *testing.T, tn *testNode, group, topic string, a *assignments, extra ...kgo.Opt) *kgo.Client {
	opts := []kgo.Opt{
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SessionTimeout(3 * time.Second), kgo.HeartbeatInterval(200 * time.Millisecond),
		kgo.AutoCommitInterval(200 * time.Millisecond),
	}
	if a != nil {
		opts = append(opts, a.opts()...)
	}
	return tn.client(append(opts, extra...)...)
}

func produceToPartitions(t *testing.T, tn *testNode, topic string, partitions int32, perPartition int, tag string) {
	t.Helper()
	p := tn.client(kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var recs []*kgo.Record
	for part := range partitions {
		for i := range perPartition {
			recs = append(recs, &kgo.Record{Partition: part, Value: fmt.Appendf(nil, "%s-%d-%d", tag, part, i)})
		}
	}
	if err := p.ProduceSync(ctxTimeout(t, 30*time.Second), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// pollInto consumes in the background until stop, recording every record.
func pollInto(t *testing.T, c *kgo.Client, stop <-chan struct{}, mu *sync.Mutex, into *[]*kgo.Record) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-stop; cancel() }()
		for ctx.Err() == nil {
			fs := c.PollFetches(ctx)
			mu.Lock()
			*into = append(*into, fs.Records()...)
			mu.Unlock()
		}
	}()
	return &wg
}

func TestGroupMembersSharePartitions(t *testing.T) {
	for _, proto := range protocols {
		t.Run(proto.name, func(t *testing.T) { testGroupMembersSharePartitions(t, proto.opts) })
	}
}

func testGroupMembersSharePartitions(t *testing.T, protoOpts []kgo.Opt) {
	tn := startNode(t, withFastGroups())
	tn.createTopic("shared", 6, nil)
	produceToPartitions(t, tn, "shared", 6, 100, "a")
	var members []*assignments
	var clients []*kgo.Client
	for range 3 {
		a := newAssignments()
		members = append(members, a)
		clients = append(clients, groupMember(t, tn, "g-shared", "shared", a, protoOpts...))
	}
	stop := make(chan struct{})
	var mu sync.Mutex
	var got []*kgo.Record
	var wgs []*sync.WaitGroup
	for _, c := range clients {
		wgs = append(wgs, pollInto(t, c, stop, &mu, &got))
	}
	waitFor(t, "three members with two partitions each", 30*time.Second, func() bool {
		seen := map[int32]bool{}
		for _, a := range members {
			ps := a.get()
			if len(ps) != 2 {
				return false
			}
			for _, p := range ps {
				seen[p] = true
			}
		}
		return len(seen) == 6
	})
	waitFor(t, "all 600 records consumed", 30*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= 600
	})
	close(stop)
	for _, wg := range wgs {
		wg.Wait()
	}
	seen := map[string]bool{}
	for _, r := range got {
		if seen[string(r.Value)] {
			t.Fatalf("record %s consumed twice in a stable group", r.Value)
		}
		seen[string(r.Value)] = true
	}
	if len(seen) != 600 {
		t.Fatalf("consumed %d distinct records, want 600", len(seen))
	}
}

func TestTwoGroupsEachSeeEveryRecord(t *testing.T) {
	tn := startNode(t, withFastGroups())
	tn.createTopic("pubsub", 4, nil)
	produceToPartitions(t, tn, "pubsub", 4, 50, "r")
	consume := func(group string, members int) map[string]int {
		stop := make(chan struct{})
		var mu sync.Mutex
		var got []*kgo.Record
		var wgs []*sync.WaitGroup
		for range members {
			wgs = append(wgs, pollInto(t, groupMember(t, tn, group, "pubsub", nil), stop, &mu, &got))
		}
		waitFor(t, group+" to consume 200 records", 30*time.Second, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(got) >= 200
		})
		close(stop)
		for _, wg := range wgs {
			wg.Wait()
		}
		counts := map[string]int{}
		for _, r := range got {
			counts[string(r.Value)]++
		}
		return counts
	}
	for _, g := range []struct {
		name    string
		members int
	}{{"g-one", 1}, {"g-two", 2}} {
		counts := consume(g.name, g.members)
		if len(counts) != 200 {
			t.Fatalf("group %s saw %d distinct records, want all 200", g.name, len(counts))
		}
		for v, n := range counts {
			if n != 1 {
				t.Fatalf("group %s got %s %d times", g.name, v, n)
			}
		}
	}
}

// Child consumer mode: the test binary re-executed as a group member, so a
// test can SIGKILL a member process.
func init() {
	if os.Getenv("STRATATEST_CHILD_CONSUMER") == "" {
		return
	}
	runChildConsumer()
	os.Exit(0)
}

func runChildConsumer() {
	addr, group, topic := os.Getenv("STRATATEST_ADDR"), os.Getenv("STRATATEST_GROUP"), os.Getenv("STRATATEST_TOPIC")
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	opts := []kgo.Opt{}
	if os.Getenv("STRATATEST_PROTOCOL") == "consumer" {
		opts = append(opts, kgo.ServerSideBalancer())
	}
	c, err := kgo.NewClient(append(opts, kgo.SeedBrokers(addr), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.Balancers(kgo.RangeBalancer()),
		kgo.SessionTimeout(3*time.Second), kgo.HeartbeatInterval(200*time.Millisecond),
		kgo.AutoCommitInterval(200*time.Millisecond),
		// Assignment changes are incremental (cooperative and KIP-848):
		// report additions and removals separately.
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(out, "assigned %v\n", m[topic])
			out.Flush()
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(out, "revoked %v\n", m[topic])
			out.Flush()
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(out, "revoked %v\n", m[topic])
			out.Flush()
		}))...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for {
		fs := c.PollFetches(context.Background())
		mu.Lock()
		for _, r := range fs.Records() {
			fmt.Fprintf(out, "record %d %d\n", r.Partition, r.Offset)
		}
		out.Flush()
		mu.Unlock()
	}
}

// TestKilledMemberPartitionsMoveWithoutSkipping is the first check:
// three members on six partitions; one is SIGKILLed; the other two own all
// six within session timeout plus rebalance time; nothing is skipped and
// duplicates come only from after the dead member's last commit.
func TestKilledMemberPartitionsMoveWithoutSkipping(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a member as a child process")
	}
	for _, proto := range protocols {
		t.Run(proto.name, func(t *testing.T) { testKilledMember(t, proto.name, proto.opts) })
	}
}

func testKilledMember(t *testing.T, protoName string, protoOpts []kgo.Opt) {
	tn := startNode(t, withFastGroups())
	const topic, group = "killmember", "g-kill"
	tn.createTopic(topic, 6, nil)

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	child := exec.Command(exe, "-test.run", "^$")
	child.Env = append(os.Environ(), "STRATATEST_CHILD_CONSUMER=1", "STRATATEST_ADDR="+tn.addr,
		"STRATATEST_GROUP="+group, "STRATATEST_TOPIC="+topic, "STRATATEST_PROTOCOL="+protoName)
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = testWriter{t}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	childDone := make(chan struct{})
	var childMu sync.Mutex
	childMax := map[int32]int64{} // highest offset the child consumed per partition
	var childOwned []int32
	go func() {
		defer close(childDone)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			childMu.Lock()
			switch f[0] {
			case "record":
				p, _ := strconv.Atoi(f[1])
				o, _ := strconv.ParseInt(f[2], 10, 64)
				if o > childMax[int32(p)] || childMax[int32(p)] == 0 {
					childMax[int32(p)] = o
				}
			case "assigned", "revoked":
				for _, s := range strings.Fields(strings.Trim(strings.Join(f[1:], " "), "[]")) {
					p, _ := strconv.Atoi(s)
					childOwned = slices.DeleteFunc(childOwned, func(x int32) bool { return x == int32(p) })
					if f[0] == "assigned" {
						childOwned = append(childOwned, int32(p))
					}
				}
			}
			childMu.Unlock()
		}
		io.Copy(io.Discard, stdout)
	}()
	t.Cleanup(func() { child.Process.Kill(); <-childDone; child.Wait() })

	a1, a2 := newAssignments(), newAssignments()
	c1 := groupMember(t, tn, group, topic, a1, protoOpts...)
	c2 := groupMember(t, tn, group, topic, a2, protoOpts...)
	stop := make(chan struct{})
	var mu sync.Mutex
	var got []*kgo.Record
	wg1 := pollInto(t, c1, stop, &mu, &got)
	wg2 := pollInto(t, c2, stop, &mu, &got)
	waitFor(t, "each of three members owning two partitions", 60*time.Second, func() bool {
		childMu.Lock()
		defer childMu.Unlock()
		return len(a1.get()) == 2 && len(a2.get()) == 2 && len(childOwned) == 2
	})
	// Records arrive only once the group is stable, so each partition has
	// had a single owner before the kill.
	produceToPartitions(t, tn, topic, 6, 300, "before")
	// Let the child consume (and auto-commit) some of its partitions.
	waitFor(t, "the child consuming records", 30*time.Second, func() bool {
		childMu.Lock()
		defer childMu.Unlock()
		return len(childMax) == 2
	})
	time.Sleep(300 * time.Millisecond) // at least one autocommit interval
	childMu.Lock()
	owned := slices.Clone(childOwned)
	childMu.Unlock()

	child.Process.Signal(syscall.SIGKILL)
	<-childDone
	killed := time.Now()
	took := waitFor(t, "the two survivors owning all six partitions", 60*time.Second, func() bool {
		return len(a1.get())+len(a2.get()) == 6
	})
	t.Logf("%s: partitions of the killed member reassigned %v after SIGKILL (session timeout 3s)", protoName, took.Round(time.Millisecond))
	if took > 3*time.Second+5*time.Second {
		t.Fatalf("reassignment took %v, more than session timeout plus rebalance time", took)
	}
	_ = killed
	produceToPartitions(t, tn, topic, 6, 100, "after")
	waitFor(t, "survivors reaching the end of every partition", 60*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		ends := map[int32]int64{}
		for _, r := range got {
			if r.Offset > ends[r.Partition] {
				ends[r.Partition] = r.Offset
			}
		}
		for p := range int32(6) {
			if ends[p] != 399 {
				return false
			}
		}
		return true
	})
	close(stop)
	wg1.Wait()
	wg2.Wait()

	// Per partition the child owned: the survivors start at the committed
	// offset F; nothing below F is unread (the child read up to childMax),
	// and duplicates are exactly [F, childMax].
	firstBySurvivor := map[int32]int64{}
	seen := map[int32]map[int64]int{}
	for _, r := range got {
		if seen[r.Partition] == nil {
			seen[r.Partition] = map[int64]int{}
			firstBySurvivor[r.Partition] = r.Offset
		}
		seen[r.Partition][r.Offset]++
		if r.Offset < firstBySurvivor[r.Partition] {
			firstBySurvivor[r.Partition] = r.Offset
		}
	}
	for p := range int32(6) {
		first := firstBySurvivor[p]
		if !slices.Contains(owned, p) {
			if first != 0 {
				t.Fatalf("partition %d (never the child's) first consumed at %d", p, first)
			}
		} else if max := childMax[p]; first > max+1 {
			t.Fatalf("partition %d: child read to %d, survivors started at %d: offsets %d..%d skipped", p, max, first, max+1, first-1)
		} else {
			t.Logf("partition %d: child read to %d, survivors resumed at %d (duplicates: %d)", p, max, first, max-first+1)
		}
		for o := first; o < 400; o++ {
			if seen[p][o] != 1 {
				t.Fatalf("partition %d offset %d consumed %d times by the survivors", p, o, seen[p][o])
			}
		}
	}
}

// TestCommittedOffsetsSurviveBrokerSIGKILL is the second check.
func TestCommittedOffsetsSurviveBrokerSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a child broker")
	}
	dir := t.TempDir()
	addr := freePort(t)
	args := []string{"--group-initial-rebalance-delay", "0", "--offsets-topic-partitions", "5", "--group-min-session-timeout", "1s"}
	srv := startChild(t, dir, addr, args...)
	admin := kgoClient(t, addr)
	if _, err := kadmClient(admin).CreateTopic(ctxTimeout(t, 10*time.Second), 2, 1, nil, "resume"); err != nil {
		t.Fatal(err)
	}
	p := kgoClient(t, addr, kgo.DefaultProduceTopic("resume"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range 200 {
		if err := p.ProduceSync(ctxTimeout(t, 10*time.Second), &kgo.Record{Partition: int32(i % 2), Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// NB: the killed broker restores this member on load (as Kafka does);
	// the new consumer's join completes once its session (3s) expires.
	c := kgoClient(t, addr, kgo.ConsumerGroup("g-resume"), kgo.ConsumeTopics("resume"), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.SessionTimeout(3*time.Second), kgo.RebalanceTimeout(5*time.Second))
	var consumed []*kgo.Record
	for len(consumed) < 120 {
		fs := c.PollRecords(ctxTimeout(t, 30*time.Second), 120-len(consumed))
		if errs := fs.Errors(); len(errs) > 0 {
			t.Fatalf("poll: %v", errs)
		}
		consumed = append(consumed, fs.Records()...)
	}
	if err := c.CommitRecords(ctxTimeout(t, 10*time.Second), consumed...); err != nil {
		t.Fatalf("commit: %v", err)
	}
	committed := map[int32]int64{}
	for _, r := range consumed {
		if r.Offset+1 > committed[r.Partition] {
			committed[r.Partition] = r.Offset + 1
		}
	}
	srv.kill()
	c.Close()
	srv = startChild(t, dir, addr, args...)
	c2 := kgoClient(t, addr, kgo.ConsumerGroup("g-resume"), kgo.ConsumeTopics("resume"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	// 200 records, 100 per partition, 120 committed: exactly the other 80
	// must come, each partition starting at its committed offset.
	first := map[int32]int64{}
	n := 0
	for n < 80 {
		fs := c2.PollFetches(ctxTimeout(t, 60*time.Second))
		if errs := fs.Errors(); len(errs) > 0 {
			t.Fatalf("poll after restart (%d of 80 records): %v", n, errs)
		}
		for _, r := range fs.Records() {
			n++
			if _, ok := first[r.Partition]; !ok {
				first[r.Partition] = r.Offset
			}
		}
	}
	for p, want := range committed {
		if got, ok := first[p]; want < 100 && (!ok || got != want) {
			t.Fatalf("partition %d: resumed at %d after broker SIGKILL, committed %d", p, got, want)
		}
	}
	srv.terminate()
}

func TestStaticMemberRejoinsWithoutRebalance(t *testing.T) {
	tn := startNode(t, withFastGroups())
	tn.createTopic("static", 4, nil)
	a1, a2 := newAssignments(), newAssignments()
	revoked := make(chan struct{}, 10)
	c1 := groupMember(t, tn, "g-static", "static", a1, kgo.InstanceID("one"), kgo.Balancers(kgo.RangeBalancer()),
		// This option replaces a1's own revoke callback, so it drops too:
		// if member one joins first it owns all four until the rebalance.
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			a1.drop(m)
			select {
			case revoked <- struct{}{}:
			default:
			}
		}))
	c2 := groupMember(t, tn, "g-static", "static", a2, kgo.InstanceID("two"), kgo.Balancers(kgo.RangeBalancer()))
	stop := make(chan struct{})
	var mu sync.Mutex
	var got []*kgo.Record
	wg1 := pollInto(t, c1, stop, &mu, &got)
	wg2 := pollInto(t, c2, stop, &mu, &got)
	waitFor(t, "two static members with two partitions each", 30*time.Second, func() bool {
		return len(a1.get()) == 2 && len(a2.get()) == 2
	})
	before := a2.get()
	for len(revoked) > 0 {
		<-revoked
	}
	// Member two goes away without leaving (a static member's close does
	// not send LeaveGroup) and comes back under the same instance id within
	// the session timeout: the group must not rebalance.
	close(stop)
	wg1.Wait()
	wg2.Wait()
	c2.Close()
	a3 := newAssignments()
	c3 := groupMember(t, tn, "g-static", "static", a3, kgo.InstanceID("two"), kgo.Balancers(kgo.RangeBalancer()))
	stop2 := make(chan struct{})
	wg1 = pollInto(t, c1, stop2, &mu, &got)
	wg3 := pollInto(t, c3, stop2, &mu, &got)
	waitFor(t, "the static member to get its partitions back", 30*time.Second, func() bool { return len(a3.get()) == 2 })
	if !slices.Equal(a3.get(), before) {
		t.Fatalf("rejoined static member got %v, had %v", a3.get(), before)
	}
	select {
	case <-revoked:
		t.Fatalf("member one lost partitions: the static rejoin caused a rebalance")
	default:
	}
	close(stop2)
	wg1.Wait()
	wg3.Wait()
}

func TestCooperativeRebalanceMovesOnlyWhatItMust(t *testing.T) {
	tn := startNode(t, withFastGroups())
	tn.createTopic("coop", 6, nil)
	var mu sync.Mutex
	revokedFromFirst := map[int32]bool{}
	a1 := newAssignments()
	c1 := groupMember(t, tn, "g-coop", "coop", a1, kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			mu.Lock()
			defer mu.Unlock()
			for _, p := range m["coop"] {
				revokedFromFirst[p] = true
			}
			a1.drop(m)
		}))
	stop := make(chan struct{})
	var gmu sync.Mutex
	var got []*kgo.Record
	wg1 := pollInto(t, c1, stop, &gmu, &got)
	waitFor(t, "the first member owning all six", 30*time.Second, func() bool { return len(a1.get()) == 6 })
	a2 := newAssignments()
	c2 := groupMember(t, tn, "g-coop", "coop", a2, kgo.Balancers(kgo.CooperativeStickyBalancer()))
	wg2 := pollInto(t, c2, stop, &gmu, &got)
	waitFor(t, "three partitions each", 30*time.Second, func() bool { return len(a1.get()) == 3 && len(a2.get()) == 3 })
	close(stop)
	wg1.Wait()
	wg2.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(revokedFromFirst) != 3 {
		keys := make([]int, 0)
		for p := range revokedFromFirst {
			keys = append(keys, int(p))
		}
		sort.Ints(keys)
		t.Fatalf("cooperative rebalance revoked %v from the first member; want exactly the 3 that moved", keys)
	}
}

// TestKcatBalancedConsumer drives a librdkafka consumer group (kcat -G).
func TestKcatBalancedConsumer(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat not installed")
	}
	tn := startNode(t, withFastGroups())
	tn.createTopic("kcatg", 3, nil)
	produceToPartitions(t, tn, "kcatg", 3, 100, "k")
	cmd := exec.Command(kcat, "-b", tn.addr, "-G", "g-kcat", "-o", "beginning", "-c", "300", "-q",
		"-X", "auto.commit.interval.ms=100", "-f", "%p %o %s\n", "kcatg")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat -G: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 300 {
		t.Fatalf("kcat -G consumed %d records, want 300", len(lines))
	}
	offs, err := tn.admin().FetchOffsets(ctxTimeout(t, 10*time.Second), "g-kcat")
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(3) {
		o, ok := offs.Lookup("kcatg", p)
		if !ok || o.At != 100 {
			t.Fatalf("committed offset of kcatg-%d = %+v, want 100 (kcat commits on close)", p, o)
		}
	}
}
