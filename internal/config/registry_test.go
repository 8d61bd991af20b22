package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestTablesAreSortedAndUnique(t *testing.T) {
	for _, tt := range []struct {
		name  string
		table []*Entry
	}{{"topic", topicTable}, {"broker", brokerTable}, {"group", groupTable}} {
		names := make([]string, len(tt.table))
		for i, e := range tt.table {
			names[i] = e.Name
		}
		if !slices.IsSorted(names) {
			t.Errorf("%s table is not sorted by name: %v", tt.name, names)
		}
		if len(slices.Compact(slices.Clone(names))) != len(names) {
			t.Errorf("%s table has duplicate names", tt.name)
		}
	}
}

func TestEveryEntryIsWellFormed(t *testing.T) {
	all := append(TopicEntries(), BrokerEntries()...)
	for _, e := range all {
		if e.Doc == "" {
			t.Errorf("%s %s has no doc line", e.Scope, e.Name)
		}
		if e.Type == TypeUnknown {
			t.Errorf("%s %s has no type", e.Scope, e.Name)
		}
		if !e.NoDefault {
			if err := e.Validate(e.Default); err != nil {
				t.Errorf("%s %s: default %q does not validate: %v", e.Scope, e.Name, e.Default, err)
			}
		}
	}
	for _, e := range TopicEntries() {
		if !e.Dynamic || e.ReadOnly() {
			t.Errorf("topic config %s is not dynamic", e.Name)
		}
		for _, syn := range e.Synonyms {
			b, ok := Lookup(ScopeBroker, syn.Name)
			if !ok {
				t.Errorf("topic config %s: synonym %s is not a broker config", e.Name, syn.Name)
				continue
			}
			if syn.Scale <= 1 && b.Type != e.Type && !(b.Type == TypeInt && e.Type == TypeLong) {
				t.Errorf("topic config %s (%s) and synonym %s (%s) have different types", e.Name, e.Type, b.Name, b.Type)
			}
		}
	}
}

// TestStaticSettingsAreRegistered checks that every broker config the
// static configuration reports is in the registry, so DescribeConfigs can
// describe it.
func TestStaticSettingsAreRegistered(t *testing.T) {
	for _, fsync := range []string{"always", "interval"} {
		s := DefaultStatic()
		s.Rack, s.Fsync = "r1", fsync
		for name := range s.KafkaConfigs() {
			if _, ok := Lookup(ScopeBroker, name); !ok {
				t.Errorf("static config %q is not a registered broker config", name)
			}
		}
	}
}

func TestKafkaDefaults(t *testing.T) {
	tests := []struct {
		scope Scope
		give  string
		want  string
	}{
		{ScopeTopic, "cleanup.policy", "delete"},
		{ScopeTopic, "compression.type", "producer"},
		{ScopeTopic, "delete.retention.ms", "86400000"},
		{ScopeTopic, "file.delete.delay.ms", "60000"},
		{ScopeTopic, "flush.messages", "9223372036854775807"},
		{ScopeTopic, "flush.ms", "9223372036854775807"},
		{ScopeTopic, "index.interval.bytes", "4096"},
		{ScopeTopic, "max.message.bytes", "1048588"},
		{ScopeTopic, "message.timestamp.type", "CreateTime"},
		{ScopeTopic, "message.timestamp.before.max.ms", "9223372036854775807"},
		{ScopeTopic, "message.timestamp.after.max.ms", "3600000"},
		{ScopeTopic, "min.insync.replicas", "1"},
		{ScopeTopic, "retention.bytes", "-1"},
		{ScopeTopic, "retention.ms", "604800000"},
		{ScopeTopic, "segment.bytes", "1073741824"},
		{ScopeTopic, "segment.ms", "604800000"},
		{ScopeTopic, "segment.index.bytes", "10485760"},
		{ScopeTopic, "unclean.leader.election.enable", "false"},
		{ScopeTopic, "min.compaction.lag.ms", "0"},
		{ScopeTopic, "max.compaction.lag.ms", "9223372036854775807"},
		{ScopeTopic, "min.cleanable.dirty.ratio", "0.5"},
		{ScopeBroker, "num.partitions", "1"},
		{ScopeBroker, "auto.create.topics.enable", "true"},
		{ScopeBroker, "default.replication.factor", "1"},
		{ScopeBroker, "log.retention.hours", "168"},
		{ScopeBroker, "log.retention.bytes", "-1"},
		{ScopeBroker, "log.segment.bytes", "1073741824"},
		{ScopeBroker, "message.max.bytes", "1048588"},
		{ScopeBroker, "socket.request.max.bytes", "104857600"},
		{ScopeBroker, "connections.max.idle.ms", "600000"},
		{ScopeBroker, "offsets.retention.minutes", "10080"},
		{ScopeBroker, "group.max.size", "2147483647"},
		{ScopeBroker, "queued.max.request.bytes", "536870912"},
	}
	for _, tt := range tests {
		e, ok := Lookup(tt.scope, tt.give)
		if !ok {
			t.Errorf("Lookup(%s, %q) found nothing, want default %q", tt.scope, tt.give, tt.want)
			continue
		}
		if e.Default != tt.want || e.NoDefault {
			t.Errorf("Lookup(%s, %q).Default = %q (NoDefault %v), want %q", tt.scope, tt.give, e.Default, e.NoDefault, tt.want)
		}
	}
	for _, name := range []string{"broker.id", "node.id", "log.dirs", "log.retention.ms", "log.roll.ms", "log.flush.interval.ms"} {
		if _, ok := Lookup(ScopeBroker, name); !ok {
			t.Errorf("Lookup(broker, %q) found nothing", name)
		}
	}
	if _, ok := Lookup(ScopeTopic, "log.retention.ms"); ok {
		t.Errorf("Lookup(topic, log.retention.ms) found a broker config in topic scope")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		give  string
		valid bool
	}{
		{"cleanup.policy", "delete", true},
		{"cleanup.policy", "compact", true},
		{"cleanup.policy", "compact,delete", true},
		{"cleanup.policy", "delete, compact", true},
		{"cleanup.policy", "", false},
		{"cleanup.policy", "compact,compact", false},
		{"cleanup.policy", "remove", false},
		{"compression.type", "zstd", true},
		{"compression.type", "uncompressed", true},
		{"compression.type", "none", false},
		{"compression.type", "GZIP", false},
		{"message.timestamp.type", "LogAppendTime", true},
		{"message.timestamp.type", "logappendtime", false},
		{"segment.bytes", "14", true},
		{"segment.bytes", "13", false},
		{"segment.bytes", "2147483647", true},
		{"segment.bytes", "2147483648", false},
		{"segment.bytes", "1e9", false},
		{"retention.ms", "-1", true},
		{"retention.ms", "-2", false},
		{"retention.ms", " 1000 ", true},
		{"retention.ms", "9223372036854775808", false},
		{"retention.bytes", "-5", true},
		{"min.insync.replicas", "0", false},
		{"min.insync.replicas", "2", true},
		{"min.cleanable.dirty.ratio", "0", true},
		{"min.cleanable.dirty.ratio", "1.0", true},
		{"min.cleanable.dirty.ratio", "1.01", false},
		{"min.cleanable.dirty.ratio", "NaN", false},
		{"min.cleanable.dirty.ratio", "half", false},
		{"unclean.leader.election.enable", "TRUE", true},
		{"unclean.leader.election.enable", "yes", false},
		{"flush.messages", "0", false},
		{"max.compaction.lag.ms", "0", false},
		{"index.interval.bytes", "-1", false},
		{"segment.index.bytes", "3", false},
		{"compression.gzip.level", "-1", true},
		{"compression.gzip.level", "0", false},
		{"compression.gzip.level", "9", true},
		{"compression.zstd.level", "-131073", false},
		{"segment.ms", "0", false},
	}
	for _, tt := range tests {
		e, ok := Lookup(ScopeTopic, tt.name)
		if !ok {
			t.Fatalf("Lookup(topic, %q) found nothing", tt.name)
		}
		err := e.Validate(tt.give)
		if (err == nil) != tt.valid {
			t.Errorf("Validate(%s=%q) = %v, want valid=%v", tt.name, tt.give, err, tt.valid)
		}
		if err != nil && !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("Validate(%s=%q) = %v, want it to wrap ErrInvalidConfig", tt.name, tt.give, err)
		}
	}
}

func TestValidateTopicConfigs(t *testing.T) {
	if err := ValidateTopicConfigs(nil); err != nil {
		t.Errorf("ValidateTopicConfigs(nil) = %v, want nil", err)
	}
	if err := ValidateTopicConfigs(map[string]string{"retention.ms": "1000", "cleanup.policy": "compact"}); err != nil {
		t.Errorf("ValidateTopicConfigs(valid) = %v, want nil", err)
	}
	err := ValidateTopicConfigs(map[string]string{"no.such.config": "1"})
	if !errors.Is(err, ErrUnknownConfig) || errors.Is(err, ErrInvalidConfig) {
		t.Errorf("ValidateTopicConfigs(unknown) = %v, want ErrUnknownConfig only", err)
	}
	err = ValidateTopicConfigs(map[string]string{"segment.bytes": "1"})
	if !errors.Is(err, ErrInvalidConfig) || errors.Is(err, ErrUnknownConfig) {
		t.Errorf("ValidateTopicConfigs(bad value) = %v, want ErrInvalidConfig only", err)
	}
	err = ValidateTopicConfigs(map[string]string{"segment.bytes": "1", "log.retention.ms": "5"})
	if !errors.Is(err, ErrInvalidConfig) || !errors.Is(err, ErrUnknownConfig) {
		t.Errorf("ValidateTopicConfigs(both) = %v, want both sentinels", err)
	}
	if !strings.Contains(err.Error(), "segment.bytes") || !strings.Contains(err.Error(), "log.retention.ms") {
		t.Errorf("ValidateTopicConfigs(both) = %q, want both names in the message", err)
	}
}

func TestTopicValue(t *testing.T) {
	tests := []struct {
		name       string
		topic      map[string]string
		broker     map[string]string
		give       string
		want       string
		wantSource Source
	}{
		{"registry default", nil, nil, "retention.ms", "604800000", SourceDefaultConfig},
		{"topic override wins", map[string]string{"retention.ms": "1000"}, map[string]string{"log.retention.ms": "5"}, "retention.ms", "1000", SourceDynamicTopicConfig},
		{"broker ms", nil, map[string]string{"log.retention.ms": "5000"}, "retention.ms", "5000", SourceStaticBrokerConfig},
		{"broker ms beats hours", nil, map[string]string{"log.retention.ms": "5000", "log.retention.hours": "1"}, "retention.ms", "5000", SourceStaticBrokerConfig},
		// Kafka reports the source of the first synonym named like the
		// server default property (log.retention.ms): with only minutes or
		// hours set that is DEFAULT_CONFIG, though the value follows them.
		{"broker minutes beat hours", nil, map[string]string{"log.retention.minutes": "2", "log.retention.hours": "1"}, "retention.ms", "120000", SourceDefaultConfig},
		{"broker hours scaled", nil, map[string]string{"log.retention.hours": "24"}, "retention.ms", "86400000", SourceDefaultConfig},
		{"negative hours mean unlimited", nil, map[string]string{"log.retention.hours": "-1"}, "retention.ms", "-1", SourceDefaultConfig},
		{"unparsable scaled synonym skipped", nil, map[string]string{"log.retention.hours": "x"}, "retention.ms", "604800000", SourceDefaultConfig},
		{"same-name synonym", nil, map[string]string{"min.insync.replicas": "2"}, "min.insync.replicas", "2", SourceStaticBrokerConfig},
		{"renamed synonym", nil, map[string]string{"message.max.bytes": "2000000"}, "max.message.bytes", "2000000", SourceStaticBrokerConfig},
		{"roll hours", nil, map[string]string{"log.roll.hours": "1"}, "segment.ms", "3600000", SourceDefaultConfig},
		{"roll ms and hours", nil, map[string]string{"log.roll.ms": "5", "log.roll.hours": "1"}, "segment.ms", "5", SourceStaticBrokerConfig},
		{"unknown", nil, nil, "nope", "", SourceUnknown},
	}
	for _, tt := range tests {
		got, src := TopicValue(tt.topic, tt.broker, tt.give)
		if got != tt.want || src != tt.wantSource {
			t.Errorf("%s: TopicValue(%v, %v, %q) = (%q, %s), want (%q, %s)", tt.name, tt.topic, tt.broker, tt.give, got, src, tt.want, tt.wantSource)
		}
	}
}

func TestResolveLayersInOrder(t *testing.T) {
	perBroker := Layer{Source: SourceDynamicBrokerConfig, Values: map[string]string{"log.segment.bytes": "100"}}
	cluster := Layer{Source: SourceDynamicDefaultBrokerConfig, Values: map[string]string{"log.segment.bytes": "200", "log.retention.bytes": "300"}}
	static := Layer{Source: SourceStaticBrokerConfig, Values: map[string]string{"log.retention.bytes": "400", "log.roll.ms": "500"}}

	if v, src := ResolveTopic("segment.bytes", nil, perBroker, cluster, static); v != "100" || src != SourceDynamicBrokerConfig {
		t.Errorf("ResolveTopic(segment.bytes) = (%q, %s), want (100, DYNAMIC_BROKER_CONFIG)", v, src)
	}
	if v, src := ResolveTopic("retention.bytes", nil, perBroker, cluster, static); v != "300" || src != SourceDynamicDefaultBrokerConfig {
		t.Errorf("ResolveTopic(retention.bytes) = (%q, %s), want (300, DYNAMIC_DEFAULT_BROKER_CONFIG)", v, src)
	}
	if v, src, null := ResolveBroker("log.roll.ms", perBroker, cluster, static); v != "500" || src != SourceStaticBrokerConfig || null {
		t.Errorf("ResolveBroker(log.roll.ms) = (%q, %s, %v), want (500, STATIC_BROKER_CONFIG, false)", v, src, null)
	}
	if _, src, null := ResolveBroker("log.retention.ms"); src != SourceDefaultConfig || !null {
		t.Errorf("ResolveBroker(log.retention.ms) = (_, %s, %v), want (DEFAULT_CONFIG, null)", src, null)
	}
	if v, src, null := ResolveBroker("num.partitions"); v != "1" || src != SourceDefaultConfig || null {
		t.Errorf("ResolveBroker(num.partitions) = (%q, %s, %v), want (1, DEFAULT_CONFIG, false)", v, src, null)
	}
}

func TestParseHelpers(t *testing.T) {
	if v, err := ParseInt64(" 42 "); err != nil || v != 42 {
		t.Errorf("ParseInt64(\" 42 \") = (%d, %v), want (42, nil)", v, err)
	}
	if _, err := ParseInt64("4.2"); err == nil {
		t.Errorf("ParseInt64(\"4.2\") = nil error, want an error")
	}
	if v, err := ParseBool("False"); err != nil || v {
		t.Errorf("ParseBool(\"False\") = (%v, %v), want (false, nil)", v, err)
	}
	if _, err := ParseBool("1"); err == nil {
		t.Errorf("ParseBool(\"1\") = nil error, want an error")
	}
	if got := ParseList(" a, b ,c"); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("ParseList = %q, want [a b c]", got)
	}
	if got := ParseList("  "); got != nil {
		t.Errorf("ParseList(blank) = %q, want nil", got)
	}
}

func TestEntryMetadata(t *testing.T) {
	e, _ := Lookup(ScopeTopic, "retention.ms")
	if e.BrokerSynonym() != "log.retention.ms" {
		t.Errorf("retention.ms BrokerSynonym() = %q, want log.retention.ms", e.BrokerSynonym())
	}
	if e.ValidValues() != "[-1,...]" {
		t.Errorf("retention.ms ValidValues() = %q, want [-1,...]", e.ValidValues())
	}
	b, _ := Lookup(ScopeBroker, "log.retention.minutes")
	if !b.ReadOnly() || !b.NoDefault {
		t.Errorf("log.retention.minutes ReadOnly=%v NoDefault=%v, want both true", b.ReadOnly(), b.NoDefault)
	}
	b, _ = Lookup(ScopeBroker, "log.retention.ms")
	if b.ReadOnly() {
		t.Errorf("log.retention.ms is read-only, want dynamic (cluster-wide in Kafka)")
	}
}

func TestSynonymsInKafkaOrder(t *testing.T) {
	perBroker := Layer{Source: SourceDynamicBrokerConfig, Values: map[string]string{"log.retention.hours": "2"}}
	cluster := Layer{Source: SourceDynamicDefaultBrokerConfig, Values: map[string]string{"log.retention.ms": "3000"}}
	static := Layer{Source: SourceStaticBrokerConfig, Values: map[string]string{"log.retention.ms": "4000", "log.segment.bytes": "1000"}}
	tests := []struct {
		name string
		give []ConfigSynonym
		want []ConfigSynonym
	}{
		{"topic override, then layers, then defaults, leading other names dropped",
			TopicSynonyms("retention.ms", map[string]string{"retention.ms": "1"}, perBroker, cluster, static),
			[]ConfigSynonym{
				{"retention.ms", "1", SourceDynamicTopicConfig},
				{"log.retention.ms", "3000", SourceDynamicDefaultBrokerConfig},
				{"log.retention.ms", "4000", SourceStaticBrokerConfig},
				{"log.retention.hours", "168", SourceDefaultConfig},
			}},
		{"only defaults of other names: none",
			TopicSynonyms("retention.ms", nil), nil},
		{"single synonym with default",
			TopicSynonyms("segment.bytes", nil, static),
			[]ConfigSynonym{{"log.segment.bytes", "1000", SourceStaticBrokerConfig}, {"log.segment.bytes", "1073741824", SourceDefaultConfig}}},
		{"broker config",
			BrokerSynonyms("log.retention.hours", perBroker, cluster, static),
			[]ConfigSynonym{{"log.retention.hours", "2", SourceDynamicBrokerConfig}, {"log.retention.ms", "3000", SourceDynamicDefaultBrokerConfig},
				{"log.retention.ms", "4000", SourceStaticBrokerConfig}, {"log.retention.hours", "168", SourceDefaultConfig}}},
	}
	for _, tt := range tests {
		if !slices.Equal(tt.give, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, tt.give, tt.want)
		}
	}
}

func TestRegistryCoversKafka(t *testing.T) {
	for _, name := range []string{"sasl.kerberos.min.time.before.relogin", "ssl.keystore.password", "group.consumer.min.session.timeout.ms", "remote.log.storage.system.enable"} {
		if _, ok := Lookup(ScopeBroker, name); !ok {
			t.Errorf("Lookup(broker, %q) found nothing", name)
		}
	}
	e, _ := Lookup(ScopeBroker, "sasl.kerberos.min.time.before.relogin")
	if e.Mode != ModePerBroker || !e.Dynamic || !e.Inert || !strings.HasSuffix(e.Documentation(), InertDoc) {
		t.Errorf("sasl.kerberos.min.time.before.relogin: Mode=%s Dynamic=%v Inert=%v doc=%q, want per-broker, dynamic, inert", e.Mode, e.Dynamic, e.Inert, e.Documentation())
	}
	if e, _ := Lookup(ScopeBroker, "ssl.keystore.password"); !e.Sensitive {
		t.Errorf("ssl.keystore.password is not sensitive")
	}
	if e, _ := Lookup(ScopeBroker, "log.retention.ms"); e.Inert || e.Mode != ModeClusterWide {
		t.Errorf("log.retention.ms: Inert=%v Mode=%s, want acted on and cluster-wide", e.Inert, e.Mode)
	}
	g, ok := Lookup(ScopeGroup, "consumer.session.timeout.ms")
	if !ok || g.Inert || !g.Dynamic || g.BrokerSynonym() != "group.consumer.session.timeout.ms" {
		t.Errorf("group consumer.session.timeout.ms = %+v, want a dynamic, acted-on config defaulting from group.consumer.session.timeout.ms", g)
	}
	if v, src, _ := ResolveGroup("consumer.session.timeout.ms", nil, Layer{Source: SourceStaticBrokerConfig, Values: map[string]string{"group.consumer.session.timeout.ms": "30000"}}); v != "30000" || src != SourceDefaultConfig {
		t.Errorf("ResolveGroup(consumer.session.timeout.ms) = (%q, %s), want (30000, DEFAULT_CONFIG)", v, src)
	}
	if v, src, _ := ResolveGroup("consumer.session.timeout.ms", map[string]string{"consumer.session.timeout.ms": "50000"}); v != "50000" || src != SourceDynamicGroupConfig {
		t.Errorf("ResolveGroup(consumer.session.timeout.ms) with override = (%q, %s), want (50000, GROUP_CONFIG)", v, src)
	}
}

func TestValidateGroupConfigs(t *testing.T) {
	static := Layer{Source: SourceStaticBrokerConfig, Values: map[string]string{"group.consumer.min.session.timeout.ms": "1000"}}
	tests := []struct {
		name string
		give map[string]string
		want string // "" for valid
	}{
		{"in bounds", map[string]string{"consumer.session.timeout.ms": "50000"}, ""},
		{"lowered broker minimum", map[string]string{"consumer.session.timeout.ms": "8000", "consumer.heartbeat.interval.ms": "5000"}, ""},
		{"above maximum", map[string]string{"consumer.session.timeout.ms": "70000"}, "group.consumer.max.session.timeout.ms"},
		{"heartbeat below minimum", map[string]string{"consumer.heartbeat.interval.ms": "100"}, "group.consumer.min.heartbeat.interval.ms"},
		{"heartbeat not below session", map[string]string{"consumer.session.timeout.ms": "5000"}, "must be less than consumer.session.timeout.ms"},
		{"unknown", map[string]string{"consumer.nope": "1"}, "unknown config"},
		{"bad value", map[string]string{"share.auto.offset.reset": "sometimes"}, "share.auto.offset.reset"},
		{"standby maximum", map[string]string{"streams.num.standby.replicas": "3"}, "group.streams.max.standby.replicas"},
	}
	for _, tt := range tests {
		err := ValidateGroupConfigs(tt.give, static)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: ValidateGroupConfigs(%v) = %v, want nil", tt.name, tt.give, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: ValidateGroupConfigs(%v) = %v, want an error mentioning %q", tt.name, tt.give, err, tt.want)
		}
	}
}
