package kafkaapi

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/controller"
	"github.com/strata-io/strata/internal/metadata"
	"github.com/strata-io/strata/internal/partition"
	"github.com/strata-io/strata/internal/record"
	"github.com/strata-io/strata/internal/server"
	"github.com/strata-io/strata/internal/storage"
)

// wireClient speaks raw kmsg requests to a server over TCP.
type wireClient struct {
	c    net.Conn
	f    *kmsg.RequestFormatter
	corr int32
	buf  []byte
}

func dialWire(t testing.TB, addr string) *wireClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &wireClient{c: c, f: kmsg.NewRequestFormatter(kmsg.FormatterClientID("wire-test"))}
}

// send writes req and returns its correlation id.
func (w *wireClient) send(t testing.TB, req kmsg.Request) int32 {
	t.Helper()
	w.corr++
	w.buf = w.f.AppendRequest(w.buf[:0], req, w.corr)
	if _, err := w.c.Write(w.buf); err != nil {
		t.Fatalf("writing %s request: %v", kmsg.NameForKey(req.Key()), err)
	}
	return w.corr
}

// readRaw reads one response frame into w.buf and returns it (after the
// size).
func (w *wireClient) readRaw(t testing.TB) []byte {
	t.Helper()
	w.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(w.c, size[:]); err != nil {
		t.Fatalf("reading response size: %v", err)
	}
	n := int(binary.BigEndian.Uint32(size[:]))
	if cap(w.buf) < n {
		w.buf = make([]byte, n)
	}
	w.buf = w.buf[:n]
	if _, err := io.ReadFull(w.c, w.buf); err != nil {
		t.Fatalf("reading response of %d bytes: %v", n, err)
	}
	return w.buf
}

// receive reads the response to the request with correlation id corr.
func (w *wireClient) receive(t testing.TB, corr int32, resp kmsg.Response) {
	t.Helper()
	b := w.readRaw(t)
	if got := int32(binary.BigEndian.Uint32(b)); got != corr {
		t.Fatalf("response correlation id = %d, want %d", got, corr)
	}
	b = b[4:]
	if resp.IsFlexible() {
		b = b[1:] // empty header tags
	}
	if err := resp.ReadFrom(b); err != nil {
		t.Fatalf("decoding %s v%d response: %v", kmsg.NameForKey(resp.Key()), resp.GetVersion(), err)
	}
}

// startWire serves h on a loopback listener.
func startWire(t testing.TB, h server.Handler, disableSendfile bool) *server.Server {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DisableSendfile = disableSendfile
	s := server.New(cfg, h)
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { s.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	return s
}

// valueOf is the value of record i of the tests' produced data.
func valueOf(i, size int) []byte {
	v := make([]byte, size)
	for j := 0; j+8 <= size; j += 8 {
		binary.BigEndian.PutUint64(v[j:], uint64(i)<<32|uint64(j))
	}
	return v
}

// batchOf returns a batch of n records numbered from first.
func batchOf(t testing.TB, first, n, valueSize int) []byte {
	t.Helper()
	now := time.Now().UnixMilli()
	b := record.NewBuilder(record.CodecNone, now)
	for i := first; i < first+n; i++ {
		b.Add(now, nil, valueOf(i, valueSize), nil)
	}
	batch, err := b.Build()
	if err != nil {
		t.Fatalf("build batch: %v", err)
	}
	return batch
}

// produceWire pipelines batches of perBatch records to t-0 over w, acks=1.
func produceWire(t testing.TB, w *wireClient, batches, perBatch, valueSize int) {
	t.Helper()
	var corrs []int32
	for i := range batches {
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis = 9, 1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = batchOf(t, i*perBatch, perBatch, valueSize)
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		corrs = append(corrs, w.send(t, req))
	}
	for i, corr := range corrs {
		resp := kmsg.NewPtrProduceResponse()
		resp.Version = 9
		w.receive(t, corr, resp)
		if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.BaseOffset != int64(i*perBatch) {
			t.Fatalf("produce %d: error %d, base offset %d; want 0, %d", i, p.ErrorCode, p.BaseOffset, i*perBatch)
		}
	}
}

// wireHandler is a Handler for broker 1, the only broker of a cluster
// whose controller runs here, with topic "t" of one partition on broker 1
// alone, so that the high watermark follows appends. It takes a
// testing.TB so that benchmarks can use it.
type wireHandler struct {
	h       *Handler
	ctrl    *controller.Controller
	p       *partition.Partition // t-0
	topicID metadata.UUID
}

func newWireHandler(tb testing.TB) *wireHandler {
	tb.Helper()
	ctrl, _ := startTestController(tb)
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	if err := ctrl.RegisterBroker(ctx, controller.BrokerRegistration{NodeID: 1, Host: "host", Port: 9091}); err != nil {
		tb.Fatalf("RegisterBroker: %v", err)
	}
	b, _ := ctrl.Image().Broker(1)
	if _, err := ctrl.BrokerHeartbeat(ctx, controller.HeartbeatRequest{BrokerID: 1, BrokerEpoch: b.BrokerEpoch, CurrentMetadataOffset: int64(ctrl.Image().Index())}); err != nil {
		tb.Fatalf("BrokerHeartbeat: %v", err)
	}
	res := ctrl.CreateTopics(ctx, []controller.CreateTopic{{Name: "t", Assignments: map[int32][]int32{0: {1}}, NumPartitions: -1, ReplicationFactor: -1}}, false)
	if res[0].Err != nil {
		tb.Fatalf("CreateTopics: %v", res[0].Err)
	}
	dir := filepath.Join(tb.TempDir(), "logs")
	ld, err := storage.OpenLogDir(storage.DefaultConfig(dir))
	if err != nil {
		tb.Fatalf("OpenLogDir: %v", err)
	}
	tb.Cleanup(func() { _ = ld.Close() })
	topic, _ := ctrl.Image().TopicByName("t")
	pi := topic.Partitions[0]
	l, err := ld.CreateLog(storage.TopicPartition{Topic: "t", Partition: 0}, topic.ID, storage.DefaultLogConfig())
	if err != nil {
		tb.Fatalf("CreateLog: %v", err)
	}
	st := partition.LeaderAndISR{Leader: pi.Leader, LeaderEpoch: pi.LeaderEpoch, PartitionEpoch: pi.PartitionEpoch, Replicas: pi.Replicas, ISR: pi.ISR}
	p := partition.New(l, partition.Config{NodeID: 1, Logger: log}, st)
	p.Topic, p.Index, p.TopicID = "t", 0, topic.ID
	p.SetLimits(partition.Limits{MaxMessageBytes: 1 << 20, TimestampBeforeMaxMs: math.MaxInt64, TimestampAfterMaxMs: math.MaxInt64})
	parts := partition.NewTable()
	parts.Put(p)
	h := New(Config{NodeID: 1, LogDir: dir, Logger: log}, parts, ctrl, testChannel{ctrl}, nil)
	return &wireHandler{h: h, ctrl: ctrl, p: p, topicID: topic.ID}
}

// fetchRequest asks for t-0 from offset, without waiting.
func (wh *wireHandler) fetchRequest(version int16, offset int64, maxBytes int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.ReplicaID, req.MaxBytes, req.MaxWaitMillis = version, -1, maxBytes, 0
	req.ReplicaState.ID = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "t"
	if version >= 13 {
		rt.TopicID = wh.topicID
	}
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = 0, offset, maxBytes
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// TestFetchOverTheWire produces through the server (frames reused) and
// fetches back every version, by sendfile and by copy; every record must
// come back intact and in order.
func TestFetchOverTheWire(t *testing.T) {
	const batches, perBatch, valueSize = 40, 20, 1000
	for _, disable := range []bool{false, true} {
		t.Run(fmt.Sprintf("DisableSendfile=%v", disable), func(t *testing.T) {
			wh := newWireHandler(t)
			s := startWire(t, wh.h, disable)
			w := dialWire(t, s.Addr().String())
			produceWire(t, w, batches, perBatch, valueSize)
			for v := int16(4); v <= 17; v++ {
				// Small max bytes: several fetches, each ending on a batch.
				next := int64(0)
				for next < batches*perBatch {
					resp := kmsg.NewPtrFetchResponse()
					resp.Version = v
					w.receive(t, w.send(t, wh.fetchRequest(v, next, 64<<10)), resp)
					p := resp.Topics[0].Partitions[0]
					if p.ErrorCode != 0 || p.HighWatermark != batches*perBatch || len(p.RecordBatches) == 0 {
						t.Fatalf("fetch v%d at %d: error %d, high watermark %d, %d bytes", v, next, p.ErrorCode, p.HighWatermark, len(p.RecordBatches))
					}
					rest := p.RecordBatches
					for len(rest) > 0 {
						batch, r, err := record.NextBatch(rest)
						if err != nil {
							t.Fatalf("fetch v%d at %d: %v", v, next, err)
						}
						rest = r
						if _, err := record.ValidateBatch(batch); err != nil {
							t.Fatalf("fetch v%d at %d: invalid batch: %v", v, next, err)
						}
						err = record.Records(batch, 1<<20, func(r *record.Record) error {
							if want := valueOf(int(next), valueSize); string(r.Value) != string(want) {
								return fmt.Errorf("record %d has the wrong value", next)
							}
							next++
							return nil
						})
						if err != nil {
							t.Fatalf("fetch v%d: %v", v, err)
						}
					}
				}
			}
			st := s.Stats()
			if disable && (st.SendfileBytes != 0 || st.CopiedFileBytes == 0) {
				t.Fatalf("Stats() = %+v, want everything copied", st)
			}
			if !disable && (st.SendfileBytes == 0 || st.CopiedFileBytes != 0) {
				t.Fatalf("Stats() = %+v, want everything sent with sendfile (all sections are at least 16 KiB)", st)
			}
		})
	}
}

// TestFetchLongPollAnswersWithBody: a fetch that waits returns its records
// through Later as a Body too.
func TestFetchLongPollAnswersWithBody(t *testing.T) {
	wh := newWireHandler(t)
	s := startWire(t, wh.h, false)
	w := dialWire(t, s.Addr().String())
	req := wh.fetchRequest(12, 0, 1<<20)
	req.MaxWaitMillis, req.MinBytes = 10000, 1
	corr := w.send(t, req)
	time.Sleep(50 * time.Millisecond)
	p := dialWire(t, s.Addr().String())
	produceWire(t, p, 1, 10, 100)
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = 12
	w.receive(t, corr, resp)
	if got := resp.Topics[0].Partitions[0]; got.ErrorCode != 0 || got.HighWatermark != 10 || len(got.RecordBatches) == 0 {
		t.Fatalf("long-poll fetch = error %d, high watermark %d, %d bytes; want the 10 records", got.ErrorCode, got.HighWatermark, len(got.RecordBatches))
	}
}

// TestFetchLongPollSeesAppendBeforeItWaits: records appended between a
// long poll's first read and its registering as a waiter answer the poll
// at once (they once slept the whole max wait: 500 ms for followers,
// holding up acks=all producers).
func TestFetchLongPollSeesAppendBeforeItWaits(t *testing.T) {
	wh := newWireHandler(t)
	s := startWire(t, wh.h, false)
	p := dialWire(t, s.Addr().String())
	var once sync.Once
	testHookBeforeWait = func() { once.Do(func() { produceWire(t, p, 1, 10, 100) }) }
	t.Cleanup(func() { testHookBeforeWait = nil })
	w := dialWire(t, s.Addr().String())
	req := wh.fetchRequest(12, 0, 1<<20)
	req.MaxWaitMillis, req.MinBytes = 10000, 1
	start := time.Now()
	corr := w.send(t, req)
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = 12
	w.receive(t, corr, resp)
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("long poll answered after %v: the append before it waited woke nothing", took)
	}
	if got := resp.Topics[0].Partitions[0]; got.ErrorCode != 0 || len(got.RecordBatches) == 0 {
		t.Fatalf("long-poll fetch = error %d, %d bytes; want the 10 records", got.ErrorCode, len(got.RecordBatches))
	}
}
