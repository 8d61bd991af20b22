package cli

import (
	"strings"
	"testing"
)

func TestWriteClusterStatusShowsFencedAndNoController(t *testing.T) {
	st := clusterStatus{
		ClusterID:        "abc",
		ActiveController: -1,
		Brokers: []clusterBroker{
			{NodeID: 1, Host: "h1", Port: 9092, Rack: "r1"},
			{NodeID: 2, Host: "::1", Port: 9093, Fenced: true},
		},
		Topics: 1, Partitions: 4, UnderReplicated: 2, UnderMinISR: 1, Offline: 1,
	}
	var b strings.Builder
	if err := writeClusterStatus(&b, st); err != nil {
		t.Fatalf("writeClusterStatus: %v", err)
	}
	want := `Cluster: abc
Active controller: none
Brokers: 2 (1 alive, 1 fenced)
  ID  ADDRESS     RACK  STATE
  1   h1:9092     r1    alive
  2   [::1]:9093  -     fenced
Partitions: 4 in 1 topics
  under-replicated: 2
  under-min-isr: 1
  offline: 1
`
	if b.String() != want {
		t.Errorf("writeClusterStatus(%+v):\n%s\nwant\n%s", st, b.String(), want)
	}
}

func TestWriteClusterStatusListsControllers(t *testing.T) {
	st := clusterStatus{ClusterID: "abc", ActiveController: 2, Controllers: []int32{1, 2, 3}, Observers: []int32{4}}
	var b strings.Builder
	if err := writeClusterStatus(&b, st); err != nil {
		t.Fatalf("writeClusterStatus: %v", err)
	}
	if !strings.Contains(b.String(), "Active controller: 2\nControllers: 1, 2, 3\n") {
		t.Errorf("writeClusterStatus(%+v):\n%s\nwant the active controller and the voters", st, b.String())
	}
}
