package nodetest_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strata-io/strata/internal/config"
	"github.com/strata-io/strata/internal/nodetest"
)

func TestMain(m *testing.M) { nodetest.VerifyTestMain(m) }

// TestStart runs a node, checks its address, and round-trips records
// through a topic made with CreateTopic; the mod given to Start applies.
func TestStart(t *testing.T) {
	n := nodetest.Start(t, func(st *config.Static) { st.AutoCreateTopics = false })
	host, port, err := net.SplitHostPort(n.Addr())
	if err != nil || host != "127.0.0.1" || port == "0" || port == "9092" {
		t.Fatalf("Addr %q (%v): want 127.0.0.1 and an ephemeral port", n.Addr(), err)
	}
	n.CreateTopic("t", 2, nil)

	cl := n.Client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx,
		&kgo.Record{Topic: "t", Partition: 1, Value: []byte("a")},
		&kgo.Record{Topic: "t", Partition: 1, Value: []byte("b")},
	).FirstErr(); err != nil {
		t.Fatalf("ProduceSync: %v", err)
	}
	// The mod turned auto-creation off: a client that asks for it gets no topic.
	strict := n.Client(kgo.AllowAutoTopicCreation(), kgo.UnknownTopicRetries(0))
	if err := strict.ProduceSync(ctx, &kgo.Record{Topic: "missing", Value: []byte("x")}).FirstErr(); !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("produce to a missing topic with auto-creation off: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}

	rd := n.Client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"t": {1: kgo.NewOffset().AtStart()}}))
	var got []string
	for len(got) < 2 {
		fs := rd.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %q, want 2 records: %v", got, ctx.Err())
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s[%d]: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("consumed %q, want [a b]", got)
	}
}
