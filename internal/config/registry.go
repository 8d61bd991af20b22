// Package config owns Strata's configuration: the registry of topic, broker
// and group configs (this file and the *_configs.go tables), and static
// config loading (static.go, properties.go).
//
// The registry is one table per scope keyed by Kafka's config names
// (retention.ms, segment.bytes, log.retention.hours...), holding every
// config Kafka 4.4 defines. Each Entry carries the name, scope, type,
// default, validator, doc line, Kafka's update mode (read-only, per-broker,
// cluster-wide), whether Strata acts on it (Inert entries are accepted and
// reported but do nothing), and for topic configs the broker configs that
// provide the default (retention.ms takes its default from log.retention.ms,
// then log.retention.minutes, then log.retention.hours). The same table
// serves CreateTopics/AlterConfigs validation, DescribeConfigs (value,
// source and synonyms) and the README's list of inert configs.
//
// Defaults and validation follow Apache Kafka 4.4, except where an Entry's
// doc says otherwise (Strata's own defaults for node.id, log.dirs and a few
// more, and a lower segment.bytes floor).
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
	"sync"
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
	// ScopeGroup configs are set per consumer, share or streams group
	// (resource type 32, KIP-848).
	ScopeGroup
)

func (s Scope) String() string {
	switch s {
	case ScopeTopic:
		return "topic"
	case ScopeBroker:
		return "broker"
	case ScopeGroup:
		return "group"
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
	SourceDynamicClientMetricsConfig Source = 7
	SourceDynamicGroupConfig         Source = 8
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
	case SourceDynamicClientMetricsConfig:
		return "CLIENT_METRICS_CONFIG"
	case SourceDynamicGroupConfig:
		return "GROUP_CONFIG"
	default:
		return "UNKNOWN"
	}
}

// Mode is a broker config's update mode, as Kafka's documentation gives it.
type Mode int8

const (
	// ModeReadOnly configs need a restart to change (static only).
	ModeReadOnly Mode = iota
	// ModePerBroker configs may be altered dynamically for one broker only
	// (listeners, TLS and SASL settings).
	ModePerBroker
	// ModeClusterWide configs may be altered as a cluster-wide default, and
	// also per broker.
	ModeClusterWide
)

func (m Mode) String() string {
	switch m {
	case ModePerBroker:
		return "per-broker"
	case ModeClusterWide:
		return "cluster-wide"
	default:
		return "read-only"
	}
}

// InertDoc is appended to the documentation of configs Strata accepts but
// does not act on.
const InertDoc = "Accepted for compatibility; Strata does not act on this setting."

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
	// Mode is the update mode of a broker config (topic and group configs
	// leave it zero).
	Mode Mode
	// Dynamic is true when the config can be changed at runtime through
	// AlterConfigs: every topic and group config, and broker configs whose
	// Mode is per-broker or cluster-wide. Set by the package from Mode.
	Dynamic bool
	// Inert configs are accepted (validated, stored, described) but Strata
	// does not act on them; their documentation says so.
	Inert bool
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

// Documentation is the doc line DescribeConfigs reports: Doc, with
// InertDoc appended for inert configs.
func (e *Entry) Documentation() string {
	if e.Inert {
		return e.Doc + " " + InertDoc
	}
	return e.Doc
}

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
	case ScopeGroup:
		e = groupIndex[name]
	}
	return e, e != nil
}

// TopicEntries returns every topic config, sorted by name. The slice is a
// copy; the entries are shared.
func TopicEntries() []*Entry { return slices.Clone(topicTable) }

// BrokerEntries returns every broker config, sorted by name. The slice is a
// copy; the entries are shared.
func BrokerEntries() []*Entry { return slices.Clone(brokerTable) }

// GroupEntries returns every group config, sorted by name. The slice is a
// copy; the entries are shared.
func GroupEntries() []*Entry { return slices.Clone(groupTable) }

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

// TopicValue resolves a topic config with brokerDefaults as the static
// broker layer; see ResolveTopic.
func TopicValue(topicConfigs, brokerDefaults map[string]string, name string) (value string, source Source) {
	return ResolveTopic(name, topicConfigs, Layer{Source: SourceStaticBrokerConfig, Values: brokerDefaults})
}

// ResolveTopic resolves a topic config as Kafka's LogConfig does: the
// topic's own override, then the broker synonyms in each layer in order
// (Kafka's order is per-broker dynamic, cluster-wide dynamic, static), then
// the synonyms' registry defaults, then the topic default. Within a layer,
// synonyms are tried in precedence order and scaled to the topic config's
// unit; a negative scaled value becomes -1 ("unlimited"). The source is
// the one Kafka's DescribeConfigs reports: that of the first synonym in
// TopicSynonyms, else DEFAULT_CONFIG. An unknown name gives
// ("", SourceUnknown).
func ResolveTopic(name string, topicConfigs map[string]string, brokerLayers ...Layer) (value string, source Source) {
	e, ok := Lookup(ScopeTopic, name)
	if !ok {
		return "", SourceUnknown
	}
	source = SourceDefaultConfig
	if syns := TopicSynonyms(name, topicConfigs, brokerLayers...); len(syns) > 0 {
		source = syns[0].Source
	}
	if v, ok := topicConfigs[name]; ok {
		return v, source
	}
	for _, l := range slices.Concat(brokerLayers, []Layer{registryDefaults()}) {
		for _, syn := range e.Synonyms {
			v, ok := l.Values[syn.Name]
			if !ok {
				continue
			}
			if scaled, ok := scaleSynonym(v, syn.Scale); ok {
				return scaled, source
			}
		}
	}
	return e.Default, source
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

// ResolveGroup resolves a group config: the group's own override
// (GROUP_CONFIG), else the broker config that provides its default,
// resolved across brokerLayers (reported as DEFAULT_CONFIG, as Kafka does),
// else the group entry's default. null is true for a null default. An
// unknown name gives ("", SourceUnknown, true).
func ResolveGroup(name string, groupConfigs map[string]string, brokerLayers ...Layer) (value string, source Source, null bool) {
	e, ok := Lookup(ScopeGroup, name)
	if !ok {
		return "", SourceUnknown, true
	}
	if v, ok := groupConfigs[name]; ok {
		return v, SourceDynamicGroupConfig, false
	}
	if len(e.Synonyms) > 0 {
		if v, _, null := ResolveBroker(e.Synonyms[0].Name, brokerLayers...); !null {
			return v, SourceDefaultConfig, false
		}
	}
	return e.Default, SourceDefaultConfig, e.NoDefault
}

// A ConfigSynonym is one entry of DescribeConfigs' synonym list.
type ConfigSynonym struct {
	Name   string
	Value  string
	Source Source
}

// TopicSynonyms returns a topic config's synonyms as Kafka lists them: the
// topic override (DYNAMIC_TOPIC_CONFIG) first, then the broker synonyms of
// its server default property, layer by layer (each layer's synonyms in
// precedence order), then their registry defaults (DEFAULT_CONFIG), with
// leading entries for other names than the server default property
// dropped. NB: that last rule is Kafka's (ConfigHelper.configSynonyms drops
// entries until the base name): with only log.retention.hours set, Kafka
// lists no synonyms for retention.ms and reports it as DEFAULT_CONFIG.
func TopicSynonyms(name string, topicConfigs map[string]string, brokerLayers ...Layer) []ConfigSynonym {
	e, ok := Lookup(ScopeTopic, name)
	if !ok {
		return nil
	}
	var out []ConfigSynonym
	if v, ok := topicConfigs[name]; ok {
		out = append(out, ConfigSynonym{Name: name, Value: v, Source: SourceDynamicTopicConfig})
	}
	if len(e.Synonyms) == 0 {
		return out
	}
	names := make([]string, len(e.Synonyms))
	for i, s := range e.Synonyms {
		names[i] = s.Name
	}
	return append(out, brokerSynonymChain(e.Synonyms[0].Name, names, brokerLayers)...)
}

// BrokerSynonyms returns a broker config's synonyms as Kafka lists them:
// the config and its unit variants (log.retention.ms, .minutes, .hours),
// layer by layer, then their registry defaults, with leading entries for
// other names dropped.
func BrokerSynonyms(name string, layers ...Layer) []ConfigSynonym {
	return brokerSynonymChain(name, brokerSynonymNames(name), layers)
}

// brokerSynonymNames are the broker configs that stand for name, highest
// precedence first (Kafka's DynamicBrokerConfig.brokerConfigSynonyms).
func brokerSynonymNames(name string) []string {
	switch name {
	case "log.roll.ms", "log.roll.hours":
		return []string{"log.roll.ms", "log.roll.hours"}
	case "log.roll.jitter.ms", "log.roll.jitter.hours":
		return []string{"log.roll.jitter.ms", "log.roll.jitter.hours"}
	case "log.flush.interval.ms":
		return []string{"log.flush.interval.ms", "log.flush.scheduler.interval.ms"}
	case "log.retention.ms", "log.retention.minutes", "log.retention.hours":
		return []string{"log.retention.ms", "log.retention.minutes", "log.retention.hours"}
	default:
		return []string{name}
	}
}

func brokerSynonymChain(base string, names []string, layers []Layer) []ConfigSynonym {
	var out []ConfigSynonym
	for _, l := range slices.Concat(layers, []Layer{registryDefaults()}) {
		for _, n := range names {
			if v, ok := l.Values[n]; ok {
				out = append(out, ConfigSynonym{Name: n, Value: v, Source: l.Source})
			}
		}
	}
	for len(out) > 0 && out[0].Name != base {
		out = out[1:]
	}
	return out
}

// registryDefaults is the DEFAULT_CONFIG layer: every broker config that
// has a default.
var registryDefaults = sync.OnceValue(func() Layer {
	m := make(map[string]string, len(brokerTable))
	for _, e := range brokerTable {
		if !e.NoDefault {
			m[e.Name] = e.Default
		}
	}
	return Layer{Source: SourceDefaultConfig, Values: m}
})

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

var (
	topicIndex  = indexTable(topicTable, ScopeTopic)
	brokerIndex = indexTable(brokerTable, ScopeBroker)
	groupIndex  = indexTable(groupTable, ScopeGroup)
)

// indexTable stamps the scope on each entry, derives Dynamic (topic and
// group configs are always dynamic; broker configs unless read-only) and
// Sensitive (passwords), and builds the name index. A duplicate or unsorted
// table is a programming error caught by the package tests.
func indexTable(table []*Entry, scope Scope) map[string]*Entry {
	m := make(map[string]*Entry, len(table))
	for _, e := range table {
		e.Scope = scope
		e.Dynamic = scope != ScopeBroker || e.Mode != ModeReadOnly
		e.Sensitive = e.Sensitive || e.Type == TypePassword
		m[e.Name] = e
	}
	return m
}

// oneOfFold accepts one of a set of strings in any case (Kafka's
// CaseInsensitiveValidString).
type oneOfFold []string

func (o oneOfFold) validate(value string) error {
	for _, v := range o {
		if strings.EqualFold(v, strings.TrimSpace(value)) {
			return nil
		}
	}
	return fmt.Errorf("value must be one of %s (case insensitive)", oneOf(o))
}

func (o oneOfFold) String() string { return "(case insensitive) " + oneOf(o).String() }

// shareOffsetReset accepts latest, earliest, or by_duration: followed by a
// non-negative ISO-8601 duration (share.auto.offset.reset).
type shareOffsetReset struct{}

func (shareOffsetReset) validate(value string) error {
	v := strings.TrimSpace(value)
	switch {
	case v == "latest" || v == "earliest":
		return nil
	case strings.HasPrefix(v, "by_duration:"):
		d := strings.TrimPrefix(v, "by_duration:")
		if len(d) >= 2 && d[0] == 'P' && !strings.ContainsAny(d, "-") {
			return nil
		}
		return fmt.Errorf("by_duration needs a non-negative ISO-8601 duration such as PT1H")
	}
	return fmt.Errorf("value must be latest, earliest or by_duration:<duration>")
}

func (shareOffsetReset) String() string { return "[latest, earliest, by_duration:PnDTnHnMn.nS]" }
