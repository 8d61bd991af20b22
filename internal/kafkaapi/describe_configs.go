package kafkaapi

// DescribeConfigs v1-v4.
//   v1 (KIP-226): config source and synonyms. v2: no change. v3 (KIP-569):
//   config type and documentation. v4: flexible.
// Resources: topics (2), brokers (4: this node's id, or "" for the
// cluster-wide dynamic defaults) and groups (32, KIP-848). Broker loggers
// (8) and client metrics (16) are not supported: INVALID_REQUEST.
//
// Values, sources and synonyms follow Kafka's ConfigHelper exactly:
//   - a config nobody set is DEFAULT_CONFIG; STATIC_BROKER_CONFIG is only
//     what the operator gave at startup (flags, file, environment);
//   - synonyms list the topic override, then for each layer (per-broker
//     dynamic, cluster-wide dynamic, static, default) the broker synonyms in
//     precedence order, minus leading entries not named like the base broker
//     config; the source is that of the first synonym. NB: so with only
//     log.retention.hours set, retention.ms is DEFAULT_CONFIG with no
//     synonyms, as in Kafka, though its value follows the hours;
//   - group configs are GROUP_CONFIG when the group overrides them, else
//     DEFAULT_CONFIG with the broker's group default as value.
// Configs Strata accepts but does not act on say so in their documentation.

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/acl"
	"github.com/strata-io/strata/internal/config"
	"github.com/strata-io/strata/internal/metadata"
	"github.com/strata-io/strata/internal/server"
)

const (
	resourceTopic  = 2
	resourceBroker = 4
	resourceGroup  = 32
)

func (h *Handler) describeConfigs(rc *reqCtx, req *kmsg.DescribeConfigsRequest) server.Response {
	img := h.ctrl.Image()
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	self := strconv.Itoa(int(h.cfg.NodeID))
	brokerLayers := []config.Layer{
		{Source: config.SourceDynamicBrokerConfig, Values: img.BrokerConfigs(self)},
		{Source: config.SourceDynamicDefaultBrokerConfig, Values: img.BrokerConfigs("")},
		{Source: config.SourceStaticBrokerConfig, Values: h.cfg.BrokerConfigs},
	}
	for _, r := range req.Resources {
		rr := kmsg.NewDescribeConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = r.ResourceType, r.ResourceName
		if code := h.configResourceCode(rc, acl.OpDescribeConfigs, r.ResourceType, r.ResourceName); code != 0 {
			rr.ErrorCode = code
			resp.Resources = append(resp.Resources, rr)
			continue
		}
		switch r.ResourceType {
		case resourceTopic:
			t, ok := img.TopicByName(r.ResourceName)
			if !ok {
				rr.ErrorCode = kerr.UnknownTopicOrPartition.Code
				break
			}
			for _, e := range config.TopicEntries() {
				if wanted(r.ConfigNames, e.Name) {
					rr.Configs = append(rr.Configs, describeTopicConfig(req, e, t, brokerLayers))
				}
			}
		case resourceBroker:
			perBroker := true
			layers := brokerLayers
			switch r.ResourceName {
			case self:
			case "":
				perBroker = false
				layers = brokerLayers[1:2] // only the cluster-wide dynamic defaults
			default:
				rr.ErrorCode = kerr.InvalidRequest.Code
				msg := "broker " + r.ResourceName + " is not this node (" + self + ")"
				rr.ErrorMessage = &msg
			}
			if rr.ErrorCode != 0 {
				break
			}
			for _, e := range config.BrokerEntries() {
				if !wanted(r.ConfigNames, e.Name) {
					continue
				}
				if !perBroker {
					if _, ok := layers[0].Values[e.Name]; !ok {
						continue
					}
				}
				rr.Configs = append(rr.Configs, describeBrokerConfig(req, e, layers, perBroker))
			}
		case resourceGroup:
			if r.ResourceName == "" {
				rr.ErrorCode = kerr.InvalidRequest.Code
				msg := "group name must not be empty"
				rr.ErrorMessage = &msg
				break
			}
			overrides := img.GroupConfigs(r.ResourceName)
			for _, e := range config.GroupEntries() {
				if wanted(r.ConfigNames, e.Name) {
					rr.Configs = append(rr.Configs, describeGroupConfig(req, e, overrides, brokerLayers))
				}
			}
		default:
			rr.ErrorCode = kerr.InvalidRequest.Code
			msg := "unsupported resource type " + strconv.Itoa(int(r.ResourceType))
			rr.ErrorMessage = &msg
		}
		resp.Resources = append(resp.Resources, rr)
	}
	return done(resp)
}

func wanted(names []string, name string) bool {
	if names == nil {
		return true
	}
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

// newConfigEntry builds one described config; source is that of the first
// synonym, DEFAULT_CONFIG when there is none.
func newConfigEntry(req *kmsg.DescribeConfigsRequest, e *config.Entry, value string, null bool, syns []config.ConfigSynonym, readOnly bool) kmsg.DescribeConfigsResponseResourceConfig {
	c := kmsg.NewDescribeConfigsResponseResourceConfig()
	c.Name = e.Name
	if !null && !e.Sensitive {
		v := value
		c.Value = &v
	}
	source := config.SourceDefaultConfig
	if len(syns) > 0 {
		source = syns[0].Source
	}
	c.ReadOnly = readOnly
	c.IsDefault = source == config.SourceDefaultConfig
	c.Source = kmsg.ConfigSource(source)
	c.IsSensitive = e.Sensitive
	c.ConfigType = kmsg.ConfigType(e.Type)
	if req.IncludeDocumentation {
		doc := e.Documentation()
		c.Documentation = &doc
	}
	if req.IncludeSynonyms {
		for _, s := range syns {
			ks := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
			ks.Name, ks.Source = s.Name, kmsg.ConfigSource(s.Source)
			if !e.Sensitive {
				v := s.Value
				ks.Value = &v
			}
			c.ConfigSynonyms = append(c.ConfigSynonyms, ks)
		}
	}
	return c
}

func describeTopicConfig(req *kmsg.DescribeConfigsRequest, e *config.Entry, t *metadata.Topic, layers []config.Layer) kmsg.DescribeConfigsResponseResourceConfig {
	value, _ := config.ResolveTopic(e.Name, t.Configs, layers...)
	return newConfigEntry(req, e, value, false, config.TopicSynonyms(e.Name, t.Configs, layers...), false)
}

// describeBrokerConfig describes a broker config; for the cluster-wide
// default resource (perBroker false) only DYNAMIC_DEFAULT_BROKER_CONFIG
// synonyms count, as in Kafka.
func describeBrokerConfig(req *kmsg.DescribeConfigsRequest, e *config.Entry, layers []config.Layer, perBroker bool) kmsg.DescribeConfigsResponseResourceConfig {
	value, _, null := config.ResolveBroker(e.Name, layers...)
	syns := config.BrokerSynonyms(e.Name, layers...)
	if !perBroker {
		kept := syns[:0:0]
		for _, s := range syns {
			if s.Source == config.SourceDynamicDefaultBrokerConfig {
				kept = append(kept, s)
			}
		}
		syns = kept
	}
	return newConfigEntry(req, e, value, null, syns, e.ReadOnly())
}

func describeGroupConfig(req *kmsg.DescribeConfigsRequest, e *config.Entry, overrides map[string]string, layers []config.Layer) kmsg.DescribeConfigsResponseResourceConfig {
	value, source, null := config.ResolveGroup(e.Name, overrides, layers...)
	var syns []config.ConfigSynonym
	if source == config.SourceDynamicGroupConfig {
		syns = []config.ConfigSynonym{{Name: e.Name, Value: value, Source: source}}
	}
	return newConfigEntry(req, e, value, null, syns, false)
}
