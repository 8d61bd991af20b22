package node

import (
	"errors"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/config"
)

// describedConfig is one config of a DescribeConfigs answer.
type describedConfig struct {
	value    *string
	source   kmsg.ConfigSource
	synonyms []string // "SOURCE name=value"
}

func describeAll(t *testing.T, tn *testNode, typ kmsg.ConfigResourceType, name string) map[string]describedConfig {
	t.Helper()
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.IncludeSynonyms, req.IncludeDocumentation = true, true
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = typ, name
	req.Resources = append(req.Resources, rr)
	resp, err := req.RequestWith(ctxTimeout(t, 10*time.Second), tn.client())
	if err != nil || len(resp.Resources) != 1 || resp.Resources[0].ErrorCode != 0 {
		t.Fatalf("DescribeConfigs(%v %q) = (%+v, %v)", typ, name, resp, err)
	}
	out := map[string]describedConfig{}
	for _, c := range resp.Resources[0].Configs {
		d := describedConfig{value: c.Value, source: c.Source}
		for _, s := range c.ConfigSynonyms {
			d.synonyms = append(d.synonyms, s.Source.String()+" "+s.Name+"="+deref(s.Value))
		}
		out[c.Name] = d
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return "<null>"
	}
	return *s
}

// nonDefault lists the configs whose source is not DEFAULT_CONFIG.
func nonDefault(m map[string]describedConfig) map[string]string {
	out := map[string]string{}
	for name, c := range m {
		if c.source != kmsg.ConfigSourceDefaultConfig {
			out[name] = c.source.String() + " " + deref(c.value)
		}
	}
	return out
}

// TestDescribeConfigsSources checks that a fresh broker reports
// DEFAULT_CONFIG for everything nobody set, STATIC_BROKER_CONFIG for what
// was set at startup, and the right source and synonyms after a dynamic
// cluster-wide default, a dynamic per-broker value and a topic override.
func TestDescribeConfigsSources(t *testing.T) {
	tn := startNode(t, func(s *config.Static) {
		s.DefaultPartitions = 3 // like --default-partitions 3
		s.KafkaProps = map[string]string{"log.cleaner.delete.retention.ms": "3600000"}
	})
	adm := tn.admin()
	ctx := ctxTimeout(t, 30*time.Second)
	tn.createTopic("src", 1, nil)

	dir, listen := filepath.Join(tn.cfg.DataDir, "logs"), "PLAINTEXT://"+tn.cfg.Listen // log.dirs: DATA_DIR/logs
	want := map[string]string{
		// set by the test harness, as an operator's flags would
		"log.dirs":                        "STATIC_BROKER_CONFIG " + dir,
		"listeners":                       "STATIC_BROKER_CONFIG " + listen,
		"log.retention.check.interval.ms": "STATIC_BROKER_CONFIG 100",
		"num.partitions":                  "STATIC_BROKER_CONFIG 3",
		"log.cleaner.delete.retention.ms": "STATIC_BROKER_CONFIG 3600000",
	}
	broker := describeAll(t, tn, kmsg.ConfigResourceTypeBroker, "1")
	if got := nonDefault(broker); !maps.Equal(got, want) {
		t.Errorf("fresh broker: configs not DEFAULT_CONFIG = %v, want %v", got, want)
	}
	if len(broker) < 300 {
		t.Errorf("fresh broker describes %d configs, want every Kafka 4.4 broker config (over 300)", len(broker))
	}
	topic := describeAll(t, tn, kmsg.ConfigResourceTypeTopic, "src")
	if got := nonDefault(topic); !maps.Equal(got, map[string]string{"delete.retention.ms": "STATIC_BROKER_CONFIG 3600000"}) {
		t.Errorf("fresh topic: configs not DEFAULT_CONFIG = %v, want only delete.retention.ms from the static broker config", got)
	}
	if got, want := topic["segment.bytes"].synonyms, []string{"DEFAULT_CONFIG log.segment.bytes=1073741824"}; !slices.Equal(got, want) {
		t.Errorf("segment.bytes synonyms = %v, want %v", got, want)
	}

	alterBroker := func(broker string, name, value string) error {
		t.Helper()
		var ids []int32
		if broker != "" {
			ids = []int32{1}
		}
		res, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Name: name, Value: &value}}, ids...)
		if err != nil {
			return err
		}
		return res[0].Err
	}
	if err := alterBroker("", "log.retention.ms", "1000000"); err != nil {
		t.Fatalf("set cluster default log.retention.ms: %v", err)
	}
	waitFor(t, "the cluster default to be described", 10*time.Second, func() bool {
		c := describeAll(t, tn, kmsg.ConfigResourceTypeTopic, "src")["retention.ms"]
		return c.source == kmsg.ConfigSourceDynamicDefaultBrokerConfig && deref(c.value) == "1000000"
	})
	if c := describeAll(t, tn, kmsg.ConfigResourceTypeBroker, "1")["log.retention.ms"]; c.source != kmsg.ConfigSourceDynamicDefaultBrokerConfig || deref(c.value) != "1000000" {
		t.Errorf("broker log.retention.ms after a cluster default = %s %s, want DYNAMIC_DEFAULT_BROKER_CONFIG 1000000", c.source, deref(c.value))
	}
	if got := describeAll(t, tn, kmsg.ConfigResourceTypeBroker, ""); len(got) != 1 || got["log.retention.ms"].source != kmsg.ConfigSourceDynamicDefaultBrokerConfig {
		t.Errorf("cluster default resource = %v, want only log.retention.ms (DYNAMIC_DEFAULT_BROKER_CONFIG)", got)
	}

	if err := alterBroker("1", "log.retention.ms", "2000000"); err != nil {
		t.Fatalf("set per-broker log.retention.ms: %v", err)
	}
	waitFor(t, "the per-broker value to be described", 10*time.Second, func() bool {
		return describeAll(t, tn, kmsg.ConfigResourceTypeTopic, "src")["retention.ms"].source == kmsg.ConfigSourceDynamicBrokerConfig
	})
	wantSyn := []string{"DYNAMIC_BROKER_CONFIG log.retention.ms=2000000", "DYNAMIC_DEFAULT_BROKER_CONFIG log.retention.ms=1000000", "DEFAULT_CONFIG log.retention.hours=168"}
	if c := describeAll(t, tn, kmsg.ConfigResourceTypeTopic, "src")["retention.ms"]; deref(c.value) != "2000000" || !slices.Equal(c.synonyms, wantSyn) {
		t.Errorf("retention.ms = %s with synonyms %v, want 2000000 with %v", deref(c.value), c.synonyms, wantSyn)
	}

	v := "3000000"
	if res, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: &v}}, "src"); err != nil || res[0].Err != nil {
		t.Fatalf("AlterTopicConfigs(retention.ms) = (%+v, %v)", res, err)
	}
	waitFor(t, "the topic override to be described", 10*time.Second, func() bool {
		c := describeAll(t, tn, kmsg.ConfigResourceTypeTopic, "src")["retention.ms"]
		return c.source == kmsg.ConfigSourceDynamicTopicConfig && deref(c.value) == "3000000" &&
			len(c.synonyms) == 4 && c.synonyms[0] == "DYNAMIC_TOPIC_CONFIG retention.ms=3000000"
	})

	// Kafka broker configs Strata does not act on are accepted where Kafka
	// accepts them, and say so.
	if err := alterBroker("1", "sasl.kerberos.min.time.before.relogin", "120000"); err != nil {
		t.Errorf("set per-broker sasl.kerberos.min.time.before.relogin: %v", err)
	}
	if err := alterBroker("", "sasl.kerberos.min.time.before.relogin", "120000"); !errors.Is(err, kerr.InvalidConfig) {
		t.Errorf("set per-broker-only sasl.kerberos.min.time.before.relogin cluster-wide: %v, want INVALID_CONFIG", err)
	}
	if err := alterBroker("1", "node.id", "7"); !errors.Is(err, kerr.InvalidConfig) {
		t.Errorf("set read-only node.id: %v, want INVALID_CONFIG", err)
	}
	waitFor(t, "the inert broker config to be described", 10*time.Second, func() bool {
		c := describeAll(t, tn, kmsg.ConfigResourceTypeBroker, "1")["sasl.kerberos.min.time.before.relogin"]
		return c.source == kmsg.ConfigSourceDynamicBrokerConfig && deref(c.value) == "120000"
	})
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.IncludeDocumentation = true
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName, rr.ConfigNames = kmsg.ConfigResourceTypeBroker, "1", []string{"sasl.kerberos.min.time.before.relogin", "num.partitions"}
	req.Resources = append(req.Resources, rr)
	resp, err := req.RequestWith(ctx, tn.client())
	if err != nil || len(resp.Resources) != 1 || len(resp.Resources[0].Configs) != 2 {
		t.Fatalf("DescribeConfigs(documentation) = (%+v, %v)", resp, err)
	}
	for _, c := range resp.Resources[0].Configs {
		inert := strings.Contains(deref(c.Documentation), config.InertDoc)
		if inert != (c.Name == "sasl.kerberos.min.time.before.relogin") {
			t.Errorf("%s documentation %q: inert note present = %v", c.Name, deref(c.Documentation), inert)
		}
	}
}
