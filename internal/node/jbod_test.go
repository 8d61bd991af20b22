package node

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/storage"
)

// tinyVolume mounts a tmpfs of size bytes at a new directory for a log
// directory whose disk can be filled up (a real ENOSPC). It skips the test
// where mounting is not permitted (not root, no CAP_SYS_ADMIN).
func tinyVolume(t *testing.T, size int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tiny")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		t.Skipf("cannot mount a tmpfs here (needs root): %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fillVolume writes a file into dir until the volume is full.
func fillVolume(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatalf("create filler: %v", err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill %s: %v, want ENOSPC", dir, err)
			}
			return
		}
	}
}

// logDirsOf describes broker's log directories, by path.
func logDirsOf(t *testing.T, adm *kadm.Client, broker int32) kadm.DescribedLogDirs {
	t.Helper()
	dirs, err := adm.DescribeBrokerLogDirs(ctxTimeout(t, 10*time.Second), broker, nil)
	if err != nil {
		t.Fatalf("DescribeBrokerLogDirs(%d): %v", broker, err)
	}
	return dirs
}

// partitionsIn lists topic's partitions held in dir (current replicas).
func partitionsIn(d kadm.DescribedLogDir, topic string) []int32 {
	var out []int32
	for p, dp := range d.Topics[topic] {
		if !dp.IsFuture {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// produceTo sends one acks=all produce of value to topic[p] and returns
// its error code.
func produceTo(t *testing.T, cl *kgo.Client, topic string, p int32, value []byte) int16 {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = p
	rp.Records = batch(t, string(value))
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctxTimeout(t, 10*time.Second), cl)
	if err != nil {
		t.Fatalf("Produce %s[%d]: %v", topic, p, err)
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}

// TestLogDirFailureTakesOnlyItsPartitionsOffline fills the disk of one of
// a broker's two log directories (a real ENOSPC on a tmpfs): the partitions
// there fail with KAFKA_STORAGE_ERROR and go offline, DescribeLogDirs
// reports that directory with KAFKA_STORAGE_ERROR, and the partitions of
// the other directory keep serving produce and fetch.
func TestLogDirFailureTakesOnlyItsPartitionsOffline(t *testing.T) {
	good := filepath.Join(t.TempDir(), "good")
	tiny := tinyVolume(t, 2<<20)
	tn := startNode(t, withAutoCreate(false), func(s *configStatic) {
		s.LogDirs = good + "," + tiny
		s.OffsetsTopicPartitions = 1
	})
	const topic = "jbod"
	tn.createTopic(topic, 4, nil)
	adm := tn.admin()
	dirs := logDirsOf(t, adm, 1)
	inGood, inTiny := partitionsIn(dirs[good], topic), partitionsIn(dirs[tiny], topic)
	if len(inGood) != 2 || len(inTiny) != 2 {
		t.Fatalf("partitions of %s by dir: %s %v, %s %v; want 2 and 2 (fewest-partitions placement)", topic, good, inGood, tiny, inTiny)
	}
	for _, d := range []string{good, tiny} {
		if dirs[d].Err != nil || dirs[d].TotalBytes <= 0 {
			t.Fatalf("dir %s before the failure: err %v, total bytes %d; want no error and a volume size", d, dirs[d].Err, dirs[d].TotalBytes)
		}
		if _, err := os.Stat(filepath.Join(d, "meta.properties")); err != nil {
			t.Fatalf("meta.properties of %s: %v", d, err)
		}
	}

	cl := tn.client()
	for p := range int32(4) {
		if code := produceTo(t, cl, topic, p, []byte(fmt.Sprintf("before-%d", p))); code != 0 {
			t.Fatalf("produce to %s[%d] before the failure: %v", topic, p, kerr.ErrorForCode(code))
		}
	}

	fillVolume(t, tiny)
	// The next appends to a partition of the full directory fail (ENOSPC
	// once the segment's last page is used up).
	big := bytes.Repeat([]byte("x"), 32<<10)
	var code int16
	for range 200 {
		if code = produceTo(t, cl, topic, inTiny[0], big); code != 0 {
			break
		}
	}
	if code != kerr.KafkaStorageError.Code {
		t.Fatalf("produce to %s[%d] on a full disk: %v, want KAFKA_STORAGE_ERROR", topic, inTiny[0], kerr.ErrorForCode(code))
	}

	// DescribeLogDirs shows the failed directory.
	dirs = logDirsOf(t, adm, 1)
	if !errors.Is(dirs[tiny].Err, kerr.KafkaStorageError) || len(dirs[tiny].Topics) != 0 {
		t.Fatalf("failed dir %s described with err %v and %d topics, want KAFKA_STORAGE_ERROR and none", tiny, dirs[tiny].Err, len(dirs[tiny].Topics))
	}
	if dirs[good].Err != nil || !slices.Equal(partitionsIn(dirs[good], topic), inGood) {
		t.Fatalf("healthy dir %s: err %v, partitions %v; want no error and %v", good, dirs[good].Err, partitionsIn(dirs[good], topic), inGood)
	}

	// The other partition of the failed directory refuses too, and both
	// go offline in the metadata (RF=1: no other replica to lead).
	if code := produceTo(t, cl, topic, inTiny[1], []byte("after")); code != kerr.KafkaStorageError.Code && code != kerr.NotLeaderForPartition.Code && code != kerr.LeaderNotAvailable.Code {
		t.Fatalf("produce to %s[%d] of the failed dir: %v, want KAFKA_STORAGE_ERROR or NOT_LEADER_OR_FOLLOWER", topic, inTiny[1], kerr.ErrorForCode(code))
	}
	for _, p := range inTiny {
		waitFor(t, fmt.Sprintf("%s[%d] offline in the metadata", topic, p), 30*time.Second, func() bool {
			leader, _ := leaderOf(t, tn.addr, topic, p)
			return leader == -1
		})
	}

	// The healthy directory keeps serving.
	for _, p := range inGood {
		if code := produceTo(t, cl, topic, p, []byte(fmt.Sprintf("after-%d", p))); code != 0 {
			t.Fatalf("produce to %s[%d] of the healthy dir: %v", topic, p, kerr.ErrorForCode(code))
		}
	}
	c := tn.client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {
		inGood[0]: kgo.NewOffset().AtStart(), inGood[1]: kgo.NewOffset().AtStart(),
	}}))
	var got []string
	ctx := ctxTimeout(t, 30*time.Second)
	for len(got) < 4 {
		fs := c.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %v from the healthy dir, want 4 records", got)
		}
		fs.EachError(func(_ string, p int32, err error) { t.Fatalf("fetch %s[%d]: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) { got = append(got, fmt.Sprintf("%d:%s", r.Partition, r.Value)) })
	}
	slices.Sort(got)
	want := []string{
		fmt.Sprintf("%d:after-%d", inGood[0], inGood[0]), fmt.Sprintf("%d:after-%d", inGood[1], inGood[1]),
		fmt.Sprintf("%d:before-%d", inGood[0], inGood[0]), fmt.Sprintf("%d:before-%d", inGood[1], inGood[1]),
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("records of the healthy dir = %v, want %v", got, want)
	}
}

// TestAlterReplicaLogDirsMovesAPartitionWhileProducing moves a partition
// with data to the broker's other log directory while a producer keeps
// writing to it: DescribeLogDirs shows the future replica while the move
// is held just before its swap, acks=all produce goes on meanwhile, and
// every record reads back in order afterwards, and after a restart.
func TestAlterReplicaLogDirsMovesAPartitionWhileProducing(t *testing.T) {
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	tn := startNode(t, withAutoCreate(false), func(s *configStatic) {
		s.LogDirs = a + "," + b
		s.OffsetsTopicPartitions = 1
		s.SegmentBytes = 64 << 10 // several segments to copy
	})
	const topic = "moving"
	tn.createTopic(topic, 1, nil)
	adm := tn.admin()
	from, to := a, b
	if len(partitionsIn(logDirsOf(t, adm, 1)[b], topic)) == 1 {
		from, to = b, a
	}
	cl := tn.client(kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()))
	value := func(i int) string { return fmt.Sprintf("record-%05d-%s", i, bytes.Repeat([]byte{'v'}, 100)) }
	ctx := ctxTimeout(t, 60*time.Second)
	produce := func(lo, hi int) {
		t.Helper()
		var (
			mu   sync.Mutex
			errs error
		)
		for i := lo; i < hi; i++ {
			cl.Produce(ctx, &kgo.Record{Value: []byte(value(i))}, func(_ *kgo.Record, err error) {
				mu.Lock()
				errs = errors.Join(errs, err)
				mu.Unlock()
			})
		}
		if err := cl.Flush(ctx); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		if errs != nil {
			t.Fatalf("produce records %d-%d: %v", lo, hi-1, errs)
		}
	}
	produce(0, 2000)

	// Hold the move once its future log has caught up, before the swap.
	reached, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hook := func(storage.TopicPartition) {
		once.Do(func() {
			close(reached)
			<-release
		})
	}
	tn.node.mover.beforeSwap.Store(&hook)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})

	var req kadm.AlterReplicaLogDirsReq
	req.Add(to, kadm.TopicsSet{topic: {0: {}}})
	resps, err := adm.AlterBrokerReplicaLogDirs(ctx, 1, req)
	if err != nil {
		t.Fatalf("AlterBrokerReplicaLogDirs: %v", err)
	}
	if r := resps[topic][0]; r.Err != nil || r.Dir != to {
		t.Fatalf("AlterReplicaLogDirs answer for %s[0]: %+v, want no error for dir %s", topic, r, to)
	}
	select {
	case <-reached:
	case <-ctx.Done():
		t.Fatalf("the future log of %s[0] never caught up", topic)
	}
	dirs := logDirsOf(t, adm, 1)
	if fp, ok := dirs[to].Topics[topic][0]; !ok || !fp.IsFuture {
		t.Fatalf("during the move %s describes %s[0] as %+v (present %v), want a future replica", to, topic, fp, ok)
	}
	if cp, ok := dirs[from].Topics[topic][0]; !ok || cp.IsFuture {
		t.Fatalf("during the move %s describes %s[0] as %+v (present %v), want the current replica", from, topic, cp, ok)
	}
	// Producing goes on while the future log exists; the swap copies
	// what it lacks.
	produce(2000, 6000)
	close(release)
	waitFor(t, fmt.Sprintf("%s[0] moved to %s", topic, to), 30*time.Second, func() bool {
		dirs := logDirsOf(t, adm, 1)
		cp, ok := dirs[to].Topics[topic][0]
		return ok && !cp.IsFuture && len(dirs[from].Topics[topic]) == 0
	})
	produce(6000, 6010)
	const total = 6010
	recs := consumeAll(t, tn, topic, total)
	if len(recs) != total {
		t.Fatalf("read %d records, want %d", len(recs), total)
	}
	for i, r := range recs {
		if string(r.Value) != value(i) || r.Offset != int64(i) {
			t.Fatalf("record %d: offset %d value %.16q, want offset %d value %.16q", i, r.Offset, r.Value, i, value(i))
		}
	}
	if entries, _ := os.ReadDir(from); slices.ContainsFunc(entries, func(e os.DirEntry) bool { return e.Name() == topic+"-0" }) {
		t.Fatalf("%s still holds %s-0 after the move", from, topic)
	}

	// The moved log is the one a restart finds.
	tn.stop()
	tn2 := startNodeWith(t, tn.cfg)
	dirs = logDirsOf(t, tn2.admin(), 1)
	if len(partitionsIn(dirs[to], topic)) != 1 || len(dirs[from].Topics[topic]) != 0 {
		t.Fatalf("after restart %s[0] is in %v / %v, want only %s", topic, dirs[to].Topics[topic], dirs[from].Topics[topic], to)
	}
	if recs := consumeAll(t, tn2, topic, total); len(recs) != total || string(recs[total-1].Value) != value(total-1) {
		t.Fatalf("after restart read %d records, the last %.16q; want %d, the last %.16q", len(recs), recs[len(recs)-1].Value, total, value(total-1))
	}
}

// TestLogDirFailureMovesLeadershipOnCluster: on a 3-node cluster with
// RF=3 and min.insync.replicas=2, every broker keeps its partitions in two
// log directories, and the victim broker leads every partition. When one
// of its directories' disk fills up, it tells the active controller (its
// own, or another node's over the wire: AssignReplicasToDirs and
// BrokerHeartbeat's OfflineLogDirs), which moves the leadership of that
// directory's partitions to the other brokers and takes the victim out of
// their ISRs; the victim keeps leading the partitions of its healthy
// directory, acks=all producing goes on, and every record reads back.
func TestLogDirFailureMovesLeadershipOnCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	t.Run("victim is the active controller", func(t *testing.T) { testLogDirFailureOnCluster(t, true) })
	t.Run("victim reports to another node", func(t *testing.T) { testLogDirFailureOnCluster(t, false) })
}

func testLogDirFailureOnCluster(t *testing.T, victimControls bool) {
	var goods, tinies []string
	for range 3 {
		tinies = append(tinies, tinyVolume(t, 4<<20))
		goods = append(goods, filepath.Join(t.TempDir(), "good"))
	}
	var kafka, raftAddrs, voters []string
	for i := range 3 {
		kafka = append(kafka, freePort(t))
		raftAddrs = append(raftAddrs, freePort(t))
		voters = append(voters, fmt.Sprintf("%d@%s", i+1, raftAddrs[i]))
	}
	var nodes []*child
	for i := range 3 {
		args := []string{"--node-id", fmt.Sprint(i + 1), "--controller-voters", strings.Join(voters, ","),
			"--controller-listen", raftAddrs[i], "--offsets-topic-partitions", "1", "--log-dirs", goods[i] + "," + tinies[i]}
		nodes = append(nodes, spawnChild(t, t.TempDir(), kafka[i], args...))
	}
	for _, c := range nodes {
		c.waitListening()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafka...), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)
	ctx := ctxTimeout(t, 120*time.Second)

	// Replicas of brokers still fenced at creation join the ISR later;
	// create once every broker is unfenced (listed in Metadata).
	waitFor(t, "three unfenced brokers", 60*time.Second, func() bool {
		return len(metadataFrom(t, kafka[0], kmsg.NewPtrMetadataRequest()).Brokers) == 3
	})
	ctrlID := controllerOf(t, kafka[0])
	victim := ctrlID
	if !victimControls {
		victim = ctrlID%3 + 1
	}
	good, tiny := goods[victim-1], tinies[victim-1]
	other := kafka[victim%3] // a node other than the victim
	const topic, parts = "jbod-cluster", 4
	create := kmsg.NewPtrCreateTopicsRequest()
	create.TimeoutMillis = 30000
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = topic, -1, -1
	for p := range int32(parts) {
		ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		ra.Partition = p
		ra.Replicas = []int32{victim, (victim+p%2)%3 + 1, (victim+1-p%2)%3 + 1}
		ct.ReplicaAssignment = append(ct.ReplicaAssignment, ra)
	}
	ct.Configs = []kmsg.CreateTopicsRequestTopicConfig{{Name: "min.insync.replicas", Value: kmsg.StringPtr("2")}}
	create.Topics = append(create.Topics, ct)
	waitFor(t, "topic created", 30*time.Second, func() bool {
		resp, err := create.RequestWith(ctx, cl)
		if err != nil {
			return false
		}
		code := resp.Topics[0].ErrorCode
		return code == 0 || code == kerr.TopicAlreadyExists.Code
	})
	for p := range int32(parts) {
		waitFor(t, fmt.Sprintf("%s[%d] led by %d with a full ISR", topic, p, victim), 60*time.Second, func() bool {
			leader, isr := leaderOf(t, kafka[0], topic, p)
			return leader == victim && len(isr) == 3
		})
	}
	var dirs kadm.DescribedLogDirs
	waitFor(t, "the victim describes its log dirs with every partition", 30*time.Second, func() bool {
		dirs, err = adm.DescribeBrokerLogDirs(ctx, victim, nil)
		return err == nil && len(dirs) == 2 && len(partitionsIn(dirs[good], topic))+len(partitionsIn(dirs[tiny], topic)) == parts
	})
	inGood, inTiny := partitionsIn(dirs[good], topic), partitionsIn(dirs[tiny], topic)
	if len(inGood) != 2 || len(inTiny) != 2 {
		t.Fatalf("broker %d holds %s partitions %v in %s and %v in %s, want 2 and 2", victim, topic, inGood, good, inTiny, tiny)
	}

	next := 0
	produce := func(n int) {
		t.Helper()
		var (
			mu   sync.Mutex
			errs error
		)
		for range n {
			i := next
			next++
			cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: int32(i % parts), Value: []byte(fmt.Sprintf("r%05d", i))},
				func(_ *kgo.Record, err error) {
					mu.Lock()
					errs = errors.Join(errs, err)
					mu.Unlock()
				})
		}
		if err := cl.Flush(ctx); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		if errs != nil {
			t.Fatalf("acks=all produce: %v", errs)
		}
	}
	produce(400)

	fillVolume(t, tiny)
	// Records of the full directory's partitions fail on the victim with
	// KAFKA_STORAGE_ERROR; the client retries them on the new leaders.
	produce(4000)

	for _, p := range inTiny {
		waitFor(t, fmt.Sprintf("%s[%d] (failed dir) led elsewhere without broker %d", topic, p, victim), 30*time.Second, func() bool {
			leader, isr := leaderOf(t, other, topic, p)
			return leader >= 1 && leader != victim && !slices.Contains(isr, victim) && len(isr) == 2
		})
	}
	for _, p := range inGood {
		if leader, isr := leaderOf(t, other, topic, p); leader != victim || len(isr) != 3 {
			t.Fatalf("%s[%d] (healthy dir) has leader %d ISR %v, want leader %d and a full ISR", topic, p, leader, isr, victim)
		}
	}
	dirs, err = adm.DescribeBrokerLogDirs(ctx, victim, nil)
	if err != nil {
		t.Fatalf("DescribeBrokerLogDirs(%d): %v", victim, err)
	}
	if !errors.Is(dirs[tiny].Err, kerr.KafkaStorageError) || dirs[good].Err != nil {
		t.Fatalf("the victim describes %s with %v and %s with %v, want KAFKA_STORAGE_ERROR and no error", tiny, dirs[tiny].Err, good, dirs[good].Err)
	}
	produce(400) // acks=all keeps working on every partition

	c, err := kgo.NewClient(kgo.SeedBrokers(kafka...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	got := map[int32][]string{}
	for n := 0; n < next; {
		fs := c.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records", n, next)
		}
		fs.EachRecord(func(r *kgo.Record) {
			got[r.Partition] = append(got[r.Partition], string(r.Value))
			n++
		})
	}
	for p := range int32(parts) {
		var want []string
		for i := int(p); i < next; i += parts {
			want = append(want, fmt.Sprintf("r%05d", i))
		}
		if !slices.Equal(got[p], want) {
			t.Fatalf("%s[%d] holds %d records, want %d in order (first difference near %v)", topic, p, len(got[p]), len(want), firstDiff(got[p], want))
		}
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("index %d: %s vs %s", i, a[i], b[i])
		}
	}
	return fmt.Sprintf("lengths %d vs %d", len(a), len(b))
}
