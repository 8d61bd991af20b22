package node

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestProduceConsumeEveryCodec(t *testing.T) {
	tn := startNode(t)
	codecs := []struct {
		name  string
		codec kgo.CompressionCodec
	}{
		{"none", kgo.NoCompression()},
		{"gzip", kgo.GzipCompression()},
		{"snappy", kgo.SnappyCompression()},
		{"lz4", kgo.Lz4Compression()},
		{"zstd", kgo.ZstdCompression()},
	}
	for _, tt := range codecs {
		t.Run(tt.name, func(t *testing.T) {
			topic := "codec-" + tt.name
			tn.createTopic(topic, 3, nil)
			p := tn.client(kgo.ProducerBatchCompression(tt.codec), kgo.DefaultProduceTopic(topic))
			const n = 3000
			var want []*kgo.Record
			for i := range n {
				r := &kgo.Record{
					Key:     []byte("key-" + strconv.Itoa(i%50)),
					Value:   bytes.Repeat([]byte{byte('a' + i%26)}, 10+i%200),
					Headers: []kgo.RecordHeader{{Key: "i", Value: []byte(strconv.Itoa(i))}, {Key: "codec", Value: []byte(tt.name)}},
				}
				want = append(want, r)
			}
			if err := p.ProduceSync(ctxTimeout(t, 30*time.Second), want...).FirstErr(); err != nil {
				t.Fatalf("ProduceSync: %v", err)
			}
			got := consumeAll(t, tn, topic, n)
			checkSamePerPartition(t, want, got)
		})
	}
}

// checkSamePerPartition checks that got holds exactly the records of want,
// in produce order within each partition, with contiguous offsets.
func checkSamePerPartition(t *testing.T, want, got []*kgo.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("consumed %d records, produced %d", len(got), len(want))
	}
	byPart := func(rs []*kgo.Record) map[int32][]*kgo.Record {
		m := make(map[int32][]*kgo.Record)
		for _, r := range rs {
			m[r.Partition] = append(m[r.Partition], r)
		}
		return m
	}
	wp, gp := byPart(want), byPart(got)
	for p, ws := range wp {
		gs := gp[p]
		if len(gs) != len(ws) {
			t.Fatalf("partition %d: consumed %d records, produced %d", p, len(gs), len(ws))
		}
		for i := range ws {
			w, g := ws[i], gs[i]
			if g.Offset != w.Offset || g.Offset != int64(i) {
				t.Fatalf("partition %d record %d: offset %d, produced at %d", p, i, g.Offset, w.Offset)
			}
			if !bytes.Equal(g.Key, w.Key) || !bytes.Equal(g.Value, w.Value) || (g.Key == nil) != (w.Key == nil) || (g.Value == nil) != (w.Value == nil) {
				t.Fatalf("partition %d offset %d: got key %q value %q, want key %q value %q", p, g.Offset, g.Key, g.Value, w.Key, w.Value)
			}
			if fmt.Sprint(g.Headers) != fmt.Sprint(w.Headers) {
				t.Fatalf("partition %d offset %d: headers %v, want %v", p, g.Offset, g.Headers, w.Headers)
			}
		}
	}
}

func TestNullKeysValuesAndManyPartitions(t *testing.T) {
	tn := startNode(t)
	const parts = 64
	tn.createTopic("many", parts, nil)
	p := tn.client(kgo.DefaultProduceTopic("many"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var want []*kgo.Record
	for i := range parts * 10 {
		r := &kgo.Record{Partition: int32(i % parts)}
		switch i % 4 {
		case 0: // null key and value
		case 1:
			r.Key = []byte{}
			r.Value = []byte{}
		case 2:
			r.Key = []byte("k")
		case 3:
			r.Value = []byte("v")
		}
		want = append(want, r)
	}
	if err := p.ProduceSync(ctxTimeout(t, 30*time.Second), want...).FirstErr(); err != nil {
		t.Fatalf("ProduceSync: %v", err)
	}
	got := consumeAll(t, tn, "many", len(want))
	checkSamePerPartition(t, want, got)
}

func TestRecordsNearTheSizeLimit(t *testing.T) {
	tn := startNode(t)
	limit := "200000"
	tn.createTopic("big", 1, map[string]*string{"max.message.bytes": &limit})
	p := tn.client(kgo.DefaultProduceTopic("big"), kgo.ProducerBatchMaxBytes(400000), kgo.RecordRetries(0), kgo.ProducerBatchCompression(kgo.NoCompression()))
	// A record whose batch just fits: batch overhead is 61 bytes of header
	// plus a few bytes of record framing.
	fits := &kgo.Record{Value: bytes.Repeat([]byte("x"), 200000-100)}
	if err := p.ProduceSync(ctxTimeout(t, 10*time.Second), fits).FirstErr(); err != nil {
		t.Fatalf("produce a record just under max.message.bytes: %v", err)
	}
	tooBig := &kgo.Record{Value: bytes.Repeat([]byte("y"), 200000+100)}
	err := p.ProduceSync(ctxTimeout(t, 10*time.Second), tooBig).FirstErr()
	if err == nil || !containsErr(err, "MESSAGE_TOO_LARGE") {
		t.Fatalf("produce a record over max.message.bytes: err = %v, want MESSAGE_TOO_LARGE", err)
	}
	got := consumeAll(t, tn, "big", 1)
	if !bytes.Equal(got[0].Value, fits.Value) {
		t.Fatalf("consumed value of %d bytes, want %d", len(got[0].Value), len(fits.Value))
	}
}

func containsErr(err error, s string) bool {
	return err != nil && bytes.Contains([]byte(err.Error()), []byte(s))
}

func TestLongPollFetchWaitsForData(t *testing.T) {
	tn := startNode(t)
	tn.createTopic("poll", 1, nil)
	c := tn.client(kgo.ConsumeTopics("poll"), kgo.FetchMaxWait(10*time.Second))
	// Let the consumer reach its long poll on the empty partition.
	ctx := ctxTimeout(t, 30*time.Second)
	start := time.Now()
	produced := make(chan time.Time, 1)
	go func() {
		time.Sleep(500 * time.Millisecond)
		p, err := kgo.NewClient(kgo.SeedBrokers(tn.addr), kgo.DefaultProduceTopic("poll"))
		if err != nil {
			return
		}
		defer p.Close()
		p.ProduceSync(ctx, &kgo.Record{Value: []byte("wake")})
		produced <- time.Now()
	}()
	fs := c.PollFetches(ctx)
	if errs := fs.Errors(); len(errs) > 0 {
		t.Fatalf("poll: %v", errs)
	}
	got := time.Now()
	recs := fs.Records()
	if len(recs) != 1 || string(recs[0].Value) != "wake" {
		t.Fatalf("poll returned %d records, want the one produced", len(recs))
	}
	// The answer must come from the produce waking the poll, not from the
	// 10s max wait expiring.
	if waited := got.Sub(start); waited >= 10*time.Second {
		t.Fatalf("fetch returned after %v: it waited for max_wait instead of waking on data", waited)
	}
	<-produced
}

func TestFetchMaxWaitExpiresEmpty(t *testing.T) {
	tn := startNode(t)
	tn.createTopic("idle", 1, nil)
	rc := dialRaw(t, tn.addr)
	req := newFetch("idle", 0, 0, 300*time.Millisecond, 1)
	start := time.Now()
	resp := rc.send(req).(*kmsg.FetchResponse)
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Fatalf("empty fetch with max_wait 300ms answered after %v", waited)
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 || len(p.RecordBatches) != 0 || p.HighWatermark != 0 {
		t.Fatalf("empty fetch: error %d, %d bytes, hw %d", p.ErrorCode, len(p.RecordBatches), p.HighWatermark)
	}
}

func TestListOffsetsByTimestamp(t *testing.T) {
	tn := startNode(t)
	tn.createTopic("ts", 1, nil)
	p := tn.client(kgo.DefaultProduceTopic("ts"), kgo.ProducerLinger(0), kgo.MaxBufferedRecords(1))
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	for i := range 10 {
		r := &kgo.Record{Value: []byte(strconv.Itoa(i)), Timestamp: base.Add(time.Duration(i) * time.Minute)}
		if err := p.ProduceSync(ctxTimeout(t, 10*time.Second), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	adm := tn.admin()
	ctx := ctxTimeout(t, 10*time.Second)
	tests := []struct {
		name string
		give int64
		want int64
	}{
		{"before all", base.Add(-time.Minute).UnixMilli(), 0},
		{"exact", base.Add(3 * time.Minute).UnixMilli(), 3},
		{"between", base.Add(3*time.Minute + time.Second).UnixMilli(), 4},
		// The broker answers -1 (no such record); kadm reports that as
		// the end offset.
		{"after all", base.Add(time.Hour).UnixMilli(), 10},
	}
	for _, tt := range tests {
		res, err := adm.ListOffsetsAfterMilli(ctx, tt.give, "ts")
		if err != nil {
			t.Fatal(err)
		}
		o, _ := res.Lookup("ts", 0)
		if o.Err != nil || o.Offset != tt.want {
			t.Fatalf("%s: ListOffsets(ts=%d) = %d (err %v), want %d", tt.name, tt.give, o.Offset, o.Err, tt.want)
		}
	}
	start, _ := adm.ListStartOffsets(ctx, "ts")
	end, _ := adm.ListEndOffsets(ctx, "ts")
	if s, _ := start.Lookup("ts", 0); s.Offset != 0 {
		t.Fatalf("earliest = %d", s.Offset)
	}
	if e, _ := end.Lookup("ts", 0); e.Offset != 10 {
		t.Fatalf("latest = %d", e.Offset)
	}
	maxTS, err := adm.ListMaxTimestampOffsets(ctx, "ts")
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := maxTS.Lookup("ts", 0); m.Offset != 9 || m.Timestamp != base.Add(9*time.Minute).UnixMilli() {
		t.Fatalf("max timestamp = offset %d ts %d, want 9 / %d", m.Offset, m.Timestamp, base.Add(9*time.Minute).UnixMilli())
	}
}

func TestRetentionDeletesOldSegments(t *testing.T) {
	tn := startNode(t)
	seg, ret := "20000", "60000"
	tn.createTopic("ret", 1, map[string]*string{"segment.bytes": &seg, "retention.bytes": &ret})
	p := tn.client(kgo.DefaultProduceTopic("ret"), kgo.ProducerLinger(0), kgo.ProducerBatchCompression(kgo.NoCompression()))
	for i := range 400 {
		if err := p.ProduceSync(ctxTimeout(t, 10*time.Second), &kgo.Record{Value: bytes.Repeat([]byte{'r'}, 1000), Key: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	adm := tn.admin()
	deadline := time.Now().Add(20 * time.Second)
	var start int64
	stable := 0
	for time.Now().Before(deadline) {
		res, err := adm.ListStartOffsets(ctxTimeout(t, 5*time.Second), "ret")
		if err != nil {
			t.Fatal(err)
		}
		o, _ := res.Lookup("ret", 0)
		// ~400 KB produced, 60 KB retained in 20 KB segments: retention
		// (every 100ms) must bring the log start well past 250. It may
		// take several passes, so wait until the start stops moving (else
		// a later pass deletes records the consumer below expects).
		if o.Offset == start {
			stable++
		} else {
			stable = 0
		}
		if start = o.Offset; start >= 250 && stable >= 5 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if start < 250 {
		t.Fatalf("log start offset %d after 20s: retention.bytes=60000 should have deleted far more", start)
	}
	got := consumeAll(t, tn, "ret", int(400-start))
	if got[0].Offset != start || got[len(got)-1].Offset != 399 {
		t.Fatalf("after retention consumed offsets %d..%d, want %d..399", got[0].Offset, got[len(got)-1].Offset, start)
	}
	_ = context.Background
	_ = kadm.Offset{}
}

// TestDescribeProducersThroughKadm: an idempotent producer's id, epoch and
// last sequence are what kadm's DescribeProducers reports (KIP-664).
func TestDescribeProducersThroughKadm(t *testing.T) {
	tn := startNode(t)
	tn.createTopic("dp", 1, nil)
	p := tn.client(kgo.DefaultProduceTopic("dp"))
	var recs []*kgo.Record
	for i := range 5 {
		recs = append(recs, &kgo.Record{Value: fmt.Appendf(nil, "v%d", i)})
	}
	res := p.ProduceSync(ctxTimeout(t, 10*time.Second), recs...)
	if err := res.FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	pid, epoch := recs[0].ProducerID, recs[0].ProducerEpoch
	described, err := tn.admin().DescribeProducers(ctxTimeout(t, 10*time.Second), kadm.TopicsSet{"dp": {0: {}}})
	if err != nil {
		t.Fatalf("DescribeProducers: %v", err)
	}
	var got []kadm.DescribedProducer
	described.EachProducer(func(d kadm.DescribedProducer) { got = append(got, d) })
	if len(got) != 1 || got[0].ProducerID != pid || got[0].ProducerEpoch != epoch || got[0].LastSequence != 4 ||
		got[0].CurrentTxnStartOffset != -1 || got[0].Leader != tn.cfg.NodeID {
		t.Fatalf("DescribeProducers(dp-0) = %+v, want producer %d epoch %d last sequence 4, no transaction, leader %d", got, pid, epoch, tn.cfg.NodeID)
	}
}
