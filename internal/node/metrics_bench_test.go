package node

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strata-io/strata/internal/metrics"
)

// BenchmarkScrape measures one /metrics scrape of a node with the
// __consumer_offsets partitions, a produced-to topic and a group: the CPU
// a scraper costs the broker per scrape.
func BenchmarkScrape(b *testing.B) {
	tn := startNode(b)
	tn.createTopic("scraped", 6, nil)
	cl := tn.client(kgo.DefaultProduceTopic("scraped"))
	for i := range 600 {
		cl.Produce(b.Context(), &kgo.Record{Value: []byte{byte(i)}}, nil)
	}
	if err := cl.Flush(b.Context()); err != nil {
		b.Fatal(err)
	}
	h := metrics.Handler(tn.node.metrics.reg, tn.node.log)
	for _, gzip := range []bool{false, true} {
		name := "plain"
		if gzip {
			name = "gzip"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var size int
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
				if gzip {
					req.Header.Set("Accept-Encoding", "gzip")
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
				size = rec.Body.Len()
			}
			b.ReportMetric(float64(size), "bytes/scrape")
		})
	}
}
