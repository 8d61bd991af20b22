package kafkaapi

// DescribeCluster v0-v2 (KIP-700).
//   v1 (KIP-919): endpoint type; only brokers (1) are served here. As from a
//   Kafka broker listener, a request for controllers (2) gets
//   MISMATCHED_ENDPOINT_TYPE and any other type UNSUPPORTED_ENDPOINT_TYPE.
//   v2 (KIP-1073): include fenced brokers, with an is_fenced flag.

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/acl"
	"github.com/strata-io/strata/internal/server"
)

func (h *Handler) describeCluster(rc *reqCtx, req *kmsg.DescribeClusterRequest) server.Response {
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.EndpointType = 1
	if req.Version >= 1 && req.EndpointType != 1 {
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		msg := fmt.Sprintf("Unsupported endpoint type %d", req.EndpointType)
		if req.EndpointType == 2 {
			resp.ErrorCode = kerr.MismatchedEndpointType.Code
			msg = "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER"
		}
		resp.ErrorMessage = &msg
		return done(resp)
	}
	img := h.ctrl.Image()
	resp.ClusterID = img.ClusterID()
	resp.ControllerID = h.controllerIDForClients()
	resp.ClusterAuthorizedOperations = operationsNotRequested
	if req.IncludeClusterAuthorizedOperations {
		// As Kafka: 0 to a client that may not DESCRIBE the cluster.
		resp.ClusterAuthorizedOperations = 0
		if h.allowedCluster(rc, acl.OpDescribe) {
			resp.ClusterAuthorizedOperations = h.authorizedOps(rc, acl.ResourceCluster, acl.ClusterName)
		}
	}
	for _, b := range img.Brokers() {
		if b.Fenced && !req.IncludeFencedBrokers {
			continue
		}
		e, ok := clientEndpoint(b, listenerOf(rc.conn))
		if !ok {
			continue // no endpoint on the client's listener: left out, as in Kafka
		}
		rb := kmsg.NewDescribeClusterResponseBroker()
		rb.NodeID, rb.Host, rb.Port, rb.IsFenced = b.NodeID, e.Host, e.Port, b.Fenced
		if b.Rack != "" {
			rack := b.Rack
			rb.Rack = &rack
		}
		resp.Brokers = append(resp.Brokers, rb)
	}
	return done(resp)
}
