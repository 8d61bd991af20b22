package kafkaapi

// CreateTopics v2-v7.
//   v1: validate_only, error messages. v2: throttle. v4 (KIP-464): -1
//   partitions / replication factor = broker defaults. v5 (KIP-525):
//   resulting configs, partitions and replication factor; flexible. v6:
//   quota errors. v7 (KIP-516): topic id.
// Creation goes through the controller and the metadata log; when this
// returns, the partitions exist on this broker. A name listed twice in one
// request fails both entries with INVALID_REQUEST, as in Kafka.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/config"
	"github.com/strata-io/strata/internal/controller"
	"github.com/strata-io/strata/internal/server"
)

func (h *Handler) createTopics(rc *reqCtx, req *kmsg.CreateTopicsRequest) server.Response {
	return later(rc, func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
		count := make(map[string]int)
		for _, t := range req.Topics {
			count[t.Topic]++
		}
		var creates []controller.CreateTopic
		for _, t := range req.Topics {
			if count[t.Topic] > 1 {
				continue
			}
			ct := controller.CreateTopic{Name: t.Topic, NumPartitions: t.NumPartitions, ReplicationFactor: t.ReplicationFactor}
			if len(t.ReplicaAssignment) > 0 {
				ct.Assignments = make(map[int32][]int32, len(t.ReplicaAssignment))
				for _, a := range t.ReplicaAssignment {
					ct.Assignments[a.Partition] = a.Replicas
				}
			}
			if len(t.Configs) > 0 {
				ct.Configs = make(map[string]string, len(t.Configs))
				for _, c := range t.Configs {
					if c.Value != nil {
						ct.Configs[c.Name] = *c.Value
					}
				}
			}
			creates = append(creates, ct)
		}
		results := make(map[string]controller.CreateTopicResult)
		if len(creates) > 0 {
			ctx, cancel := withTimeoutMillis(rc.ctx, req.TimeoutMillis)
			defer cancel()
			for _, r := range h.ctrl.CreateTopics(ctx, creates, req.ValidateOnly) {
				results[r.Name] = r
			}
		}
		img := h.ctrl.Image()
		for _, t := range req.Topics {
			rt := kmsg.NewCreateTopicsResponseTopic()
			rt.Topic = t.Topic
			rt.NumPartitions, rt.ReplicationFactor = -1, -1
			if count[t.Topic] > 1 {
				rt.ErrorCode = kerr.InvalidRequest.Code
				msg := "topic listed more than once in the request"
				rt.ErrorMessage = &msg
				resp.Topics = append(resp.Topics, rt)
				continue
			}
			r := results[t.Topic]
			if r.Err != nil {
				rt.ErrorCode = errorCode(rc.log, r.Err)
				msg := r.Err.Error()
				rt.ErrorMessage = &msg
				resp.Topics = append(resp.Topics, rt)
				continue
			}
			rt.TopicID = r.TopicID
			rt.NumPartitions, rt.ReplicationFactor = r.NumPartitions, r.ReplicationFactor
			if req.Version >= 5 {
				rt.Configs = h.createdTopicConfigs(r.Configs, img)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	})
}

// createdTopicConfigs lists every topic config with its resolved value, as
// Kafka's CreateTopics v5+ does.
func (h *Handler) createdTopicConfigs(overrides map[string]string, img interface {
	BrokerConfigs(string) map[string]string
}) []kmsg.CreateTopicsResponseTopicConfig {
	layers := []config.Layer{
		{Source: config.SourceDynamicDefaultBrokerConfig, Values: img.BrokerConfigs("")},
		{Source: config.SourceStaticBrokerConfig, Values: h.cfg.BrokerConfigs},
	}
	var out []kmsg.CreateTopicsResponseTopicConfig
	for _, e := range config.TopicEntries() {
		v, src := config.ResolveTopic(e.Name, overrides, layers...)
		c := kmsg.NewCreateTopicsResponseTopicConfig()
		c.Name = e.Name
		if !e.Sensitive {
			val := v
			c.Value = &val
		}
		c.ReadOnly = e.ReadOnly()
		c.Source = int8(src)
		c.IsSensitive = e.Sensitive
		out = append(out, c)
	}
	return out
}
