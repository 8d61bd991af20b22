package node

import (
	"bytes"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/strata-io/strata/internal/config"
)

// watchWriter passes warnings and errors of a node's log to the test and
// notes whether a line with want was written.
type watchWriter struct {
	t    testing.TB
	want []byte
	seen atomic.Bool
}

func (w *watchWriter) Write(p []byte) (int, error) {
	if bytes.Contains(p, w.want) {
		w.seen.Store(true)
	}
	if bytes.Contains(p, []byte("level=WARN")) || bytes.Contains(p, []byte("level=ERROR")) {
		w.t.Log(string(bytes.TrimSuffix(p, []byte("\n"))))
	}
	return len(p), nil
}

// TestStopWhileCreatingPartitions: a node stopped while it applies the
// creation of __consumer_offsets (50 partitions, created as the node
// starts serving) creates no more partitions once its services stop, so
// raft's shutdown does not wait for their fsyncs; started again it hosts
// every partition the metadata gives it.
func TestStopWhileCreatingPartitions(t *testing.T) {
	cfg := config.DefaultStatic()
	cfg.Listen = "127.0.0.1:0"
	want := int(cfg.OffsetsTopicPartitions)
	hosted := func(tn *testNode) int {
		n := 0
		for _, p := range tn.node.parts.All() {
			if p.Topic == offsetsTopic {
				n++
			}
		}
		return n
	}
	// Stop as the first partitions appear; a creation so quick that the
	// stop comes after the last one is tried again in a new directory.
	var dir string
	for attempt := 1; ; attempt++ {
		dir = t.TempDir()
		cfg.DataDir = dir
		w := &watchWriter{t: t, want: []byte("partitions of the new metadata not created")}
		tn := startNodeLogging(t, cfg, slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo})))
		waitFor(t, "the first __consumer_offsets partition", 60*time.Second, func() bool { return hosted(tn) > 0 })
		start := time.Now()
		tn.stop()
		t.Logf("attempt %d: stopped in %v with %d of %d partitions created", attempt, time.Since(start).Round(time.Millisecond), hosted(tn), want)
		if w.seen.Load() || attempt == 5 {
			if !w.seen.Load() {
				t.Logf("no stop came while partitions were being created")
			}
			break
		}
	}

	tn := startNode(t, withDataDir(dir))
	waitFor(t, "every __consumer_offsets partition hosted", 60*time.Second, func() bool { return hosted(tn) == want })
	img := tn.node.ctrl.Image()
	topic, ok := img.TopicByName(offsetsTopic)
	if !ok || len(topic.Partitions) != want {
		t.Fatalf("metadata has %s: %v, want it with %d partitions", offsetsTopic, ok, want)
	}
	// Groups commit through them: one committed offset per group, read
	// back, for groups spread over several partitions.
	tn.createTopic("after-restart", 1, nil)
	adm := tn.admin()
	ctx := ctxTimeout(t, 60*time.Second)
	for i := range 5 {
		group := "g" + strconv.Itoa(i)
		offsets := make(kadm.Offsets)
		offsets.Add(kadm.Offset{Topic: "after-restart", Partition: 0, At: int64(i), LeaderEpoch: -1})
		if err := adm.CommitAllOffsets(ctx, group, offsets); err != nil {
			t.Fatalf("CommitOffsets(%s): %v", group, err)
		}
		fetched, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			t.Fatalf("FetchOffsets(%s): %v", group, err)
		}
		if o, ok := fetched.Lookup("after-restart", 0); !ok || o.Err != nil || o.At != int64(i) {
			t.Errorf("group %s (partition %d of %s): fetched %+v (found %v), want offset %d", group, tn.node.groups.PartitionFor(group), offsetsTopic, o, ok, i)
		}
	}
}
