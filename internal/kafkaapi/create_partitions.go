package kafkaapi

// CreatePartitions v0-v3 (KIP-195).
//   v1: no change. v2: flexible. v3: quota errors (KIP-599).
// Partitions are only ever added; a count at or below the current one fails
// with INVALID_PARTITIONS.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/controller"
	"github.com/strata-io/strata/internal/server"
)

func (h *Handler) createPartitions(rc *reqCtx, req *kmsg.CreatePartitionsRequest) server.Response {
	reqs := make([]controller.CreatePartitions, 0, len(req.Topics))
	for _, t := range req.Topics {
		cp := controller.CreatePartitions{Name: t.Topic, Count: t.Count}
		for _, a := range t.Assignment {
			cp.Assignments = append(cp.Assignments, a.Replicas)
		}
		reqs = append(reqs, cp)
	}
	return later(rc, func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
		ctx, cancel := withTimeoutMillis(rc.ctx, req.TimeoutMillis)
		defer cancel()
		for _, r := range h.ctrl.CreatePartitions(ctx, reqs, req.ValidateOnly) {
			rt := kmsg.NewCreatePartitionsResponseTopic()
			rt.Topic = r.Name
			if r.Err != nil {
				rt.ErrorCode = errorCode(rc.log, r.Err)
				msg := r.Err.Error()
				rt.ErrorMessage = &msg
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	})
}
