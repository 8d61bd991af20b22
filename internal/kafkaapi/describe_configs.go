package kafkaapi

// DescribeConfigs v1-v4.
//   v1 (KIP-226): config source and synonyms. v2: no change. v3 (KIP-569):
//   config type and documentation. v4: flexible.
// Topic configs resolve as in Kafka: the topic's override, then per-broker
// and cluster-wide dynamic broker configs, then the static broker config
// (this node's flags/file/environment), then the default. Broker resources
// are this node's id, or "" for the cluster-wide dynamic defaults. Broker
// loggers (resource type 8) are not supported: INVALID_REQUEST.

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/config"
	"github.com/strata-io/strata/internal/metadata"
	"github.com/strata-io/strata/internal/server"
)

const (
	resourceTopic  = 2
	resourceBroker = 4
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
		switch r.ResourceType {
		case resourceTopic:
			t, ok := img.TopicByName(r.ResourceName)
			if !ok {
				rr.ErrorCode = kerr.UnknownTopicOrPartition.Code
				break
			}
			for _, e := range config.TopicEntries() {
				if !wanted(r.ConfigNames, e.Name) {
					continue
				}
				rr.Configs = append(rr.Configs, describeTopicConfig(req, e, t, brokerLayers))
			}
		case resourceBroker:
			layers := brokerLayers
			switch r.ResourceName {
			case self:
			case "":
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
				if r.ResourceName == "" {
					if _, ok := layers[0].Values[e.Name]; !ok {
						continue
					}
				}
				rr.Configs = append(rr.Configs, describeBrokerConfig(req, e, layers))
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

func newConfigEntry(req *kmsg.DescribeConfigsRequest, e *config.Entry, value string, null bool, source config.Source) kmsg.DescribeConfigsResponseResourceConfig {
	c := kmsg.NewDescribeConfigsResponseResourceConfig()
	c.Name = e.Name
	if !null && !e.Sensitive {
		v := value
		c.Value = &v
	}
	c.ReadOnly = e.ReadOnly()
	c.IsDefault = source == config.SourceDefaultConfig
	c.Source = kmsg.ConfigSource(source)
	c.IsSensitive = e.Sensitive
	c.ConfigType = kmsg.ConfigType(e.Type)
	if req.IncludeDocumentation {
		doc := e.Doc
		c.Documentation = &doc
	}
	return c
}

func synonym(name, value string, source config.Source, sensitive bool) kmsg.DescribeConfigsResponseResourceConfigConfigSynonym {
	s := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
	s.Name, s.Source = name, kmsg.ConfigSource(source)
	if !sensitive {
		v := value
		s.Value = &v
	}
	return s
}

func describeTopicConfig(req *kmsg.DescribeConfigsRequest, e *config.Entry, t *metadata.Topic, layers []config.Layer) kmsg.DescribeConfigsResponseResourceConfig {
	value, source := config.ResolveTopic(e.Name, t.Configs, layers...)
	c := newConfigEntry(req, e, value, false, source)
	if req.IncludeSynonyms {
		if v, ok := t.Configs[e.Name]; ok {
			c.ConfigSynonyms = append(c.ConfigSynonyms, synonym(e.Name, v, config.SourceDynamicTopicConfig, e.Sensitive))
		}
		for _, l := range layers {
			for _, syn := range e.Synonyms {
				if v, ok := l.Values[syn.Name]; ok {
					c.ConfigSynonyms = append(c.ConfigSynonyms, synonym(syn.Name, v, l.Source, e.Sensitive))
				}
			}
		}
		if len(e.Synonyms) > 0 {
			if be, ok := config.Lookup(config.ScopeBroker, e.Synonyms[0].Name); ok && !be.NoDefault {
				c.ConfigSynonyms = append(c.ConfigSynonyms, synonym(be.Name, be.Default, config.SourceDefaultConfig, e.Sensitive))
			}
		}
	}
	return c
}

func describeBrokerConfig(req *kmsg.DescribeConfigsRequest, e *config.Entry, layers []config.Layer) kmsg.DescribeConfigsResponseResourceConfig {
	value, source, null := config.ResolveBroker(e.Name, layers...)
	c := newConfigEntry(req, e, value, null, source)
	if req.IncludeSynonyms {
		for _, l := range layers {
			if v, ok := l.Values[e.Name]; ok {
				c.ConfigSynonyms = append(c.ConfigSynonyms, synonym(e.Name, v, l.Source, e.Sensitive))
			}
		}
		if !e.NoDefault {
			c.ConfigSynonyms = append(c.ConfigSynonyms, synonym(e.Name, e.Default, config.SourceDefaultConfig, e.Sensitive))
		}
	}
	return c
}
