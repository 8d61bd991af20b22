package server

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/protocol"
)

// errorHandler answers Metadata with two UNKNOWN_TOPIC_OR_PARTITION topics
// and one without error; client id "slow" answers through Later.
type errorHandler struct{}

func (errorHandler) Handle(ctx context.Context, c *Conn, hdr protocol.RequestHeader, req kmsg.Request, body []byte) Response {
	if err := req.ReadFrom(body); err != nil {
		return Response{Close: true}
	}
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	for _, code := range []int16{kerr.UnknownTopicOrPartition.Code, 0, kerr.UnknownTopicOrPartition.Code} {
		t := kmsg.NewMetadataResponseTopic()
		t.Topic, t.ErrorCode = kmsg.StringPtr("t"), code
		resp.Topics = append(resp.Topics, t)
	}
	if hdr.ClientID == "slow" {
		ch := make(chan Response, 1)
		ch <- Response{Msg: resp}
		return Response{Later: ch}
	}
	return Response{Msg: resp}
}

func TestMetricsCountRequestsErrorsAndConnections(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := NewMetrics(reg)
	cfg := DefaultConfig()
	cfg.Listener = "PLAINTEXT"
	cfg.Metrics = m
	addr := startServer(t, errorHandler{}, cfg)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"a", "slow", "b"} {
		writeMetadata(t, c, int32(i), id)
		if corr, _ := readResponse(t, c); corr != int32(i) {
			t.Fatalf("response %d has correlation id %d", i, corr)
		}
	}
	if got := testutil.ToFloat64(m.connections.WithLabelValues("PLAINTEXT")); got != 1 {
		t.Errorf("connections{PLAINTEXT} with one open = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("Metadata", "9")); got != 3 {
		t.Errorf("requests_total{Metadata,9} = %v, want 3", got)
	}
	if got := testutil.ToFloat64(m.errors.WithLabelValues("Metadata", "UNKNOWN_TOPIC_OR_PARTITION")); got != 6 {
		t.Errorf("request_errors_total{Metadata,UNKNOWN_TOPIC_OR_PARTITION} = %v, want 6", got)
	}
	// One series of errors: NONE is not counted.
	if got := testutil.CollectAndCount(m.errors); got != 1 {
		t.Errorf("request_errors_total has %d series, want 1", got)
	}
	counts := map[string]uint64{}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, f := range fams {
		if f.GetName() != "strata_request_latency_seconds" {
			continue
		}
		for _, mm := range f.GetMetric() {
			for _, l := range mm.GetLabel() {
				if l.GetName() == "phase" {
					counts[l.GetValue()] = mm.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	if want := map[string]uint64{"queue": 3, "local": 3, "remote": 1, "total": 3}; !equalCounts(counts, want) {
		t.Errorf("request_latency_seconds sample counts by phase = %v, want %v", counts, want)
	}
	if got := testutil.CollectAndCount(m.responseSize) + testutil.CollectAndCount(m.requestSize); got != 0 {
		t.Errorf("request and response size histograms have %d series after Metadata requests only, want 0", got)
	}
	c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(m.connections.WithLabelValues("PLAINTEXT")) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("connections{PLAINTEXT} still %v 10s after the close", testutil.ToFloat64(m.connections.WithLabelValues("PLAINTEXT")))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := testutil.ToFloat64(m.accepted.WithLabelValues("PLAINTEXT")); got != 1 {
		t.Errorf("connections_accepted_total = %v, want 1", got)
	}
}

func equalCounts(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestForEachErrorCodeFindsNestedCodes(t *testing.T) {
	produce := kmsg.NewPtrProduceResponse()
	for _, codes := range [][]int16{{0, 6}, {0, 0, 19}} {
		rt := kmsg.NewProduceResponseTopic()
		for i, code := range codes {
			rp := kmsg.NewProduceResponseTopicPartition()
			rp.Partition, rp.ErrorCode = int32(i), code
			rt.Partitions = append(rt.Partitions, rp)
		}
		produce.Topics = append(produce.Topics, rt)
	}
	describe := kmsg.NewPtrDescribeGroupsResponse()
	g := kmsg.NewDescribeGroupsResponseGroup()
	g.ErrorCode = 16
	describe.Groups = append(describe.Groups, g)
	apiVersions := kmsg.NewPtrApiVersionsResponse()
	apiVersions.ErrorCode = 35

	tests := []struct {
		give kmsg.Response
		want []int16
	}{
		{produce, []int16{6, 19}},
		{describe, []int16{16}},
		{apiVersions, []int16{35}},
		{kmsg.NewPtrFetchResponse(), nil},
	}
	for _, tt := range tests {
		var got []int16
		forEachErrorCode(tt.give, func(c int16) { got = append(got, c) })
		if !slices.Equal(got, tt.want) {
			t.Errorf("forEachErrorCode(%T) = %v, want %v", tt.give, got, tt.want)
		}
	}
	allocs := testing.AllocsPerRun(100, func() { forEachErrorCode(produce, func(int16) {}) })
	if allocs != 0 {
		t.Errorf("forEachErrorCode(produce) allocates %v times per call, want 0", allocs)
	}
}

func TestNilMetricsRecordNothing(t *testing.T) {
	var m *Metrics
	tm := m.begin(protocol.RequestHeader{APIKey: 0, APIVersion: 9}, m.now(), 100)
	tm.handlerDone()
	tm.remoteDone()
	tm.written(kmsg.NewPtrProduceResponse(), 10)
	l := m.listener("PLAINTEXT")
	l.connOpened()
	l.tlsFailed()
	l.saslFailed()
	l.connClosed()
}

// BenchmarkRequestMetrics is what metrics add to one acks=all Produce
// request of one partition: the counters, the four latency observations,
// the size histogram and the walk for error codes.
func BenchmarkRequestMetrics(b *testing.B) {
	m := NewMetrics(prometheus.NewRegistry())
	resp := kmsg.NewPtrProduceResponse()
	rt := kmsg.NewProduceResponseTopic()
	rt.Partitions = append(rt.Partitions, kmsg.NewProduceResponseTopicPartition())
	resp.Topics = append(resp.Topics, rt)
	h := protocol.RequestHeader{APIKey: 0, APIVersion: 12}
	b.ReportAllocs()
	for b.Loop() {
		tm := m.begin(h, m.now(), 1<<20)
		tm.handlerDone()
		tm.remoteDone()
		tm.written(resp, 60)
	}
}
