package kafkaapi

// DescribeCluster v0-v2 (KIP-700).
//   v1 (KIP-919): endpoint type; only brokers (1) are served here, a request
//   for controllers gets UNSUPPORTED_ENDPOINT_TYPE as from a Kafka broker.
//   v2 (KIP-1073): include fenced brokers, with an is_fenced flag.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/server"
)

func (h *Handler) describeCluster(rc *reqCtx, req *kmsg.DescribeClusterRequest) server.Response {
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.EndpointType = 1
	if req.Version >= 1 && req.EndpointType != 1 {
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		msg := "this endpoint serves brokers only"
		resp.ErrorMessage = &msg
		return done(resp)
	}
	img := h.ctrl.Image()
	resp.ClusterID = img.ClusterID()
	resp.ControllerID = h.controllerIDForClients()
	resp.ClusterAuthorizedOperations = operationsNotRequested
	if req.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = allClusterOperations
	}
	for _, b := range img.Brokers() {
		if b.Fenced && !req.IncludeFencedBrokers {
			continue
		}
		rb := kmsg.NewDescribeClusterResponseBroker()
		rb.NodeID, rb.Host, rb.Port, rb.IsFenced = b.NodeID, b.Host, b.Port, b.Fenced
		if b.Rack != "" {
			rack := b.Rack
			rb.Rack = &rack
		}
		resp.Brokers = append(resp.Brokers, rb)
	}
	return done(resp)
}
