// Package config owns Strata's configuration: the registry of dynamic topic
// and broker configs (this file), and, later, static config loading.
//
// The registry is one table keyed by Kafka's config names (retention.ms,
// segment.bytes, log.retention.hours...). Each Entry carries the name, scope
// (topic or broker), type, default, validator, doc line, whether it can be
// changed at runtime, and for topic configs the broker configs that provide
// the default (retention.ms takes its default from log.retention.ms, then
// log.retention.minutes, then log.retention.hours). The same table serves
// CreateTopics/AlterConfigs validation, DescribeConfigs (value and source),
// and generated docs.
//
// Defaults and validation follow Apache Kafka 3.9 (before the KIP-1030
// changes of Kafka 4.0), except where an Entry's doc says otherwise.
//
// Values are strings, exactly as they travel in Kafka's config APIs. The
// package never reads files or the environment from this file; it runs no
// goroutines, and the table is immutable after package initialisation.
package config

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Sentinel errors returned (wrapped) by validation.
var (
	// ErrUnknownConfig means the config name is not in the registry for the
	// requested scope.
	ErrUnknownConfig = errors.New("unknown config")
	// ErrInvalidConfig means the value does not parse as the config's type
	// or is rejected by its validator, or the config cannot be set this way.
	ErrInvalidConfig = errors.New("invalid config value")
)

// Scope says which kind of resource a config belongs to.
type Scope int8

const (
	// ScopeTopic configs are set per topic (DescribeConfigs resource type 2).
	ScopeTopic Scope = iota + 1
	// ScopeBroker configs are set per broker or cluster-wide (resource type 4).
	ScopeBroker
)

func (s Scope) String() string {
	switch s {
	case ScopeTopic:
		return "topic"
	case ScopeBroker:
		return "broker"
	default:
		return fmt.Sprintf("Scope(%d)", int8(s))
	}
}

// Type is a config's value type, with Kafka's ConfigDef names.
type Type int8

// The values mirror the ConfigType enum of DescribeConfigs v3+ (KIP-569),
// so the API layer can send them as they are.
const (
	TypeUnknown  Type = 0
	TypeBoolean  Type = 1
	TypeString   Type = 2
	TypeInt      Type = 3
	TypeShort    Type = 4
	TypeLong     Type = 5
	TypeDouble   Type = 6
	TypeList     Type = 7
	TypeClass    Type = 8
	TypePassword Type = 9
)

func (t Type) String() string {
	switch t {
	case TypeBoolean:
		return "BOOLEAN"
	case TypeString:
		return "STRING"
	case TypeInt:
		return "INT"
	case TypeShort:
		return "SHORT"
	case TypeLong:
		return "LONG"
	case TypeDouble:
		return "DOUBLE"
	case TypeList:
		return "LIST"
	case TypeClass:
		return "CLASS"
	case TypePassword:
		return "PASSWORD"
	default:
		return "UNKNOWN"
	}
}

// Source says where a described config value came from. The values mirror
// the ConfigSource of DescribeConfigs v1+ (KIP-226).
type Source int8

const (
	SourceUnknown                    Source = 0
	SourceDynamicTopicConfig         Source = 1
	SourceDynamicBrokerConfig        Source = 2
	SourceDynamicDefaultBrokerConfig Source = 3
	SourceStaticBrokerConfig         Source = 4
	SourceDefaultConfig              Source = 5
	SourceDynamicBrokerLoggerConfig  Source = 6
)

func (s Source) String() string {
	switch s {
	case SourceDynamicTopicConfig:
		return "DYNAMIC_TOPIC_CONFIG"
	case SourceDynamicBrokerConfig:
		return "DYNAMIC_BROKER_CONFIG"
	case SourceDynamicDefaultBrokerConfig:
		return "DYNAMIC_DEFAULT_BROKER_CONFIG"
	case SourceStaticBrokerConfig:
		return "STATIC_BROKER_CONFIG"
	case SourceDefaultConfig:
		return "DEFAULT_CONFIG"
	case SourceDynamicBrokerLoggerConfig:
		return "DYNAMIC_BROKER_LOGGER_CONFIG"
	default:
		return "UNKNOWN"
	}
}

// A Synonym is a broker config that can supply a topic config's value when
// the topic has no override. Scale converts the broker config's unit to the
// topic config's (log.retention.hours has Scale 3600000 for retention.ms).
type Synonym struct {
	Name  string
	Scale int64
}

// Entry describes one config. Entries are shared and must not be modified.
type Entry struct {
	Name  string
	Scope Scope
	Type  Type
	// Default is the value used when nothing else sets one. It is meaningful
	// only when NoDefault is false.
	Default string
	// NoDefault marks configs whose Kafka default is null (log.dirs,
	// log.retention.ms); DescribeConfigs reports them with a null value.
	NoDefault bool
	Doc       string
	// Dynamic is true when the config can be changed at runtime through
	// AlterConfigs: every topic config, and broker configs that Kafka lets
	// you update per broker or cluster-wide.
	Dynamic bool
	// Sensitive configs have their values hidden in DescribeConfigs.
	Sensitive bool
	// Synonyms, for topic configs, are the broker configs that provide the
	// default, highest precedence first. Synonyms[0] is the broker config
	// named in Kafka's docs as the "server default property".
	Synonyms []Synonym

	check validator
}

// ReadOnly reports whether the config cannot be changed at runtime
// (DescribeConfigs' read_only flag).
func (e *Entry) ReadOnly() bool { return !e.Dynamic }

// BrokerSynonym returns the broker config that provides a topic config's
// default, or "" when there is none.
func (e *Entry) BrokerSynonym() string {
	if len(e.Synonyms) == 0 {
		return ""
	}
	return e.Synonyms[0].Name
}

// ValidValues describes the accepted values the way Kafka's docs do
// ("[0,...]", "[delete, compact]"), or "" when any value of the type goes.
func (e *Entry) ValidValues() string {
	if e.check == nil {
		return ""
	}
	return e.check.String()
}

// Validate parses value as the entry's type and applies its validator. The
// error wraps ErrInvalidConfig.
func (e *Entry) Validate(value string) error {
	if err := e.validate(value); err != nil {
		return fmt.Errorf("%w: %s=%q: %v", ErrInvalidConfig, e.Name, value, err)
	}
	return nil
}

func (e *Entry) validate(value string) error {
	switch e.Type {
	case TypeBoolean:
		if _, err := ParseBool(value); err != nil {
			return err
		}
	case TypeShort:
		if _, err := parseIntBits(value, 16); err != nil {
			return err
		}
	case TypeInt:
		if _, err := parseIntBits(value, 32); err != nil {
			return err
		}
	case TypeLong:
		if _, err := ParseInt64(value); err != nil {
			return err
		}
	case TypeDouble:
		if _, err := ParseFloat64(value); err != nil {
			return err
		}
	case TypeString, TypeList, TypeClass, TypePassword:
	default:
		return fmt.Errorf("config has no type")
	}
	if e.check != nil {
		return e.check.validate(value)
	}
	return nil
}

// ParseInt64 parses a Kafka LONG (or INT/SHORT) config value. Surrounding
// whitespace is ignored, as in Kafka's ConfigDef.
func ParseInt64(s string) (int64, error) {
	return parseIntBits(s, 64)
}

func parseIntBits(s string, bits int) (int64, error) {
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, bits)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return 0, fmt.Errorf("value out of range for a %d-bit integer", bits)
		}
		return 0, fmt.Errorf("not a number")
	}
	return v, nil
}

// ParseBool parses a Kafka BOOLEAN config value: "true" or "false", in any
// case, surrounding whitespace ignored.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	default:
		return false, fmt.Errorf("expected true or false")
	}
}

// ParseFloat64 parses a Kafka DOUBLE config value. NaN and infinities are
// rejected.
func ParseFloat64(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("not a finite number")
	}
	return v, nil
}

// ParseList splits a Kafka LIST config value on commas and trims each
// element. The empty string is the empty list.
func ParseList(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// Lookup returns the entry for name in scope.
func Lookup(scope Scope, name string) (*Entry, bool) {
	var e *Entry
	switch scope {
	case ScopeTopic:
		e = topicIndex[name]
	case ScopeBroker:
		e = brokerIndex[name]
	}
	return e, e != nil
}

// TopicEntries returns every topic config, sorted by name. The slice is a
// copy; the entries are shared.
func TopicEntries() []*Entry { return slices.Clone(topicTable) }

// BrokerEntries returns every broker config, sorted by name. The slice is a
// copy; the entries are shared.
func BrokerEntries() []*Entry { return slices.Clone(brokerTable) }

// ValidateTopicConfigs checks a set of topic config overrides. It reports
// every problem, joined, in name order: unknown names wrap ErrUnknownConfig,
// bad values wrap ErrInvalidConfig.
func ValidateTopicConfigs(m map[string]string) error {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)
	var errs []error
	for _, name := range names {
		e, ok := Lookup(ScopeTopic, name)
		if !ok {
			errs = append(errs, fmt.Errorf("%w: topic config %q", ErrUnknownConfig, name))
			continue
		}
		if err := e.Validate(m[name]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// A Layer is one set of broker-level config values with the source that
// DescribeConfigs reports for them.
type Layer struct {
	Source Source
	Values map[string]string
}

// TopicValue resolves a topic config: the topic's own override first
// (DYNAMIC_TOPIC_CONFIG), then a broker synonym from brokerDefaults
// (STATIC_BROKER_CONFIG), then the registry default (DEFAULT_CONFIG). An
// unknown name gives ("", SourceUnknown).
func TopicValue(topicConfigs, brokerDefaults map[string]string, name string) (value string, source Source) {
	return ResolveTopic(name, topicConfigs, Layer{Source: SourceStaticBrokerConfig, Values: brokerDefaults})
}

// ResolveTopic is TopicValue with any number of broker layers, consulted in
// order (for Kafka's order: per-broker dynamic, cluster-wide dynamic, static).
// Within a layer, synonyms are tried in precedence order and scaled to the
// topic config's unit; a negative scaled value becomes -1 ("unlimited").
func ResolveTopic(name string, topicConfigs map[string]string, brokerLayers ...Layer) (value string, source Source) {
	e, ok := Lookup(ScopeTopic, name)
	if !ok {
		return "", SourceUnknown
	}
	if v, ok := topicConfigs[name]; ok {
		return v, SourceDynamicTopicConfig
	}
	for _, l := range brokerLayers {
		for _, syn := range e.Synonyms {
			v, ok := l.Values[syn.Name]
			if !ok {
				continue
			}
			if scaled, ok := scaleSynonym(v, syn.Scale); ok {
				return scaled, l.Source
			}
		}
	}
	return e.Default, SourceDefaultConfig
}

// ResolveBroker resolves a broker config across layers in order, falling
// back to the registry default. null is true when the resolved value is
// Kafka's null (no layer sets it and the entry has no default). An unknown
// name gives ("", SourceUnknown, true).
func ResolveBroker(name string, layers ...Layer) (value string, source Source, null bool) {
	e, ok := Lookup(ScopeBroker, name)
	if !ok {
		return "", SourceUnknown, true
	}
	for _, l := range layers {
		if v, ok := l.Values[name]; ok {
			return v, l.Source, false
		}
	}
	return e.Default, SourceDefaultConfig, e.NoDefault
}

// scaleSynonym converts a broker synonym's value to the topic unit. Values
// that are not integers are passed through unchanged when no scaling is
// needed, and rejected (ok=false) otherwise.
func scaleSynonym(v string, scale int64) (string, bool) {
	if scale <= 1 {
		return v, true
	}
	n, err := ParseInt64(v)
	if err != nil {
		return "", false
	}
	if n < 0 {
		return "-1", true
	}
	if n > math.MaxInt64/scale {
		return strconv.FormatInt(math.MaxInt64, 10), true
	}
	return strconv.FormatInt(n*scale, 10), true
}

// validator checks a value that already parses as its entry's type.
type validator interface {
	validate(value string) error
	String() string
}

// intRange accepts integers in [min, max].
type intRange struct {
	min, max int64
}

func atLeast(min int64) intRange { return intRange{min: min, max: math.MaxInt64} }

func between(min, max int64) intRange { return intRange{min: min, max: max} }

func (r intRange) validate(value string) error {
	n, err := ParseInt64(value)
	if err != nil {
		return err
	}
	if n < r.min || n > r.max {
		return fmt.Errorf("value must be in %s", r)
	}
	return nil
}

func (r intRange) String() string {
	if r.max == math.MaxInt64 {
		return fmt.Sprintf("[%d,...]", r.min)
	}
	return fmt.Sprintf("[%d,...,%d]", r.min, r.max)
}

// floatRange accepts doubles in [min, max].
type floatRange struct {
	min, max float64
}

func (r floatRange) validate(value string) error {
	f, err := ParseFloat64(value)
	if err != nil {
		return err
	}
	if f < r.min || f > r.max {
		return fmt.Errorf("value must be in %s", r)
	}
	return nil
}

func (r floatRange) String() string {
	return fmt.Sprintf("[%s,...,%s]", strconv.FormatFloat(r.min, 'g', -1, 64), strconv.FormatFloat(r.max, 'g', -1, 64))
}

// oneOf accepts exactly one of a set of strings (Kafka's ValidString, which
// is case-sensitive).
type oneOf []string

func (o oneOf) validate(value string) error {
	if slices.Contains(o, strings.TrimSpace(value)) {
		return nil
	}
	return fmt.Errorf("value must be one of %s", o)
}

func (o oneOf) String() string { return "[" + strings.Join(o, ", ") + "]" }

// listOf accepts a non-empty comma-separated list whose elements are each in
// the set, without repeats (Kafka's ValidList).
type listOf []string

func (l listOf) validate(value string) error {
	items := ParseList(value)
	if len(items) == 0 {
		return fmt.Errorf("list must not be empty")
	}
	for i, it := range items {
		if !slices.Contains(l, it) {
			return fmt.Errorf("list element %q must be one of %s", it, l)
		}
		if slices.Contains(items[:i], it) {
			return fmt.Errorf("list element %q is repeated", it)
		}
	}
	return nil
}

func (l listOf) String() string { return "[" + strings.Join(l, ", ") + "]" }

const (
	maxLong  = "9223372036854775807"
	msPerMin = 60 * 1000
	msPerHr  = 60 * msPerMin
)

var compressionTypes = oneOf{"uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"}

// topicTable lists every topic config. Keep it sorted by name.
var topicTable = []*Entry{
	{Name: "cleanup.policy", Type: TypeList, Default: "delete", check: listOf{"compact", "delete"},
		Synonyms: []Synonym{{Name: "log.cleanup.policy"}},
		Doc:      "How old log segments are discarded: delete removes them by retention time or size, compact keeps the latest value per key; both may be given."},
	{Name: "compression.gzip.level", Type: TypeInt, Default: "-1", check: gzipLevel{},
		Synonyms: []Synonym{{Name: "compression.gzip.level"}},
		Doc:      "Compression level used when compression.type is gzip (KIP-390); -1 is the codec default."},
	{Name: "compression.lz4.level", Type: TypeInt, Default: "9", check: between(1, 17),
		Synonyms: []Synonym{{Name: "compression.lz4.level"}},
		Doc:      "Compression level used when compression.type is lz4 (KIP-390)."},
	{Name: "compression.type", Type: TypeString, Default: "producer", check: compressionTypes,
		Synonyms: []Synonym{{Name: "compression.type"}},
		Doc:      "Final compression of the topic's data: a codec, uncompressed, or producer to keep what the producer sent."},
	{Name: "compression.zstd.level", Type: TypeInt, Default: "3", check: between(-131072, 22),
		Synonyms: []Synonym{{Name: "compression.zstd.level"}},
		Doc:      "Compression level used when compression.type is zstd (KIP-390)."},
	{Name: "delete.retention.ms", Type: TypeLong, Default: "86400000", check: atLeast(0),
		Synonyms: []Synonym{{Name: "log.cleaner.delete.retention.ms"}},
		Doc:      "How long delete tombstones are kept in compacted topics."},
	{Name: "file.delete.delay.ms", Type: TypeLong, Default: "60000", check: atLeast(0),
		Synonyms: []Synonym{{Name: "log.segment.delete.delay.ms"}},
		Doc:      "How long to wait before deleting a segment file from the file system."},
	{Name: "flush.messages", Type: TypeLong, Default: maxLong, check: atLeast(1),
		Synonyms: []Synonym{{Name: "log.flush.interval.messages"}},
		Doc:      "Force an fsync after this many messages; durability normally comes from replication."},
	{Name: "flush.ms", Type: TypeLong, Default: maxLong, check: atLeast(0),
		Synonyms: []Synonym{{Name: "log.flush.interval.ms"}},
		Doc:      "Force an fsync when data has been unflushed for this long."},
	{Name: "follower.replication.throttled.replicas", Type: TypeList, Default: "",
		Doc: "Replicas whose follower-side replication is throttled, as partition:broker pairs or *."},
	{Name: "index.interval.bytes", Type: TypeInt, Default: "4096", check: atLeast(0),
		Synonyms: []Synonym{{Name: "log.index.interval.bytes"}},
		Doc:      "How many bytes of records between offset index entries."},
	{Name: "leader.replication.throttled.replicas", Type: TypeList, Default: "",
		Doc: "Replicas whose leader-side replication is throttled, as partition:broker pairs or *."},
	{Name: "max.compaction.lag.ms", Type: TypeLong, Default: maxLong, check: atLeast(1),
		Synonyms: []Synonym{{Name: "log.cleaner.max.compaction.lag.ms"}},
		Doc:      "Maximum time a message stays ineligible for compaction."},
	{Name: "max.message.bytes", Type: TypeInt, Default: "1048588", check: atLeast(0),
		Synonyms: []Synonym{{Name: "message.max.bytes"}},
		Doc:      "Largest record batch size the broker accepts for this topic."},
	{Name: "message.timestamp.after.max.ms", Type: TypeLong, Default: maxLong, check: atLeast(0),
		Synonyms: []Synonym{{Name: "log.message.timestamp.after.max.ms"}},
		Doc:      "How far a CreateTime timestamp may be ahead of the broker's clock (KIP-937)."},
	{Name: "message.timestamp.before.max.ms", Type: TypeLong, Default: maxLong, check: atLeast(0),
		Synonyms: []Synonym{{Name: "log.message.timestamp.before.max.ms"}},
		Doc:      "How far a CreateTime timestamp may be behind the broker's clock (KIP-937)."},
	{Name: "message.timestamp.type", Type: TypeString, Default: "CreateTime", check: oneOf{"CreateTime", "LogAppendTime"},
		Synonyms: []Synonym{{Name: "log.message.timestamp.type"}},
		Doc:      "Whether record timestamps are the producer's CreateTime or the broker's LogAppendTime."},
	{Name: "min.cleanable.dirty.ratio", Type: TypeDouble, Default: "0.5", check: floatRange{min: 0, max: 1},
		Synonyms: []Synonym{{Name: "log.cleaner.min.cleanable.ratio"}},
		Doc:      "Minimum ratio of dirty log to total log before a compacted log is cleaned."},
	{Name: "min.compaction.lag.ms", Type: TypeLong, Default: "0", check: atLeast(0),
		Synonyms: []Synonym{{Name: "log.cleaner.min.compaction.lag.ms"}},
		Doc:      "Minimum time a message stays uncompacted in the log."},
	{Name: "min.insync.replicas", Type: TypeInt, Default: "1", check: atLeast(1),
		Synonyms: []Synonym{{Name: "min.insync.replicas"}},
		Doc:      "Minimum number of in-sync replicas needed to acknowledge an acks=all produce."},
	{Name: "preallocate", Type: TypeBoolean, Default: "false",
		Synonyms: []Synonym{{Name: "log.preallocate"}},
		Doc:      "Preallocate the file when creating a new segment."},
	{Name: "retention.bytes", Type: TypeLong, Default: "-1",
		Synonyms: []Synonym{{Name: "log.retention.bytes"}},
		Doc:      "Maximum size a partition's log may grow to before old segments are deleted; -1 means no limit."},
	{Name: "retention.ms", Type: TypeLong, Default: "604800000", check: atLeast(-1),
		Synonyms: []Synonym{{Name: "log.retention.ms"}, {Name: "log.retention.minutes", Scale: msPerMin}, {Name: "log.retention.hours", Scale: msPerHr}},
		Doc:      "How long a log segment is kept before it is deleted; -1 means no time limit."},
	{Name: "segment.bytes", Type: TypeInt, Default: "1073741824", check: atLeast(14),
		Synonyms: []Synonym{{Name: "log.segment.bytes"}},
		Doc:      "Size at which a log segment is rolled."},
	{Name: "segment.index.bytes", Type: TypeInt, Default: "10485760", check: atLeast(4),
		Synonyms: []Synonym{{Name: "log.index.size.max.bytes"}},
		Doc:      "Size of the offset and time index files of a segment."},
	{Name: "segment.jitter.ms", Type: TypeLong, Default: "0", check: atLeast(0),
		Synonyms: []Synonym{{Name: "log.roll.jitter.ms"}, {Name: "log.roll.jitter.hours", Scale: msPerHr}},
		Doc:      "Maximum random jitter subtracted from segment.ms to avoid rolling every segment at once."},
	{Name: "segment.ms", Type: TypeLong, Default: "604800000", check: atLeast(1),
		Synonyms: []Synonym{{Name: "log.roll.ms"}, {Name: "log.roll.hours", Scale: msPerHr}},
		Doc:      "Time after which a log segment is rolled even if it is not full."},
	{Name: "unclean.leader.election.enable", Type: TypeBoolean, Default: "false",
		Synonyms: []Synonym{{Name: "unclean.leader.election.enable"}},
		Doc:      "Whether a replica outside the ISR may become leader as a last resort, at the risk of losing data."},
}

// gzipLevel accepts -1 or 1..9, as Kafka's GzipCompression does.
type gzipLevel struct{}

func (gzipLevel) validate(value string) error {
	n, err := ParseInt64(value)
	if err != nil {
		return err
	}
	if n == -1 || (n >= 1 && n <= 9) {
		return nil
	}
	return fmt.Errorf("value must be -1 or in [1,...,9]")
}

func (gzipLevel) String() string { return "[1,...,9] or -1" }

// brokerTable lists the broker configs Strata knows. Keep it sorted by name.
// Dynamic follows Kafka's update mode (per-broker or cluster-wide); configs
// Kafka marks read-only are read-only here too.
var brokerTable = []*Entry{
	{Name: "advertised.listeners", Type: TypeString, NoDefault: true,
		Doc: "Listeners published to clients, when they differ from listeners."},
	{Name: "auto.create.topics.enable", Type: TypeBoolean, Default: "true",
		Doc: "Create a topic when a client asks for metadata about one that does not exist."},
	{Name: "broker.heartbeat.interval.ms", Type: TypeInt, Default: "2000", check: atLeast(1),
		Doc: "How often a broker heartbeats the active controller."},
	{Name: "broker.id", Type: TypeInt, Default: "-1", check: atLeast(-1),
		Doc: "This server's id; in KRaft mode it equals node.id."},
	{Name: "broker.rack", Type: TypeString, NoDefault: true,
		Doc: "Rack of this broker, used for rack-aware replica placement."},
	{Name: "broker.session.timeout.ms", Type: TypeInt, Default: "9000", check: atLeast(1),
		Doc: "A broker that has not heartbeated the active controller for this long is fenced and loses its leaderships."},
	{Name: "compression.gzip.level", Type: TypeInt, Default: "-1", check: gzipLevel{}, Dynamic: true,
		Doc: "Default gzip compression level for topics."},
	{Name: "compression.lz4.level", Type: TypeInt, Default: "9", check: between(1, 17), Dynamic: true,
		Doc: "Default lz4 compression level for topics."},
	{Name: "compression.type", Type: TypeString, Default: "producer", check: compressionTypes, Dynamic: true,
		Doc: "Default final compression for topics."},
	{Name: "compression.zstd.level", Type: TypeInt, Default: "3", check: between(-131072, 22), Dynamic: true,
		Doc: "Default zstd compression level for topics."},
	{Name: "connections.max.idle.ms", Type: TypeLong, Default: "600000",
		Doc: "Close connections idle for longer than this."},
	{Name: "controller.quorum.voters", Type: TypeList, Default: "",
		Doc: "The metadata quorum's voters as id@host:port."},
	{Name: "default.replication.factor", Type: TypeInt, Default: "1", check: atLeast(1),
		Doc: "Replication factor of topics created without one."},
	{Name: "delete.topic.enable", Type: TypeBoolean, Default: "true",
		Doc: "Whether topics can be deleted."},
	{Name: "group.consumer.heartbeat.interval.ms", Type: TypeInt, Default: "5000", check: atLeast(1),
		Doc: "Heartbeat interval the coordinator gives members of consumer-protocol (KIP-848) groups."},
	{Name: "group.consumer.session.timeout.ms", Type: TypeInt, Default: "45000", check: atLeast(1),
		Doc: "Session timeout of members of consumer-protocol (KIP-848) groups, decided by the broker."},
	{Name: "group.initial.rebalance.delay.ms", Type: TypeInt, Default: "3000", check: atLeast(0),
		Doc: "How long the group coordinator waits for more members before the first rebalance of an empty group."},
	{Name: "group.max.session.timeout.ms", Type: TypeInt, Default: "1800000",
		Doc: "Largest session timeout a consumer may ask for."},
	{Name: "group.max.size", Type: TypeInt, Default: "2147483647", check: atLeast(1),
		Doc: "Maximum number of members in one consumer group."},
	{Name: "group.min.session.timeout.ms", Type: TypeInt, Default: "6000",
		Doc: "Smallest session timeout a consumer may ask for."},
	{Name: "listeners", Type: TypeString, Default: "PLAINTEXT://:9092",
		Doc: "Addresses the server listens on, as NAME://host:port, comma separated."},
	{Name: "log.cleaner.backoff.ms", Type: TypeLong, Default: "15000", check: atLeast(0),
		Doc: "How long the log cleaner sleeps when no compacted log needs cleaning."},
	{Name: "log.cleaner.delete.retention.ms", Type: TypeLong, Default: "86400000", check: atLeast(0), Dynamic: true,
		Doc: "Default delete.retention.ms for topics."},
	{Name: "log.cleaner.max.compaction.lag.ms", Type: TypeLong, Default: maxLong, check: atLeast(1), Dynamic: true,
		Doc: "Default max.compaction.lag.ms for topics."},
	{Name: "log.cleaner.min.cleanable.ratio", Type: TypeDouble, Default: "0.5", check: floatRange{min: 0, max: 1}, Dynamic: true,
		Doc: "Default min.cleanable.dirty.ratio for topics."},
	{Name: "log.cleaner.min.compaction.lag.ms", Type: TypeLong, Default: "0", check: atLeast(0), Dynamic: true,
		Doc: "Default min.compaction.lag.ms for topics."},
	{Name: "log.cleanup.policy", Type: TypeList, Default: "delete", check: listOf{"compact", "delete"}, Dynamic: true,
		Doc: "Default cleanup.policy for topics."},
	{Name: "log.dir", Type: TypeString, Default: "/tmp/kafka-logs",
		Doc: "Directory for log data, used when log.dirs is not set."},
	{Name: "log.dirs", Type: TypeString, NoDefault: true,
		Doc: "Comma-separated directories for log data; log.dir is used when unset."},
	{Name: "log.flush.interval.messages", Type: TypeLong, Default: maxLong, check: atLeast(1), Dynamic: true,
		Doc: "Default flush.messages for topics."},
	{Name: "log.flush.interval.ms", Type: TypeLong, NoDefault: true, Dynamic: true,
		Doc: "Default flush.ms for topics; when unset, flush.ms keeps its own default."},
	{Name: "log.index.interval.bytes", Type: TypeInt, Default: "4096", check: atLeast(0), Dynamic: true,
		Doc: "Default index.interval.bytes for topics."},
	{Name: "log.index.size.max.bytes", Type: TypeInt, Default: "10485760", check: atLeast(4), Dynamic: true,
		Doc: "Default segment.index.bytes for topics."},
	{Name: "log.message.timestamp.after.max.ms", Type: TypeLong, Default: maxLong, check: atLeast(0), Dynamic: true,
		Doc: "Default message.timestamp.after.max.ms for topics."},
	{Name: "log.message.timestamp.before.max.ms", Type: TypeLong, Default: maxLong, check: atLeast(0), Dynamic: true,
		Doc: "Default message.timestamp.before.max.ms for topics."},
	{Name: "log.message.timestamp.type", Type: TypeString, Default: "CreateTime", check: oneOf{"CreateTime", "LogAppendTime"}, Dynamic: true,
		Doc: "Default message.timestamp.type for topics."},
	{Name: "log.preallocate", Type: TypeBoolean, Default: "false", Dynamic: true,
		Doc: "Default preallocate for topics."},
	{Name: "log.retention.bytes", Type: TypeLong, Default: "-1", Dynamic: true,
		Doc: "Default retention.bytes for topics."},
	{Name: "log.retention.check.interval.ms", Type: TypeLong, Default: "300000", check: atLeast(1),
		Doc: "How often the log retention task runs."},
	{Name: "log.retention.hours", Type: TypeInt, Default: "168",
		Doc: "Default retention in hours, used when log.retention.ms and log.retention.minutes are unset."},
	{Name: "log.retention.minutes", Type: TypeInt, NoDefault: true,
		Doc: "Default retention in minutes, used when log.retention.ms is unset."},
	{Name: "log.retention.ms", Type: TypeLong, NoDefault: true, check: atLeast(-1), Dynamic: true,
		Doc: "Default retention.ms for topics; -1 means no time limit."},
	{Name: "log.roll.hours", Type: TypeInt, Default: "168", check: atLeast(1),
		Doc: "Default segment roll time in hours, used when log.roll.ms is unset."},
	{Name: "log.roll.jitter.hours", Type: TypeInt, Default: "0", check: atLeast(0),
		Doc: "Default segment roll jitter in hours, used when log.roll.jitter.ms is unset."},
	{Name: "log.roll.jitter.ms", Type: TypeLong, NoDefault: true, Dynamic: true,
		Doc: "Default segment.jitter.ms for topics."},
	{Name: "log.roll.ms", Type: TypeLong, NoDefault: true, Dynamic: true,
		Doc: "Default segment.ms for topics."},
	{Name: "log.segment.bytes", Type: TypeInt, Default: "1073741824", check: atLeast(14), Dynamic: true,
		Doc: "Default segment.bytes for topics."},
	{Name: "log.segment.delete.delay.ms", Type: TypeLong, Default: "60000", check: atLeast(0), Dynamic: true,
		Doc: "Default file.delete.delay.ms for topics."},
	{Name: "message.max.bytes", Type: TypeInt, Default: "1048588", check: atLeast(0), Dynamic: true,
		Doc: "Default max.message.bytes for topics: the largest record batch the broker accepts."},
	{Name: "min.insync.replicas", Type: TypeInt, Default: "1", check: atLeast(1), Dynamic: true,
		Doc: "Default min.insync.replicas for topics."},
	{Name: "node.id", Type: TypeInt, Default: "-1", check: atLeast(-1),
		Doc: "This node's id in the metadata quorum and the cluster."},
	{Name: "num.io.threads", Type: TypeInt, Default: "8", check: atLeast(1),
		Doc: "Threads that process requests (kept for compatibility; Strata schedules goroutines)."},
	{Name: "num.network.threads", Type: TypeInt, Default: "3", check: atLeast(1),
		Doc: "Threads that handle the network (kept for compatibility; Strata schedules goroutines)."},
	{Name: "num.partitions", Type: TypeInt, Default: "1", check: atLeast(1),
		Doc: "Number of partitions of topics created without one."},
	{Name: "offsets.retention.minutes", Type: TypeInt, Default: "10080", check: atLeast(1),
		Doc: "How long committed offsets of an empty group are kept."},
	{Name: "offsets.topic.num.partitions", Type: TypeInt, Default: "50", check: atLeast(1),
		Doc: "Number of partitions of __consumer_offsets."},
	{Name: "offsets.topic.replication.factor", Type: TypeShort, Default: "3", check: atLeast(1),
		Doc: "Replication factor of __consumer_offsets; lowered to the number of live brokers when smaller."},
	{Name: "process.roles", Type: TypeList, Default: "broker,controller", check: listOf{"broker", "controller"},
		Doc: "Roles of this node: broker, controller, or both (combined mode)."},
	{Name: "queued.max.request.bytes", Type: TypeLong, Default: "536870912",
		Doc: "Bytes of requests read but not yet answered, over all connections, before no more requests are read; -1 means no limit. Kafka's default is -1; Strata bounds it by default."},
	{Name: "replica.lag.time.max.ms", Type: TypeLong, Default: "30000",
		Doc: "A follower that has not caught up for this long is removed from the ISR."},
	{Name: "socket.receive.buffer.bytes", Type: TypeInt, Default: "102400",
		Doc: "SO_RCVBUF of server sockets; -1 uses the OS default."},
	{Name: "socket.request.max.bytes", Type: TypeInt, Default: "104857600", check: atLeast(1),
		Doc: "Largest request the server accepts."},
	{Name: "socket.send.buffer.bytes", Type: TypeInt, Default: "102400",
		Doc: "SO_SNDBUF of server sockets; -1 uses the OS default."},
	{Name: "transaction.abort.timed.out.transaction.cleanup.interval.ms", Type: TypeInt, Default: "10000", check: atLeast(1),
		Doc: "How often transactions past their timeout are looked for and aborted."},
	{Name: "transaction.max.timeout.ms", Type: TypeInt, Default: "900000", check: atLeast(1),
		Doc: "Largest transaction timeout a producer may ask for."},
	{Name: "transaction.remove.expired.transaction.cleanup.interval.ms", Type: TypeInt, Default: "3600000", check: atLeast(1),
		Doc: "How often expired transactional ids are removed."},
	{Name: "transaction.state.log.min.isr", Type: TypeInt, Default: "2", check: atLeast(1),
		Doc: "min.insync.replicas of __transaction_state; lowered to its replication factor when larger."},
	{Name: "transaction.state.log.num.partitions", Type: TypeInt, Default: "50", check: atLeast(1),
		Doc: "Number of partitions of __transaction_state."},
	{Name: "transaction.state.log.replication.factor", Type: TypeShort, Default: "3", check: atLeast(1),
		Doc: "Replication factor of __transaction_state; lowered to the number of live brokers when smaller."},
	{Name: "transaction.state.log.segment.bytes", Type: TypeInt, Default: "104857600", check: atLeast(1),
		Doc: "segment.bytes of __transaction_state."},
	{Name: "transactional.id.expiration.ms", Type: TypeInt, Default: "604800000", check: atLeast(1),
		Doc: "How long an idle transactional id is kept."},
	{Name: "unclean.leader.election.enable", Type: TypeBoolean, Default: "false", Dynamic: true,
		Doc: "Default unclean.leader.election.enable for topics."},
}

var (
	topicIndex  = indexTable(topicTable, ScopeTopic)
	brokerIndex = indexTable(brokerTable, ScopeBroker)
)

// indexTable stamps the scope on each entry (topic configs are always
// dynamic) and builds the name index. A duplicate or unsorted table is a
// programming error caught by the package tests.
func indexTable(table []*Entry, scope Scope) map[string]*Entry {
	m := make(map[string]*Entry, len(table))
	for _, e := range table {
		e.Scope = scope
		if scope == ScopeTopic {
			e.Dynamic = true
		}
		m[e.Name] = e
	}
	return m
}
