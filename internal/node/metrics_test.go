package node

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strata-io/strata/internal/config"
	"github.com/strata-io/strata/internal/httpapi"
)

// scrapeMetrics GETs addr's /metrics in the Prometheus text format and
// parses it with client_golang's own parser.
func scrapeMetrics(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	body, ctype, code := httpGet(t, addr, "/metrics", "")
	if code != http.StatusOK {
		t.Fatalf("GET %s/metrics: status %d: %s", addr, code, body)
	}
	if !strings.HasPrefix(ctype, "text/plain") {
		t.Fatalf("GET %s/metrics: Content-Type %q, want text/plain", addr, ctype)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing %s/metrics: %v", addr, err)
	}
	return fams
}

func httpGet(t *testing.T, addr, path, accept string) (body, contentType string, status int) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxTimeout(t, 30*time.Second), http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s%s: %v", addr, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s%s: reading body: %v", addr, path, err)
	}
	return string(b), resp.Header.Get("Content-Type"), resp.StatusCode
}

// series is one sample: its labels and value.
type series struct {
	labels map[string]string
	value  float64
}

func samples(fams map[string]*dto.MetricFamily, name string) []series {
	f := fams[name]
	if f == nil {
		return nil
	}
	var out []series
	for _, m := range f.GetMetric() {
		s := series{labels: map[string]string{}}
		for _, l := range m.GetLabel() {
			s.labels[l.GetName()] = l.GetValue()
		}
		switch {
		case m.Gauge != nil:
			s.value = m.GetGauge().GetValue()
		case m.Counter != nil:
			s.value = m.GetCounter().GetValue()
		case m.Untyped != nil:
			s.value = m.GetUntyped().GetValue()
		case m.Histogram != nil:
			s.value = float64(m.GetHistogram().GetSampleCount())
		}
		out = append(out, s)
	}
	return out
}

// partitionKey names a series by labels, e.g. "metered/0".
func partitionKey(s series, labels ...string) string {
	var parts []string
	for _, l := range labels {
		parts = append(parts, s.labels[l])
	}
	return strings.Join(parts, "/")
}

// TestMetricsMatchAdminClient runs three nodes, produces, commits group
// offsets and checks that the kafka_exporter-compatible series, summed
// over the three /metrics, say what kadm (what strata topic describe and
// strata group describe use) says: offsets, ISR, leaders, lag, members.
func TestMetricsMatchAdminClient(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes")
	}
	var listen, raftAddrs []string
	for range 3 {
		listen, raftAddrs = append(listen, freePort(t)), append(raftAddrs, freePort(t))
	}
	var voters []string
	for i := range 3 {
		voters = append(voters, fmt.Sprintf("%d@%s", i+1, raftAddrs[i]))
	}
	var nodes []*testNode
	for i := range 3 {
		cfg := config.DefaultStatic()
		cfg.DataDir = t.TempDir()
		cfg.NodeID, cfg.Listen, cfg.ControllerListen = int32(i+1), listen[i], raftAddrs[i]
		cfg.ControllerVoters = strings.Join(voters, ",")
		cfg.OffsetsTopicPartitions = 3
		cfg.Pprof = i == 0
		nodes = append(nodes, launchNode(t, cfg))
	}
	for _, n := range nodes {
		n.waitReady()
	}
	var httpAddrs []string
	for _, n := range nodes {
		httpAddrs = append(httpAddrs, n.node.HTTPAddr().String())
	}

	cl := kgoClient(t, listen[0])
	adm := kadm.NewClient(cl)
	two := "2"
	waitFor(t, "creating an RF=3 topic", 60*time.Second, func() bool {
		r, err := adm.CreateTopic(ctxTimeout(t, 10*time.Second), 3, 3, map[string]*string{"min.insync.replicas": &two}, "metered")
		return err == nil && r.Err == nil
	})
	// 10, 20 and 30 records in partitions 0, 1 and 2.
	prod := kgoClient(t, listen[0], kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()))
	var recs []*kgo.Record
	for p := range int32(3) {
		for i := range 10 * (p + 1) {
			recs = append(recs, &kgo.Record{Topic: "metered", Partition: p, Value: []byte(fmt.Sprintf("p%d-%d", p, i))})
		}
	}
	if err := prod.ProduceSync(ctxTimeout(t, 60*time.Second), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	// A log start offset above 0 in partition 1.
	ctx := ctxTimeout(t, 120*time.Second)
	dr, err := adm.DeleteRecords(ctx, kadm.Offsets{"metered": {1: {Topic: "metered", Partition: 1, At: 5}}})
	if err != nil || dr.Error() != nil {
		t.Fatalf("DeleteRecords: %v %v", err, dr.Error())
	}
	// An empty group with committed offsets (lag 7, 15, 30) and a group
	// with a live member that consumed partition 0.
	commits := kadm.Offsets{}
	commits.Add(kadm.Offset{Topic: "metered", Partition: 0, At: 3, LeaderEpoch: -1})
	commits.Add(kadm.Offset{Topic: "metered", Partition: 1, At: 5, LeaderEpoch: -1})
	commits.Add(kadm.Offset{Topic: "metered", Partition: 2, At: 0, LeaderEpoch: -1})
	waitFor(t, "committing offsets of group idle", 60*time.Second, func() bool {
		r, err := adm.CommitOffsets(ctxTimeout(t, 10*time.Second), "idle", commits)
		return err == nil && r.Ok()
	})
	member := kgoClient(t, listen[1], kgo.ConsumerGroup("live"), kgo.ConsumeTopics("metered"), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := 0
	for got < 10 {
		fs := member.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consuming with group live: got %d records: %v", got, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Partition == 0 {
				got++
			}
		})
	}
	if err := member.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("committing offsets of group live: %v", err)
	}

	// Compare until a scrape agrees with kadm (ISRs and high watermarks
	// settle after the writes): the last difference is the failure.
	var diff string
	start := time.Now()
	for {
		diff = compareWithAdmin(t, adm, httpAddrs)
		if diff == "" || time.Since(start) > 60*time.Second {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if diff != "" {
		t.Fatalf("metrics disagree with the admin client after 60s:\n%s", diff)
	}
	t.Logf("metrics agreed with kadm after %v", time.Since(start).Round(time.Millisecond))

	// Strata's own series.
	var recordsIn, produces float64
	for _, addr := range httpAddrs {
		fams := scrapeMetrics(t, addr)
		for _, s := range samples(fams, "strata_topic_records_in_total") {
			if s.labels["topic"] == "metered" {
				recordsIn += s.value
			}
		}
		for _, s := range samples(fams, "strata_requests_total") {
			if s.labels["request"] == "Produce" {
				produces += s.value
			}
		}
		for _, name := range []string{"strata_request_latency_seconds", "strata_raft_term", "strata_raft_commit_index", "strata_log_dir_online",
			"strata_log_size_bytes", "strata_under_min_isr_partitions", "strata_connections", "go_goroutines", "process_cpu_seconds_total",
			"strata_controller_event_processing_seconds", "strata_leader_elections_total"} {
			if fams[name] == nil {
				t.Errorf("%s/metrics has no %s", addr, name)
			}
		}
		for _, s := range samples(fams, "strata_ready") {
			if s.value != 1 {
				t.Errorf("%s: strata_ready = %v, want 1", addr, s.value)
			}
		}
	}
	if recordsIn != 60 {
		t.Errorf("strata_topic_records_in_total{topic=metered} summed over nodes = %v, want 60", recordsIn)
	}
	if produces < 1 {
		t.Errorf("strata_requests_total{request=Produce} summed over nodes = %v, want > 0", produces)
	}

	// promtool's lint of the text format, when Prometheus is installed.
	if promtool, err := exec.LookPath("promtool"); err == nil {
		for i, addr := range httpAddrs {
			body, _, _ := httpGet(t, addr, "/metrics", "")
			cmd := exec.Command(promtool, "check", "metrics")
			cmd.Stdin = strings.NewReader(body)
			out, err := cmd.CombinedOutput()
			if err == nil {
				continue
			}
			// Exit status 3 is lint only; kafka_exporter's own names are
			// kept though its *_sum gauges trip one lint.
			var problems []string
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				if !strings.HasPrefix(line, "kafka_consumergroup_current_offset_sum ") && !strings.HasPrefix(line, "kafka_consumergroup_lag_sum ") {
					problems = append(problems, line)
				}
			}
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 || len(problems) > 0 {
				t.Errorf("promtool check metrics on node %d: %v\n%s", i+1, err, strings.Join(problems, "\n"))
			}
		}
	} else {
		t.Logf("promtool not installed: only client_golang's parser checked the format")
	}

	// OpenMetrics when asked for.
	body, ctype, code := httpGet(t, httpAddrs[1], "/metrics", "application/openmetrics-text;version=1.0.0")
	hasBrokers := strings.Contains(body, "\nkafka_brokers 3.0\n")
	if code != http.StatusOK || !strings.HasPrefix(ctype, "application/openmetrics-text") || !strings.HasSuffix(body, "# EOF\n") || !hasBrokers {
		t.Errorf("OpenMetrics scrape: status %d, Content-Type %q, ends %q, has kafka_brokers 3.0: %v", code, ctype, body[max(0, len(body)-20):], hasBrokers)
	}
	// Health, readiness and pprof only where asked for.
	for i, addr := range httpAddrs {
		if body, _, code := httpGet(t, addr, "/healthz", ""); code != http.StatusOK || body != "ok\n" {
			t.Errorf("node %d /healthz: %d %q", i+1, code, body)
		}
		if body, _, code := httpGet(t, addr, "/readyz", ""); code != http.StatusOK || body != "ready\n" {
			t.Errorf("node %d /readyz: %d %q", i+1, code, body)
		}
		_, _, code := httpGet(t, addr, "/debug/pprof/", "")
		if want := map[bool]int{true: http.StatusOK, false: http.StatusNotFound}[i == 0]; code != want {
			t.Errorf("node %d (pprof %v) /debug/pprof/: status %d, want %d", i+1, i == 0, code, want)
		}
	}

	// Without a quorum a node is not ready, yet alive.
	member.Close()
	nodes[1].stop()
	nodes[2].stop()
	waitFor(t, "node 1 /readyz to answer 503 without a quorum", 60*time.Second, func() bool {
		_, _, code := httpGet(t, httpAddrs[0], "/readyz", "")
		return code == http.StatusServiceUnavailable
	})
	if _, _, code := httpGet(t, httpAddrs[0], "/healthz", ""); code != http.StatusOK {
		t.Errorf("node 1 /healthz without a quorum: %d, want 200", code)
	}
}

// compareWithAdmin scrapes every node and returns what differs from kadm's
// view, "" when nothing does.
func compareWithAdmin(t *testing.T, adm *kadm.Client, httpAddrs []string) string {
	ctx := ctxTimeout(t, 30*time.Second)
	var diffs []string
	differ := func(format string, args ...any) { diffs = append(diffs, fmt.Sprintf(format, args...)) }

	topics, err := adm.ListTopics(ctx, "metered")
	if err != nil {
		return fmt.Sprintf("ListTopics: %v", err)
	}
	ends, err := adm.ListEndOffsets(ctx, "metered")
	if err != nil {
		return fmt.Sprintf("ListEndOffsets: %v", err)
	}
	starts, err := adm.ListStartOffsets(ctx, "metered")
	if err != nil {
		return fmt.Sprintf("ListStartOffsets: %v", err)
	}
	lags := map[string]kadm.GroupLag{}
	for _, g := range []string{"idle", "live"} {
		described, err := adm.DescribeGroups(ctx, g)
		if err != nil {
			return fmt.Sprintf("DescribeGroups: %v", err)
		}
		fetched, err := adm.FetchOffsets(ctx, g)
		if err != nil {
			return fmt.Sprintf("FetchOffsets %s: %v", g, err)
		}
		lags[g] = kadm.CalculateGroupLag(described[g], fetched, ends)
	}

	// By series name: "labels" → values reported (one per reporting node).
	reported := map[string]map[string][]float64{}
	brokers := []float64{}
	for _, addr := range httpAddrs {
		fams := scrapeMetrics(t, addr)
		for _, s := range samples(fams, "kafka_brokers") {
			brokers = append(brokers, s.value)
		}
		add := func(name string, labels ...string) {
			for _, s := range samples(fams, name) {
				if reported[name] == nil {
					reported[name] = map[string][]float64{}
				}
				k := partitionKey(s, labels...)
				reported[name][k] = append(reported[name][k], s.value)
			}
		}
		for _, n := range []string{"kafka_topic_partition_current_offset", "kafka_topic_partition_oldest_offset", "kafka_topic_partition_in_sync_replica",
			"kafka_topic_partition_leader", "kafka_topic_partition_replicas", "kafka_topic_partition_under_replicated_partition"} {
			add(n, "topic", "partition")
		}
		add("kafka_topic_partitions", "topic")
		add("kafka_consumergroup_current_offset", "consumergroup", "topic", "partition")
		add("kafka_consumergroup_lag", "consumergroup", "topic", "partition")
		add("kafka_consumergroup_lag_sum", "consumergroup", "topic")
		add("kafka_consumergroup_members", "consumergroup")
	}
	if fmt.Sprint(brokers) != "[3 3 3]" {
		differ("kafka_brokers per node = %v, want [3 3 3]", brokers)
	}
	// once returns the one value reported for key, or notes how many
	// nodes reported it.
	once := func(name, key string) (float64, bool) {
		vs := reported[name][key]
		if len(vs) != 1 {
			differ("%s{%s}: reported by %d nodes (%v), want exactly 1", name, key, len(vs), vs)
			return 0, false
		}
		return vs[0], true
	}
	want := func(name, key string, w float64) {
		if v, ok := once(name, key); ok && v != w {
			differ("%s{%s} = %v, kadm says %v", name, key, v, w)
		}
	}
	// Each node reports the partitions it leads.
	var total float64
	for _, v := range reported["kafka_topic_partitions"]["metered"] {
		total += v
	}
	if total != 3 {
		differ("kafka_topic_partitions{metered} summed over nodes = %v, want 3", total)
	}
	for _, d := range topics["metered"].Partitions {
		key := fmt.Sprintf("metered/%d", d.Partition)
		end, _ := ends.Lookup("metered", d.Partition)
		start, _ := starts.Lookup("metered", d.Partition)
		want("kafka_topic_partition_current_offset", key, float64(end.Offset))
		want("kafka_topic_partition_oldest_offset", key, float64(start.Offset))
		want("kafka_topic_partition_in_sync_replica", key, float64(len(d.ISR)))
		want("kafka_topic_partition_leader", key, float64(d.Leader))
		want("kafka_topic_partition_replicas", key, float64(len(d.Replicas)))
		want("kafka_topic_partition_under_replicated_partition", key, map[bool]float64{true: 1, false: 0}[len(d.ISR) < len(d.Replicas)])
	}
	for g, lag := range lags {
		var sum int64
		for _, l := range lag.Sorted() {
			if l.Topic != "metered" || l.Commit.At < 0 {
				continue
			}
			key := fmt.Sprintf("%s/metered/%d", g, l.Partition)
			want("kafka_consumergroup_current_offset", key, float64(l.Commit.At))
			want("kafka_consumergroup_lag", key, float64(l.Lag))
			sum += l.Lag
		}
		want("kafka_consumergroup_lag_sum", g+"/metered", float64(sum))
	}
	want("kafka_consumergroup_members", "idle", 0)
	want("kafka_consumergroup_members", "live", 1)
	// The exact values the test set up, so a scrape cannot agree with a
	// kadm that saw nothing.
	want("kafka_topic_partition_current_offset", "metered/2", 30)
	want("kafka_topic_partition_oldest_offset", "metered/1", 5)
	want("kafka_consumergroup_lag", "idle/metered/1", 15)
	want("kafka_consumergroup_lag", "live/metered/0", 0)
	if len(diffs) > 0 {
		return strings.Join(diffs, "\n")
	}
	return ""
}

// TestReadyzBeforeTheQuorumForms: a node whose quorum cannot form answers
// /healthz but not /readyz, and serves /metrics meanwhile.
func TestReadyzBeforeTheQuorumForms(t *testing.T) {
	cfg := config.DefaultStatic()
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	raftAddr := freePort(t)
	cfg.ControllerListen = raftAddr
	cfg.ControllerVoters = "1@" + raftAddr + ",2@" + freePort(t) // voter 2 never starts
	tn := launchNode(t, cfg)
	var addr string
	waitFor(t, "the HTTP listener to bind", 30*time.Second, func() bool {
		if a := tn.node.HTTPAddr(); a != nil {
			addr = a.String()
			return true
		}
		return false
	})
	if body, _, code := httpGet(t, addr, "/healthz", ""); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz: %d %q, want 200 ok", code, body)
	}
	body, _, code := httpGet(t, addr, "/readyz", "")
	if code != http.StatusServiceUnavailable || !strings.HasPrefix(body, "not ready: starting") {
		t.Errorf("/readyz: %d %q, want 503 not ready: starting...", code, body)
	}
	fams := scrapeMetrics(t, addr)
	if fams["go_goroutines"] == nil || fams["strata_raft_term"] == nil {
		t.Errorf("/metrics before the quorum lacks go_goroutines or strata_raft_term")
	}
	if _, _, code := httpGet(t, addr, "/debug/pprof/", ""); code != http.StatusNotFound {
		t.Errorf("/debug/pprof/ without --pprof: %d, want 404", code)
	}
	for _, s := range samples(fams, "strata_raft_leader_id") {
		if s.value != -1 {
			t.Errorf("strata_raft_leader_id = %v without a quorum, want -1", s.value)
		}
	}
}

// TestHTTPListenOff: --http-listen off serves no HTTP and records nothing.
func TestHTTPListenOff(t *testing.T) {
	tn := startNode(t, func(s *config.Static) { s.HTTPListen = "off" })
	if a := tn.node.HTTPAddr(); a != nil {
		t.Errorf("HTTPAddr with --http-listen off = %v, want nil", a)
	}
	if tn.node.metrics != nil {
		t.Errorf("metrics with --http-listen off: %+v, want nil", tn.node.metrics)
	}
}

// TestMountHTTPAddsRoutes: Config.MountHTTP mounts routes (the console's,
// the REST proxy's) on the listener, told the Kafka listener's address.
func TestMountHTTPAddsRoutes(t *testing.T) {
	cfg := config.DefaultStatic()
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	tn := startNodeWith(t, cfg, func(c *Config) {
		c.MountHTTP = func(m httpapi.Mounter, bootstrap string) {
			m.Mount("/console/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, bootstrap) }))
		}
	})
	body, _, code := httpGet(t, tn.node.HTTPAddr().String(), "/console/", "")
	if code != http.StatusOK || body != tn.addr {
		t.Errorf("GET /console/ = %d %q, want 200 %q", code, body, tn.addr)
	}
}

// TestServeConsoleAndRestProxy: --console and --rest-proxy serve the web
// console and the REST proxy on the HTTP listener, talking Kafka to the
// node itself: a record produced over HTTP is read back by a Kafka client.
func TestServeConsoleAndRestProxy(t *testing.T) {
	cfg := config.DefaultStatic()
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	cfg.Console, cfg.RestProxy = true, true
	tn := startNodeWith(t, cfg)
	tn.createTopic("http-in", 1, nil)
	httpAddr := tn.node.HTTPAddr().String()
	if body, _, code := httpGet(t, httpAddr, "/console/", ""); code != http.StatusOK || !strings.Contains(body, "<html") {
		t.Fatalf("GET /console/ = %d, %.80q", code, body)
	}
	if _, _, code := httpGet(t, httpAddr, "/console/api/topics", ""); code != http.StatusOK {
		t.Fatalf("GET /console/api/topics = %d", code)
	}
	resp, err := http.Post("http://"+httpAddr+"/topics/http-in", "application/vnd.kafka.binary.v2+json",
		strings.NewReader(`{"records":[{"value":"aGVsbG8="}]}`)) // "hello"
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("REST produce: %d %s", resp.StatusCode, b)
	}
	got := consumeAll(t, tn, "http-in", 1)
	if string(got[0].Value) != "hello" {
		t.Fatalf("consumed %q, want hello", got[0].Value)
	}
	if _, _, code := httpGet(t, httpAddr, "/metrics", ""); code != http.StatusOK {
		t.Fatalf("GET /metrics = %d beside the tools", code)
	}
}

// TestDeployFilesUseServedMetrics: every metric the Grafana dashboard and
// the alert rules under deploy/ query is one a node serves (after some
// traffic, so labelled series exist), and promtool accepts the rules when
// it is installed.
func TestDeployFilesUseServedMetrics(t *testing.T) {
	tn := startNode(t)
	tn.createTopic("deployed", 1, nil)
	p := tn.client(kgo.DefaultProduceTopic("deployed"), kgo.ConsumerGroup("deployed-g"), kgo.ConsumeTopics("deployed"))
	if err := p.ProduceSync(ctxTimeout(t, 10*time.Second), &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if fs := p.PollFetches(ctxTimeout(t, 10*time.Second)); fs.NumRecords() != 1 {
		t.Fatalf("polled %d records, want 1 (errors %v)", fs.NumRecords(), fs.Errors())
	}
	if err := p.CommitUncommittedOffsets(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for name, mf := range scrapeMetrics(t, tn.node.HTTPAddr().String()) {
		served[name] = true
		if mf.GetType() == dto.MetricType_HISTOGRAM || mf.GetType() == dto.MetricType_SUMMARY {
			served[name+"_bucket"], served[name+"_sum"], served[name+"_count"] = true, true, true
		}
	}
	name := regexp.MustCompile(`\b(?:strata|kafka)_[a-z0-9_]+`)
	for _, f := range []string{"../../deploy/grafana/strata-dashboard.json", "../../deploy/prometheus/strata-alerts.yml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f, ".json") && !json.Valid(b) {
			t.Errorf("%s is not valid JSON", f)
		}
		seen := map[string]bool{}
		for _, m := range name.FindAllString(string(b), -1) {
			if !served[m] && !seen[m] {
				seen[m] = true
				t.Errorf("%s queries %s, which /metrics does not serve", f, m)
			}
		}
	}
	if promtool, err := exec.LookPath("promtool"); err == nil {
		if out, err := exec.Command(promtool, "check", "rules", "../../deploy/prometheus/strata-alerts.yml").CombinedOutput(); err != nil {
			t.Errorf("promtool check rules: %v\n%s", err, out)
		}
	}
}
