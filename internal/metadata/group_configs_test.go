package metadata

import (
	"maps"
	"testing"
)

func TestGroupConfigs(t *testing.T) {
	img, _, err := Empty().Apply(3,
		&ConfigRecord{ResourceType: ResourceGroup, ResourceName: "g1", Name: "consumer.session.timeout.ms", Value: strp("50000")},
		&ConfigRecord{ResourceType: ResourceGroup, ResourceName: "g1", Name: "consumer.heartbeat.interval.ms", Value: strp("6000")},
		&ConfigRecord{ResourceType: ResourceGroup, ResourceName: "g2", Name: "share.auto.offset.reset", Value: strp("earliest")},
	)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	want := map[string]string{"consumer.session.timeout.ms": "50000", "consumer.heartbeat.interval.ms": "6000"}
	if got := img.GroupConfigs("g1"); !maps.Equal(got, want) {
		t.Errorf("GroupConfigs(g1) = %v, want %v", got, want)
	}
	next, _, err := img.Apply(4,
		&ConfigRecord{ResourceType: ResourceGroup, ResourceName: "g2", Name: "share.auto.offset.reset"},
		&ConfigRecord{ResourceType: ResourceGroup, ResourceName: "g1", Name: "consumer.session.timeout.ms", Value: strp("60000")},
	)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if got := img.GroupConfigs("g1")["consumer.session.timeout.ms"]; got != "50000" {
		t.Errorf("old image changed: g1 consumer.session.timeout.ms = %q, want 50000", got)
	}
	if got := next.GroupConfigs("g2"); got != nil {
		t.Errorf("GroupConfigs(g2) after delete = %v, want nil", got)
	}
	if got := next.GroupConfigResources(); len(got) != 1 || got[0] != "g1" {
		t.Errorf("GroupConfigResources() = %v, want [g1]", got)
	}
	b, err := next.MarshalSnapshot()
	if err != nil {
		t.Fatalf("MarshalSnapshot: %v", err)
	}
	restored, err := UnmarshalSnapshot(b)
	if err != nil {
		t.Fatalf("UnmarshalSnapshot: %v", err)
	}
	if got, want := restored.GroupConfigs("g1"), next.GroupConfigs("g1"); !maps.Equal(got, want) {
		t.Errorf("restored GroupConfigs(g1) = %v, want %v", got, want)
	}
	if _, _, err := Empty().Apply(1, &ConfigRecord{ResourceType: ResourceGroup, Name: "x", Value: strp("1")}); err == nil {
		t.Errorf("Apply(group config without a group id) succeeded, want an error")
	}
}
