package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/config"
	"github.com/strata-io/strata/internal/record"
	"github.com/strata-io/strata/internal/storage/vfs"
	"github.com/strata-io/strata/internal/storage/vfs/errorfs"
	"github.com/strata-io/strata/internal/storage/vfs/lazyfs"
)

// withFS makes a node keep its partition logs on fsys.
func withFS(fsys vfs.FS) func(*Config) { return func(c *Config) { c.FS = fsys } }

// stopTolerant stops tn and waits for it, accepting an error from Run (a
// node whose every log directory failed stops with one).
func (tn *testNode) stopTolerant() error {
	if _, loaded := stopOnce.LoadOrStore(tn, true); loaded {
		return nil
	}
	tn.cancel()
	select {
	case err := <-tn.done:
		return err
	case <-time.After(30 * time.Second):
		tn.t.Errorf("node did not stop within 30s")
		return nil
	}
}

// fetchAt sends one Fetch of topic[0] at offset and returns the
// partition's error code and the values of the records it returned.
func fetchAt(t *testing.T, addr, topic string, offset int64) (int16, []string) {
	t.Helper()
	resp := dialRaw(t, addr).send(newFetch(topic, 0, offset, 0, 0)).(*kmsg.FetchResponse)
	p := resp.Topics[0].Partitions[0]
	var values []string
	for rest := p.RecordBatches; len(rest) > 0; {
		b, r, err := record.NextBatch(rest)
		if err != nil {
			break
		}
		rest = r
		if err := record.Records(b, 1<<20, func(rec *record.Record) error {
			values = append(values, string(rec.Value))
			return nil
		}); err != nil {
			t.Fatalf("fetch %s at %d: undecodable batch: %v", topic, offset, err)
		}
	}
	return p.ErrorCode, values
}

// dirHolding returns which of dirs holds the partition directory part.
func dirHolding(t *testing.T, dirs []string, part string) string {
	t.Helper()
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, part)); err == nil {
			return d
		}
	}
	t.Fatalf("no log directory of %v holds %s", dirs, part)
	return ""
}

// TestStorageFaultsFailRequestsWithKafkaStorageError injects I/O errors
// under a broker with two log directories: the request that meets the
// fault gets KAFKA_STORAGE_ERROR (56), the directory holding the partition
// goes offline (DescribeLogDirs says so) while the broker keeps serving,
// nothing unacknowledged is ever served, and after a restart without the
// fault the partition holds exactly the acknowledged records.
func TestStorageFaultsFailRequestsWithKafkaStorageError(t *testing.T) {
	const topic, part = "faults", "faults-0"
	segs := errorfs.And(errorfs.PathContains(string(filepath.Separator)+part+string(filepath.Separator)), errorfs.PathHasSuffix(".log"))
	tests := []struct {
		name  string
		fsync string
		lazy  bool // under a lazyfs, crashed (power loss) before the restart
		roll  bool // segments hold five records: the faulted append rolls
		read  bool // the fault meets a fetch, not a produce
		rule  errorfs.Rule
	}{
		{name: "EIO on write", rule: errorfs.Rule{Ops: errorfs.OpWrite, Match: segs, Err: syscall.EIO}},
		{name: "ENOSPC on write", rule: errorfs.Rule{Ops: errorfs.OpWrite, Match: segs, Err: syscall.ENOSPC, Torn: true}},
		{name: "EIO on fsync", fsync: "always", lazy: true, rule: errorfs.Rule{Ops: errorfs.OpSync, Match: segs, Err: syscall.EIO, LoseUnsynced: true}},
		{name: "rename error on segment roll", roll: true, rule: errorfs.Rule{Ops: errorfs.OpRename,
			Match: errorfs.And(errorfs.PathContains(part), errorfs.PathHasSuffix(".index.tmp")), Err: syscall.EIO}},
		{name: "EIO on read", read: true, rule: errorfs.Rule{Ops: errorfs.OpRead, Match: segs, Err: syscall.EIO}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := t.TempDir()
			dirs := []string{filepath.Join(data, "a"), filepath.Join(data, "b")}
			cfg := faultNodeConfig(data, dirs)
			if tt.fsync != "" {
				cfg.Fsync = tt.fsync
			}
			var base vfs.FS = vfs.Default
			var lazy *lazyfs.FS
			if tt.lazy {
				lazy = lazyfs.New(vfs.Default, lazyfs.Options{})
				base = lazy
			}
			fsys := errorfs.Wrap(base)
			tn := startNodeWith(t, cfg, withFS(fsys))
			var configs map[string]*string
			if tt.roll {
				seg := fmt.Sprint(len(batch(t, "acked-0"))*5 + 10)
				configs = map[string]*string{"segment.bytes": &seg}
			}
			tn.createTopic(topic, 1, configs)
			cl := tn.client()
			var acked []string
			for i := range 5 {
				v := fmt.Sprintf("acked-%d", i)
				if code := produceTo(t, cl, topic, 0, []byte(v)); code != 0 {
					t.Fatalf("produce %s before the fault: %v", v, kerr.ErrorForCode(code))
				}
				acked = append(acked, v)
			}
			failed := dirHolding(t, dirs, part)
			inj := fsys.Inject(tt.rule)

			if tt.read {
				code, values := fetchAt(t, tn.addr, topic, 0)
				if code != kerr.KafkaStorageError.Code || len(values) != 0 {
					t.Fatalf("fetch meeting a read error: %v with %d records, want KAFKA_STORAGE_ERROR (56) and none", kerr.ErrorForCode(code), len(values))
				}
			} else {
				if code := produceTo(t, cl, topic, 0, []byte("unacked")); code != kerr.KafkaStorageError.Code {
					t.Fatalf("produce meeting the fault: %v (%d), want KAFKA_STORAGE_ERROR (56)", kerr.ErrorForCode(code), code)
				}
			}
			if inj.Fired() == 0 {
				t.Fatal("the fault never fired")
			}
			// The partition is offline here: nothing is served from it,
			// the unacknowledged record least of all.
			if code, values := fetchAt(t, tn.addr, topic, 0); code == 0 || len(values) != 0 {
				t.Fatalf("fetch after the fault: %v with records %v, want an error and none", kerr.ErrorForCode(code), values)
			}
			adm := kadm.NewClient(cl)
			waitFor(t, "DescribeLogDirs to report the failed directory", 30*time.Second, func() bool {
				described := logDirsOf(t, adm, 1)
				other := dirs[0]
				if failed == other {
					other = dirs[1]
				}
				return errors.Is(described[failed].Err, kerr.KafkaStorageError) && described[other].Err == nil
			})
			// The broker goes on: the other directory serves a new topic.
			tn.createTopic("healthy", 1, nil)
			if code := produceTo(t, cl, "healthy", 0, []byte("x")); code != 0 {
				t.Fatalf("produce to a partition of the healthy directory: %v", kerr.ErrorForCode(code))
			}

			if lazy != nil {
				lazy.Crash() // a power loss: what was not fsynced is gone
			}
			_ = tn.stopTolerant()
			tn2 := startNode(t, withDataDir(data), func(s *configStatic) { s.LogDirs, s.Fsync, s.OffsetsTopicPartitions = cfg.LogDirs, cfg.Fsync, 1 })
			got := consumeValues(t, tn2, topic, len(acked))
			if !slices.Equal(got, acked) {
				t.Fatalf("after the restart %s holds %q, want exactly the acknowledged %q", topic, got, acked)
			}
			ends, err := kadm.NewClient(tn2.client()).ListEndOffsets(ctxTimeout(t, 10*time.Second), topic)
			if err != nil {
				t.Fatal(err)
			}
			if o, _ := ends.Lookup(topic, 0); o.Offset != int64(len(acked)) {
				t.Fatalf("end offset after the restart %d, want %d: an unacknowledged record survived", o.Offset, len(acked))
			}
		})
	}
}

// faultNodeConfig is the static configuration of a test node (as
// startNode's) with data under data and partition logs in dirs.
func faultNodeConfig(data string, dirs []string) configStatic {
	cfg := config.DefaultStatic()
	cfg.Listen = "127.0.0.1:0"
	cfg.RetentionCheckInterval = 100 * time.Millisecond
	cfg.DataDir = data
	cfg.LogDirs = dirs[0]
	for _, d := range dirs[1:] {
		cfg.LogDirs += "," + d
	}
	cfg.OffsetsTopicPartitions = 1
	return cfg
}

// consumeValues reads n records of topic[0] from its start, retrying
// retriable errors while the partition comes back online, and returns
// their values in offset order.
func consumeValues(t *testing.T, tn *testNode, topic string, n int) []string {
	t.Helper()
	c := tn.client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx := ctxTimeout(t, 60*time.Second)
	var out []string
	for len(out) < n {
		fs := c.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records of %s: %v", len(out), n, topic, err)
		}
		fs.EachError(func(_ string, _ int32, err error) {
			var ke *kerr.Error
			if !errors.As(err, &ke) || !ke.Retriable {
				t.Fatalf("consume %s: %v", topic, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset != int64(len(out)) {
				t.Fatalf("consume %s: record at offset %d, want %d", topic, r.Offset, len(out))
			}
			out = append(out, string(r.Value))
		})
	}
	return out
}

// TestLogDirFailureMovesLeadershipInProcess: three in-process nodes, an
// RF=3 topic with min.insync.replicas=2 led by a broker whose partition
// directory starts failing writes with EIO (its other directory stays
// healthy, so it stays up and reports the offline directory in its
// heartbeats). The controller moves the leadership to another in-sync
// replica, acks=all producing goes on there, and no acknowledged write is
// lost or reordered.
func TestLogDirFailureMovesLeadershipInProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes")
	}
	const topic = "moves"
	var listen, raftAddrs, voters []string
	for i := range 3 {
		listen, raftAddrs = append(listen, freePort(t)), append(raftAddrs, freePort(t))
		voters = append(voters, fmt.Sprintf("%d@%s", i+1, raftAddrs[i]))
	}
	const victim = int32(2)
	fsys := errorfs.Wrap(vfs.Default)
	var nodes []*testNode
	for i := range 3 {
		data := t.TempDir()
		dirs := []string{filepath.Join(data, "logs")}
		if int32(i+1) == victim {
			dirs = append(dirs, filepath.Join(data, "logs2"))
		}
		cfg := faultNodeConfig(data, dirs)
		cfg.NodeID, cfg.Listen, cfg.ControllerListen = int32(i+1), listen[i], raftAddrs[i]
		cfg.ControllerVoters = strings.Join(voters, ",")
		var hooks []func(*Config)
		if int32(i+1) == victim {
			hooks = append(hooks, withFS(fsys))
		}
		nodes = append(nodes, launchNode(t, cfg, hooks...))
	}
	for _, n := range nodes {
		n.waitReady()
	}
	cl := kgoClient(t, listen[0], kgo.SeedBrokers(listen...))
	waitFor(t, "three unfenced brokers", 60*time.Second, func() bool {
		return len(metadataFrom(t, listen[0], kmsg.NewPtrMetadataRequest()).Brokers) == 3
	})
	create := kmsg.NewPtrCreateTopicsRequest()
	create.TimeoutMillis = 30000
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = topic, -1, -1
	ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
	ra.Replicas = []int32{victim, victim%3 + 1, (victim+1)%3 + 1}
	ct.ReplicaAssignment = append(ct.ReplicaAssignment, ra)
	ct.Configs = []kmsg.CreateTopicsRequestTopicConfig{{Name: "min.insync.replicas", Value: kmsg.StringPtr("2")}}
	create.Topics = append(create.Topics, ct)
	waitFor(t, "topic created", 30*time.Second, func() bool {
		resp, err := create.RequestWith(ctxTimeout(t, 10*time.Second), cl)
		if err != nil {
			return false
		}
		code := resp.Topics[0].ErrorCode
		return code == 0 || code == kerr.TopicAlreadyExists.Code
	})
	waitFor(t, fmt.Sprintf("%s[0] led by %d with a full ISR", topic, victim), 60*time.Second, func() bool {
		leader, isr := leaderOf(t, listen[0], topic, 0)
		return leader == victim && len(isr) == 3
	})

	load := startHistoryLoad(t, listen, topic)
	load.waitAcked(t, "2,000 acknowledged records", 2000)
	inj := fsys.Inject(errorfs.Rule{Ops: errorfs.OpWrite, Err: syscall.EIO,
		Match: errorfs.And(errorfs.PathContains(string(filepath.Separator)+topic+"-0"+string(filepath.Separator)), errorfs.PathHasSuffix(".log"))})
	failedAt := load.acked.Load()
	other := listen[victim%3]
	waitFor(t, "the leadership to leave the broker with the failed directory", 60*time.Second, func() bool {
		leader, isr := leaderOf(t, other, topic, 0)
		return leader > 0 && leader != victim && !slices.Contains(isr, victim) && len(isr) == 2
	})
	if inj.Fired() == 0 {
		t.Fatal("the write fault never fired")
	}
	load.waitAcked(t, "acknowledgements to go on under the new leader", 2000)
	described := logDirsOf(t, kadm.NewClient(cl), victim)
	offline := 0
	for _, d := range described {
		if errors.Is(d.Err, kerr.KafkaStorageError) {
			offline++
		}
	}
	if offline != 1 {
		t.Fatalf("broker %d describes %d offline directories, want 1", victim, offline)
	}
	final := load.stopAndCheck(t, other, topic)
	t.Logf("%d records acknowledged (%d before the directory failed), %d stored; longest pause between acknowledgements %v",
		load.acked.Load(), failedAt, len(final[0]), load.h.longestPause)
}
