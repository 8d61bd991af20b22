package restproxy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/strata-io/strata/internal/restproxy"
)

// clusterID is the id the v3 API shows, checked against kadm's.
func (e *env) clusterID() string {
	e.t.Helper()
	var list struct {
		Kind string `json:"kind"`
		Data []struct {
			Kind      string `json:"kind"`
			ClusterID string `json:"cluster_id"`
			Metadata  struct {
				Self string `json:"self"`
			} `json:"metadata"`
			Topics struct {
				Related string `json:"related"`
			} `json:"topics"`
		} `json:"data"`
	}
	e.ok(200, &list, "GET", "/v3/clusters", "")
	if list.Kind != "KafkaClusterList" || len(list.Data) != 1 || list.Data[0].Kind != "KafkaCluster" {
		e.t.Fatalf("GET /v3/clusters: %+v, want one KafkaCluster", list)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := e.admin().BrokerMetadata(ctx)
	if err != nil {
		e.t.Fatalf("BrokerMetadata: %v", err)
	}
	c := list.Data[0]
	if c.ClusterID != m.Cluster || c.Metadata.Self != e.url+"/v3/clusters/"+m.Cluster || c.Topics.Related != c.Metadata.Self+"/topics" {
		e.t.Fatalf("cluster %+v, want id %s with links under %s", c, m.Cluster, e.url)
	}
	return c.ClusterID
}

func TestV3MetadataAndTopicAdmin(t *testing.T) {
	e := start(t)
	id := e.clusterID()
	base := "/v3/clusters/" + id
	e.ok(200, nil, "GET", base, "")
	e.fail(404, 404, "GET", "/v3/clusters/other", "")
	e.fail(404, 404, "GET", "/v3/clusters/other/topics", "")

	var created struct {
		Kind              string `json:"kind"`
		TopicName         string `json:"topic_name"`
		PartitionsCount   int    `json:"partitions_count"`
		ReplicationFactor int    `json:"replication_factor"`
	}
	e.ok(201, &created, "POST", base+"/topics", `{"topic_name":"v3t","partitions_count":3,"configs":[{"name":"cleanup.policy","value":"compact"}]}`, "Content-Type", "application/json")
	if created.Kind != "KafkaTopic" || created.TopicName != "v3t" || created.PartitionsCount != 3 || created.ReplicationFactor != 1 {
		t.Errorf("create topic: %+v, want KafkaTopic v3t with 3 partitions, RF 1", created)
	}
	e.ok(200, nil, "POST", base+"/topics", `{"topic_name":"dry","partitions_count":1,"validate_only":true}`, "Content-Type", "application/json")
	e.fail(400, 40002, "POST", base+"/topics", `{"topic_name":"v3t","partitions_count":1}`, "Content-Type", "application/json")
	e.fail(400, 40002, "POST", base+"/topics", `{"topic_name":"bad name"}`, "Content-Type", "application/json")
	e.fail(400, 400, "POST", base+"/topics", `{"topic_name":`, "Content-Type", "application/json")

	var topics struct {
		Kind string `json:"kind"`
		Data []struct {
			TopicName       string `json:"topic_name"`
			PartitionsCount int    `json:"partitions_count"`
			IsInternal      bool   `json:"is_internal"`
		} `json:"data"`
	}
	e.ok(200, &topics, "GET", base+"/topics", "")
	var names []string
	for _, d := range topics.Data {
		if !d.IsInternal {
			names = append(names, fmt.Sprintf("%s/%d", d.TopicName, d.PartitionsCount))
		}
	}
	if diff := cmp.Diff([]string{"v3t/3"}, names); diff != "" || topics.Kind != "KafkaTopicList" {
		t.Errorf("GET topics kind %q (-want +got):\n%s", topics.Kind, diff)
	}
	var parts struct {
		Data []struct {
			PartitionID int32 `json:"partition_id"`
			Leader      struct {
				Related string `json:"related"`
			} `json:"leader"`
		} `json:"data"`
	}
	e.ok(200, &parts, "GET", base+"/topics/v3t/partitions", "")
	if len(parts.Data) != 3 || parts.Data[2].PartitionID != 2 || !strings.HasSuffix(parts.Data[2].Leader.Related, "/topics/v3t/partitions/2/replicas/1") {
		t.Errorf("partitions %+v, want 3 led by broker 1", parts.Data)
	}
	e.ok(200, nil, "GET", base+"/topics/v3t/partitions/1", "")
	e.fail(404, 40402, "GET", base+"/topics/v3t/partitions/3", "")
	e.fail(404, 40401, "GET", base+"/topics/nope", "")
	var brokers struct {
		Data []struct {
			BrokerID int32 `json:"broker_id"`
		} `json:"data"`
	}
	e.ok(200, &brokers, "GET", base+"/brokers", "")
	if len(brokers.Data) != 1 || brokers.Data[0].BrokerID != 1 {
		t.Errorf("brokers %+v, want broker 1", brokers.Data)
	}
	e.ok(204, nil, "DELETE", base+"/topics/v3t", "")
	waitFor(t, "the deleted topic to disappear", 30*time.Second, func() bool {
		return e.do("GET", base+"/topics/v3t", "").status == 404
	})
	e.fail(405, 405, "PATCH", base+"/topics/v3t", "")
}

type v3Report struct {
	ErrorCode   int    `json:"error_code"`
	Message     string `json:"message"`
	PartitionID int32  `json:"partition_id"`
	Offset      int64  `json:"offset"`
	Timestamp   string `json:"timestamp"`
	Key         *struct {
		Type string `json:"type"`
		Size int64  `json:"size"`
	} `json:"key"`
}

func decodeReports(t *testing.T, body []byte) []v3Report {
	t.Helper()
	var out []v3Report
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		var r v3Report
		if err := dec.Decode(&r); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatalf("decode reports %q: %v", body, err)
		}
		out = append(out, r)
	}
}

func TestV3ProduceStreamReadBackByteExact(t *testing.T) {
	e := start(t)
	id := e.clusterID()
	e.createTopic("s", 2, nil)
	path := "/v3/clusters/" + id + "/topics/s/records"
	ts := time.Date(2024, 5, 6, 7, 8, 9, 123e6, time.UTC)
	body := fmt.Sprintf(`{"partition_id":1,"headers":[{"name":"h1","value":%q},{"name":"h2","value":null}],"key":{"type":"BINARY","data":%q},"value":{"type":"JSON","data":{"foo": [1, "bar"]}},"timestamp":%q}
{"partition_id":1,"value":{"type":"STRING","data":"héllo"}}
{"partition_id":1,"key":{"type":"BINARY","data":"!!"},"value":{"type":"STRING","data":"x"}}
{"partition_id":7,"value":{"type":"STRING","data":"x"}}
{"partition_id":1,"value":{"type":"AVRO","data":1}}
{"partition_id":0,"key":{"type":"STRING","data":"k"}}`, b64("\x00hv"), b64("\xffkey"), ts.Format(time.RFC3339Nano))
	r := e.ok(200, nil, "POST", path, body, "Content-Type", "application/json")
	reports := decodeReports(t, r.body)
	var got []string
	for _, rep := range reports {
		if rep.ErrorCode != 200 {
			got = append(got, fmt.Sprintf("error %d", rep.ErrorCode))
			continue
		}
		got = append(got, fmt.Sprintf("%d:%d", rep.PartitionID, rep.Offset))
	}
	want := []string{"1:0", "1:1", "error 400", "error 40402", "error 400", "0:0"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("delivery reports (-want +got):\n%s\nbody %s", diff, r.body)
	}
	if reports[0].Timestamp != "2024-05-06T07:08:09.123Z" || reports[0].Key == nil || reports[0].Key.Type != "BINARY" || reports[0].Key.Size != 4 {
		t.Errorf("first report %+v, want its timestamp and a 4-byte BINARY key", reports[0])
	}

	recs := e.consume("s", 3)
	var lines []string
	for _, rec := range recs {
		var hs []string
		for _, h := range rec.Headers {
			hs = append(hs, fmt.Sprintf("%s=%q(nil=%v)", h.Key, h.Value, h.Value == nil))
		}
		lines = append(lines, fmt.Sprintf("%d:%d %q=%q nilvalue=%v %v", rec.Partition, rec.Offset, rec.Key, rec.Value, rec.Value == nil, hs))
		if rec.Partition == 1 && rec.Offset == 0 && !rec.Timestamp.Equal(ts) {
			t.Errorf("record timestamp %v, want %v", rec.Timestamp, ts)
		}
	}
	seen := map[string]bool{}
	for _, l := range lines {
		seen[l] = true
	}
	for _, w := range []string{
		`1:0 "\xffkey"="{\"foo\":[1,\"bar\"]}" nilvalue=false [h1="\x00hv"(nil=false) h2=""(nil=true)]`,
		`1:1 ""="héllo" nilvalue=false []`,
		`0:0 "k"="" nilvalue=true []`,
	} {
		if !seen[w] {
			t.Errorf("record %s not read back; got %q", w, lines)
		}
	}
}

// A chunked stream: records sent one by one get their reports while the
// request is still open.
func TestV3ProduceStreaming(t *testing.T) {
	e := start(t)
	id := e.clusterID()
	e.createTopic("live", 1, nil)
	pr, pw := io.Pipe()
	req, err := http.NewRequest("POST", e.url+"/v3/clusters/"+id+"/topics/live/records", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	respc := make(chan *http.Response, 1)
	errc := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req.WithContext(ctx))
		if err != nil {
			errc <- err
			return
		}
		respc <- resp
	}()
	write := func(i int) {
		if _, err := fmt.Fprintf(pw, `{"value":{"type":"STRING","data":"r%d"}}`, i); err != nil {
			t.Fatalf("write record %d: %v", i, err)
		}
	}
	write(0)
	var resp *http.Response
	select {
	case resp = <-respc:
	case err := <-errc:
		t.Fatalf("POST records: %v", err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for i := range 5 {
		if i > 0 {
			write(i)
		}
		var rep v3Report
		if err := dec.Decode(&rep); err != nil {
			t.Fatalf("report %d: %v", i, err)
		}
		if rep.ErrorCode != 200 || rep.Offset != int64(i) {
			t.Fatalf("report %d: %+v, want offset %d", i, rep, i)
		}
	}
	pw.Close()
	var rest v3Report
	if err := dec.Decode(&rest); err != io.EOF {
		t.Errorf("after the stream ended: %+v %v, want EOF", rest, err)
	}
}

func TestV3ProduceBadInput(t *testing.T) {
	e := start(t, func(c *restproxy.Config) { c.MaxBodyBytes = 2048 })
	id := e.clusterID()
	e.createTopic("b", 1, nil)
	path := "/v3/clusters/" + id + "/topics/b/records"
	tests := []struct {
		name, path, ct, body string
		status, code         int
	}{
		{"malformed JSON", path, "application/json", `{"value":`, 400, 400},
		{"empty body", path, "application/json", ``, 422, 422},
		{"bad base64", path, "application/json", `{"value":{"type":"BINARY","data":"!!"}}`, 400, 400},
		{"schema type", path, "application/json", `{"value":{"schema_id":1,"data":1}}`, 400, 400},
		{"bad partition", path, "application/json", `{"partition_id":3,"value":{"type":"STRING","data":"x"}}`, 404, 40402},
		{"unknown topic", "/v3/clusters/" + id + "/topics/zz/records", "application/json", `{}`, 404, 40401},
		{"unknown cluster", "/v3/clusters/zz/topics/b/records", "application/json", `{}`, 404, 404},
		{"wrong content type", path, "text/plain", `{}`, 415, 415},
		{"too large", path, "application/json", `{"value":{"type":"STRING","data":"` + strings.Repeat("x", 4000) + `"}}`, 413, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.t = t
			e.fail(tt.status, tt.code, "POST", tt.path, tt.body, "Content-Type", tt.ct)
		})
	}
	e.t = t
	// Malformed JSON after good records ends the stream with an error.
	r := e.ok(200, nil, "POST", path, `{"value":{"type":"STRING","data":"a"}} {"value":`, "Content-Type", "application/json")
	reps := decodeReports(t, r.body)
	if len(reps) != 2 || reps[0].ErrorCode != 200 || reps[1].ErrorCode != 400 {
		t.Errorf("reports %+v, want a success then a 400", reps)
	}
	if got := e.consume("b", 1); string(got[0].Value) != "a" {
		t.Errorf("record %q, want a", got[0].Value)
	}
}
