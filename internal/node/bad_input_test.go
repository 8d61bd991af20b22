package node

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/record"
)

// rawConn is a bare Kafka connection for sending hand-made requests.
type rawConn struct {
	t    *testing.T
	c    net.Conn
	corr int32
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c}
}

func (r *rawConn) writeFrame(b []byte) {
	r.t.Helper()
	if _, err := r.c.Write(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// send writes req and returns its decoded response.
func (r *rawConn) send(req kmsg.Request) kmsg.Response {
	r.t.Helper()
	return r.sendAs("raw", req)
}

// sendAs is send with a chosen client id.
func (r *rawConn) sendAs(clientID string, req kmsg.Request) kmsg.Response {
	r.t.Helper()
	r.corr++
	r.writeFrame(kmsg.NewRequestFormatter(kmsg.FormatterClientID(clientID)).AppendRequest(nil, req, r.corr))
	body, err := r.readFrame()
	if err != nil {
		r.t.Fatalf("reading %T response: %v", req, err)
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != r.corr {
		r.t.Fatalf("correlation id %d, want %d", got, r.corr)
	}
	body = body[4:]
	resp := req.ResponseKind()
	if resp.IsFlexible() && req.Key() != int16(kmsg.ApiVersions) {
		body = body[1:]
	}
	if err := resp.ReadFrom(body); err != nil {
		r.t.Fatalf("decoding %T: %v", resp, err)
	}
	return resp
}

func (r *rawConn) readFrame() ([]byte, error) {
	r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(r.c, size[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint32(size[:]))
	_, err := io.ReadFull(r.c, b)
	return b, err
}

// expectClosed asserts the broker closed the connection without answering.
func (r *rawConn) expectClosed() {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := r.c.Read(make([]byte, 1))
	if n != 0 || !(errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err)) {
		r.t.Fatalf("connection not closed: read %d bytes, err %v", n, err)
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

// stillServes asserts that a fresh client gets a Metadata answer.
func stillServes(t *testing.T, addr string) {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	resp := dialRaw(t, addr).send(req).(*kmsg.MetadataResponse)
	if len(resp.Brokers) != 1 {
		t.Fatalf("metadata after bad input: %d brokers", len(resp.Brokers))
	}
}

func batch(t *testing.T, values ...string) []byte {
	t.Helper()
	b := record.NewBuilder(record.CodecNone, time.Now().UnixMilli())
	for _, v := range values {
		b.Add(time.Now().UnixMilli(), nil, []byte(v), nil)
	}
	out, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func idempotentBatch(t *testing.T, pid int64, epoch int16, seq int32, values ...string) []byte {
	t.Helper()
	b := record.NewBuilder(record.CodecNone, time.Now().UnixMilli())
	b.SetProducer(pid, epoch, seq)
	for _, v := range values {
		b.Add(time.Now().UnixMilli(), nil, []byte(v), nil)
	}
	out, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func produceReq(version int16, acks int16, topic string, records []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version = version
	req.Acks = acks
	req.TimeoutMillis = 5000
	tp := kmsg.NewProduceRequestTopicPartition()
	tp.Records = records
	req.Topics = []kmsg.ProduceRequestTopic{{Topic: topic, Partitions: []kmsg.ProduceRequestTopicPartition{tp}}}
	return req
}

func produceCode(t *testing.T, rc *rawConn, req *kmsg.ProduceRequest) (int16, int64) {
	t.Helper()
	resp := rc.send(req).(*kmsg.ProduceResponse)
	p := resp.Topics[0].Partitions[0]
	return p.ErrorCode, p.BaseOffset
}

func newFetch(topic string, partition int32, offset int64, wait time.Duration, minBytes int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version = 11
	req.MaxWaitMillis = int32(wait.Milliseconds())
	req.MinBytes = minBytes
	req.MaxBytes = 1 << 20
	tp := kmsg.NewFetchRequestTopicPartition()
	tp.Partition = partition
	tp.FetchOffset = offset
	tp.PartitionMaxBytes = 1 << 20
	req.Topics = []kmsg.FetchRequestTopic{{Topic: topic, Partitions: []kmsg.FetchRequestTopicPartition{tp}}}
	return req
}

func highWatermark(t *testing.T, addr, topic string) int64 {
	t.Helper()
	resp := dialRaw(t, addr).send(newFetch(topic, 0, 0, 0, 0)).(*kmsg.FetchResponse)
	return resp.Topics[0].Partitions[0].HighWatermark
}

func TestBadFramesCloseTheConnection(t *testing.T) {
	tn := startNode(t, func(s *configStatic) { s.SocketRequestMaxBytes = 1 << 20 })
	sizeOnly := func(n int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(n)) }
	frame := func(body []byte) []byte { return append(sizeOnly(int32(len(body))), body...) }
	tests := []struct {
		name string
		give []byte
	}{
		{"negative length", sizeOnly(-1)},
		{"length over socket.request.max.bytes", sizeOnly(1<<20 + 1)},
		{"length near 2 GiB is not allocated", sizeOnly(0x7fffff00)},
		{"frame shorter than a header", frame([]byte{0, 3})},
		{"unknown api key", frame([]byte{0x01, 0x00, 0, 0, 0, 0, 0, 1, 0xff, 0xff})},
		{"api kmsg knows but strata does not serve (DescribeAcls)", frame([]byte{0, 29, 0, 1, 0, 0, 0, 1, 0xff, 0xff})},
		{"metadata version beyond ours", frame([]byte{0, 3, 0, 99, 0, 0, 0, 1, 0xff, 0xff, 0})},
		{"malformed metadata body", frame([]byte{0, 3, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 0x00, 0x00, 0x00, 0x05, 0x00})},
		{"malformed produce body", frame([]byte{0, 0, 0, 7, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0, 1})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := dialRaw(t, tn.addr)
			rc.writeFrame(tt.give)
			rc.expectClosed()
			stillServes(t, tn.addr)
		})
	}
}

func TestApiVersionsTooNewFallsBackToV0(t *testing.T) {
	tn := startNode(t)
	rc := dialRaw(t, tn.addr)
	// ApiVersions v99 with header v2 (flexible) and an arbitrary body.
	body := []byte{0, 18, 0, 99, 0, 0, 0, 7, 0xff, 0xff, 0, 0xde, 0xad}
	rc.writeFrame(append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...))
	b, err := rc.readFrame()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	if err := resp.ReadFrom(b[4:]); err != nil {
		t.Fatalf("decode v0 response: %v", err)
	}
	if resp.ErrorCode != kerr.UnsupportedVersion.Code || len(resp.ApiKeys) == 0 {
		t.Fatalf("ApiVersions v99: error %d with %d keys, want UNSUPPORTED_VERSION and our ranges", resp.ErrorCode, len(resp.ApiKeys))
	}
	for _, k := range resp.ApiKeys {
		if k.ApiKey == 0 && (k.MinVersion != 0 || k.MaxVersion < 9) {
			t.Fatalf("Produce advertised %d-%d, want 0-...(KAFKA-18659)", k.MinVersion, k.MaxVersion)
		}
	}
}

func TestProduceBadInputGetsKafkaErrors(t *testing.T) {
	tn := startNode(t, withAutoCreate(false))
	limit := "1000"
	tn.createTopic("bad", 1, map[string]*string{"max.message.bytes": &limit})
	good := batch(t, "ok")

	badCRC := batch(t, "crc")
	badCRC[len(badCRC)-1] ^= 0xff
	badMagic := batch(t, "magic")
	badMagic[16] = 1
	badLength := batch(t, "length")[:40]
	countMismatch := batch(t, "a", "b")
	binary.BigEndian.PutUint32(countMismatch[57:], 3) // record count
	binary.BigEndian.PutUint32(countMismatch[23:], 2) // last offset delta
	binary.BigEndian.PutUint32(countMismatch[17:], record.Checksum(countMismatch))

	tests := []struct {
		name string
		give *kmsg.ProduceRequest
		want *kerr.Error
	}{
		{"bad crc", produceReq(9, -1, "bad", badCRC), kerr.CorruptMessage},
		{"bad magic", produceReq(9, -1, "bad", badMagic), kerr.CorruptMessage},
		{"truncated batch", produceReq(9, -1, "bad", badLength), kerr.CorruptMessage},
		{"record count does not match records", produceReq(9, -1, "bad", countMismatch), kerr.CorruptMessage},
		{"over max.message.bytes", produceReq(9, -1, "bad", batch(t, string(make([]byte, 2000)))), kerr.MessageTooLarge},
		{"unknown topic", produceReq(9, -1, "nope", good), kerr.UnknownTopicOrPartition},
		{"invalid acks", produceReq(9, 2, "bad", good), kerr.InvalidRequiredAcks},
		{"produce v2 is refused", produceReq(2, -1, "bad", good), kerr.UnsupportedVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := dialRaw(t, tn.addr)
			code, _ := produceCode(t, rc, tt.give)
			if code != tt.want.Code {
				t.Fatalf("error code %d (%v), want %s", code, kerr.ErrorForCode(code), tt.want.Message)
			}
			if hw := highWatermark(t, tn.addr, "bad"); hw != 0 {
				t.Fatalf("high watermark %d after a rejected produce: something was appended", hw)
			}
		})
	}
	rc := dialRaw(t, tn.addr)
	if code, off := produceCode(t, rc, produceReq(9, -1, "bad", good)); code != 0 || off != 0 {
		t.Fatalf("good produce after bad input: code %d offset %d", code, off)
	}
}

func TestMetadataUnknownTopicWithoutAutoCreate(t *testing.T) {
	tn := startNode(t, withAutoCreate(false))
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	req.AllowAutoTopicCreation = true
	name := "missing"
	req.Topics = []kmsg.MetadataRequestTopic{{Topic: &name}}
	resp := dialRaw(t, tn.addr).send(req).(*kmsg.MetadataResponse)
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("metadata for a missing topic: %+v", resp.Topics)
	}
}

func TestMetadataAutoCreatesTopic(t *testing.T) {
	tn := startNode(t)
	req := kmsg.NewPtrMetadataRequest()
	req.Version = 12
	req.AllowAutoTopicCreation = true
	name := "auto"
	req.Topics = []kmsg.MetadataRequestTopic{{Topic: &name}}
	resp := dialRaw(t, tn.addr).send(req).(*kmsg.MetadataResponse)
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 || len(resp.Topics[0].Partitions) != 1 || resp.Topics[0].TopicID == [16]byte{} {
		t.Fatalf("auto-created topic: %+v", resp.Topics)
	}
	if code, _ := produceCode(t, dialRaw(t, tn.addr), produceReq(9, 1, "auto", batch(t, "x"))); code != 0 {
		t.Fatalf("produce to auto-created topic: %d", code)
	}
}

func TestIdempotentProduceSequences(t *testing.T) {
	tn := startNode(t)
	tn.createTopic("idem", 1, nil)
	rc := dialRaw(t, tn.addr)
	init := kmsg.NewPtrInitProducerIDRequest()
	init.Version = 4
	ir := rc.send(init).(*kmsg.InitProducerIDResponse)
	if ir.ErrorCode != 0 || ir.ProducerID < 0 {
		t.Fatalf("InitProducerId: code %d id %d", ir.ErrorCode, ir.ProducerID)
	}
	pid, epoch := ir.ProducerID, ir.ProducerEpoch
	steps := []struct {
		name       string
		give       []byte
		wantCode   *kerr.Error
		wantOffset int64
	}{
		{"first batch", idempotentBatch(t, pid, epoch, 0, "a", "b"), nil, 0},
		{"next batch", idempotentBatch(t, pid, epoch, 2, "c"), nil, 2},
		{"retry of the first batch answers its original offset", idempotentBatch(t, pid, epoch, 0, "a", "b"), nil, 0},
		{"retry of the second batch", idempotentBatch(t, pid, epoch, 2, "c"), nil, 2},
		{"sequence gap", idempotentBatch(t, pid, epoch, 5, "d"), kerr.OutOfOrderSequenceNumber, -1},
		{"stale epoch", idempotentBatch(t, pid, epoch-1, 3, "d"), kerr.InvalidProducerEpoch, -1},
		{"in order after errors", idempotentBatch(t, pid, epoch, 3, "d"), nil, 3},
	}
	for _, s := range steps {
		code, off := produceCode(t, rc, produceReq(9, -1, "idem", s.give))
		want := int16(0)
		if s.wantCode != nil {
			want = s.wantCode.Code
		}
		if code != want || (want == 0 && off != s.wantOffset) {
			t.Fatalf("%s: code %d offset %d, want code %d offset %d", s.name, code, off, want, s.wantOffset)
		}
	}
	if hw := highWatermark(t, tn.addr, "idem"); hw != 4 {
		t.Fatalf("high watermark %d, want 4: retries must not be appended twice", hw)
	}
	// A second producer gets a different id.
	ir2 := rc.send(init).(*kmsg.InitProducerIDResponse)
	if ir2.ProducerID == pid {
		t.Fatalf("InitProducerId handed out %d twice", pid)
	}
}

func TestIdleConnectionsAreClosed(t *testing.T) {
	tn := startNode(t, func(s *configStatic) { s.ConnectionsMaxIdle = 200 * time.Millisecond })
	rc := dialRaw(t, tn.addr)
	stillServes(t, tn.addr)
	rc.expectClosed()
}

// rawRequest sends req to addr on a new connection and reads its answer,
// all within timeout.
func rawRequest(addr string, req kmsg.Request, timeout time.Duration) (kmsg.Response, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	const corr = 1
	if _, err := conn.Write(kmsg.NewRequestFormatter(kmsg.FormatterClientID("liveness")).AppendRequest(nil, req, corr)); err != nil {
		return nil, err
	}
	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		return nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(conn, body); err != nil {
		return nil, err
	}
	if len(body) < 4 || int32(binary.BigEndian.Uint32(body)) != corr {
		return nil, fmt.Errorf("%T response: bad correlation id", req)
	}
	body = body[4:]
	resp := req.ResponseKind()
	if resp.IsFlexible() && req.Key() != int16(kmsg.ApiVersions) && len(body) > 0 {
		body = body[1:]
	}
	if err := resp.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("decoding %T: %w", resp, err)
	}
	return resp, nil
}
