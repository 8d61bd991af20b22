package restproxy

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// createInstanceRequest is the body of POST /consumers/{group}. The
// auto.* settings are strings in Confluent's API; true/false and numbers
// are accepted too.
type createInstanceRequest struct {
	Name             string          `json:"name"`
	ID               string          `json:"id"`
	Format           string          `json:"format"`
	AutoOffsetReset  json.RawMessage `json:"auto.offset.reset"`
	AutoCommitEnable json.RawMessage `json:"auto.commit.enable"`
	FetchMinBytes    json.RawMessage `json:"fetch.min.bytes"`
	RequestTimeout   json.RawMessage `json:"consumer.request.timeout.ms"`
}

type createInstanceResponse struct {
	InstanceID string `json:"instance_id"`
	BaseURI    string `json:"base_uri"`
}

// scalar returns a JSON string's text, or a number's or boolean's
// literal; "" for absent or null.
func scalar(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", true
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return "", false
	}
	switch v.(type) {
	case bool, float64:
		return string(raw), true
	}
	return "", false
}

// validName reports whether s can name a group or an instance in a URL
// path: 1-255 bytes, no '/', no control characters.
func validName(s string) bool {
	if s == "" || len(s) > 255 || strings.Contains(s, "/") {
		return false
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// createInstance: POST /consumers/{group}.
func (p *Proxy) createInstance(w http.ResponseWriter, r *http.Request) *restError {
	group := r.PathValue("group")
	if !validName(group) {
		return unprocessable("consumer group name %q: want 1-255 bytes without '/' or control characters", group)
	}
	body, e := p.readBody(w, r)
	if e != nil {
		return e
	}
	var req createInstanceRequest
	if len(body) > 0 {
		if e := decodeJSON(body, &req); e != nil {
			return e
		}
	}
	name := req.Name
	if req.ID != "" {
		name = req.ID // an explicit id overrides the name, as in Confluent's proxy
	}
	if name == "" {
		name = newInstanceName()
	}
	if !validName(name) {
		return invalidConsumerConfig("instance name %q: want 1-255 bytes without '/' or control characters", name)
	}
	inst := &instance{p: p, group: group, name: name, format: formatBinary, reset: kgo.NewOffset().AtEnd(),
		autoCommit: true, pollWait: p.cfg.ConsumerRequestTimeout, busy: make(chan struct{}, 1),
		owned: map[tp]bool{}, returned: map[tp]kgo.EpochOffset{}, pendingSeek: map[tp]pendingSeek{}}
	switch f := strings.ToLower(req.Format); {
	case f == "" || f == "binary":
	case f == "json":
		inst.format = formatJSON
	case schemaFormats[f]:
		return invalidConsumerConfig("format %q needs a schema registry, which Strata's REST proxy does not have; use binary or json", req.Format)
	default:
		return invalidConsumerConfig("format %q: want binary or json", req.Format)
	}
	s, ok := scalar(req.AutoOffsetReset)
	switch strings.ToLower(s) {
	case "latest", "largest", "":
	case "earliest", "smallest":
		inst.reset = kgo.NewOffset().AtStart()
	case "none":
		inst.reset = kgo.NoResetOffset()
	default:
		ok = false
	}
	if !ok {
		return invalidConsumerConfig("auto.offset.reset %s: want earliest, latest or none", req.AutoOffsetReset)
	}
	s, ok = scalar(req.AutoCommitEnable)
	switch strings.ToLower(s) {
	case "true", "":
	case "false":
		inst.autoCommit = false
	default:
		ok = false
	}
	if !ok {
		return invalidConsumerConfig("auto.commit.enable %s: want true or false", req.AutoCommitEnable)
	}
	if s, ok := scalar(req.FetchMinBytes); !ok || s != "" && !isInt(s) {
		return invalidConsumerConfig("fetch.min.bytes %s: want an integer", req.FetchMinBytes)
	}
	s, ok = scalar(req.RequestTimeout)
	if ok && s != "" {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil || ms <= 0 {
			ok = false
		} else {
			inst.pollWait = min(time.Duration(ms)*time.Millisecond, p.cfg.MaxConsumerRequestTimeout)
		}
	}
	if !ok {
		return invalidConsumerConfig("consumer.request.timeout.ms %s: want a positive integer", req.RequestTimeout)
	}
	inst.ctx, inst.cancel = context.WithCancel(context.Background())
	if e := p.insts.add(inst); e != nil {
		inst.cancel()
		return e
	}
	p.cfg.Logger.Debug("consumer instance created", "group", group, "instance", name)
	writeJSON(w, http.StatusOK, contentTypeV2, createInstanceResponse{
		InstanceID: name,
		BaseURI:    p.baseURL(r) + "/consumers/" + url.PathEscape(group) + "/instances/" + url.PathEscape(name),
	})
	return nil
}

func isInt(s string) bool {
	_, err := strconv.ParseInt(s, 10, 64)
	return err == nil
}

// deleteInstance: DELETE /consumers/{group}/instances/{instance}.
func (p *Proxy) deleteInstance(w http.ResponseWriter, r *http.Request) *restError {
	inst := p.insts.remove(r.PathValue("group"), r.PathValue("instance"))
	if inst == nil {
		return instanceNotFound(r.PathValue("group"), r.PathValue("instance"))
	}
	inst.close()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// withInstance runs fn on the instance named in the path, with its body
// decoded into req when req is not nil (an empty body leaves req alone
// unless bodyRequired).
func (p *Proxy) withInstance(w http.ResponseWriter, r *http.Request, req any, bodyRequired bool,
	fn func(ctx context.Context, inst *instance) *restError) *restError {
	if req != nil {
		body, e := p.readBody(w, r)
		if e != nil {
			return e
		}
		if len(body) == 0 && bodyRequired {
			return unprocessable("request body is empty")
		}
		if len(body) > 0 {
			if e := decodeJSON(body, req); e != nil {
				return e
			}
		}
	}
	ctx, cancel := p.requestContext(r)
	defer cancel()
	inst, e := p.insts.acquire(ctx, r.PathValue("group"), r.PathValue("instance"))
	if e != nil {
		return e
	}
	defer p.insts.release(inst)
	return fn(ctx, inst)
}

type subscriptionRequest struct {
	Topics       []string `json:"topics"`
	TopicPattern *string  `json:"topic_pattern"`
}

// subscribe: POST .../subscription.
func (p *Proxy) subscribe(w http.ResponseWriter, r *http.Request) *restError {
	var req subscriptionRequest
	return p.withInstance(w, r, &req, true, func(_ context.Context, inst *instance) *restError {
		switch {
		case req.TopicPattern != nil && req.Topics != nil:
			return illegalState("Subscription to topics, partitions and pattern are mutually exclusive.")
		case req.TopicPattern != nil:
			if err := validPattern(*req.TopicPattern); err != nil || *req.TopicPattern == "" {
				return unprocessable("topic_pattern %q: not a regular expression: %v", *req.TopicPattern, err)
			}
			if e := inst.subscribe([]string{*req.TopicPattern}, true); e != nil {
				return e
			}
		case req.Topics == nil:
			return unprocessable("want topics or topic_pattern")
		default:
			for _, t := range req.Topics {
				if !validTopicName(t) {
					return unprocessable("topic name %q is not valid", t)
				}
			}
			if e := inst.subscribe(req.Topics, false); e != nil {
				return e
			}
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// getSubscription: GET .../subscription.
func (p *Proxy) getSubscription(w http.ResponseWriter, r *http.Request) *restError {
	return p.withInstance(w, r, nil, false, func(_ context.Context, inst *instance) *restError {
		writeJSON(w, http.StatusOK, contentTypeV2, map[string][]string{"topics": inst.subscription()})
		return nil
	})
}

// unsubscribe: DELETE .../subscription.
func (p *Proxy) unsubscribe(w http.ResponseWriter, r *http.Request) *restError {
	return p.withInstance(w, r, nil, false, func(_ context.Context, inst *instance) *restError {
		if inst.mode == modeSubscribed {
			inst.stopClient()
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// v2TopicPartition is {"topic": ..., "partition": ...}.
type v2TopicPartition struct {
	Topic     string `json:"topic"`
	Partition *int32 `json:"partition"`
}

type partitionsRequest struct {
	Partitions []v2TopicPartition `json:"partitions"`
}

// parts validates a partition list.
func parts(in []v2TopicPartition, field string) ([]tp, *restError) {
	var out []tp
	for i, x := range in {
		pt, e := part(x.Topic, x.Partition, field, i)
		if e != nil {
			return nil, e
		}
		out = append(out, pt)
	}
	return out, nil
}

// part validates the partition of field[i].
func part(topic string, partition *int32, field string, i int) (tp, *restError) {
	if !validTopicName(topic) {
		return tp{}, unprocessable("%s[%d].topic %q is not a valid topic name", field, i, topic)
	}
	if partition == nil || *partition < 0 {
		return tp{}, unprocessable("%s[%d].partition: want a partition number >= 0", field, i)
	}
	return tp{topic, *partition}, nil
}

// v2Offset is {"topic": ..., "partition": ..., "offset": ...}.
type v2Offset struct {
	Topic     string `json:"topic"`
	Partition *int32 `json:"partition"`
	Offset    *int64 `json:"offset"`
}

// at validates offsets[i].
func (o v2Offset) at(i int) (tp, int64, *restError) {
	pt, e := part(o.Topic, o.Partition, "offsets", i)
	if e != nil {
		return pt, 0, e
	}
	if o.Offset == nil || *o.Offset < 0 {
		return pt, 0, unprocessable("offsets[%d].offset: want an offset >= 0", i)
	}
	return pt, *o.Offset, nil
}

// listedOffset is the offset listed for pt.
func listedOffset(listed kadm.ListedOffsets, pt tp) (int64, *restError) {
	lo, ok := listed.Lookup(pt.topic, pt.partition)
	if !ok {
		return 0, partitionNotFound(pt.topic, pt.partition)
	}
	if lo.Err != nil {
		return 0, kafkaError("list offsets", lo.Err)
	}
	return lo.Offset, nil
}

// assign: POST .../assignments.
func (p *Proxy) assign(w http.ResponseWriter, r *http.Request) *restError {
	var req partitionsRequest
	return p.withInstance(w, r, &req, true, func(ctx context.Context, inst *instance) *restError {
		if req.Partitions == nil {
			return unprocessable("want partitions")
		}
		ps, e := parts(req.Partitions, "partitions")
		if e != nil {
			return e
		}
		octx, cancel := inst.opContext(ctx, p.cfg.RequestTimeout)
		defer cancel()
		if e := inst.assign(octx, ps); e != nil {
			return e
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// getAssignments: GET .../assignments.
func (p *Proxy) getAssignments(w http.ResponseWriter, r *http.Request) *restError {
	return p.withInstance(w, r, nil, false, func(_ context.Context, inst *instance) *restError {
		out := []v2TopicPartition{}
		for _, pt := range inst.assignment() {
			out = append(out, v2TopicPartition{Topic: pt.topic, Partition: &pt.partition})
		}
		writeJSON(w, http.StatusOK, contentTypeV2, map[string][]v2TopicPartition{"partitions": out})
		return nil
	})
}

type seekRequest struct {
	Offsets    []v2Offset `json:"offsets"`
	Timestamps []struct {
		Topic     string     `json:"topic"`
		Partition *int32     `json:"partition"`
		Timestamp *time.Time `json:"timestamp"`
	} `json:"timestamps"`
}

// seek: POST .../positions, to offsets or to the first offset at or after
// a time.
func (p *Proxy) seek(w http.ResponseWriter, r *http.Request) *restError {
	var req seekRequest
	return p.withInstance(w, r, &req, true, func(ctx context.Context, inst *instance) *restError {
		target := map[tp]int64{}
		for i, o := range req.Offsets {
			pt, offset, e := o.at(i)
			if e != nil {
				return e
			}
			target[pt] = offset
		}
		octx, cancel := inst.opContext(ctx, p.cfg.RequestTimeout)
		defer cancel()
		for i, ts := range req.Timestamps {
			pt, e := part(ts.Topic, ts.Partition, "timestamps", i)
			if e != nil {
				return e
			}
			if ts.Timestamp == nil {
				return unprocessable("timestamps[%d].timestamp: want an RFC 3339 time", i)
			}
			listed, err := p.admin.ListOffsetsAfterMilli(octx, ts.Timestamp.UnixMilli(), ts.Topic)
			if err != nil {
				return kafkaError("list offsets", err)
			}
			if target[pt], e = listedOffset(listed, pt); e != nil {
				return e
			}
		}
		if len(target) == 0 {
			return unprocessable("want offsets or timestamps")
		}
		if e := inst.seek(target); e != nil {
			return e
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// seekToBeginning: POST .../positions/beginning.
func (p *Proxy) seekToBeginning(w http.ResponseWriter, r *http.Request) *restError {
	return p.seekToEnds(w, r, true)
}

// seekToEnd: POST .../positions/end.
func (p *Proxy) seekToEnd(w http.ResponseWriter, r *http.Request) *restError {
	return p.seekToEnds(w, r, false)
}

func (p *Proxy) seekToEnds(w http.ResponseWriter, r *http.Request, start bool) *restError {
	var req partitionsRequest
	return p.withInstance(w, r, &req, true, func(ctx context.Context, inst *instance) *restError {
		ps, e := parts(req.Partitions, "partitions")
		if e != nil {
			return e
		}
		if len(ps) == 0 {
			return unprocessable("want partitions")
		}
		for _, pt := range ps {
			if !inst.current(pt) {
				return illegalState("No current assignment for partition %s-%d", pt.topic, pt.partition)
			}
		}
		var topics []string
		for _, pt := range ps {
			topics = append(topics, pt.topic)
		}
		octx, cancel := inst.opContext(ctx, p.cfg.RequestTimeout)
		defer cancel()
		list := p.admin.ListEndOffsets
		if start {
			list = p.admin.ListStartOffsets
		}
		listed, err := list(octx, topics...)
		if err != nil {
			return kafkaError("list offsets", err)
		}
		target := map[tp]int64{}
		for _, pt := range ps {
			if target[pt], e = listedOffset(listed, pt); e != nil {
				return e
			}
		}
		if e := inst.seek(target); e != nil {
			return e
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// v2 consumed records: key and value base64 ([]byte) or raw JSON.
type binaryRecord struct {
	Topic     string `json:"topic"`
	Key       []byte `json:"key"`
	Value     []byte `json:"value"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

type jsonRecord struct {
	Topic     string          `json:"topic"`
	Key       json.RawMessage `json:"key"`
	Value     json.RawMessage `json:"value"`
	Partition int32           `json:"partition"`
	Offset    int64           `json:"offset"`
}

var errNotJSON = errors.New("key or value is not JSON; consume it with the binary format")

func toBinary(r *kgo.Record) (any, error) {
	return binaryRecord{Topic: r.Topic, Key: r.Key, Value: r.Value, Partition: r.Partition, Offset: r.Offset}, nil
}

func toJSON(r *kgo.Record) (any, error) {
	if r.Key != nil && !json.Valid(r.Key) || r.Value != nil && !json.Valid(r.Value) {
		return nil, errNotJSON
	}
	return jsonRecord{Topic: r.Topic, Key: r.Key, Value: r.Value, Partition: r.Partition, Offset: r.Offset}, nil
}

// records: GET .../records?timeout=ms&max_bytes=n.
func (p *Proxy) records(w http.ResponseWriter, r *http.Request) *restError {
	q := r.URL.Query()
	var timeout time.Duration
	if s := q.Get("timeout"); s != "" {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return badRequest("timeout %q: want milliseconds", s)
		}
		timeout = time.Duration(ms) * time.Millisecond
	}
	maxBytes := p.cfg.ConsumerRequestMaxBytes
	if s := q.Get("max_bytes"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return badRequest("max_bytes %q: want a number of bytes", s)
		}
		if n > 0 {
			maxBytes = min(n, maxBytes)
		}
	}
	return p.withInstance(w, r, nil, false, func(ctx context.Context, inst *instance) *restError {
		if f := acceptedFormat(r); f != "" && f != string(inst.format) {
			return errorf(http.StatusNotAcceptable, codeFormatMismatch,
				"The requested embedded data format %q does not match the deserializer for this consumer instance (%q)", f, inst.format)
		}
		wait := inst.pollWait
		if timeout > 0 {
			wait = min(timeout, wait) // as Confluent: the query may only shorten the wait
		}
		conv := toBinary
		if inst.format == formatJSON {
			conv = toJSON
		}
		recs, e := inst.poll(ctx, wait, maxBytes, conv)
		if e != nil {
			return e
		}
		if recs == nil {
			recs = []any{}
		}
		writeJSON(w, http.StatusOK, inst.format.contentType(), recs)
		return nil
	})
}

type commitRequest struct {
	Offsets []struct {
		v2Offset
		Metadata *string `json:"metadata"`
	} `json:"offsets"`
}

type committedOffset struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Consumed  int64  `json:"consumed"`
	Committed int64  `json:"committed"`
}

// commitOffsets: POST .../offsets. Each given offset is the last record
// consumed; the group's committed offset becomes the one after it. An
// empty body commits what the instance returned so far.
func (p *Proxy) commitOffsets(w http.ResponseWriter, r *http.Request) *restError {
	var req commitRequest
	return p.withInstance(w, r, &req, false, func(ctx context.Context, inst *instance) *restError {
		offs := map[tp]commitOffset{}
		for i, o := range req.Offsets {
			pt, offset, e := o.at(i)
			if e != nil {
				return e
			}
			offs[pt] = commitOffset{offset: offset + 1, epoch: -1, metadata: o.Metadata}
		}
		if len(req.Offsets) == 0 {
			inst.mu.Lock()
			for pt, eo := range inst.returned {
				offs[pt] = commitOffset{offset: eo.Offset, epoch: eo.Epoch}
			}
			inst.mu.Unlock()
		}
		out := []committedOffset{}
		if len(offs) > 0 {
			octx, cancel := inst.opContext(ctx, p.cfg.RequestTimeout)
			defer cancel()
			if err := inst.commit(octx, offs); err != nil {
				return kafkaError("commit offsets of group "+inst.group, err)
			}
			for pt, o := range offs {
				out = append(out, committedOffset{Topic: pt.topic, Partition: pt.partition, Consumed: o.offset - 1, Committed: o.offset})
			}
		}
		writeJSON(w, http.StatusOK, contentTypeV2, out)
		return nil
	})
}

type committedResponseOffset struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Metadata  string `json:"metadata"`
}

// committedOffsets: GET .../offsets with a body naming the partitions.
// Partitions without a committed offset are left out, as in Confluent's
// proxy.
func (p *Proxy) committedOffsets(w http.ResponseWriter, r *http.Request) *restError {
	var req partitionsRequest
	return p.withInstance(w, r, &req, true, func(ctx context.Context, inst *instance) *restError {
		ps, e := parts(req.Partitions, "partitions")
		if e != nil {
			return e
		}
		octx, cancel := inst.opContext(ctx, p.cfg.RequestTimeout)
		defer cancel()
		committed, err := p.admin.FetchOffsets(octx, inst.group)
		if err == nil {
			err = committed.Error()
		}
		if err != nil {
			return kafkaError("fetch committed offsets of group "+inst.group, err)
		}
		out := []committedResponseOffset{}
		for _, pt := range ps {
			if o, ok := committed.Lookup(pt.topic, pt.partition); ok && o.At >= 0 {
				out = append(out, committedResponseOffset{Topic: pt.topic, Partition: pt.partition, Offset: o.At, Metadata: o.Metadata})
			}
		}
		writeJSON(w, http.StatusOK, contentTypeV2, map[string][]committedResponseOffset{"offsets": out})
		return nil
	})
}
