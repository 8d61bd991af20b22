package metadata

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestUnregisterBroker(t *testing.T) {
	img := sampleImage(t)
	next, d, err := img.Apply(11, &UnregisterBrokerRecord{NodeID: 2, BrokerEpoch: 2})
	if err != nil {
		t.Fatalf("Apply(UnregisterBrokerRecord) error: %v", err)
	}
	if b, ok := next.Broker(2); ok {
		t.Errorf("Broker(2) after unregistration = %+v, want none", b)
	}
	var ids []int32
	for _, b := range next.Brokers() {
		ids = append(ids, b.NodeID)
	}
	if diff := cmp.Diff([]int32{1}, ids); diff != "" {
		t.Errorf("Brokers() after unregistration (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int32{2}, d.ChangedBrokers); diff != "" {
		t.Errorf("Delta.ChangedBrokers (-want +got):\n%s", diff)
	}
	if _, ok := img.Broker(2); !ok {
		t.Errorf("the unregistration modified the earlier image")
	}
	// Replica assignments and the broker's dynamic configs stay, as in
	// Kafka: the partitions keep the id until they are reassigned.
	if p, _ := next.Partition(topicA, 0); !cmp.Equal(p.Replicas, []int32{1, 2}) {
		t.Errorf("partition 0 replicas after unregistration = %v, want [1 2]", p.Replicas)
	}
	if got := next.BrokerConfigs("2")["log.segment.bytes"]; got != "100" {
		t.Errorf("broker 2 config after unregistration = %q, want 100", got)
	}
	// The snapshot does not bring it back.
	b, err := next.MarshalSnapshot()
	if err != nil {
		t.Fatalf("MarshalSnapshot error: %v", err)
	}
	restored, err := UnmarshalSnapshot(b)
	if err != nil {
		t.Fatalf("UnmarshalSnapshot error: %v", err)
	}
	if diff := cmp.Diff(stateOf(next), stateOf(restored)); diff != "" {
		t.Errorf("snapshot after unregistration (-want +got):\n%s", diff)
	}
	// The broker may register again, with a new epoch.
	again, d, err := next.Apply(12, &RegisterBrokerRecord{NodeID: 2, Host: "h2", Port: 9092, BrokerEpoch: 12, Fenced: true})
	if err != nil {
		t.Fatalf("Apply(RegisterBrokerRecord) after unregistration error: %v", err)
	}
	if got, ok := again.Broker(2); !ok || got.BrokerEpoch != 12 || !got.Fenced {
		t.Errorf("Broker(2) after registering again = %+v, %v; want epoch 12, fenced", got, ok)
	}
	if diff := cmp.Diff([]int32{2}, d.ChangedBrokers); diff != "" {
		t.Errorf("Delta.ChangedBrokers of the new registration (-want +got):\n%s", diff)
	}
}
