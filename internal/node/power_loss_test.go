package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/record"
)

// Power-loss tests: a broker runs with --test-fs=lazy (TEST ONLY), which
// keeps partition data that was written but not fsynced in the process's
// memory, so a SIGKILL loses it as a power loss loses the page cache.

// durableEnd reads the segment files of a partition directory as they are
// on disk and returns the offset after the last whole, CRC-valid batch
// (what a power loss leaves, before recovery), and how many batches that is.
// waitDurableStable waits until durableEnd of partDir has not changed for
// d (at most 30s).
func waitDurableStable(t *testing.T, partDir string, d time.Duration) {
	t.Helper()
	last, _ := durableEnd(t, partDir)
	since, deadline := time.Now(), time.Now().Add(30*time.Second)
	for time.Since(since) < d {
		if time.Now().After(deadline) {
			t.Fatalf("the durable end of %s still moves after 30s", partDir)
		}
		time.Sleep(50 * time.Millisecond)
		if end, _ := durableEnd(t, partDir); end != last {
			last, since = end, time.Now()
		}
	}
}

// countSegments counts partDir's segment files.
func countSegments(t *testing.T, partDir string) int {
	t.Helper()
	logs, err := filepath.Glob(filepath.Join(partDir, "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	return len(logs)
}

func durableEnd(t *testing.T, partDir string) (end int64, batches int) {
	t.Helper()
	logs, err := filepath.Glob(filepath.Join(partDir, "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(logs)
	for _, path := range logs {
		b, err := os.ReadFile(path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // deleted meanwhile
			}
			t.Fatal(err)
		}
		for len(b) > 0 {
			batch, rest, err := record.NextBatch(b)
			if err != nil {
				break
			}
			h, err := record.ValidateBatch(batch)
			if err != nil {
				break
			}
			end = max(end, h.NextOffset())
			batches++
			b = rest
		}
	}
	return end, batches
}

// fetchValidated reads topic[0] from offset 0 to end with raw Fetches and
// checks every batch's CRC and that offsets run without a gap; it returns
// the record values.
func fetchValidated(t *testing.T, addr, topic string, end int64) []string {
	t.Helper()
	rc := dialRaw(t, addr)
	var values []string
	deadline := time.Now().Add(30 * time.Second)
	for off := int64(0); off < end; {
		resp := rc.send(newFetch(topic, 0, off, 0, 0)).(*kmsg.FetchResponse)
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 {
			t.Fatalf("fetch %s at %d: %v", topic, off, kerr.ErrorForCode(p.ErrorCode))
		}
		if len(p.RecordBatches) == 0 {
			// A new leader's high watermark catches up once its
			// followers fetch.
			if time.Now().After(deadline) {
				t.Fatalf("fetch %s at %d below the end %d returned nothing for 30s (high watermark %d)", topic, off, end, p.HighWatermark)
			}
			time.Sleep(20 * time.Millisecond)
			continue
		}
		for rest := p.RecordBatches; len(rest) > 0; {
			b, r, err := record.NextBatch(rest)
			if err != nil {
				break // a partial batch cut at the size limit
			}
			rest = r
			h, err := record.ValidateBatch(b)
			if err != nil {
				t.Fatalf("fetch %s at %d: batch at offset %d fails validation: %v", topic, off, h.BaseOffset, err)
			}
			if h.BaseOffset != off {
				t.Fatalf("fetch %s: batch at offset %d, want %d (a gap or an overlap)", topic, h.BaseOffset, off)
			}
			if err := record.Records(b, 64<<20, func(rec *record.Record) error {
				values = append(values, string(rec.Value))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			off = h.NextOffset()
		}
	}
	return values
}

// TestPowerLossRecoversCleanly: one broker with --fsync never and the lazy
// file system, small segments (each roll fsyncs the sealed one), acks=all
// idempotent producing, then SIGKILL. On disk only what was fsynced
// survives (the active segment's tail is lost). After the restart the log
// ends exactly where the durable data ends, every batch served passes its
// CRC, the records are a prefix of the acknowledged ones in order, the
// producer state agrees with the log (last sequence), and producing goes
// on at the log end offset.
func TestPowerLossRecoversCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a child process")
	}
	const topic = "powerloss"
	dir, addr := t.TempDir(), freePort(t)
	args := []string{"--fsync", "never", "--test-fs", "lazy"}
	srv := startChild(t, dir, addr, args...)
	cl := kgoClient(t, addr, kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	seg := "131072" // every roll fsyncs the sealed segment
	if r, err := kadm.NewClient(cl).CreateTopic(ctxTimeout(t, 10*time.Second), 1, 1, map[string]*string{"segment.bytes": &seg}, topic); err != nil || r.Err != nil {
		t.Fatalf("create %s: %v / %v", topic, err, r.Err)
	}
	pad := strings.Repeat("x", 200)
	acked := map[int64]string{}
	var mu sync.Mutex
	const n = 3000
	for i := 0; i < n; i += 100 {
		var recs []*kgo.Record
		for j := i; j < i+100; j++ {
			recs = append(recs, &kgo.Record{Value: fmt.Appendf(nil, "v%05d-%s", j, pad)})
		}
		res := cl.ProduceSync(ctxTimeout(t, 30*time.Second), recs...)
		for _, r := range res {
			if r.Err != nil {
				t.Fatalf("produce: %v", r.Err)
			}
			mu.Lock()
			acked[r.Record.Offset] = string(r.Record.Value)
			mu.Unlock()
		}
	}
	part := filepath.Join(dir, "logs", topic+"-0")
	// A roll fsyncs the sealed segment in the background: wait until one
	// reached the disk so that something is known to survive.
	deadline := time.Now().Add(30 * time.Second)
	for end, _ := durableEnd(t, part); end == 0; end, _ = durableEnd(t, part) {
		if time.Now().After(deadline) {
			var files []string
			m, _ := filepath.Glob(filepath.Join(part, "*"))
			for _, p := range m {
				if fi, err := os.Stat(p); err == nil {
					files = append(files, fmt.Sprintf("%s=%d", filepath.Base(p), fi.Size()))
				}
			}
			t.Fatalf("no sealed segment on disk after 30s: %v", files)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The fsync a roll queues covers the active segment too; on a loaded
	// machine it can run after the last batch was appended and make
	// everything durable (CI saw it). So wait until what is on disk stops
	// changing, then write one small record no fsync covers: it stays in
	// the active segment's page cache unless it rolled a segment, and then
	// the next one does.
	for try := 0; ; try++ {
		waitDurableStable(t, part, time.Second)
		before := countSegments(t, part)
		r, err := cl.ProduceSync(ctxTimeout(t, 30*time.Second), &kgo.Record{Value: fmt.Appendf(nil, "v%05d-tail", len(acked))}).First()
		if err != nil {
			t.Fatalf("produce the tail record: %v", err)
		}
		acked[r.Offset] = string(r.Value)
		if countSegments(t, part) == before {
			break
		}
		if try == 3 {
			t.Fatalf("every tail record rolled a segment (%d tries)", try+1)
		}
	}
	srv.kill()
	durable, batches := durableEnd(t, part)
	if durable >= int64(len(acked)) {
		t.Fatalf("after SIGKILL the disk holds offsets below %d of the %d acknowledged: nothing was lost, the lazy file system is not in effect", durable, len(acked))
	}

	srv = startChild(t, dir, addr, args...)
	adm := kadm.NewClient(kgoClient(t, addr))
	var leo int64
	waitFor(t, "the partition to serve again", 30*time.Second, func() bool {
		ends, err := adm.ListEndOffsets(ctxTimeout(t, 5*time.Second), topic)
		if err != nil {
			return false
		}
		o, ok := ends.Lookup(topic, 0)
		leo = o.Offset
		return ok && o.Err == nil
	})
	if leo != durable {
		t.Fatalf("log end offset after recovery %d, want %d (the end of the durable batches)", leo, durable)
	}
	values := fetchValidated(t, addr, topic, leo)
	if int64(len(values)) != leo {
		t.Fatalf("read %d records below the log end offset %d", len(values), leo)
	}
	for i, v := range values {
		if acked[int64(i)] != v {
			t.Fatalf("offset %d holds %.10q, acknowledged there was %.10q", i, v, acked[int64(i)])
		}
	}
	// The producer state rebuilt from the log: the one producer's last
	// sequence is that of the last record that survived.
	described, err := adm.DescribeProducers(ctxTimeout(t, 10*time.Second), kadm.TopicsSet{topic: {0: {}}})
	if err != nil {
		t.Fatalf("DescribeProducers: %v", err)
	}
	dp, ok := described[topic].Partitions[0]
	if !ok || dp.Err != nil || len(dp.ActiveProducers) != 1 {
		t.Fatalf("DescribeProducers(%s[0]) = %+v, want one active producer", topic, dp)
	}
	for _, p := range dp.ActiveProducers {
		if int64(p.LastSequence) != leo-1 {
			t.Fatalf("producer %d has last sequence %d after recovery, want %d (the last surviving record)", p.ProducerID, p.LastSequence, leo-1)
		}
	}
	r, err := kgoClient(t, addr, kgo.DefaultProduceTopic(topic)).ProduceSync(ctxTimeout(t, 10*time.Second), &kgo.Record{Value: []byte("after")}).First()
	if err != nil || r.Offset != leo {
		t.Fatalf("produce after recovery: offset %d, %v; want offset %d", r.Offset, err, leo)
	}
	t.Logf("%d records acknowledged; %d (%d batches) were durable and recovered, %d lost with the page cache", len(acked), leo, batches, int64(len(acked))-leo)
}

// TestPowerLossOfAFollowerLosesNoAcknowledgedWrite: three brokers, an
// RF=3 topic with min.insync.replicas=2, acks=all producing. One follower
// runs --fsync never with the lazy file system and is killed with
// SIGKILL, losing the tail its page cache held. It restarts, recovers its
// log, leaves the ISR (an unclean restart), fetches what it lost again and
// rejoins; no acknowledged write is lost, and once it has caught up the
// three replicas' logs are identical.
func TestPowerLossOfAFollowerLosesNoAcknowledgedWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	const topic = "follower-powerloss"
	const victim = 3
	tc := startClusterWith(t, 3, func(i int, _ string) []string {
		args := []string{"--offsets-topic-partitions", "1", "--broker-session-timeout", "2s", "--broker-heartbeat-interval", "300ms",
			"--fsync", "never"}
		if i+1 == victim {
			args = append(args, "--test-fs", "lazy")
		}
		return args
	})
	cl := kgoClient(t, tc.addrs[0], kgo.SeedBrokers(tc.addrs...))
	waitFor(t, "three unfenced brokers", 60*time.Second, func() bool {
		return len(metadataFrom(t, tc.addrs[0], kmsg.NewPtrMetadataRequest()).Brokers) == 3
	})
	create := kmsg.NewPtrCreateTopicsRequest()
	create.TimeoutMillis = 30000
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = topic, -1, -1
	ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
	ra.Replicas = []int32{1, 2, victim}
	ct.ReplicaAssignment = append(ct.ReplicaAssignment, ra)
	ct.Configs = []kmsg.CreateTopicsRequestTopicConfig{{Name: "min.insync.replicas", Value: kmsg.StringPtr("2")},
		{Name: "segment.bytes", Value: kmsg.StringPtr("16384")}}
	create.Topics = append(create.Topics, ct)
	waitFor(t, "topic created", 30*time.Second, func() bool {
		resp, err := create.RequestWith(ctxTimeout(t, 10*time.Second), cl)
		if err != nil {
			return false
		}
		code := resp.Topics[0].ErrorCode
		return code == 0 || code == kerr.TopicAlreadyExists.Code
	})
	waitFor(t, "leader 1 with a full ISR", 60*time.Second, func() bool {
		leader, isr := leaderOf(t, tc.addrs[0], topic, 0)
		return leader == 1 && len(isr) == 3
	})

	load := startHistoryLoad(t, tc.addrs, topic)
	load.waitAcked(t, "5,000 acknowledged records", 5000)
	v := tc.nodes[victim-1]
	v.kill()
	ackedAtKill := load.acked.Load()
	durable, _ := durableEnd(t, filepath.Join(v.dir, "logs", topic+"-0"))
	if durable >= ackedAtKill {
		t.Fatalf("the killed follower's disk holds offsets below %d, %d were acknowledged by the full ISR: nothing was lost, the lazy file system is not in effect", durable, ackedAtKill)
	}
	waitFor(t, "the ISR without the killed follower", 30*time.Second, func() bool {
		leader, isr := leaderOf(t, tc.addrs[0], topic, 0)
		return leader == 1 && !slices.Contains(isr, int32(victim))
	})
	load.waitAcked(t, "acknowledgements to go on without the follower", 3000)
	tc.nodes[victim-1] = startChild(t, v.dir, v.addr, v.args...)
	waitFor(t, "the restarted follower back in the ISR", 90*time.Second, func() bool {
		_, isr := leaderOf(t, tc.addrs[0], topic, 0)
		return len(isr) == 3
	})
	load.waitAcked(t, "more acknowledgements with the full ISR", 2000)
	final := load.stopAndCheck(t, tc.addrs[0], topic)
	t.Logf("%d records acknowledged (%d when the follower was killed, %d of them durable on its disk), %d stored",
		load.acked.Load(), ackedAtKill, durable, len(final[0]))
	checkReplicasIdentical(t, tc, tc.addrs[0], topic, len(final[0]))
}
