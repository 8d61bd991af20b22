package restproxy

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
)

// explicitPartition marks, in a record's Context, a record whose Partition
// the request chose; other records are partitioned as Kafka's Java client
// does (murmur2 of the key, sticky without one).
type explicitPartition struct{}

// partitioner honours explicit partitions and otherwise defers to kgo's
// StickyKeyPartitioner.
type partitioner struct{ inner kgo.Partitioner }

func newPartitioner() kgo.Partitioner { return partitioner{kgo.StickyKeyPartitioner(nil)} }

func (p partitioner) ForTopic(t string) kgo.TopicPartitioner {
	return &topicPartitioner{inner: p.inner.ForTopic(t)}
}

type topicPartitioner struct{ inner kgo.TopicPartitioner }

func isExplicit(r *kgo.Record) bool {
	return r.Context != nil && r.Context.Value(explicitPartition{}) != nil
}

func (tp *topicPartitioner) RequiresConsistency(r *kgo.Record) bool {
	return isExplicit(r) || tp.inner.RequiresConsistency(r)
}

func (tp *topicPartitioner) Partition(r *kgo.Record, n int) int {
	if isExplicit(r) {
		return int(r.Partition) // checked against the topic's partitions before producing
	}
	return tp.inner.Partition(r, n)
}

// OnNewBatch lets the sticky partitioner move on to another partition.
func (tp *topicPartitioner) OnNewBatch() {
	if nb, ok := tp.inner.(kgo.TopicPartitionerOnNewBatch); ok {
		nb.OnNewBatch()
	}
}

// v2ProduceRequest is the body of a v2 produce.
type v2ProduceRequest struct {
	Records []v2ProduceRecord `json:"records"`
	// Schema fields of Confluent's proxy: refused, there is no registry.
	KeySchema     json.RawMessage `json:"key_schema"`
	KeySchemaID   json.RawMessage `json:"key_schema_id"`
	ValueSchema   json.RawMessage `json:"value_schema"`
	ValueSchemaID json.RawMessage `json:"value_schema_id"`
}

type v2ProduceRecord struct {
	Key       json.RawMessage `json:"key"`
	Value     json.RawMessage `json:"value"`
	Partition *int32          `json:"partition"`
}

type v2ProduceResponse struct {
	KeySchemaID   *int32        `json:"key_schema_id"`
	ValueSchemaID *int32        `json:"value_schema_id"`
	Offsets       []v2RecordAck `json:"offsets"`
}

// v2RecordAck is one record's outcome: partition and offset, or an error
// code (50002 Kafka error, 50003 retriable) and message.
type v2RecordAck struct {
	Partition *int32  `json:"partition"`
	Offset    *int64  `json:"offset"`
	ErrorCode *int    `json:"error_code"`
	Error     *string `json:"error"`
}

// embeddedBytes turns a key or value of a v2 record into bytes: base64 for
// binary, the JSON text (compacted) for json. Absent and null are a null
// key or value.
func embeddedBytes(f embeddedFormat, raw json.RawMessage, what string) ([]byte, *restError) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if f == formatJSON {
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			return nil, badRequest("%s: %v", what, err)
		}
		return b.Bytes(), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, unprocessable("%s: want a base64 string for the binary format", what)
	}
	data, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, unprocessable("%s: not base64: %v", what, err)
	}
	return data, nil
}

// produceToTopic: POST /topics/{topic}.
func (p *Proxy) produceToTopic(w http.ResponseWriter, r *http.Request) *restError {
	return p.produceV2(w, r, -1)
}

// produceToPartition: POST /topics/{topic}/partitions/{partition}.
func (p *Proxy) produceToPartition(w http.ResponseWriter, r *http.Request) *restError {
	n, err := strconv.ParseInt(r.PathValue("partition"), 10, 32)
	if err != nil || n < 0 {
		return errorf(http.StatusNotFound, codePartitionNotFound, "Partition not found: %q", r.PathValue("partition"))
	}
	return p.produceV2(w, r, int32(n))
}

// produceV2 produces the records of a v2 request to topic, to partition
// when it is not -1. Records go out in request order; the response lists
// each one's partition and offset or error, in the same order.
func (p *Proxy) produceV2(w http.ResponseWriter, r *http.Request, partition int32) *restError {
	topic := r.PathValue("topic")
	format, e := produceFormat(r)
	if e != nil {
		return e
	}
	body, e := p.readBody(w, r)
	if e != nil {
		return e
	}
	var req v2ProduceRequest
	if len(body) == 0 {
		return unprocessable("request body is empty: want {\"records\": [...]}")
	}
	if e := decodeJSON(body, &req); e != nil {
		return e
	}
	if req.KeySchema != nil || req.KeySchemaID != nil || req.ValueSchema != nil || req.ValueSchemaID != nil {
		return errorf(http.StatusUnprocessableEntity, http.StatusUnprocessableEntity,
			"schemas need a schema registry, which Strata's REST proxy does not have")
	}
	if len(req.Records) == 0 {
		return unprocessable("records may not be empty")
	}
	ctx, cancel := p.requestContext(r)
	defer cancel()
	t, e := p.topic(ctx, topic)
	if e != nil {
		return e
	}
	if partition >= 0 {
		if _, ok := t.lookup(partition); !ok {
			return partitionNotFound(topic, partition)
		}
	}
	explicit := context.WithValue(ctx, explicitPartition{}, true)
	recs := make([]*kgo.Record, len(req.Records))
	for i, pr := range req.Records {
		key, e := embeddedBytes(format, pr.Key, fmt.Sprintf("records[%d].key", i))
		if e != nil {
			return e
		}
		value, e := embeddedBytes(format, pr.Value, fmt.Sprintf("records[%d].value", i))
		if e != nil {
			return e
		}
		rec := &kgo.Record{Topic: topic, Key: key, Value: value}
		switch {
		case pr.Partition != nil && partition >= 0 && *pr.Partition != partition:
			return unprocessable("records[%d].partition %d differs from the partition %d in the URL", i, *pr.Partition, partition)
		case pr.Partition != nil:
			if _, ok := t.lookup(*pr.Partition); !ok {
				return partitionNotFound(topic, *pr.Partition)
			}
			rec.Partition, rec.Context = *pr.Partition, explicit
		case partition >= 0:
			rec.Partition, rec.Context = partition, explicit
		}
		recs[i] = rec
	}
	resp := v2ProduceResponse{Offsets: make([]v2RecordAck, len(recs))}
	for i, res := range p.produceAll(ctx, recs) {
		if res.err != nil {
			_, code := kafkaErrorCode(res.err)
			msg := res.err.Error()
			resp.Offsets[i] = v2RecordAck{ErrorCode: &code, Error: &msg}
			continue
		}
		part, off := res.rec.Partition, res.rec.Offset
		resp.Offsets[i] = v2RecordAck{Partition: &part, Offset: &off}
	}
	writeJSON(w, http.StatusOK, contentTypeV2, resp)
	return nil
}

// produced is the outcome of one record.
type produced struct {
	rec *kgo.Record
	err error
}

// errAckTimeout is a record not acknowledged before the request's
// deadline: it may still be written.
var errAckTimeout = errors.New("no acknowledgement before the request timeout; the record may still be written")

// produceAll produces recs and waits, until ctx ends, for each one's
// acknowledgement; the results are in recs' order. A record not
// acknowledged by then gets errAckTimeout (kgo keeps it buffered, within
// MaxBufferedBytes, and may still deliver it).
func (p *Proxy) produceAll(ctx context.Context, recs []*kgo.Record) []produced {
	type done struct {
		i int
		produced
	}
	ch := make(chan done, len(recs)) // one send per record: promises never block
	out := make([]produced, len(recs))
	for i, rec := range recs {
		p.client.Produce(ctx, rec, func(r *kgo.Record, err error) { ch <- done{i, produced{r, err}} })
	}
	for range recs {
		select {
		case d := <-ch:
			out[d.i] = d.produced
		case <-ctx.Done():
			for i := range out {
				if out[i].rec == nil {
					out[i] = produced{recs[i], errAckTimeout}
				}
			}
			return out
		}
	}
	return out
}
