package cli_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// consumed is one --json output line.
type consumed struct {
	Topic         string    `json:"topic"`
	Partition     int32     `json:"partition"`
	Offset        int64     `json:"offset"`
	Timestamp     int64     `json:"timestamp"`
	LeaderEpoch   int32     `json:"leader_epoch"`
	Key           *string   `json:"key"`
	KeyEncoding   string    `json:"key_encoding"`
	Value         *string   `json:"value"`
	ValueEncoding string    `json:"value_encoding"`
	Headers       []hdrJSON `json:"headers"`
}

type hdrJSON struct {
	Key           string  `json:"key"`
	Value         *string `json:"value"`
	ValueEncoding string  `json:"value_encoding"`
}

func decodeJSONLines(t *testing.T, out string) []consumed {
	t.Helper()
	var recs []consumed
	for line := range strings.Lines(out) {
		var c consumed
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("json.Unmarshal(%q): %v", line, err)
		}
		recs = append(recs, c)
	}
	return recs
}

func ptr(s string) *string { return &s }

func TestProduceConsumeRoundTrip(t *testing.T) {
	bs := fakeCluster(t)
	b := "--bootstrap=" + bs
	mustRun(t, "", "topic", "create", "rt", b, "--partitions", "3")

	const n = 300
	var in strings.Builder
	for i := range n {
		fmt.Fprintf(&in, "key-%d|value %d|with pipe\n", i%17, i)
	}
	r := mustRun(t, in.String(), "produce", "rt", b, "--key-separator", "|", "--header", "source=test", "--header", "eq=a=b")
	if want := fmt.Sprintf("produced %d records\n", n); r.stderr != want {
		t.Errorf("produce rt: stderr %q, want %q", r.stderr, want)
	}
	if r.stdout != "" {
		t.Errorf("produce rt: stdout %q, want empty", r.stdout)
	}

	r = mustRun(t, "", "consume", "rt", b, "--exit-at-end", "--json")
	recs := decodeJSONLines(t, r.stdout)
	if len(recs) != n {
		t.Fatalf("consume rt --exit-at-end: %d records, want %d", len(recs), n)
	}
	wantHeaders := []hdrJSON{{Key: "source", Value: ptr("test")}, {Key: "eq", Value: ptr("a=b")}}
	seen := make([]bool, n)
	lastIndex := map[int32]int{}    // partition -> last input index seen
	nextOffset := map[int32]int64{} // partition -> expected next offset
	keyPartition := map[string]int32{}
	for _, c := range recs {
		if c.Topic != "rt" || c.Key == nil || c.Value == nil {
			t.Fatalf("consume rt: bad record %+v", c)
		}
		var i int
		if _, err := fmt.Sscanf(*c.Value, "value %d|with pipe", &i); err != nil || i < 0 || i >= n {
			t.Fatalf("consume rt: value %q is not one produced", *c.Value)
		}
		if seen[i] {
			t.Errorf("consume rt: record %d printed twice", i)
		}
		seen[i] = true
		if want := fmt.Sprintf("key-%d", i%17); *c.Key != want {
			t.Errorf("consume rt: record %d has key %q, want %q", i, *c.Key, want)
		}
		if diff := cmp.Diff(wantHeaders, c.Headers); diff != "" {
			t.Errorf("consume rt: record %d headers (-want +got):\n%s", i, diff)
		}
		if last, ok := lastIndex[c.Partition]; ok && i <= last {
			t.Errorf("consume rt: partition %d printed record %d after %d; per-partition order lost", c.Partition, i, last)
		}
		lastIndex[c.Partition] = i
		if c.Offset != nextOffset[c.Partition] {
			t.Errorf("consume rt: partition %d offset %d, want %d", c.Partition, c.Offset, nextOffset[c.Partition])
		}
		nextOffset[c.Partition] = c.Offset + 1
		if p, ok := keyPartition[*c.Key]; ok && p != c.Partition {
			t.Errorf("consume rt: key %q in partitions %d and %d", *c.Key, p, c.Partition)
		}
		keyPartition[*c.Key] = c.Partition
	}
	if len(lastIndex) < 2 {
		t.Errorf("consume rt: records landed in %d partitions, want them spread by key", len(lastIndex))
	}

	// The default output is the value alone; --print-key adds the key.
	r = mustRun(t, "", "consume", "rt", b, "--exit-at-end", "--partition", "0", "--partition", "2", "--print-key")
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if want := int(nextOffset[0] + nextOffset[2]); len(lines) != want {
		t.Errorf("consume rt --partition 0 --partition 2: %d lines, want %d", len(lines), want)
	}
	for _, l := range lines {
		k, v, ok := strings.Cut(l, "\t")
		if !ok || !strings.HasPrefix(k, "key-") || !strings.HasPrefix(v, "value ") {
			t.Fatalf("consume rt --print-key: line %q, want key<TAB>value", l)
		}
		if p := keyPartition[k]; p != 0 && p != 2 {
			t.Errorf("consume rt --partition 0 --partition 2: printed key %q of partition %d", k, p)
		}
	}
}

func TestProduceToOnePartitionWithOptions(t *testing.T) {
	bs := fakeCluster(t)
	b := "--bootstrap=" + bs
	mustRun(t, "", "topic", "create", "p", b, "--partitions", "4")
	tests := []struct {
		give []string
	}{
		{give: []string{"--acks", "all", "--compression", "none"}},
		{give: []string{"--acks", "1", "--compression", "gzip"}},
		{give: []string{"--acks", "all", "--compression", "snappy", "--idempotent=false"}},
		{give: []string{"--acks", "1", "--compression", "lz4", "--linger", "0s"}},
		{give: []string{"--acks", "0", "--compression", "zstd"}},
	}
	var want []string
	for i, tt := range tests {
		in := fmt.Sprintf("run%d-a\nrun%d-b\n", i, i)
		want = append(want, fmt.Sprintf("run%d-a", i), fmt.Sprintf("run%d-b", i))
		args := append([]string{"produce", "p", b, "--partition", "2"}, tt.give...)
		r := mustRun(t, in, args...)
		if r.stderr != "produced 2 records\n" {
			t.Errorf("produce %v: stderr %q, want %q", tt.give, r.stderr, "produced 2 records\n")
		}
	}
	// acks=0 is acknowledged on write, so wait for the broker to have all
	// records before reading with --exit-at-end.
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := mustRun(t, "", "consume", "p", b, "--exit-at-end", "--format", `%p %v\n`)
		var got []string
		for l := range strings.Lines(r.stdout) {
			part, v, _ := strings.Cut(strings.TrimSuffix(l, "\n"), " ")
			if part != "2" {
				t.Fatalf("consume p: record %q in partition %s, want partition 2", v, part)
			}
			got = append(got, v)
		}
		if len(got) == len(want) || time.Now().After(deadline) {
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("consume p (-want +got):\n%s", diff)
			}
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestProduceDelimiterAndEmptyLines(t *testing.T) {
	bs := fakeCluster(t)
	b := "--bootstrap=" + bs
	mustRun(t, "", "topic", "create", "d", b, "--partitions", "1")
	// "a;;b;" is a, an empty record, and b; the trailing delimiter adds none.
	r := mustRun(t, "a;;b;", "produce", "d", b, "--delimiter", ";")
	if r.stderr != "produced 3 records\n" {
		t.Errorf("produce --delimiter ';': stderr %q, want 3 records", r.stderr)
	}
	r = mustRun(t, "no separator\nk=v=w", "produce", "d", b, "--key-separator", "=")
	if r.stderr != "produced 2 records\n" {
		t.Errorf("produce --key-separator '=': stderr %q, want 2 records", r.stderr)
	}
	r = mustRun(t, "", "consume", "d", b, "--exit-at-end", "--json")
	var got []string
	for _, c := range decodeJSONLines(t, r.stdout) {
		k := "<null>"
		if c.Key != nil {
			k = *c.Key
		}
		got = append(got, k+"/"+*c.Value)
	}
	want := []string{"<null>/a", "<null>/", "<null>/b", "<null>/no separator", "k/v=w"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("consume d (-want +got):\n%s", diff)
	}
}

// seedTen puts v0..v9 with timestamps 1000ms..10000ms into partition 0 of a
// one-partition topic.
func seedTen(t *testing.T, bs, topic string) {
	t.Helper()
	mustRun(t, "", "topic", "create", topic, "--bootstrap", bs, "--partitions", "1")
	var recs []*kgo.Record
	for i := range 10 {
		recs = append(recs, &kgo.Record{
			Topic:     topic,
			Partition: 0,
			Key:       []byte("k" + strconv.Itoa(i)),
			Value:     []byte("v" + strconv.Itoa(i)),
			Timestamp: time.UnixMilli(int64(1000 * (i + 1))),
			Headers:   []kgo.RecordHeader{{Key: "h", Value: []byte(strconv.Itoa(i))}},
		})
	}
	produceDirect(t, bs, recs...)
}

func values(n ...int) string {
	var b strings.Builder
	for _, i := range n {
		fmt.Fprintf(&b, "v%d\n", i)
	}
	return b.String()
}

func TestConsumeStartAndStop(t *testing.T) {
	bs := fakeCluster(t)
	seedTen(t, bs, "ten")
	tests := []struct {
		name string
		give []string
		want string
	}{
		{name: "from beginning to end", give: []string{"--exit-at-end"}, want: values(0, 1, 2, 3, 4, 5, 6, 7, 8, 9)},
		{name: "count", give: []string{"--count", "3"}, want: values(0, 1, 2)},
		{name: "count and exit at end, end first", give: []string{"--count", "30", "--exit-at-end"}, want: values(0, 1, 2, 3, 4, 5, 6, 7, 8, 9)},
		{name: "absolute offset", give: []string{"--offset", "7", "--exit-at-end"}, want: values(7, 8, 9)},
		{name: "absolute offset past the end", give: []string{"--offset", "100", "--exit-at-end"}, want: ""},
		{name: "relative offset", give: []string{"--offset", "-2", "--exit-at-end"}, want: values(8, 9)},
		{name: "relative offset before the start", give: []string{"--offset", "-100", "--count", "2"}, want: values(0, 1)},
		{name: "offset with count", give: []string{"--offset", "4", "--count", "2"}, want: values(4, 5)},
		{name: "timestamp in ms", give: []string{"--from-timestamp", "8000", "--exit-at-end"}, want: values(7, 8, 9)},
		{name: "timestamp between records", give: []string{"--from-timestamp", "8500", "--exit-at-end"}, want: values(8, 9)},
		{name: "timestamp RFC3339", give: []string{"--from-timestamp", "1970-01-01T00:00:09Z", "--exit-at-end"}, want: values(8, 9)},
		{name: "timestamp after every record", give: []string{"--from-timestamp", "99999", "--exit-at-end"}, want: ""},
		{name: "end of log", give: []string{"--from-beginning=false", "--exit-at-end"}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"consume", "ten", "--bootstrap", bs}, tt.give...)
			r := mustRun(t, "", args...)
			if r.stdout != tt.want {
				t.Errorf("consume ten %v: stdout %q, want %q", tt.give, r.stdout, tt.want)
			}
		})
	}
}

func TestConsumeExitAtEndOnEmptyTopic(t *testing.T) {
	bs := fakeCluster(t)
	mustRun(t, "", "topic", "create", "empty", "--bootstrap", bs, "--partitions", "3")
	r := mustRun(t, "", "consume", "empty", "--bootstrap", bs, "--exit-at-end")
	if r.stdout != "" {
		t.Errorf("consume empty --exit-at-end: stdout %q, want empty", r.stdout)
	}
}

func TestConsumeExitAtEndStopsAtStartHighWatermark(t *testing.T) {
	c, bs := fakeClusterHandle(t)
	seedTen(t, bs, "ten")
	// Report a high watermark of 4 once, as if v4..v9 were appended after
	// the consumer started: they are fetched but must not be printed.
	c.ControlKey(int16(kmsg.ListOffsets), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		req := kreq.(*kmsg.ListOffsetsRequest)
		if len(req.Topics) != 1 || len(req.Topics[0].Partitions) != 1 || req.Topics[0].Partitions[0].Timestamp != -1 {
			c.KeepControl()
			return nil, nil, false
		}
		resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
		rt := kmsg.NewListOffsetsResponseTopic()
		rt.Topic = req.Topics[0].Topic
		rp := kmsg.NewListOffsetsResponseTopicPartition()
		rp.Partition = 0
		rp.Offset = 4
		rp.LeaderEpoch = 0
		rt.Partitions = append(rt.Partitions, rp)
		resp.Topics = append(resp.Topics, rt)
		return resp, nil, true
	})
	r := mustRun(t, "", "consume", "ten", "--bootstrap", bs, "--exit-at-end")
	if want := values(0, 1, 2, 3); r.stdout != want {
		t.Errorf("consume ten --exit-at-end with high watermark 4: stdout %q, want %q", r.stdout, want)
	}
}

func TestConsumeExitAtEndAfterTransactionMarker(t *testing.T) {
	bs := fakeCluster(t)
	mustRun(t, "", "topic", "create", "txn", "--bootstrap", bs, "--partitions", "1")
	cl, err := kgo.NewClient(kgo.SeedBrokers(bs), kgo.TransactionalID("cli-test"))
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	defer cl.Close()
	ctx := t.Context()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatalf("BeginTransaction: %v", err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "txn", Value: []byte("in-txn")}).FirstErr(); err != nil {
		t.Fatalf("ProduceSync: %v", err)
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("EndTransaction: %v", err)
	}
	// The log is now the record at offset 0 and the commit marker at 1; the
	// high watermark is 2. Only a consumer that sees the marker's offset
	// knows it has reached the end.
	r := mustRun(t, "", "consume", "txn", "--bootstrap", bs, "--exit-at-end", "--format", `%o %v\n`)
	if want := "0 in-txn\n"; r.stdout != want {
		t.Errorf("consume txn --exit-at-end: stdout %q, want %q", r.stdout, want)
	}
}

func TestConsumeFormat(t *testing.T) {
	bs := fakeCluster(t)
	seedTen(t, bs, "fmt")
	r := mustRun(t, "", "consume", "fmt", "--bootstrap", bs, "--offset", "3", "--count", "1",
		"--format", `%t/%p/%o key=%k value=%v [%h] ts=%T epoch=%e 100%%\t.\n`)
	if want := "fmt/0/3 key=k3 value=v3 [h=3] ts=4000 epoch=0 100%\t.\n"; r.stdout != want {
		t.Errorf("consume --format: stdout %q, want %q", r.stdout, want)
	}
}

func TestConsumeJSONEncodesBinaryAsBase64(t *testing.T) {
	bs := fakeCluster(t)
	mustRun(t, "", "topic", "create", "bin", "--bootstrap", bs, "--partitions", "1")
	produceDirect(t, bs,
		&kgo.Record{Topic: "bin", Key: []byte{0xff, 0x00}, Value: []byte("text ✓"), Timestamp: time.UnixMilli(42),
			Headers: []kgo.RecordHeader{{Key: "raw", Value: []byte{0xc3}}, {Key: "nil"}}},
		&kgo.Record{Topic: "bin", Value: nil, Timestamp: time.UnixMilli(43)},
	)
	r := mustRun(t, "", "consume", "bin", "--bootstrap", bs, "--exit-at-end", "--json")
	want := `{"topic":"bin","partition":0,"offset":0,"timestamp":42,"leader_epoch":0,"key":"/wA=","key_encoding":"base64","value":"text ✓","headers":[{"key":"raw","value":"ww==","value_encoding":"base64"},{"key":"nil","value":null}]}
{"topic":"bin","partition":0,"offset":1,"timestamp":43,"leader_epoch":0,"key":null,"value":null,"headers":[]}
`
	if diff := cmp.Diff(want, r.stdout); diff != "" {
		t.Errorf("consume bin --json (-want +got):\n%s", diff)
	}
}

func TestBadFlagValuesGiveOneErrorLine(t *testing.T) {
	bs := fakeCluster(t)
	mustRun(t, "", "topic", "create", "t", "--bootstrap", bs, "--partitions", "1")
	tests := []struct {
		give []string
		want string
	}{
		{give: []string{"topic", "create", "x", "--partitions", "abc"}, want: `strata: invalid argument "abc" for "--partitions" flag`},
		{give: []string{"topic", "create", "x", "--partitions", "0"}, want: `strata: --partitions must be positive or -1, got 0`},
		{give: []string{"topic", "alter-partitions", "t"}, want: `strata: required flag(s) "partitions" not set`},
		{give: []string{"topic", "list", "--timeout", "soon"}, want: `strata: invalid argument "soon" for "--timeout" flag`},
		{give: []string{"topic", "list", "--bootstrap", " , "}, want: `strata: --bootstrap is empty`},
		{give: []string{"produce", "t", "--acks", "2"}, want: `strata: --acks "2": want all, 1 or 0`},
		{give: []string{"produce", "t", "--compression", "brotli"}, want: `strata: --compression "brotli": want none, gzip, snappy, lz4 or zstd`},
		{give: []string{"produce", "t", "--acks", "1", "--idempotent"}, want: `strata: --idempotent needs --acks all, got --acks 1`},
		{give: []string{"produce", "t", "--header", "novalue"}, want: `strata: --header "novalue": want key=value`},
		{give: []string{"produce", "t", "--delimiter", ""}, want: `strata: --delimiter must not be empty`},
		{give: []string{"consume", "t", "--format", "%q"}, want: `strata: --format "%q": unknown verb %q`},
		{give: []string{"consume", "t", "--from-timestamp", "yesterday"}, want: `strata: --from-timestamp "yesterday": want Unix milliseconds or RFC3339`},
		{give: []string{"consume", "t", "--offset", "1", "--from-timestamp", "5"}, want: `strata: if any flags in the group [from-beginning offset from-timestamp] are set none of the others can be`},
		{give: []string{"consume", "t", "--json", "--print-key"}, want: `strata: if any flags in the group [format print-key json] are set none of the others can be`},
		{give: []string{"consume", "t", "--count", "-1"}, want: `strata: --count must not be negative, got -1`},
		{give: []string{"consume", "t", "--partition", "x"}, want: `strata: invalid argument "x" for "--partition" flag`},
		{give: []string{"consume"}, want: `strata: accepts 1 arg(s), received 0`},
		{give: []string{"topic", "lst"}, want: `strata: unknown command "lst" for "strata topic" (did you mean list?)`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.give, " "), func(t *testing.T) {
			args := tt.give
			if !slices.Contains(args, "--bootstrap") {
				args = append(slices.Clone(args), "--bootstrap", bs)
			}
			r := run(t, "x\n", args...)
			if r.err == nil {
				t.Fatalf("strata %v: no error, stdout %q", tt.give, r.stdout)
			}
			if !strings.HasPrefix(r.errLine, tt.want) || strings.Contains(r.errLine, "\n") {
				t.Errorf("strata %v: error line %q, want one line starting %q", tt.give, r.errLine, tt.want)
			}
			if r.stdout != "" || r.stderr != "" {
				t.Errorf("strata %v: printed stdout %q stderr %q, want nothing (no usage dump)", tt.give, r.stdout, r.stderr)
			}
		})
	}
}

func TestProduceRejectsOverlongRecord(t *testing.T) {
	bs := fakeCluster(t)
	mustRun(t, "", "topic", "create", "big", "--bootstrap", bs, "--partitions", "1")
	in := "short\n" + strings.Repeat("x", 100) + "\nafter\n"
	r := run(t, in, "produce", "big", "--bootstrap", bs, "--max-record-bytes", "50")
	if want := "strata: read stdin: record 2 is longer than --max-record-bytes 50"; r.errLine != want {
		t.Errorf("produce --max-record-bytes 50: error line %q, want %q", r.errLine, want)
	}
	if want := "produced 1 records\n"; r.stderr != want {
		t.Errorf("produce --max-record-bytes 50: stderr %q, want %q", r.stderr, want)
	}
}

func TestProduceStreamsBeforeEOF(t *testing.T) {
	bs := fakeCluster(t)
	mustRun(t, "", "topic", "create", "s", "--bootstrap", bs, "--partitions", "1")
	stdin, w := io.Pipe()
	done := make(chan result, 1)
	go func() { done <- runWith(t.Context(), stdin, nil, "produce", "s", "--bootstrap", bs) }()

	if _, err := io.WriteString(w, "first\n"); err != nil {
		t.Fatalf("write stdin: %v", err)
	}
	// stdin is still open: the record must reach the broker anyway.
	r := mustRun(t, "", "consume", "s", "--bootstrap", bs, "--count", "1")
	if r.stdout != "first\n" {
		t.Errorf("consume s --count 1 while producing: stdout %q, want %q", r.stdout, "first\n")
	}
	if _, err := io.WriteString(w, "second\n"); err != nil {
		t.Fatalf("write stdin: %v", err)
	}
	w.Close()
	if r := <-done; r.err != nil || r.stderr != "produced 2 records\n" {
		t.Errorf("produce s: err %v, stderr %q, want produced 2 records", r.err, r.stderr)
	}
}

func TestConsumeStopsCleanlyWhenCancelled(t *testing.T) {
	bs := fakeCluster(t)
	seedTen(t, bs, "ten")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out, w := io.Pipe()
	done := make(chan result, 1)
	go func() {
		r := runWith(ctx, strings.NewReader(""), w, "consume", "ten", "--bootstrap", bs)
		w.Close()
		done <- r
	}()
	// Without --count or --exit-at-end only cancellation (Ctrl-C in main)
	// ends the command; once it is consuming that is a normal exit.
	sc := bufio.NewScanner(out)
	var got []string
	for sc.Scan() {
		got = append(got, sc.Text())
		if len(got) == 10 {
			cancel()
		}
	}
	r := <-done
	if r.err != nil {
		t.Errorf("consume ten, cancelled after 10 records: err %v, want nil", r.err)
	}
	if want := strings.Fields(values(0, 1, 2, 3, 4, 5, 6, 7, 8, 9)); !slices.Equal(got, want) {
		t.Errorf("consume ten, cancelled after 10 records: printed %q, want %q", got, want)
	}
}

// TestProduceCreatesMissingTopic: like kafka-console-producer, produce asks
// a broker that auto-creates topics to create a missing one.
func TestProduceCreatesMissingTopic(t *testing.T) {
	bs := fakeCluster(t, kfake.AllowAutoTopicCreation())
	r := mustRun(t, "a\nb\n", "produce", "fresh", "--bootstrap="+bs)
	if r.stderr != "produced 2 records\n" {
		t.Errorf("produce fresh: stderr %q, want 2 records produced", r.stderr)
	}
	r = mustRun(t, "", "consume", "fresh", "--bootstrap="+bs, "--exit-at-end")
	if r.stdout != "a\nb\n" {
		t.Errorf("consume fresh: %q, want a, b", r.stdout)
	}
}
