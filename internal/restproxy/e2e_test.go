package restproxy_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kgo"
)

// curl runs curl with args and returns its stdout.
func curl(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "curl", append([]string{"-sS", "--fail-with-body"}, args...)...).Output()
	if err != nil {
		t.Fatalf("curl %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// The done-when: curl produces JSON and binary records that a
// Kafka consumer reads back byte-exact, and consumes records produced by
// a Kafka client.
func TestCurlEndToEnd(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	e := start(t)
	e.createTopic("from-curl", 1, nil)
	e.createTopic("to-curl", 2, nil)

	// JSON records with curl, as in the README.
	out := curl(t, "-X", "POST", "-H", "Content-Type: application/vnd.kafka.json.v2+json",
		"--data", `{"records":[{"key":"alice","value":{"item":"book","qty":2}},{"value":[1,2,3]}]}`,
		e.url+"/topics/from-curl")
	var pr produceResponse
	if err := json.Unmarshal([]byte(out), &pr); err != nil || len(pr.Offsets) != 2 || pr.Offsets[0].ErrorCode != nil {
		t.Fatalf("curl produce json: %s (%v)", out, err)
	}
	// Binary records: every byte value.
	var all []byte
	for i := range 256 {
		all = append(all, byte(i))
	}
	out = curl(t, "-X", "POST", "-H", "Content-Type: application/vnd.kafka.binary.v2+json",
		"--data", fmt.Sprintf(`{"records":[{"key":%q,"value":%q}]}`, base64.StdEncoding.EncodeToString([]byte("\x00\xff")), base64.StdEncoding.EncodeToString(all)),
		e.url+"/topics/from-curl")
	if err := json.Unmarshal([]byte(out), &pr); err != nil || len(pr.Offsets) != 1 || pr.Offsets[0].ErrorCode != nil || *pr.Offsets[0].Offset != 2 {
		t.Fatalf("curl produce binary: %s (%v)", out, err)
	}
	recs := e.consume("from-curl", 3)
	got := []string{
		fmt.Sprintf("%q=%q", recs[0].Key, recs[0].Value),
		fmt.Sprintf("%v=%q", recs[1].Key == nil, recs[1].Value),
		fmt.Sprintf("%q", recs[2].Key),
	}
	want := []string{`"\"alice\""="{\"item\":\"book\",\"qty\":2}"`, `true="[1,2,3]"`, `"\x00\xff"`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records curl produced, read with kgo (-want +got):\n%s", diff)
	}
	if string(recs[2].Value) != string(all) {
		t.Errorf("binary value read back %q, want all 256 byte values", recs[2].Value)
	}

	// kgo produces, curl consumes through a consumer instance.
	var in []*kgo.Record
	for i := range 10 {
		in = append(in, &kgo.Record{Topic: "to-curl", Partition: int32(i % 2), Key: []byte{byte(i), 0xfe}, Value: []byte(fmt.Sprintf("value-%d\x00", i))})
	}
	e.produce(in...)
	out = curl(t, "-X", "POST", "-H", "Content-Type: application/vnd.kafka.v2+json",
		"--data", `{"name":"curl-consumer","format":"binary","auto.offset.reset":"earliest"}`, e.url+"/consumers/curl-group")
	var created struct {
		BaseURI string `json:"base_uri"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.BaseURI != e.url+"/consumers/curl-group/instances/curl-consumer" {
		t.Fatalf("curl create consumer: %s (%v)", out, err)
	}
	curl(t, "-X", "POST", "-H", "Content-Type: application/vnd.kafka.v2+json", "--data", `{"topics":["to-curl"]}`, created.BaseURI+"/subscription")
	var polled []consumedRecord
	deadline := time.Now().Add(60 * time.Second)
	for len(polled) < 10 && time.Now().Before(deadline) {
		var batch []consumedRecord
		out = curl(t, "-H", "Accept: application/vnd.kafka.binary.v2+json", created.BaseURI+"/records")
		if err := json.Unmarshal([]byte(out), &batch); err != nil {
			t.Fatalf("curl records: %s (%v)", out, err)
		}
		polled = append(polled, batch...)
	}
	gotRecs := map[string]string{}
	for _, r := range polled {
		gotRecs[*decodeB64(t, r.Key)] = fmt.Sprintf("%d:%d %s", r.Partition, r.Offset, *decodeB64(t, r.Value))
	}
	wantRecs := map[string]string{}
	for i, r := range in {
		wantRecs[string(r.Key)] = fmt.Sprintf("%d:%d %s", r.Partition, i/2, r.Value)
	}
	if diff := cmp.Diff(wantRecs, gotRecs); diff != "" || len(polled) != 10 {
		t.Errorf("%d records curl consumed (-want +got):\n%s", len(polled), diff)
	}
	curl(t, "-X", "POST", "-H", "Content-Type: application/vnd.kafka.v2+json", created.BaseURI+"/offsets")
	curl(t, "-X", "DELETE", created.BaseURI)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	committed, err := e.admin().FetchOffsets(ctx, "curl-group")
	if err != nil {
		t.Fatalf("FetchOffsets: %v", err)
	}
	for p := range int32(2) {
		if o, ok := committed.Lookup("to-curl", p); !ok || o.At != 5 {
			t.Errorf("committed offset of to-curl[%d]: %+v, want 5", p, o)
		}
	}

	// v3 streaming produce with curl.
	id := e.clusterID()
	out = curl(t, "-X", "POST", "-H", "Content-Type: application/json",
		"--data-binary", `{"value":{"type":"JSON","data":{"v":3}}}{"key":{"type":"STRING","data":"s"},"value":{"type":"BINARY","data":"AAE="}}`,
		e.url+"/v3/clusters/"+id+"/topics/from-curl/records")
	if n := strings.Count(out, `"error_code":200`); n != 2 {
		t.Fatalf("curl v3 produce: %s, want two successful reports", out)
	}
	recs = e.consume("from-curl", 5)
	if string(recs[3].Value) != `{"v":3}` || string(recs[4].Key) != "s" || string(recs[4].Value) != "\x00\x01" {
		t.Errorf("v3 records read back: %q=%q, %q=%q", recs[3].Key, recs[3].Value, recs[4].Key, recs[4].Value)
	}
}

// A small REST client in Python (the standard library's urllib) runs the
// whole v2 flow against the proxy.
func TestPythonRESTClient(t *testing.T) {
	if _, err := exec.LookPath("/usr/bin/python3"); err != nil {
		t.Skip("/usr/bin/python3 not installed")
	}
	e := start(t)
	e.createTopic("py", 1, nil)
	e.produce(&kgo.Record{Topic: "py", Value: []byte("from kgo \xff")})
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "/usr/bin/python3", "testdata/rest_client.py", e.url, "py").CombinedOutput()
	if err != nil {
		t.Fatalf("rest_client.py: %v\n%s", err, out)
	}
	t.Logf("rest_client.py:\n%s", out)
	var res struct {
		Produced []int64  `json:"produced"`
		Consumed []string `json:"consumed"`
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("rest_client.py result %q: %v", lines[len(lines)-1], err)
	}
	if diff := cmp.Diff([]int64{1, 2}, res.Produced); diff != "" {
		t.Errorf("offsets of the records Python produced (-want +got):\n%s", diff)
	}
	wantConsumed := []string{base64.StdEncoding.EncodeToString([]byte("from kgo \xff")), base64.StdEncoding.EncodeToString([]byte("py\x00bin")), base64.StdEncoding.EncodeToString([]byte(`{"from":"python"}`))}
	if diff := cmp.Diff(wantConsumed, res.Consumed); diff != "" {
		t.Errorf("values Python consumed (-want +got):\n%s", diff)
	}
	recs := e.consume("py", 3)
	if string(recs[1].Value) != "py\x00bin" || string(recs[2].Value) != `{"from":"python"}` {
		t.Errorf("records Python produced, read with kgo: %q %q", recs[1].Value, recs[2].Value)
	}
}
