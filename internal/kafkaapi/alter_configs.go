package kafkaapi

// IncrementalAlterConfigs v0-1 (KIP-339) and AlterConfigs v0-2 (legacy:
// replaces every override of a resource). Topic (2), broker (4) and group
// (32, KIP-848) resources; a broker resource is "" (the cluster-wide
// default) or a broker id. Served by the active controller (other nodes
// forward them). Every config Kafka 4.4 defines is accepted where Kafka
// accepts it (dynamic configs; per-broker ones only with a broker id),
// including those Strata does not act on. Per-resource errors:
// UNKNOWN_TOPIC_OR_PARTITION, INVALID_CONFIG (unknown, read-only, invalid
// value, a group config outside the broker's group.*.min/max bounds),
// INVALID_REQUEST (other resource types, an empty group name, a resource
// listed twice, bad operations). Deliberate difference: Kafka stores broker
// config names it does not know; Strata rejects them as INVALID_CONFIG.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/controller"
	"github.com/strata-io/strata/internal/metadata"
	"github.com/strata-io/strata/internal/server"
)

func (h *Handler) incrementalAlterConfigs(rc *reqCtx, req *kmsg.IncrementalAlterConfigsRequest) server.Response {
	resources := make([]controller.IncrementalAlterConfigsResource, len(req.Resources))
	for i, r := range req.Resources {
		res := controller.IncrementalAlterConfigsResource{Resource: controller.ConfigResource{Type: metadata.ResourceType(r.ResourceType), Name: r.ResourceName}}
		for _, c := range r.Configs {
			res.Configs = append(res.Configs, controller.AlterConfig{Name: c.Name, Op: controller.AlterConfigOp(c.Op), Value: c.Value})
		}
		resources[i] = res
	}
	return later(rc, func() kmsg.Response {
		results := h.ctrl.IncrementalAlterConfigs(rc.ctx, resources, req.ValidateOnly)
		resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
		for _, r := range results {
			rr := kmsg.NewIncrementalAlterConfigsResponseResource()
			rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceType(r.Resource.Type), r.Resource.Name
			rr.ErrorCode, rr.ErrorMessage = resultError(rc, r.Err)
			resp.Resources = append(resp.Resources, rr)
		}
		return resp
	})
}

func (h *Handler) alterConfigs(rc *reqCtx, req *kmsg.AlterConfigsRequest) server.Response {
	resources := make([]controller.AlterConfigsResource, len(req.Resources))
	for i, r := range req.Resources {
		res := controller.AlterConfigsResource{
			Resource: controller.ConfigResource{Type: metadata.ResourceType(r.ResourceType), Name: r.ResourceName},
			Configs:  make(map[string]*string, len(r.Configs)),
		}
		for _, c := range r.Configs {
			res.Configs[c.Name] = c.Value
		}
		resources[i] = res
	}
	return later(rc, func() kmsg.Response {
		results := h.ctrl.AlterConfigs(rc.ctx, resources, req.ValidateOnly)
		resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
		for _, r := range results {
			rr := kmsg.NewAlterConfigsResponseResource()
			rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceType(r.Resource.Type), r.Resource.Name
			rr.ErrorCode, rr.ErrorMessage = resultError(rc, r.Err)
			resp.Resources = append(resp.Resources, rr)
		}
		return resp
	})
}

// resultError is the error code and message of one resource's result.
func resultError(rc *reqCtx, err error) (int16, *string) {
	if err == nil {
		return 0, nil
	}
	msg := err.Error()
	return errorCode(rc.log, err), &msg
}
