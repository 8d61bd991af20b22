//go:build robustness

package robustness

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// createTopic creates a topic with one partition per count, a replica on
// up to three nodes and min.insync.replicas=2, and waits for its ISRs.
func (c *cluster) createTopic(t *testing.T, topic string, partitions int32) {
	t.Helper()
	two := "2"
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	err := poll(ctx, "creating topic "+topic, 60*time.Second, func(ctx context.Context) (bool, error) {
		r, err := c.adm.CreateTopic(ctx, partitions, int16(min(3, len(c.nodes))), map[string]*string{"min.insync.replicas": &two}, topic)
		if err != nil {
			return false, err
		}
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			return false, r.Err
		}
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.waitHealthy(ctx, 60*time.Second, topic); err != nil {
		t.Fatal(err)
	}
}

// prober checks that writes and reads work on every partition of the probe
// topic: an acks=all produce to each, then a fetch of what was produced.
type prober struct {
	c      *cluster
	topic  string
	parts  int32
	mu     sync.Mutex // one probe at a time
	p      *kgo.Client
	rounds int
}

func newProber(t *testing.T, c *cluster, topic string) *prober {
	t.Helper()
	p, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0), kgo.RequestTimeoutOverhead(3*time.Second),
		kgo.MetadataMinAge(100*time.Millisecond), kgo.DialTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	st, err := c.topicState(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	return &prober{c: c, topic: topic, parts: int32(len(st)), p: p}
}

// probe returns once a record produced to every partition has been
// acknowledged and fetched back, or ctx ends.
func (pr *prober) probe(ctx context.Context) error {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.rounds++
	offsets := make(map[int32]int64)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for p := range pr.parts {
		wg.Add(1)
		v := fmt.Appendf(nil, "probe %d", pr.rounds)
		go func() {
			defer wg.Done()
			// kgo retries retriable errors until the context ends; a
			// non-retriable one (NOT_ENOUGH_REPLICAS is retriable) is
			// retried here.
			for {
				r, err := pr.p.ProduceSync(ctx, &kgo.Record{Topic: pr.topic, Partition: p, Value: v}).First()
				mu.Lock()
				if err == nil {
					offsets[p] = r.Offset
					mu.Unlock()
					return
				}
				mu.Unlock()
				if ctx.Err() != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("produce to %s[%d]: %w", pr.topic, p, err)
					}
					mu.Unlock()
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	at := make(map[int32]kgo.Offset)
	for p, o := range offsets {
		at[p] = kgo.NewOffset().At(o)
	}
	c, err := kgo.NewClient(kgo.SeedBrokers(pr.c.seeds()...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{pr.topic: at}),
		kgo.RequestTimeoutOverhead(3*time.Second), kgo.MetadataMinAge(100*time.Millisecond), kgo.DialTimeout(2*time.Second),
		kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return err
	}
	defer c.Close()
	got := make(map[int32]bool)
	for len(got) < len(offsets) {
		fs := c.PollFetches(ctx)
		if ctx.Err() != nil {
			return fmt.Errorf("fetch back from %s: %d of %d partitions read: %w", pr.topic, len(got), len(offsets), ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset == offsets[r.Partition] {
				got[r.Partition] = true
			}
		})
	}
	return nil
}
