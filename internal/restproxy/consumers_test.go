package restproxy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strata-io/strata/internal/restproxy"
)

type consumedRecord struct {
	Topic     string          `json:"topic"`
	Key       json.RawMessage `json:"key"`
	Value     json.RawMessage `json:"value"`
	Partition int32           `json:"partition"`
	Offset    int64           `json:"offset"`
}

// createInstance creates a consumer instance and returns its path.
func (e *env) createInstance(group, body string) string {
	e.t.Helper()
	var resp struct {
		InstanceID string `json:"instance_id"`
		BaseURI    string `json:"base_uri"`
	}
	e.ok(200, &resp, "POST", "/consumers/"+group, body, "Content-Type", ctV2)
	if !strings.HasPrefix(resp.BaseURI, e.url+"/consumers/"+group+"/instances/") || resp.InstanceID == "" {
		e.t.Fatalf("create instance: %+v, want base_uri under %s", resp, e.url)
	}
	return strings.TrimPrefix(resp.BaseURI, e.url)
}

// poll reads records from an instance until it has n, failing on more.
func (e *env) poll(inst, accept string, n int, query string) []consumedRecord {
	e.t.Helper()
	var out []consumedRecord
	deadline := time.Now().Add(60 * time.Second)
	polls := 0
	for len(out) < n {
		if time.Now().After(deadline) {
			e.t.Fatalf("polled %d of %d records from %s in 60s", len(out), n, inst)
		}
		var recs []consumedRecord
		r := e.ok(200, &recs, "GET", inst+"/records"+query, "", "Accept", accept)
		if ct := r.header.Get("Content-Type"); ct != accept {
			e.t.Fatalf("records Content-Type %q, want %q", ct, accept)
		}
		out = append(out, recs...)
		polls++
	}
	if len(out) != n {
		e.t.Fatalf("polled %d records, want %d", len(out), n)
	}
	e.t.Logf("%d records in %d polls", n, polls)
	return out
}

func decodeB64(t *testing.T, raw json.RawMessage) *string {
	t.Helper()
	var b []byte
	if string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatalf("decode base64 %s: %v", raw, err)
	}
	s := string(b)
	return &s
}

func TestConsumerSubscribeBinaryCommitAndDelete(t *testing.T) {
	e := start(t)
	e.createTopic("events", 2, nil)
	var recs []*kgo.Record
	for i := range 6 {
		recs = append(recs, &kgo.Record{Topic: "events", Partition: int32(i % 2), Key: []byte{byte(i), 0xff, 0}, Value: []byte(fmt.Sprintf("v%d\x00\xfe", i))})
	}
	recs[5].Key = nil
	e.produce(recs...)

	inst := e.createInstance("g1", `{"name":"c1","format":"binary","auto.offset.reset":"earliest","auto.commit.enable":"false"}`)
	if inst != "/consumers/g1/instances/c1" {
		t.Fatalf("instance path %q, want /consumers/g1/instances/c1", inst)
	}
	e.fail(409, 40903, "GET", inst+"/records", "", "Accept", ctBinary) // not subscribed yet
	e.ok(204, nil, "POST", inst+"/subscription", `{"topics":["events"]}`, "Content-Type", ctV2)
	var sub struct {
		Topics []string `json:"topics"`
	}
	e.ok(200, &sub, "GET", inst+"/subscription", "")
	if diff := cmp.Diff([]string{"events"}, sub.Topics); diff != "" {
		t.Errorf("subscription (-want +got):\n%s", diff)
	}

	got := e.poll(inst, ctBinary, 6, "")
	byPart := map[int32][]string{}
	for _, r := range got {
		k := decodeB64(t, r.Key)
		ks := "null"
		if k != nil {
			ks = fmt.Sprintf("%q", *k)
		}
		byPart[r.Partition] = append(byPart[r.Partition], fmt.Sprintf("%d %s=%q", r.Offset, ks, *decodeB64(t, r.Value)))
		if r.Topic != "events" {
			t.Errorf("record topic %q, want events", r.Topic)
		}
	}
	want := map[int32][]string{
		0: {`0 "\x00\xff\x00"="v0\x00\xfe"`, `1 "\x02\xff\x00"="v2\x00\xfe"`, `2 "\x04\xff\x00"="v4\x00\xfe"`},
		1: {`0 "\x01\xff\x00"="v1\x00\xfe"`, `1 "\x03\xff\x00"="v3\x00\xfe"`, `2 null="v5\x00\xfe"`},
	}
	if diff := cmp.Diff(want, byPart); diff != "" {
		t.Errorf("consumed records (-want +got):\n%s", diff)
	}

	var assigned struct {
		Partitions []struct {
			Topic     string `json:"topic"`
			Partition int32  `json:"partition"`
		} `json:"partitions"`
	}
	e.ok(200, &assigned, "GET", inst+"/assignments", "")
	if len(assigned.Partitions) != 2 {
		t.Errorf("assignments %+v, want both partitions of events", assigned.Partitions)
	}

	// Commit what was returned; the committed offsets are the next ones.
	e.ok(200, nil, "POST", inst+"/offsets", "", "Content-Type", ctV2)
	var committed struct {
		Offsets []struct {
			Topic     string `json:"topic"`
			Partition int32  `json:"partition"`
			Offset    int64  `json:"offset"`
			Metadata  string `json:"metadata"`
		} `json:"offsets"`
	}
	e.ok(200, &committed, "GET", inst+"/offsets", `{"partitions":[{"topic":"events","partition":0},{"topic":"events","partition":1},{"topic":"other","partition":0}]}`, "Content-Type", ctV2)
	if len(committed.Offsets) != 2 || committed.Offsets[0].Offset != 3 || committed.Offsets[1].Offset != 3 {
		t.Errorf("committed offsets %+v, want 3 on both partitions of events", committed.Offsets)
	}

	// Seeking within a subscription replays a partition.
	e.ok(204, nil, "POST", inst+"/positions", `{"offsets":[{"topic":"events","partition":0,"offset":1}]}`, "Content-Type", ctV2)
	var replay []string
	for _, r := range e.poll(inst, ctBinary, 2, "") {
		replay = append(replay, fmt.Sprintf("%d:%d", r.Partition, r.Offset))
	}
	if diff := cmp.Diff([]string{"0:1", "0:2"}, replay); diff != "" {
		t.Errorf("records after seeking events[0] to 1 (-want +got):\n%s", diff)
	}

	e.ok(204, nil, "DELETE", inst+"/subscription", "")
	e.ok(200, &sub, "GET", inst+"/subscription", "")
	if len(sub.Topics) != 0 {
		t.Errorf("subscription after unsubscribe: %v, want none", sub.Topics)
	}
	e.ok(204, nil, "DELETE", inst, "")
	e.fail(404, 40403, "GET", inst+"/records", "", "Accept", ctBinary)
	e.fail(404, 40403, "DELETE", inst, "")

	// A new instance of the group resumes at the committed offsets.
	e.produce(&kgo.Record{Topic: "events", Partition: 1, Value: []byte("after")})
	inst2 := e.createInstance("g1", `{"format":"binary","auto.offset.reset":"earliest"}`)
	e.ok(204, nil, "POST", inst2+"/subscription", `{"topic_pattern":"ev.*"}`, "Content-Type", ctV2)
	got = e.poll(inst2, ctBinary, 1, "?timeout=500")
	if v := decodeB64(t, got[0].Value); got[0].Partition != 1 || got[0].Offset != 3 || *v != "after" {
		t.Errorf("resumed at partition %d offset %d value %q, want 1 3 \"after\"", got[0].Partition, got[0].Offset, *v)
	}
	e.ok(200, &sub, "GET", inst2+"/subscription", "")
	if diff := cmp.Diff([]string{"events"}, sub.Topics); diff != "" {
		t.Errorf("pattern subscription (-want +got):\n%s", diff)
	}
}

func TestConsumerAssignSeekJSONFormat(t *testing.T) {
	e := start(t)
	e.createTopic("docs", 2, nil)
	var recs []*kgo.Record
	for i := range 5 {
		recs = append(recs, &kgo.Record{Topic: "docs", Partition: 0, Key: []byte(fmt.Sprintf(`"k%d"`, i)), Value: []byte(fmt.Sprintf(`{"n":%d,"s":"x"}`, i))})
	}
	recs = append(recs, &kgo.Record{Topic: "docs", Partition: 1, Value: []byte("not json")})
	e.produce(recs...)

	inst := e.createInstance("g2", `{"name":"j","format":"json","auto.offset.reset":"earliest","auto.commit.enable":false}`)
	e.ok(204, nil, "POST", inst+"/assignments", `{"partitions":[{"topic":"docs","partition":0}]}`, "Content-Type", ctV2)
	e.fail(409, 40903, "POST", inst+"/subscription", `{"topics":["docs"]}`, "Content-Type", ctV2)
	e.fail(406, 40601, "GET", inst+"/records", "", "Accept", ctBinary)
	e.fail(409, 40903, "POST", inst+"/positions", `{"offsets":[{"topic":"docs","partition":1,"offset":0}]}`, "Content-Type", ctV2)

	e.ok(204, nil, "POST", inst+"/positions", `{"offsets":[{"topic":"docs","partition":0,"offset":2}]}`, "Content-Type", ctV2)
	got := e.poll(inst, ctJSON, 3, "")
	var lines []string
	for _, r := range got {
		lines = append(lines, fmt.Sprintf("%d %d %s %s", r.Partition, r.Offset, r.Key, r.Value))
	}
	want := []string{`0 2 "k2" {"n":2,"s":"x"}`, `0 3 "k3" {"n":3,"s":"x"}`, `0 4 "k4" {"n":4,"s":"x"}`}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("records after seek (-want +got):\n%s", diff)
	}

	// max_bytes splits a batch; nothing is lost or repeated.
	e.ok(204, nil, "POST", inst+"/positions/beginning", `{"partitions":[{"topic":"docs","partition":0}]}`, "Content-Type", ctV2)
	var offsets []int64
	deadline := time.Now().Add(60 * time.Second)
	for len(offsets) < 5 && time.Now().Before(deadline) {
		var recs []consumedRecord
		e.ok(200, &recs, "GET", inst+"/records?max_bytes=20", "", "Accept", ctJSON)
		if len(recs) > 1 {
			t.Errorf("max_bytes=20 returned %d records of about 18 bytes each, want at most 1", len(recs))
		}
		for _, r := range recs {
			offsets = append(offsets, r.Offset)
		}
	}
	if diff := cmp.Diff([]int64{0, 1, 2, 3, 4}, offsets); diff != "" {
		t.Errorf("offsets read with max_bytes (-want +got):\n%s", diff)
	}
	e.ok(204, nil, "POST", inst+"/positions/end", `{"partitions":[{"topic":"docs","partition":0}]}`, "Content-Type", ctV2)
	var none []consumedRecord
	e.ok(200, &none, "GET", inst+"/records?timeout=300", "", "Accept", ctJSON)
	if len(none) != 0 {
		t.Errorf("records after seek to end: %d, want 0", len(none))
	}

	// Explicit commit: the offset given is the last consumed one.
	var commitResp []map[string]any
	e.ok(200, &commitResp, "POST", inst+"/offsets", `{"offsets":[{"topic":"docs","partition":0,"offset":3,"metadata":"m"}]}`, "Content-Type", ctV2)
	var committed struct {
		Offsets []struct {
			Topic     string `json:"topic"`
			Partition int32  `json:"partition"`
			Offset    int64  `json:"offset"`
			Metadata  string `json:"metadata"`
		} `json:"offsets"`
	}
	e.ok(200, &committed, "GET", inst+"/offsets", `{"partitions":[{"topic":"docs","partition":0}]}`, "Content-Type", ctV2)
	if len(committed.Offsets) != 1 || committed.Offsets[0].Offset != 4 || committed.Offsets[0].Metadata != "m" {
		t.Errorf("committed %+v, want docs[0] at 4 with metadata m", committed.Offsets)
	}

	// A record that is not JSON cannot be returned in the json format.
	e.ok(204, nil, "POST", inst+"/assignments", `{"partitions":[{"topic":"docs","partition":1}]}`, "Content-Type", ctV2)
	e.ok(204, nil, "POST", inst+"/positions/beginning", `{"partitions":[{"topic":"docs","partition":1}]}`, "Content-Type", ctV2)
	waitFor(t, "the non-JSON record to be refused", 60*time.Second, func() bool {
		r := e.do("GET", inst+"/records", "", "Accept", ctJSON)
		return r.status == 500 && strings.Contains(string(r.body), `"error_code":50002`)
	})
	var assigned struct {
		Partitions []map[string]any `json:"partitions"`
	}
	e.ok(200, &assigned, "GET", inst+"/assignments", "")
	if len(assigned.Partitions) != 1 || assigned.Partitions[0]["partition"] != float64(1) {
		t.Errorf("assignments %v, want docs[1] only", assigned.Partitions)
	}
}

func TestConsumerInstanceLimitsAndBadInput(t *testing.T) {
	e := start(t, func(c *restproxy.Config) { c.MaxConsumerInstances = 2 })
	e.createTopic("t", 1, nil)
	a := e.createInstance("g", `{"name":"a"}`)
	e.fail(409, 40902, "POST", "/consumers/g", `{"name":"a"}`, "Content-Type", ctV2)
	e.createInstance("g", "") // no body: a generated name, binary
	e.fail(429, 42901, "POST", "/consumers/g", `{"name":"c"}`, "Content-Type", ctV2)
	e.ok(204, nil, "DELETE", "/consumers/g/instances/a", "")

	tests := []struct {
		name, method, path, body string
		status, code             int
	}{
		{"create: malformed JSON", "POST", "/consumers/g", `{"name":`, 400, 400},
		{"create: bad format", "POST", "/consumers/g", `{"format":"xml"}`, 422, 42204},
		{"create: avro", "POST", "/consumers/g", `{"format":"avro"}`, 422, 42204},
		{"create: bad reset", "POST", "/consumers/g", `{"auto.offset.reset":"sometimes"}`, 422, 42204},
		{"create: bad auto commit", "POST", "/consumers/g", `{"auto.commit.enable":"maybe"}`, 422, 42204},
		{"create: bad request timeout", "POST", "/consumers/g", `{"consumer.request.timeout.ms":"-5"}`, 422, 42204},
		{"create: name with a control character", "POST", "/consumers/g", `{"name":"a\u0001"}`, 422, 42204},
		{"unknown instance: records", "GET", "/consumers/g/instances/zz/records", "", 404, 40403},
		{"unknown instance: subscribe", "POST", "/consumers/g/instances/zz/subscription", `{"topics":["t"]}`, 404, 40403},
		{"unknown instance: offsets", "POST", "/consumers/g/instances/zz/offsets", "", 404, 40403},
		{"unknown group", "DELETE", "/consumers/nogroup/instances/a", "", 404, 40403},
		{"subscribe: malformed", "POST", a + "/subscription", `{"topics":["t"`, 400, 400},
		{"subscribe: empty body", "POST", a + "/subscription", ``, 422, 422},
		{"subscribe: neither", "POST", a + "/subscription", `{}`, 422, 422},
		{"subscribe: both", "POST", a + "/subscription", `{"topics":["t"],"topic_pattern":"t.*"}`, 409, 40903},
		{"subscribe: bad pattern", "POST", a + "/subscription", `{"topic_pattern":"t(("}`, 422, 422},
		{"subscribe: bad topic", "POST", a + "/subscription", `{"topics":["a b"]}`, 422, 422},
		{"assign: no partition", "POST", a + "/assignments", `{"partitions":[{"topic":"t"}]}`, 422, 422},
		{"assign: negative partition", "POST", a + "/assignments", `{"partitions":[{"topic":"t","partition":-1}]}`, 422, 422},
		{"seek: not assigned", "POST", a + "/positions", `{"offsets":[{"topic":"t","partition":0,"offset":1}]}`, 409, 40903},
		{"seek: negative offset", "POST", a + "/positions", `{"offsets":[{"topic":"t","partition":0,"offset":-1}]}`, 422, 422},
		{"seek: nothing", "POST", a + "/positions", `{}`, 422, 422},
		{"seek to end: nothing", "POST", a + "/positions/end", `{"partitions":[]}`, 422, 422},
		{"records: bad timeout", "GET", a + "/records?timeout=soon", "", 400, 400},
		{"records: bad max_bytes", "GET", a + "/records?max_bytes=lots", "", 400, 400},
		{"commit: bad offset", "POST", a + "/offsets", `{"offsets":[{"topic":"t","partition":0}]}`, 422, 422},
		{"committed: no body", "GET", a + "/offsets", "", 422, 422},
		{"wrong method", "PUT", a + "/records", "", 405, 405},
	}
	e.createInstance("g", `{"name":"a"}`) // again, after its delete
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.t = t
			e.fail(tt.status, tt.code, tt.method, tt.path, tt.body, "Content-Type", ctV2)
		})
	}
	e.t = t
}

// An idle instance is closed after the instance timeout: its group
// membership ends (its kgo client is closed) and it is gone from the API.
func TestConsumerInstanceExpires(t *testing.T) {
	e := start(t, func(c *restproxy.Config) { c.ConsumerInstanceTimeout = time.Second })
	e.createTopic("t", 1, nil)
	inst := e.createInstance("expiring", `{"name":"x","auto.offset.reset":"earliest"}`)
	e.ok(204, nil, "POST", inst+"/subscription", `{"topics":["t"]}`, "Content-Type", ctV2)
	adm := e.admin()
	members := func() int {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		gs, err := adm.DescribeGroups(ctx, "expiring")
		if err != nil {
			t.Fatalf("DescribeGroups: %v", err)
		}
		return len(gs["expiring"].Members)
	}
	// Keep it alive by using it until it has joined.
	waitFor(t, "the instance to join its group", 60*time.Second, func() bool {
		e.ok(200, nil, "GET", inst+"/records?timeout=100", "", "Accept", ctBinary)
		return members() == 1
	})
	begin := time.Now()
	// Without touching the instance (a request would keep it alive).
	waitFor(t, "the expired instance to leave its group", 60*time.Second, func() bool { return members() == 0 })
	e.fail(404, 40403, "GET", inst+"/subscription", "")
	t.Logf("expired and left the group %s after the last request", time.Since(begin))
}

// The same instance used from several goroutines: requests are served
// one at a time and every record is returned exactly once.
func TestConsumerConcurrentPolls(t *testing.T) {
	e := start(t)
	e.createTopic("c", 1, nil)
	var recs []*kgo.Record
	for i := range 50 {
		recs = append(recs, &kgo.Record{Topic: "c", Value: []byte(fmt.Sprintf("%d", i))})
	}
	e.produce(recs...)
	inst := e.createInstance("gc", `{"name":"p","auto.offset.reset":"earliest","auto.commit.enable":"false"}`)
	e.ok(204, nil, "POST", inst+"/assignments", `{"partitions":[{"topic":"c","partition":0}]}`, "Content-Type", ctV2)
	type result struct {
		offsets []int64
		err     string
	}
	var total atomic.Int64
	results := make(chan result, 4)
	for range 4 {
		go func() {
			var res result
			deadline := time.Now().Add(60 * time.Second)
			for total.Load() < 50 && time.Now().Before(deadline) {
				r := e.doNoFatal("GET", inst+"/records?max_bytes=4", "", "Accept", ctBinary)
				if r.err != nil || r.status != 200 {
					res.err = fmt.Sprintf("status %d err %v body %s", r.status, r.err, r.body)
					break
				}
				var got []consumedRecord
				if err := json.Unmarshal(r.body, &got); err != nil {
					res.err = err.Error()
					break
				}
				for _, g := range got {
					res.offsets = append(res.offsets, g.Offset)
				}
				total.Add(int64(len(got)))
			}
			results <- res
		}()
	}
	var all []int64
	for range 4 {
		res := <-results
		if res.err != "" {
			t.Errorf("poller: %s", res.err)
		}
		all = append(all, res.offsets...)
	}
	slices.Sort(all)
	var want []int64
	for i := range 50 {
		want = append(want, int64(i))
	}
	if diff := cmp.Diff(want, all); diff != "" {
		t.Errorf("offsets returned to 4 concurrent pollers (-want +got):\n%s", diff)
	}
}

// Seeking to a time moves each partition to its first record at or after
// it; a bad entry of a list is named by its index.
func TestConsumerSeekToTimestamp(t *testing.T) {
	e := start(t)
	e.createTopic("times", 1, nil)
	base := time.UnixMilli(1_700_000_000_000)
	var recs []*kgo.Record
	for i := range 4 {
		recs = append(recs, &kgo.Record{Topic: "times", Value: []byte(fmt.Sprintf("t%d", i)), Timestamp: base.Add(time.Duration(i) * time.Second)})
	}
	e.produce(recs...)
	inst := e.createInstance("gt", `{"name":"ts","auto.commit.enable":"false"}`)
	e.ok(204, nil, "POST", inst+"/assignments", `{"partitions":[{"topic":"times","partition":0}]}`, "Content-Type", ctV2)

	at := base.Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	e.ok(204, nil, "POST", inst+"/positions", `{"timestamps":[{"topic":"times","partition":0,"timestamp":"`+at+`"}]}`, "Content-Type", ctV2)
	var got []string
	for _, r := range e.poll(inst, ctBinary, 2, "") {
		got = append(got, fmt.Sprintf("%d:%d %s", r.Partition, r.Offset, *decodeB64(t, r.Value)))
	}
	if diff := cmp.Diff([]string{"0:2 t2", "0:3 t3"}, got); diff != "" {
		t.Errorf("records after seeking to %s (-want +got):\n%s", at, diff)
	}

	e.fail(404, 40402, "POST", inst+"/positions", `{"timestamps":[{"topic":"times","partition":7,"timestamp":"`+at+`"}]}`, "Content-Type", ctV2)
	for _, tt := range []struct{ path, body, want string }{
		{"/positions", `{"offsets":[{"topic":"times","partition":0,"offset":1},{"topic":"times","offset":1}]}`, "offsets[1].partition"},
		{"/positions", `{"offsets":[{"topic":"times","partition":0,"offset":1},{"topic":"times","partition":0}]}`, "offsets[1].offset"},
		{"/positions", `{"timestamps":[{"topic":"times","partition":0,"timestamp":"` + at + `"},{"topic":"a b","partition":0}]}`, "timestamps[1].topic"},
		{"/offsets", `{"offsets":[{"topic":"times","partition":0,"offset":1},{"topic":"times","partition":-1,"offset":1}]}`, "offsets[1].partition"},
	} {
		if msg := e.fail(422, 422, "POST", inst+tt.path, tt.body, "Content-Type", ctV2); !strings.HasPrefix(msg, tt.want) {
			t.Errorf("POST %s %s: message %q, want it to start with %s", tt.path, tt.body, msg, tt.want)
		}
	}
}
