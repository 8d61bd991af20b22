package cli_test

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

func TestClusterStatus(t *testing.T) {
	bs := fakeCluster(t, kfake.NumBrokers(3), kfake.ClusterID("c1"))
	b := "--bootstrap=" + bs
	mustRun(t, "", "topic", "create", "ok", b, "--partitions", "2", "--replication-factor", "3")
	// ISR 2 < min.insync.replicas 3: under min ISR, but fully replicated.
	mustRun(t, "", "topic", "create", "strict", b, "--partitions", "3", "--replication-factor", "2", "--config", "min.insync.replicas=3")

	r := mustRun(t, "", "cluster", "status", b)
	want := regexp.MustCompile(`^Cluster: c1
Active controller: \d+
Brokers: 3 \(3 alive, 0 fenced\)
  ID  ADDRESS +RACK +STATE
  0   127\.0\.0\.1:\d+ +krack +alive
  1   127\.0\.0\.1:\d+ +krack +alive
  2   127\.0\.0\.1:\d+ +krack +alive
Partitions: 5 in 2 topics
  under-replicated: 0
  under-min-isr: 3
  offline: 0
$`)
	if !want.MatchString(r.stdout) {
		t.Errorf("cluster status: stdout\n%s\ndoes not match\n%s", r.stdout, want)
	}

	r = mustRun(t, "", "cluster", "status", "--json", b)
	var got struct {
		ClusterID        string `json:"cluster_id"`
		ActiveController int32  `json:"active_controller"`
		Brokers          []struct {
			NodeID int32 `json:"node_id"`
			Fenced bool  `json:"fenced"`
		} `json:"brokers"`
		Topics          int `json:"topics"`
		Partitions      int `json:"partitions"`
		UnderReplicated int `json:"under_replicated_partitions"`
		UnderMinISR     int `json:"under_min_isr_partitions"`
		Offline         int `json:"offline_partitions"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("cluster status --json: %v in %q", err, r.stdout)
	}
	if got.ClusterID != "c1" || got.ActiveController < 0 || len(got.Brokers) != 3 || got.Topics != 2 ||
		got.Partitions != 5 || got.UnderReplicated != 0 || got.UnderMinISR != 3 || got.Offline != 0 {
		t.Errorf("cluster status --json = %+v, want c1, a controller, 3 brokers, 2 topics, 5 partitions, 3 under min ISR", got)
	}
}

func TestClusterStatusRejectsArgs(t *testing.T) {
	r := run(t, "", "cluster", "status", "extra", "--bootstrap=127.0.0.1:1")
	if r.err == nil {
		t.Fatalf("cluster status extra: no error, stdout %q", r.stdout)
	}
}
