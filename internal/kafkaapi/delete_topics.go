package kafkaapi

// DeleteTopics v1-v6.
//   v1: throttle. v4: flexible. v5 (KIP-525): error messages. v6 (KIP-516):
//   topics by name or by id.
// Deletion goes through the metadata log; when the answer is sent the
// partitions are detached from this broker and their directories are being
// removed in the background.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/controller"
	"github.com/strata-io/strata/internal/metadata"
	"github.com/strata-io/strata/internal/server"
)

func (h *Handler) deleteTopics(rc *reqCtx, req *kmsg.DeleteTopicsRequest) server.Response {
	var refs []controller.TopicRef
	if req.Version >= 6 {
		for _, t := range req.Topics {
			ref := controller.TopicRef{ID: metadata.UUID(t.TopicID)}
			if t.Topic != nil && *t.Topic != "" {
				ref = controller.TopicRef{Name: *t.Topic}
			}
			refs = append(refs, ref)
		}
	} else {
		for _, name := range req.TopicNames {
			refs = append(refs, controller.TopicRef{Name: name})
		}
	}
	return later(rc, func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
		ctx, cancel := withTimeoutMillis(rc.ctx, req.TimeoutMillis)
		defer cancel()
		for _, r := range h.ctrl.DeleteTopics(ctx, refs) {
			rt := kmsg.NewDeleteTopicsResponseTopic()
			if r.Name != "" {
				name := r.Name
				rt.Topic = &name
			}
			rt.TopicID = r.TopicID
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
