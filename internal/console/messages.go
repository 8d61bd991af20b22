package console

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Limits of the message browser.
const (
	defaultBrowseLimit = 50
	maxBrowseLimit     = 500
	defaultBrowseBytes = 1 << 20
	maxBrowseBytes     = 8 << 20
	// fieldMax is the most of one key, value or header value a browse
	// returns; longer ones are cut and marked truncated.
	fieldMax = 64 << 10
	// maxFetchesPerPartition bounds the Fetch round trips one partition
	// may take in one browse (a run of aborted or control batches may
	// return no records while moving forward).
	maxFetchesPerPartition = 32
	// recordOverhead is what a record costs against the byte budget
	// besides its key, value and headers (offsets, timestamps, JSON).
	recordOverhead = 64
)

// browseQuery is the parsed query of GET .../messages.
type browseQuery struct {
	partition int32 // -1: every partition
	from      string
	offset    int64
	timestamp int64
	limit     int
	maxBytes  int
	isolation kgo.IsolationLevel
	committed bool // isolation is read_committed
}

func parseBrowseQuery(q url.Values) (browseQuery, error) {
	b := browseQuery{partition: -1, from: "latest", limit: defaultBrowseLimit, maxBytes: defaultBrowseBytes, isolation: kgo.ReadUncommitted()}
	if s := q.Get("partition"); s != "" && s != "all" {
		p, err := strconv.ParseInt(s, 10, 32)
		if err != nil || p < 0 {
			return b, badRequest("partition %q is not a partition number (or \"all\")", s)
		}
		b.partition = int32(p)
	}
	if s := q.Get("from"); s != "" {
		b.from = s
	}
	switch b.from {
	case "latest", "earliest":
	case "offset":
		s := q.Get("offset")
		o, err := strconv.ParseInt(s, 10, 64)
		if err != nil || o < 0 {
			return b, badRequest("from=offset needs offset, a non-negative number; got %q", s)
		}
		b.offset = o
	case "timestamp":
		s := q.Get("timestamp")
		ms, err := parseTimestamp(s)
		if err != nil {
			return b, err
		}
		b.timestamp = ms
	default:
		return b, badRequest("from must be latest, earliest, offset or timestamp; got %q", b.from)
	}
	var err error
	if b.limit, err = intParam(q, "limit", defaultBrowseLimit, 1, maxBrowseLimit); err != nil {
		return b, err
	}
	if b.maxBytes, err = intParam(q, "max_bytes", defaultBrowseBytes, 1, maxBrowseBytes); err != nil {
		return b, err
	}
	switch s := q.Get("isolation"); s {
	case "", "read_uncommitted":
	case "read_committed":
		b.isolation, b.committed = kgo.ReadCommitted(), true
	default:
		return b, badRequest("isolation must be read_uncommitted or read_committed; got %q", s)
	}
	return b, nil
}

func intParam(q url.Values, name string, def, lo, hi int) (int, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, badRequest("%s must be a number from %d to %d; got %q", name, lo, hi, s)
	}
	return n, nil
}

// parseTimestamp takes Unix milliseconds or an RFC 3339 time.
func parseTimestamp(s string) (int64, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil && ms >= 0 {
		return ms, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.UnixMilli() < 0 {
		return 0, badRequest("timestamp %q: want Unix milliseconds or RFC 3339 (2006-01-02T15:04:05Z) after 1970", s)
	}
	return t.UnixMilli(), nil
}

// recordView is one record in a browse. Keys and values are base64 in
// JSON (null for a null key or value); the UI shows them as text, JSON or
// hex.
type recordView struct {
	Partition      int32        `json:"partition"`
	Offset         int64        `json:"offset"`
	TimestampMs    int64        `json:"timestamp_ms"`
	TimestampType  string       `json:"timestamp_type"`
	LeaderEpoch    int32        `json:"leader_epoch"`
	ProducerID     int64        `json:"producer_id"`
	Key            []byte       `json:"key"`
	KeySize        int          `json:"key_size"`
	KeyTruncated   bool         `json:"key_truncated,omitempty"`
	Value          []byte       `json:"value"`
	ValueSize      int          `json:"value_size"`
	ValueTruncated bool         `json:"value_truncated,omitempty"`
	Headers        []headerView `json:"headers"`
}

type headerView struct {
	Key       string `json:"key"`
	Value     []byte `json:"value"`
	Size      int    `json:"size"`
	Truncated bool   `json:"truncated,omitempty"`
}

// browsedPartition tells where a browse read in one partition.
type browsedPartition struct {
	Partition      int32  `json:"partition"`
	LogStartOffset int64  `json:"log_start_offset"`
	EndOffset      int64  `json:"end_offset"` // high watermark, or last stable offset for read_committed
	FromOffset     int64  `json:"from_offset"`
	NextOffset     int64  `json:"next_offset"` // where reading on would continue
	Error          string `json:"error,omitempty"`
}

type browseView struct {
	Topic      string             `json:"topic"`
	Records    []recordView       `json:"records"`
	Partitions []browsedPartition `json:"partitions"`
	// Truncated says the byte budget (max_bytes) ended the browse before
	// the record limit or the end of the log.
	Truncated bool `json:"truncated"`
}

func (c *Console) browseMessages(ctx context.Context, r *request) (any, error) {
	topic := r.param("topic")
	q, err := parseBrowseQuery(r.URL.Query())
	if err != nil {
		return nil, err
	}
	t, err := c.lookupTopic(ctx, topic)
	if err != nil {
		return nil, err
	}
	parts := t.Partitions.Numbers()
	slices.Sort(parts)
	if q.partition >= 0 {
		if _, ok := t.Partitions[q.partition]; !ok {
			return nil, notFound("partition %d of topic %q does not exist (it has %d)", q.partition, topic, len(t.Partitions))
		}
		parts = []int32{q.partition}
	}
	starts, err := c.adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("list log start offsets: %w", err)
	}
	var ends kadm.ListedOffsets
	if q.committed {
		ends, err = c.adm.ListCommittedOffsets(ctx, topic)
	} else {
		ends, err = c.adm.ListEndOffsets(ctx, topic)
	}
	if err != nil {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}
	var byTime kadm.ListedOffsets
	if q.from == "timestamp" {
		if byTime, err = c.adm.ListOffsetsAfterMilli(ctx, q.timestamp, topic); err != nil {
			return nil, fmt.Errorf("list offsets by time: %w", err)
		}
	}

	v := browseView{Topic: topic, Records: []recordView{}, Partitions: []browsedPartition{}}
	budget := q.maxBytes
	for _, p := range parts {
		bp := browsedPartition{Partition: p, LogStartOffset: -1, EndOffset: -1, FromOffset: -1, NextOffset: -1}
		start, serr := listed(starts, topic, p)
		end, eerr := listed(ends, topic, p)
		if err := errors.Join(serr, eerr); err != nil {
			if len(parts) == 1 {
				return nil, err
			}
			bp.Error = err.Error()
			v.Partitions = append(v.Partitions, bp)
			continue
		}
		bp.LogStartOffset, bp.EndOffset = start, end
		var from int64
		switch q.from {
		case "earliest":
			from = start
		case "latest":
			from = max(start, end-int64(q.limit))
		case "offset":
			from = q.offset
		case "timestamp":
			o, err := listed(byTime, topic, p)
			if err != nil {
				bp.Error = err.Error()
				v.Partitions = append(v.Partitions, bp)
				continue
			}
			from = o
			if from < 0 {
				from = end // nothing at or after the time
			}
		}
		from = min(max(from, start), end)
		bp.FromOffset, bp.NextOffset = from, from
		if budget <= 0 {
			v.Truncated = v.Truncated || from < end
			v.Partitions = append(v.Partitions, bp)
			continue
		}
		recs, next, err := c.readPartition(ctx, t, p, from, end, q, &budget)
		bp.NextOffset = next
		if err != nil {
			if len(parts) == 1 {
				return nil, err
			}
			bp.Error = err.Error()
		}
		if budget <= 0 && next < end && len(recs) < q.limit {
			v.Truncated = true
		}
		v.Records = append(v.Records, recs...)
		v.Partitions = append(v.Partitions, bp)
	}
	if len(parts) > 1 {
		slices.SortStableFunc(v.Records, func(a, b recordView) int {
			switch {
			case a.TimestampMs != b.TimestampMs:
				return cmpInt64(a.TimestampMs, b.TimestampMs)
			case a.Partition != b.Partition:
				return int(a.Partition - b.Partition)
			}
			return cmpInt64(a.Offset, b.Offset)
		})
		if n := len(v.Records); n > q.limit {
			if q.from == "latest" {
				v.Records = v.Records[n-q.limit:]
			} else {
				v.Records = v.Records[:q.limit]
			}
		}
	}
	return v, nil
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// listed returns one partition's offset from a ListOffsets answer.
func listed(l kadm.ListedOffsets, topic string, p int32) (int64, error) {
	o, ok := l.Lookup(topic, p)
	switch {
	case !ok:
		return 0, fmt.Errorf("partition %d: missing from the ListOffsets answer", p)
	case o.Err != nil:
		return 0, fmt.Errorf("partition %d: list offsets: %w", p, o.Err)
	}
	return o.Offset, nil
}

// readPartition fetches records [from, end) of one partition from its
// leader, at most q.limit of them and until *budget bytes are spent. It
// returns the records and the offset reading would continue at.
func (c *Console) readPartition(ctx context.Context, t kadm.TopicDetail, p int32, from, end int64, q browseQuery, budget *int) ([]recordView, int64, error) {
	leader := t.Partitions[p].Leader
	if leader < 0 {
		return nil, from, fmt.Errorf("partition %d: %w", p, kerr.LeaderNotAvailable)
	}
	var out []recordView
	off := from
	for fetches := 0; off < end && len(out) < q.limit && *budget > 0 && fetches < maxFetchesPerPartition; fetches++ {
		req := kmsg.NewPtrFetchRequest()
		req.MaxWaitMillis = 0
		req.MinBytes = 1
		req.MaxBytes = int32(min(*budget, defaultBrowseBytes))
		if q.committed {
			req.IsolationLevel = 1
		}
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = t.Topic, t.ID
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p, off, req.MaxBytes
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		kresp, err := c.cl.Broker(int(leader)).Request(ctx, req)
		if err != nil {
			return out, off, fmt.Errorf("partition %d: fetch from broker %d: %w", p, leader, err)
		}
		resp := kresp.(*kmsg.FetchResponse)
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			return out, off, fmt.Errorf("partition %d: fetch: %w", p, err)
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			return out, off, fmt.Errorf("partition %d: fetch answered %d topics, want one partition", p, len(resp.Topics))
		}
		fpart := &resp.Topics[0].Partitions[0]
		if err := kerr.ErrorForCode(fpart.ErrorCode); err != nil {
			return out, off, fmt.Errorf("partition %d: fetch: %w", p, err)
		}
		fp, next := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{
			Offset: off, IsolationLevel: q.isolation, Topic: t.Topic, Partition: p,
		}, fpart, c.decompressor, nil)
		for _, rec := range fp.Records {
			if rec.Offset < off || rec.Offset >= end {
				continue
			}
			rv := toRecordView(rec)
			out = append(out, rv)
			*budget -= rv.cost()
			if len(out) >= q.limit || *budget <= 0 {
				return out, rec.Offset + 1, nil
			}
		}
		if fp.Err != nil && len(fp.Records) == 0 {
			return out, off, fmt.Errorf("partition %d: decode records at offset %d: %w", p, off, fp.Err)
		}
		if next <= off {
			break // nothing more readable now
		}
		off = next
	}
	return out, min(off, end), nil
}

func toRecordView(r *kgo.Record) recordView {
	rv := recordView{
		Partition: r.Partition, Offset: r.Offset, TimestampMs: r.Timestamp.UnixMilli(),
		TimestampType: "CreateTime", LeaderEpoch: r.LeaderEpoch, ProducerID: r.ProducerID,
		Headers: []headerView{},
	}
	if r.Attrs.TimestampType() == 1 {
		rv.TimestampType = "LogAppendTime"
	}
	rv.Key, rv.KeySize, rv.KeyTruncated = cut(r.Key)
	rv.Value, rv.ValueSize, rv.ValueTruncated = cut(r.Value)
	for _, h := range r.Headers {
		hv := headerView{Key: h.Key}
		hv.Value, hv.Size, hv.Truncated = cut(h.Value)
		rv.Headers = append(rv.Headers, hv)
	}
	return rv
}

// cut keeps at most fieldMax bytes of b, keeping nil as nil.
func cut(b []byte) ([]byte, int, bool) {
	if len(b) > fieldMax {
		return b[:fieldMax], len(b), true
	}
	return b, len(b), false
}

// cost is what a record takes from a browse's byte budget: its bytes as
// returned, base64 grown.
func (rv *recordView) cost() int {
	n := len(rv.Key) + len(rv.Value)
	for _, h := range rv.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n*4/3 + recordOverhead
}

// produceBody is POST /console/api/topics/{topic}/records. Key, value and
// header values are text, or base64 with "encoding": "base64"; a missing
// key or value is null.
type produceBody struct {
	Partition *int32       `json:"partition"`
	Key       *string      `json:"key"`
	Value     *string      `json:"value"`
	Headers   []headerBody `json:"headers"`
	Encoding  string       `json:"encoding"`
}

type headerBody struct {
	Key   string  `json:"key"`
	Value *string `json:"value"`
}

func (c *Console) produceRecord(ctx context.Context, r *request) (any, error) {
	topic := r.param("topic")
	var b produceBody
	if err := r.decodeBody(&b); err != nil {
		return nil, err
	}
	var decode func(field string, s *string) ([]byte, error)
	switch b.Encoding {
	case "", "text":
		decode = func(_ string, s *string) ([]byte, error) {
			if s == nil {
				return nil, nil
			}
			return []byte(*s), nil
		}
	case "base64":
		decode = func(field string, s *string) ([]byte, error) {
			if s == nil {
				return nil, nil
			}
			out, err := base64.StdEncoding.DecodeString(*s)
			if err != nil {
				return nil, badRequest("%s is not base64: %v", field, err)
			}
			return out, nil
		}
	default:
		return nil, badRequest("encoding must be text or base64; got %q", b.Encoding)
	}
	rec := &kgo.Record{Topic: topic, Partition: -1}
	var err error
	if rec.Key, err = decode("key", b.Key); err != nil {
		return nil, err
	}
	if rec.Value, err = decode("value", b.Value); err != nil {
		return nil, err
	}
	for i, h := range b.Headers {
		if h.Key == "" {
			return nil, badRequest("header %d has an empty key", i)
		}
		v, err := decode(fmt.Sprintf("header %q", h.Key), h.Value)
		if err != nil {
			return nil, err
		}
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: h.Key, Value: v})
	}
	if b.Partition != nil && *b.Partition < 0 {
		return nil, badRequest("partition must not be negative; leave it out to let the key choose")
	}
	t, err := c.lookupTopic(ctx, topic)
	if err != nil {
		return nil, err
	}
	if b.Partition != nil {
		if _, ok := t.Partitions[*b.Partition]; !ok {
			return nil, notFound("partition %d of topic %q does not exist (it has %d)", *b.Partition, topic, len(t.Partitions))
		}
		rec.Partition = *b.Partition
	}
	if err := c.cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return nil, fmt.Errorf("produce to %q: %w", topic, err)
	}
	return created{map[string]any{
		"topic": topic, "partition": rec.Partition, "offset": rec.Offset, "timestamp_ms": rec.Timestamp.UnixMilli(),
	}}, nil
}
