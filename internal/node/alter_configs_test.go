package node

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestAlterConfigsTakeEffect changes a topic's max.message.bytes with
// IncrementalAlterConfigs and checks that the broker enforces it, that
// DescribeConfigs shows it, and that deleting the override (and the legacy
// AlterConfigs replacing all overrides) restores the default.
func TestAlterConfigsTakeEffect(t *testing.T) {
	tn := startNode(t)
	tn.createTopic("cfg", 1, nil)
	adm := tn.admin()
	ctx := ctxTimeout(t, 30*time.Second)
	p := tn.client(kgo.DefaultProduceTopic("cfg"), kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RecordRetries(0))
	big := &kgo.Record{Value: bytes.Repeat([]byte("x"), 4000)}

	limit := "2000"
	res, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "max.message.bytes", Value: &limit}}, "cfg")
	if err != nil || res[0].Err != nil {
		t.Fatalf("AlterTopicConfigs(max.message.bytes=2000) = (%+v, %v)", res, err)
	}
	waitFor(t, "the new limit to be described", 10*time.Second, func() bool {
		rc, err := adm.DescribeTopicConfigs(ctx, "cfg")
		if err != nil {
			return false
		}
		c, err := rc.On("cfg", nil)
		if err != nil {
			return false
		}
		for _, e := range c.Configs {
			if e.Key == "max.message.bytes" {
				return e.MaybeValue() == "2000" && e.Source == kmsg.ConfigSourceDynamicTopicConfig
			}
		}
		return false
	})
	if err := p.ProduceSync(ctx, big).FirstErr(); !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("4000-byte record with max.message.bytes=2000: %v, want MESSAGE_TOO_LARGE", err)
	}

	// Bad input: an unknown config, a bad value, an unknown topic.
	bad := "nope"
	for _, tt := range []struct {
		name  string
		cfg   kadm.AlterConfig
		topic string
		want  error
	}{
		{"unknown config", kadm.AlterConfig{Name: "no.such.config", Value: &bad}, "cfg", kerr.InvalidConfig},
		{"bad value", kadm.AlterConfig{Name: "max.message.bytes", Value: &bad}, "cfg", kerr.InvalidConfig},
		{"unknown topic", kadm.AlterConfig{Name: "max.message.bytes", Value: &limit}, "missing", kerr.UnknownTopicOrPartition},
	} {
		res, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{tt.cfg}, tt.topic)
		if err != nil || !errors.Is(res[0].Err, tt.want) {
			t.Errorf("%s: AlterTopicConfigs = (%+v, %v), want %v", tt.name, res, err, tt.want)
		}
	}

	// Legacy AlterConfigs replaces every override: none left.
	req := kmsg.NewPtrAlterConfigsRequest()
	rr := kmsg.NewAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "cfg"
	req.Resources = append(req.Resources, rr)
	resp, err := req.RequestWith(ctx, tn.client())
	if err != nil || resp.Resources[0].ErrorCode != 0 {
		t.Fatalf("AlterConfigs(no overrides) = (%+v, %v)", resp, err)
	}
	waitFor(t, "the default limit to apply again", 10*time.Second, func() bool {
		return p.ProduceSync(ctx, big).FirstErr() == nil
	})
}
