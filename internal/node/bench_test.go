package node

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strata-io/strata/internal/config"
)

// benchNode starts a node with topic "bench" (one partition) and returns
// a producer for it and a 1 KiB value.
func benchNode(b *testing.B, opts ...nodeOption) (*testNode, *kgo.Client, []byte) {
	tn := startNode(b, opts...)
	tn.createTopic("bench", 1, nil)
	p := tn.client(kgo.DefaultProduceTopic("bench"), kgo.ProducerLinger(5*time.Millisecond),
		kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.MaxBufferedRecords(100000))
	return tn, p, bytes.Repeat([]byte("v"), 1024)
}

// BenchmarkProduce measures the produce path end to end in process: a
// franz-go producer (acks=all, idempotent, linger 5ms) sends b.N 1 KiB
// records to a one-partition topic of a node with the default --fsync
// interval. Client and broker share the machine's cores, as in the bench
// kit's W1.
func BenchmarkProduce(b *testing.B) { benchmarkProduce(b) }

// BenchmarkProduceMetrics is BenchmarkProduce with the HTTP listener and
// every metric off, then on (the default), to compare in one run:
// go test -run '^$' -bench ProduceMetrics -count 6 ./internal/node | benchstat -col /metrics -
func BenchmarkProduceMetrics(b *testing.B) {
	b.Run("metrics=off", func(b *testing.B) { benchmarkProduce(b, func(s *config.Static) { s.HTTPListen = "off" }) })
	b.Run("metrics=on", func(b *testing.B) { benchmarkProduce(b) })
}

func benchmarkProduce(b *testing.B, opts ...nodeOption) {
	_, p, value := benchNode(b, opts...)
	ctx := context.Background()
	if err := p.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr(); err != nil {
		b.Fatal(err)
	}
	errs := make(chan error, 1)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		p.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		})
	}
	if err := p.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(b.N)*1024/1e6/elapsed.Seconds(), "MB/s")
}

// BenchmarkConsume measures the fetch path end to end in process: a
// franz-go consumer reads b.N 1 KiB records back from the start of a
// one-partition topic (sendfile on loopback).
func BenchmarkConsume(b *testing.B) {
	tn, p, value := benchNode(b)
	ctx := context.Background()
	for range b.N {
		p.Produce(ctx, &kgo.Record{Value: value}, nil)
	}
	if err := p.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	c := tn.client(kgo.ConsumeTopics("bench"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(50<<20))
	b.ResetTimer()
	start := time.Now()
	n := 0
	for n < b.N {
		fs := c.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			b.Fatal(err)
		}
		n += fs.NumRecords()
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(b.N)*1024/1e6/elapsed.Seconds(), "MB/s")
}
