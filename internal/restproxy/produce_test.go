package restproxy_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/strata-io/strata/internal/restproxy"
)

func TestTopicMetadataRoutes(t *testing.T) {
	e := start(t)
	retention := "86400000"
	e.createTopic("orders", 3, map[string]*string{"retention.ms": &retention})
	e.createTopic("audit", 1, nil)

	var topics []string
	e.ok(200, &topics, "GET", "/topics", "", "Accept", ctV2)
	if diff := cmp.Diff([]string{"audit", "orders"}, topics); diff != "" {
		t.Errorf("GET /topics (-want +got):\n%s", diff)
	}

	type replica struct {
		Broker int32 `json:"broker"`
		Leader bool  `json:"leader"`
		InSync bool  `json:"in_sync"`
	}
	type partition struct {
		Partition int32     `json:"partition"`
		Leader    int32     `json:"leader"`
		Replicas  []replica `json:"replicas"`
	}
	var topic struct {
		Name       string             `json:"name"`
		Configs    map[string]*string `json:"configs"`
		Partitions []partition        `json:"partitions"`
	}
	r := e.ok(200, &topic, "GET", "/topics/orders", "")
	if ct := r.header.Get("Content-Type"); ct != ctV2 {
		t.Errorf("GET /topics/orders: Content-Type %q, want %q", ct, ctV2)
	}
	leader := replica{Broker: 1, Leader: true, InSync: true}
	want := []partition{{0, 1, []replica{leader}}, {1, 1, []replica{leader}}, {2, 1, []replica{leader}}}
	if topic.Name != "orders" || topic.Configs["retention.ms"] == nil || *topic.Configs["retention.ms"] != retention {
		t.Errorf("GET /topics/orders: name %q configs %v, want orders with retention.ms=%s", topic.Name, topic.Configs, retention)
	}
	if diff := cmp.Diff(want, topic.Partitions); diff != "" {
		t.Errorf("GET /topics/orders partitions (-want +got):\n%s", diff)
	}
	var parts []partition
	e.ok(200, &parts, "GET", "/topics/orders/partitions", "")
	if diff := cmp.Diff(want, parts); diff != "" {
		t.Errorf("GET /topics/orders/partitions (-want +got):\n%s", diff)
	}
	var one partition
	e.ok(200, &one, "GET", "/topics/orders/partitions/2", "")
	if diff := cmp.Diff(want[2], one); diff != "" {
		t.Errorf("GET /topics/orders/partitions/2 (-want +got):\n%s", diff)
	}
	var brokers struct {
		Brokers []int32 `json:"brokers"`
	}
	e.ok(200, &brokers, "GET", "/brokers", "")
	if diff := cmp.Diff([]int32{1}, brokers.Brokers); diff != "" {
		t.Errorf("GET /brokers (-want +got):\n%s", diff)
	}

	e.fail(404, 40401, "GET", "/topics/nope", "")
	e.fail(404, 40401, "GET", "/topics/nope/partitions", "")
	e.fail(404, 40401, "GET", "/topics/"+url.PathEscape("bad name!"), "")
	e.fail(404, 40402, "GET", "/topics/orders/partitions/3", "")
	e.fail(404, 40402, "GET", "/topics/orders/partitions/-1", "")
	e.fail(404, 40402, "GET", "/topics/orders/partitions/x", "")
	e.fail(405, 405, "DELETE", "/topics/orders", "")
	e.fail(405, 405, "PUT", "/brokers", "")
	e.fail(404, 404, "GET", "/nothing/here", "")
}

// produceResponse is a v2 produce answer.
type produceResponse struct {
	KeySchemaID   *int32 `json:"key_schema_id"`
	ValueSchemaID *int32 `json:"value_schema_id"`
	Offsets       []struct {
		Partition *int32  `json:"partition"`
		Offset    *int64  `json:"offset"`
		ErrorCode *int    `json:"error_code"`
		Error     *string `json:"error"`
	} `json:"offsets"`
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestProduceBinaryAndJSONReadBackByteExact(t *testing.T) {
	e := start(t)
	e.createTopic("bin", 3, nil)
	e.createTopic("js", 2, nil)

	// Binary: any bytes, with explicit partitions and a null key.
	values := []string{"\x00\x01\xff\xfe binary", "", "plain text"}
	body := fmt.Sprintf(`{"records":[
		{"key":%q,"value":%q,"partition":2},
		{"value":%q,"partition":0},
		{"key":null,"value":%q,"partition":1}]}`,
		b64("k\x00ey"), b64(values[0]), b64(values[1]), b64(values[2]))
	var pr produceResponse
	e.ok(200, &pr, "POST", "/topics/bin", body, "Content-Type", ctBinary)
	if len(pr.Offsets) != 3 || pr.KeySchemaID != nil || pr.ValueSchemaID != nil {
		t.Fatalf("produce response %+v: want 3 offsets and null schema ids", pr)
	}
	for i, want := range []int32{2, 0, 1} {
		o := pr.Offsets[i]
		if o.ErrorCode != nil || o.Partition == nil || *o.Partition != want || o.Offset == nil || *o.Offset != 0 {
			t.Errorf("offsets[%d] = partition %v offset %v error %v, want partition %d offset 0", i, o.Partition, o.Offset, o.Error, want)
		}
	}
	got := map[int32][2]*string{}
	for _, r := range e.consume("bin", 3) {
		var k *string
		if r.Key != nil {
			s := string(r.Key)
			k = &s
		}
		v := string(r.Value)
		got[r.Partition] = [2]*string{k, &v}
	}
	key := "k\x00ey"
	wantRecs := map[int32][2]*string{2: {&key, &values[0]}, 0: {nil, &values[1]}, 1: {nil, &values[2]}}
	if diff := cmp.Diff(wantRecs, got); diff != "" {
		t.Errorf("binary records read back (-want +got):\n%s", diff)
	}

	// JSON: any JSON value, compacted; to a partition by URL.
	body = `{"records":[
		{"key":"somekey","value":{"foo": "bar", "n": [1, 2.5e3, null]}},
		{"value":[ "foo", "bar" ]},
		{"value":53.5},
		{"key":{"id":7},"value":null}]}`
	pr = produceResponse{}
	e.ok(200, &pr, "POST", "/topics/js/partitions/1", body, "Content-Type", ctJSON)
	for i, o := range pr.Offsets {
		if o.ErrorCode != nil || *o.Partition != 1 || *o.Offset != int64(i) {
			t.Errorf("json offsets[%d] = partition %v offset %v error %v, want partition 1 offset %d", i, o.Partition, o.Offset, o.Error, i)
		}
	}
	var gotJSON []string
	for _, r := range e.consume("js", 4) {
		gotJSON = append(gotJSON, fmt.Sprintf("%d %q=%q null=%v", r.Partition, r.Key, r.Value, r.Value == nil))
	}
	wantJSON := []string{
		`1 "\"somekey\""="{\"foo\":\"bar\",\"n\":[1,2.5e3,null]}" null=false`,
		`1 ""="[\"foo\",\"bar\"]" null=false`,
		`1 ""="53.5" null=false`,
		`1 "{\"id\":7}"="" null=true`,
	}
	if diff := cmp.Diff(wantJSON, gotJSON); diff != "" {
		t.Errorf("json records read back (-want +got):\n%s", diff)
	}

	// Keyed records without a partition land where Kafka's partitioner
	// puts them: the same key always on the same partition.
	body = `{"records":[{"key":"a2V5","value":"MQ=="},{"key":"a2V5","value":"Mg=="},{"key":"a2V5","value":"Mw=="}]}`
	pr = produceResponse{}
	e.ok(200, &pr, "POST", "/topics/bin", body, "Content-Type", ctBinary)
	for i, o := range pr.Offsets {
		if o.ErrorCode != nil || *o.Partition != *pr.Offsets[0].Partition || *o.Offset != *pr.Offsets[0].Offset+int64(i) {
			t.Errorf("keyed offsets[%d] = partition %v offset %v, want partition %v offset %d", i, *o.Partition, *o.Offset, *pr.Offsets[0].Partition, *pr.Offsets[0].Offset+int64(i))
		}
	}
}

func TestProduceBadInput(t *testing.T) {
	e := start(t, func(c *restproxy.Config) { c.MaxBodyBytes = 4096 })
	e.createTopic("t", 2, nil)
	big := `{"records":[{"value":"` + strings.Repeat("A", 5000) + `"}]}`
	tests := []struct {
		name, path, ct, body string
		status, code         int
	}{
		{"malformed JSON", "/topics/t", ctBinary, `{"records":[`, 400, 400},
		{"not an object", "/topics/t", ctBinary, `[1,2]`, 422, 422},
		{"garbage after the object", "/topics/t", ctBinary, `{"records":[{"value":"eA=="}]} x`, 400, 400},
		{"empty body", "/topics/t", ctBinary, ``, 422, 422},
		{"no records", "/topics/t", ctBinary, `{"records":[]}`, 422, 422},
		{"records not a list", "/topics/t", ctBinary, `{"records":"x"}`, 422, 422},
		{"bad base64", "/topics/t", ctBinary, `{"records":[{"value":"!!"}]}`, 422, 422},
		{"binary value not a string", "/topics/t", ctBinary, `{"records":[{"value":12}]}`, 422, 422},
		{"partition not a number", "/topics/t", ctBinary, `{"records":[{"value":"eA==","partition":"one"}]}`, 422, 422},
		{"unknown topic", "/topics/nope", ctBinary, `{"records":[{"value":"eA=="}]}`, 404, 40401},
		{"invalid topic name", "/topics/" + url.PathEscape("a b"), ctBinary, `{"records":[{"value":"eA=="}]}`, 404, 40401},
		{"record partition out of range", "/topics/t", ctBinary, `{"records":[{"value":"eA==","partition":2}]}`, 404, 40402},
		{"url partition out of range", "/topics/t/partitions/5", ctBinary, `{"records":[{"value":"eA=="}]}`, 404, 40402},
		{"url partition not a number", "/topics/t/partitions/x", ctBinary, `{"records":[{"value":"eA=="}]}`, 404, 40402},
		{"record partition differs from url", "/topics/t/partitions/0", ctBinary, `{"records":[{"value":"eA==","partition":1}]}`, 422, 422},
		{"avro needs a registry", "/topics/t", "application/vnd.kafka.avro.v2+json", `{"value_schema":"\"int\"","records":[{"value":1}]}`, 415, 415},
		{"form content type", "/topics/t", "application/x-www-form-urlencoded", `{"records":[{"value":"eA=="}]}`, 415, 415},
		{"schema ids", "/topics/t", ctBinary, `{"value_schema_id":3,"records":[{"value":"eA=="}]}`, 422, 422},
		{"body too large", "/topics/t", ctBinary, big, 413, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.t = t
			e.fail(tt.status, tt.code, "POST", tt.path, tt.body, "Content-Type", tt.ct)
		})
	}
	e.t = t
	// Nothing of the above reached the topic.
	var pr produceResponse
	e.ok(200, &pr, "POST", "/topics/t/partitions/0", `{"records":[{"value":"eA=="}]}`, "Content-Type", ctBinary)
	if *pr.Offsets[0].Offset != 0 {
		t.Errorf("first good record got offset %d, want 0: a bad request produced something", *pr.Offsets[0].Offset)
	}
}

// A client that stops sending its body gets 408 once the body read
// timeout passes; the handler does not hang. A chunked body beyond the
// limit gets 413.
func TestSlowAndHugeBodies(t *testing.T) {
	e := start(t, func(c *restproxy.Config) {
		c.BodyReadTimeout = 500 * time.Millisecond
		c.MaxBodyBytes = 1 << 16
	})
	e.createTopic("t", 1, nil)
	host := strings.TrimPrefix(e.url, "http://")
	raw := func(req string) string {
		t.Helper()
		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(60 * time.Second))
		begin := time.Now()
		if _, err := conn.Write([]byte(req)); err != nil {
			t.Fatalf("write: %v", err)
		}
		var buf bytes.Buffer
		tmp := make([]byte, 4096)
		for {
			n, err := conn.Read(tmp)
			buf.Write(tmp[:n])
			if err != nil || bytes.Contains(buf.Bytes(), []byte("}")) {
				break
			}
		}
		t.Logf("answered after %s", time.Since(begin))
		return buf.String()
	}
	// Content-Length 100, 10 bytes sent, then silence.
	got := raw("POST /topics/t HTTP/1.1\r\nHost: x\r\nContent-Type: " + ctBinary + "\r\nContent-Length: 100\r\n\r\n{\"records\"")
	if !strings.HasPrefix(got, "HTTP/1.1 408 ") || !strings.Contains(got, `"error_code":408`) {
		t.Errorf("stalled body: got %q, want 408 with a JSON error", got)
	}
	// A chunked body larger than the limit.
	chunk := strings.Repeat("a", 1<<15)
	req := "POST /topics/t HTTP/1.1\r\nHost: x\r\nContent-Type: " + ctBinary + "\r\nTransfer-Encoding: chunked\r\n\r\n"
	for range 3 {
		req += fmt.Sprintf("%x\r\n%s\r\n", len(chunk), chunk)
	}
	req += "0\r\n\r\n"
	got = raw(req)
	if !strings.HasPrefix(got, "HTTP/1.1 413 ") || !strings.Contains(got, `"error_code":413`) {
		t.Errorf("chunked body over the limit: got %.200q, want 413 with a JSON error", got)
	}
	// Content-Length over the limit is refused before reading.
	r := e.do("POST", "/topics/t", strings.Repeat("x", 1<<16+1), "Content-Type", ctBinary)
	if r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("body over the limit: status %d, want 413", r.status)
	}
}
