package kafkaapi

// UnregisterBroker v0 (KIP-631; Admin.unregisterBroker, kafka-cluster.sh
// unregister): removes a broker's registration for good. Served by the
// active controller; other nodes forward it (forward.go). Errors:
// BROKER_ID_NOT_REGISTERED for an id that is not registered (negative ids
// included), NOT_CONTROLLER while the controller changes; the error
// message says more. As in Kafka, a live broker is not refused: it learns
// at its next heartbeat that its registration is gone and registers again.
// Strata-specific: a broker-only node also leaves the metadata quorum,
// where it was a non-voter; a combined node's controller stays a voter
// (see controller.UnregisterBroker).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/server"
)

func (h *Handler) unregisterBroker(rc *reqCtx, req *kmsg.UnregisterBrokerRequest) server.Response {
	return later(rc, func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.UnregisterBrokerResponse)
		// The request has no timeout of its own.
		ctx, cancel := context.WithTimeout(rc.ctx, forwardTimeout)
		defer cancel()
		if err := h.ctrl.UnregisterBroker(ctx, req.BrokerID); err != nil {
			resp.ErrorCode = errorCode(rc.log, err)
			msg := err.Error()
			resp.ErrorMessage = &msg
		}
		return resp
	})
}
