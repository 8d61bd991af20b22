package restproxy

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// v3 resources: {"kind": ..., "metadata": {"self": ...}, ...fields}.

type v3Meta struct {
	Self         string  `json:"self"`
	ResourceName *string `json:"resource_name,omitempty"`
	Next         *string `json:"next,omitempty"`
}

type v3Related struct {
	Related string `json:"related"`
}

type v3List struct {
	Kind     string `json:"kind"`
	Metadata v3Meta `json:"metadata"`
	Data     []any  `json:"data"`
}

type v3Cluster struct {
	Kind                   string     `json:"kind"`
	Metadata               v3Meta     `json:"metadata"`
	ClusterID              string     `json:"cluster_id"`
	Controller             *v3Related `json:"controller,omitempty"`
	ACLs                   v3Related  `json:"acls"`
	Brokers                v3Related  `json:"brokers"`
	BrokerConfigs          v3Related  `json:"broker_configs"`
	ConsumerGroups         v3Related  `json:"consumer_groups"`
	Topics                 v3Related  `json:"topics"`
	PartitionReassignments v3Related  `json:"partition_reassignments"`
}

type v3Broker struct {
	Kind              string    `json:"kind"`
	Metadata          v3Meta    `json:"metadata"`
	ClusterID         string    `json:"cluster_id"`
	BrokerID          int32     `json:"broker_id"`
	Host              string    `json:"host"`
	Port              int32     `json:"port"`
	Rack              *string   `json:"rack"`
	Configs           v3Related `json:"configs"`
	PartitionReplicas v3Related `json:"partition_replicas"`
}

type v3Topic struct {
	Kind                   string    `json:"kind"`
	Metadata               v3Meta    `json:"metadata"`
	ClusterID              string    `json:"cluster_id"`
	TopicName              string    `json:"topic_name"`
	IsInternal             bool      `json:"is_internal"`
	ReplicationFactor      int       `json:"replication_factor"`
	PartitionsCount        int       `json:"partitions_count"`
	Partitions             v3Related `json:"partitions"`
	Configs                v3Related `json:"configs"`
	PartitionReassignments v3Related `json:"partition_reassignments"`
	AuthorizedOperations   []string  `json:"authorized_operations"`
}

type v3Partition struct {
	Kind         string     `json:"kind"`
	Metadata     v3Meta     `json:"metadata"`
	ClusterID    string     `json:"cluster_id"`
	TopicName    string     `json:"topic_name"`
	PartitionID  int32      `json:"partition_id"`
	Leader       *v3Related `json:"leader"`
	Replicas     v3Related  `json:"replicas"`
	Reassignment v3Related  `json:"reassignment"`
}

func strp(s string) *string { return &s }

// v3Base is the URL of a cluster's resources.
func (p *Proxy) v3Base(r *http.Request, cluster string) string {
	return p.baseURL(r) + "/v3/clusters/" + url.PathEscape(cluster)
}

func v3ClusterOf(base, id string, controller int32) v3Cluster {
	c := v3Cluster{
		Kind:                   "KafkaCluster",
		Metadata:               v3Meta{Self: base, ResourceName: strp("crn:///kafka=" + id)},
		ClusterID:              id,
		ACLs:                   v3Related{base + "/acls"},
		Brokers:                v3Related{base + "/brokers"},
		BrokerConfigs:          v3Related{base + "/broker-configs"},
		ConsumerGroups:         v3Related{base + "/consumer-groups"},
		Topics:                 v3Related{base + "/topics"},
		PartitionReassignments: v3Related{base + "/topics/-/partitions/-/reassignment"},
	}
	if controller >= 0 {
		c.Controller = &v3Related{base + "/brokers/" + strconv.Itoa(int(controller))}
	}
	return c
}

func v3TopicOf(base, cluster string, t topicMeta) v3Topic {
	self := base + "/topics/" + url.PathEscape(t.name)
	rf := 0
	if len(t.partitions) > 0 {
		rf = len(t.partitions[0].replicas)
	}
	return v3Topic{
		Kind:                   "KafkaTopic",
		Metadata:               v3Meta{Self: self, ResourceName: strp("crn:///kafka=" + cluster + "/topic=" + t.name)},
		ClusterID:              cluster,
		TopicName:              t.name,
		IsInternal:             t.internal,
		ReplicationFactor:      rf,
		PartitionsCount:        len(t.partitions),
		Partitions:             v3Related{self + "/partitions"},
		Configs:                v3Related{self + "/configs"},
		PartitionReassignments: v3Related{self + "/partitions/-/reassignment"},
		AuthorizedOperations:   []string{},
	}
}

func v3PartitionOf(base, cluster, topic string, pm partitionMeta) v3Partition {
	self := base + "/topics/" + url.PathEscape(topic) + "/partitions/" + strconv.Itoa(int(pm.id))
	out := v3Partition{
		Kind:         "KafkaPartition",
		Metadata:     v3Meta{Self: self, ResourceName: strp(fmt.Sprintf("crn:///kafka=%s/topic=%s/partition=%d", cluster, topic, pm.id))},
		ClusterID:    cluster,
		TopicName:    topic,
		PartitionID:  pm.id,
		Replicas:     v3Related{self + "/replicas"},
		Reassignment: v3Related{self + "/reassignment"},
	}
	if pm.leader >= 0 {
		out.Leader = &v3Related{self + "/replicas/" + strconv.Itoa(int(pm.leader))}
	}
	return out
}

// v3Metadata checks the {cluster} of the path against the cluster behind
// the proxy and returns a metadata response naming topics.
func (p *Proxy) v3Metadata(ctx context.Context, r *http.Request, topics ...string) (clusterMeta, *restError) {
	m, err := p.metadata(ctx, topics...)
	if err != nil {
		return m, kafkaError("describe cluster", err)
	}
	if id := r.PathValue("cluster"); id != m.clusterID {
		return m, errorf(http.StatusNotFound, codeClusterNotFound, "Cluster %s cannot be found.", id)
	}
	return m, nil
}

// v3ListClusters: GET /v3/clusters.
func (p *Proxy) v3ListClusters(w http.ResponseWriter, r *http.Request) *restError {
	ctx, cancel := p.requestContext(r)
	defer cancel()
	m, err := p.metadata(ctx)
	if err != nil {
		return kafkaError("describe cluster", err)
	}
	self := p.baseURL(r) + "/v3/clusters"
	writeJSON(w, http.StatusOK, contentTypeV3, v3List{Kind: "KafkaClusterList", Metadata: v3Meta{Self: self},
		Data: []any{v3ClusterOf(p.v3Base(r, m.clusterID), m.clusterID, m.controller)}})
	return nil
}

// v3Scope is what a v3 read of one cluster works on.
type v3Scope struct {
	ctx  context.Context // the request's, bounded by RequestTimeout
	m    clusterMeta
	t    topicMeta // the path's {topic}, on topic routes
	base string    // the cluster's URL
}

// v3Get answers a v3 GET: it checks the path's {cluster} (and its {topic}
// when topic is true) and writes what get returns with 200.
func (p *Proxy) v3Get(w http.ResponseWriter, r *http.Request, topic bool, get func(s v3Scope) (any, *restError)) *restError {
	ctx, cancel := p.requestContext(r)
	defer cancel()
	s := v3Scope{ctx: ctx}
	var e *restError
	if topic {
		s.m, s.t, e = p.v3Topic(ctx, r)
	} else {
		s.m, e = p.v3Metadata(ctx, r)
	}
	if e != nil {
		return e
	}
	s.base = p.v3Base(r, s.m.clusterID)
	body, e := get(s)
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, contentTypeV3, body)
	return nil
}

// v3GetCluster: GET /v3/clusters/{cluster}.
func (p *Proxy) v3GetCluster(w http.ResponseWriter, r *http.Request) *restError {
	return p.v3Get(w, r, false, func(s v3Scope) (any, *restError) {
		return v3ClusterOf(s.base, s.m.clusterID, s.m.controller), nil
	})
}

// v3ListBrokers: GET /v3/clusters/{cluster}/brokers.
func (p *Proxy) v3ListBrokers(w http.ResponseWriter, r *http.Request) *restError {
	return p.v3Get(w, r, false, func(s v3Scope) (any, *restError) {
		brokers, err := p.admin.ListBrokers(s.ctx)
		if err != nil {
			return nil, kafkaError("list brokers", err)
		}
		id := s.m.clusterID
		out := v3List{Kind: "KafkaBrokerList", Metadata: v3Meta{Self: s.base + "/brokers"}, Data: []any{}}
		for _, b := range brokers {
			self := s.base + "/brokers/" + strconv.Itoa(int(b.NodeID))
			out.Data = append(out.Data, v3Broker{
				Kind: "KafkaBroker", Metadata: v3Meta{Self: self, ResourceName: strp(fmt.Sprintf("crn:///kafka=%s/broker=%d", id, b.NodeID))},
				ClusterID: id, BrokerID: b.NodeID, Host: b.Host, Port: b.Port, Rack: b.Rack,
				Configs: v3Related{self + "/configs"}, PartitionReplicas: v3Related{self + "/partition-replicas"},
			})
		}
		return out, nil
	})
}

// v3ListTopics: GET /v3/clusters/{cluster}/topics.
func (p *Proxy) v3ListTopics(w http.ResponseWriter, r *http.Request) *restError {
	return p.v3Get(w, r, false, func(s v3Scope) (any, *restError) {
		out := v3List{Kind: "KafkaTopicList", Metadata: v3Meta{Self: s.base + "/topics"}, Data: []any{}}
		for _, name := range slices.Sorted(mapsKeys(s.m.topics)) {
			out.Data = append(out.Data, v3TopicOf(s.base, s.m.clusterID, s.m.topics[name]))
		}
		return out, nil
	})
}

// v3Topic checks the cluster and returns one topic, or 404 40401.
func (p *Proxy) v3Topic(ctx context.Context, r *http.Request) (clusterMeta, topicMeta, *restError) {
	name := r.PathValue("topic")
	if !validTopicName(name) {
		return clusterMeta{}, topicMeta{}, topicNotFound(name)
	}
	m, e := p.v3Metadata(ctx, r, name)
	if e != nil {
		return m, topicMeta{}, e
	}
	t, ok := m.topics[name]
	if !ok {
		return m, t, topicNotFound(name)
	}
	return m, t, nil
}

// v3GetTopic: GET /v3/clusters/{cluster}/topics/{topic}.
func (p *Proxy) v3GetTopic(w http.ResponseWriter, r *http.Request) *restError {
	return p.v3Get(w, r, true, func(s v3Scope) (any, *restError) {
		return v3TopicOf(s.base, s.m.clusterID, s.t), nil
	})
}

// v3ListPartitions: GET /v3/clusters/{cluster}/topics/{topic}/partitions.
func (p *Proxy) v3ListPartitions(w http.ResponseWriter, r *http.Request) *restError {
	return p.v3Get(w, r, true, func(s v3Scope) (any, *restError) {
		out := v3List{Kind: "KafkaPartitionList", Metadata: v3Meta{Self: s.base + "/topics/" + url.PathEscape(s.t.name) + "/partitions"}, Data: []any{}}
		for _, pm := range s.t.partitions {
			out.Data = append(out.Data, v3PartitionOf(s.base, s.m.clusterID, s.t.name, pm))
		}
		return out, nil
	})
}

// v3GetPartition: GET /v3/clusters/{cluster}/topics/{topic}/partitions/{partition}.
func (p *Proxy) v3GetPartition(w http.ResponseWriter, r *http.Request) *restError {
	return p.v3Get(w, r, true, func(s v3Scope) (any, *restError) {
		pm, e := s.t.partition(r.PathValue("partition"))
		if e != nil {
			return nil, e
		}
		return v3PartitionOf(s.base, s.m.clusterID, s.t.name, pm), nil
	})
}

type v3CreateTopicRequest struct {
	TopicName         string `json:"topic_name"`
	PartitionsCount   *int32 `json:"partitions_count"`
	ReplicationFactor *int16 `json:"replication_factor"`
	Configs           []struct {
		Name  string  `json:"name"`
		Value *string `json:"value"`
	} `json:"configs"`
	ValidateOnly bool `json:"validate_only"`
}

// v3CreateTopic: POST /v3/clusters/{cluster}/topics.
func (p *Proxy) v3CreateTopic(w http.ResponseWriter, r *http.Request) *restError {
	body, e := p.readBody(w, r)
	if e != nil {
		return e
	}
	var req v3CreateTopicRequest
	if len(body) == 0 {
		return unprocessable("request body is empty: want {\"topic_name\": ...}")
	}
	if e := decodeJSON(body, &req); e != nil {
		return e
	}
	if !validTopicName(req.TopicName) {
		return errorf(http.StatusBadRequest, 40002, "topic_name %q is not a valid topic name", req.TopicName)
	}
	ctx, cancel := p.requestContext(r)
	defer cancel()
	m, e := p.v3Metadata(ctx, r)
	if e != nil {
		return e
	}
	partitions, rf := int32(-1), int16(-1)
	if req.PartitionsCount != nil {
		partitions = *req.PartitionsCount
	}
	if req.ReplicationFactor != nil {
		rf = *req.ReplicationFactor
	}
	configs := map[string]*string{}
	for _, c := range req.Configs {
		configs[c.Name] = c.Value
	}
	create := p.admin.CreateTopics
	if req.ValidateOnly {
		create = p.admin.ValidateCreateTopics
	}
	var resp kadm.CreateTopicResponse
	resps, err := create(ctx, partitions, rf, configs, req.TopicName)
	if err == nil {
		resp, err = resps.On(req.TopicName, nil)
	}
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		var ke *kerr.Error
		if errors.As(err, &ke) && !ke.Retriable && ke != kerr.TopicAuthorizationFailed && ke != kerr.ClusterAuthorizationFailed {
			msg := err.Error()
			if resp.ErrMessage != "" {
				msg += ": " + resp.ErrMessage
			}
			return errorf(http.StatusBadRequest, 40002, "%s", msg)
		}
		return kafkaError("create topic "+req.TopicName, err)
	}
	t := topicMeta{name: req.TopicName}
	for i := range resp.NumPartitions {
		t.partitions = append(t.partitions, partitionMeta{id: i, leader: -1, replicas: make([]int32, max(resp.ReplicationFactor, 0))})
	}
	status := http.StatusCreated
	if req.ValidateOnly {
		status = http.StatusOK
	}
	writeJSON(w, status, contentTypeV3, v3TopicOf(p.v3Base(r, m.clusterID), m.clusterID, t))
	return nil
}

// v3DeleteTopic: DELETE /v3/clusters/{cluster}/topics/{topic}.
func (p *Proxy) v3DeleteTopic(w http.ResponseWriter, r *http.Request) *restError {
	ctx, cancel := p.requestContext(r)
	defer cancel()
	_, t, e := p.v3Topic(ctx, r)
	if e != nil {
		return e
	}
	resp, err := p.admin.DeleteTopic(ctx, t.name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return kafkaError("delete topic "+t.name, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func mapsKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// v3 produce: a stream of concatenated JSON records in, one delivery
// report per record out, in the same order.

type v3Data struct {
	Type                string          `json:"type"`
	Data                json.RawMessage `json:"data"`
	Subject             json.RawMessage `json:"subject"`
	SubjectNameStrategy json.RawMessage `json:"subject_name_strategy"`
	SchemaID            json.RawMessage `json:"schema_id"`
	SchemaVersion       json.RawMessage `json:"schema_version"`
	Schema              json.RawMessage `json:"schema"`
}

type v3ProduceRecord struct {
	PartitionID *int32 `json:"partition_id"`
	Headers     []struct {
		Name  string  `json:"name"`
		Value *string `json:"value"`
	} `json:"headers"`
	Key       *v3Data    `json:"key"`
	Value     *v3Data    `json:"value"`
	Timestamp *time.Time `json:"timestamp"`
}

type v3DataSize struct {
	Type string `json:"type"`
	Size int64  `json:"size"`
}

type v3Report struct {
	ErrorCode   int         `json:"error_code"`
	ClusterID   string      `json:"cluster_id"`
	TopicName   string      `json:"topic_name"`
	PartitionID int32       `json:"partition_id"`
	Offset      int64       `json:"offset"`
	Timestamp   string      `json:"timestamp"`
	Key         *v3DataSize `json:"key"`
	Value       *v3DataSize `json:"value"`
}

// v3Bytes turns a v3 key or value into bytes and says its type.
func v3Bytes(d *v3Data, what string) ([]byte, *v3DataSize, *restError) {
	if d == nil {
		return nil, nil, nil
	}
	if d.Type == "" || d.Subject != nil || d.SubjectNameStrategy != nil || d.SchemaID != nil || d.SchemaVersion != nil || d.Schema != nil {
		return nil, nil, badRequest("%s: schemas need a schema registry, which Strata's REST proxy does not have; give type BINARY, JSON or STRING", what)
	}
	if len(d.Data) == 0 || string(d.Data) == "null" {
		return nil, &v3DataSize{Type: d.Type}, nil
	}
	var b []byte
	switch d.Type {
	case "BINARY":
		var s string
		if json.Unmarshal(d.Data, &s) != nil {
			return nil, nil, badRequest("%s: data=%s is not a base64 string", what, d.Data)
		}
		var err error
		if b, err = base64.StdEncoding.DecodeString(s); err != nil {
			return nil, nil, badRequest("%s: data is not a base64 string: %v", what, err)
		}
	case "JSON":
		var e *restError
		if b, e = embeddedBytes(formatJSON, d.Data, what); e != nil {
			return nil, nil, e
		}
	case "STRING":
		var s string
		if json.Unmarshal(d.Data, &s) != nil {
			return nil, nil, badRequest("%s: data must be a JSON string for type STRING", what)
		}
		b = []byte(s)
	default:
		return nil, nil, badRequest("%s: type %q: want BINARY, JSON or STRING", what, d.Type)
	}
	return b, &v3DataSize{Type: d.Type, Size: int64(len(b))}, nil
}

// v3Record validates one record and builds the kgo record.
func v3Record(topic string, t topicMeta, in v3ProduceRecord, explicit context.Context) (*kgo.Record, *v3DataSize, *v3DataSize, *restError) {
	key, ks, e := v3Bytes(in.Key, "key")
	if e != nil {
		return nil, nil, nil, e
	}
	value, vs, e := v3Bytes(in.Value, "value")
	if e != nil {
		return nil, nil, nil, e
	}
	rec := &kgo.Record{Topic: topic, Key: key, Value: value}
	for i, h := range in.Headers {
		if h.Name == "" {
			return nil, nil, nil, badRequest("headers[%d]: name is required", i)
		}
		var v []byte
		if h.Value != nil {
			var err error
			if v, err = base64.StdEncoding.DecodeString(*h.Value); err != nil {
				return nil, nil, nil, badRequest("headers[%d] %q: value is not base64: %v", i, h.Name, err)
			}
		}
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: h.Name, Value: v})
	}
	if in.Timestamp != nil {
		rec.Timestamp = *in.Timestamp
	}
	if in.PartitionID != nil {
		if _, ok := t.lookup(*in.PartitionID); !ok {
			return nil, nil, nil, partitionNotFound(topic, *in.PartitionID)
		}
		rec.Partition, rec.Context = *in.PartitionID, explicit
	}
	return rec, ks, vs, nil
}

// recordLimitReader fails a read once more than limit bytes were read
// since the last reset: it bounds each record of a stream.
type recordLimitReader struct {
	r     io.Reader
	n     int64
	limit int64
}

var errRecordTooLarge = errors.New("record too large")

func (l *recordLimitReader) Read(b []byte) (int, error) {
	if l.n > l.limit {
		return 0, errRecordTooLarge
	}
	n, err := l.r.Read(b)
	l.n += int64(n)
	return n, err
}

// pendingReport is the report of one record: a v3Report or an errorBody,
// sent once.
type pendingReport struct {
	body chan any // buffered: the producer's promise never blocks
	// deadline is when the writer stops waiting for the acknowledgement.
	deadline time.Time
}

func readyReport(body any) *pendingReport {
	pr := &pendingReport{body: make(chan any, 1)}
	pr.body <- body
	return pr
}

// v3Produce: POST /v3/clusters/{cluster}/topics/{topic}/records. A bad
// first record fails the request with its 4xx; later bad records get an
// error report in the stream and the stream goes on (malformed JSON ends
// it). Each record is bounded by MaxBodyBytes and must arrive within
// BodyReadTimeout of the previous one.
func (p *Proxy) v3Produce(w http.ResponseWriter, r *http.Request) *restError {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return errorf(http.StatusUnsupportedMediaType, codeUnsupportedContentType, "Content-Type %q: want application/json", ct)
		}
	}
	if r.ContentLength > p.cfg.MaxBodyBytes {
		// Not streaming: the whole body is bounded like any other.
		return tooLarge(p.cfg.MaxBodyBytes)
	}
	rctx, cancel := p.requestContext(r)
	m, t, e := p.v3Topic(rctx, r)
	cancel()
	if e != nil {
		return e
	}
	rc := http.NewResponseController(w)
	// Reports go out while records still come in; HTTP/1.1 needs this to
	// keep reading the body after the response has begun.
	_ = rc.EnableFullDuplex()
	lr := &recordLimitReader{r: r.Body, limit: p.cfg.MaxBodyBytes}
	dec := json.NewDecoder(lr)
	next := func() (v3ProduceRecord, *restError, bool) {
		_ = rc.SetReadDeadline(time.Now().Add(p.cfg.BodyReadTimeout))
		lr.n = 0
		var in v3ProduceRecord
		err := dec.Decode(&in)
		switch {
		case err == io.EOF:
			// NB: clear the deadline, or the next request on this
			// connection would inherit it.
			_ = rc.SetReadDeadline(time.Time{})
			return in, nil, false
		case errors.Is(err, errRecordTooLarge):
			return in, tooLarge(p.cfg.MaxBodyBytes), false
		case err != nil:
			var se *json.SyntaxError
			var te *json.UnmarshalTypeError
			if errors.As(err, &se) || errors.As(err, &te) || errors.Is(err, io.ErrUnexpectedEOF) {
				return in, jsonError(err), false
			}
			return in, bodyError(err, p.cfg.MaxBodyBytes), false
		}
		return in, nil, true
	}
	ctx := r.Context()
	explicit := context.WithValue(ctx, explicitPartition{}, true)
	produce := func(rec *kgo.Record, ks, vs *v3DataSize) *pendingReport {
		pr := &pendingReport{body: make(chan any, 1), deadline: time.Now().Add(p.cfg.RequestTimeout)}
		p.client.Produce(ctx, rec, func(rec *kgo.Record, err error) {
			if err != nil {
				_, code := kafkaErrorCode(err)
				pr.body <- errorBody{Code: code, Message: "Kafka error: " + err.Error()}
				return
			}
			pr.body <- v3Report{ErrorCode: http.StatusOK, ClusterID: m.clusterID, TopicName: t.name,
				PartitionID: rec.Partition, Offset: rec.Offset, Timestamp: rec.Timestamp.UTC().Format(time.RFC3339Nano),
				Key: ks, Value: vs}
		})
		return pr
	}

	first, e, ok := next()
	if e != nil {
		return e
	}
	if !ok {
		return unprocessable("Payload error. Request body is empty. Data is required.")
	}
	rec, ks, vs, e := v3Record(t.name, t, first, explicit)
	if e != nil {
		return e
	}

	// The writer sends reports in record order; the handler reads and
	// produces. The queue bounds records in flight per request.
	queue := make(chan *pendingReport, 256)
	failed := make(chan struct{}) // closed by the writer when the client is gone
	writerDone := make(chan struct{})
	w.Header().Set("Content-Type", contentTypeV3)
	w.WriteHeader(http.StatusOK)
	go func() {
		defer close(writerDone)
		broken := false
		for pr := range queue {
			var body any
			if pr.deadline.IsZero() {
				body = <-pr.body
			} else {
				timer := time.NewTimer(time.Until(pr.deadline))
				select {
				case body = <-pr.body:
				case <-timer.C:
					_, code := kafkaErrorCode(errAckTimeout)
					body = errorBody{Code: code, Message: "Kafka error: " + errAckTimeout.Error()}
				}
				timer.Stop()
			}
			if broken {
				continue
			}
			b, _ := json.Marshal(body)
			_ = rc.SetWriteDeadline(time.Now().Add(p.cfg.WriteTimeout))
			_, err := w.Write(append(b, '\n'))
			if err == nil {
				if err = rc.Flush(); errors.Is(err, http.ErrNotSupported) {
					err = nil
				}
			}
			if err != nil {
				broken = true
				close(failed)
			}
		}
	}()
	queue <- produce(rec, ks, vs)
	for {
		in, e, ok := next()
		if e != nil {
			queue <- readyReport(errorBody{Code: e.code, Message: e.msg})
			break
		}
		if !ok {
			break
		}
		var pr *pendingReport
		if rec, ks, vs, e := v3Record(t.name, t, in, explicit); e != nil {
			pr = readyReport(errorBody{Code: e.code, Message: e.msg})
		} else {
			pr = produce(rec, ks, vs)
		}
		select {
		case queue <- pr:
			continue
		case <-failed:
		}
		break
	}
	close(queue)
	<-writerDone
	return nil
}
