package kafkaapi

// Controller APIs that brokers send to the active controller (KIP-631).
//   BrokerRegistration 0-4: listeners, rack, incarnation id; the cluster id
//   must match (INCONSISTENT_CLUSTER_ID). Fields of v1+ (ZooKeeper
//   migration, log dirs, previous broker epoch) are accepted and ignored.
//   AllocateProducerIds 0 (KIP-730): a block of producer ids.
// A node that is not the active controller answers NOT_CONTROLLER; the
// sender finds the new one through the metadata quorum and retries.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/controller"
	"github.com/strata-io/strata/internal/metadata"
	"github.com/strata-io/strata/internal/server"
)

func (h *Handler) brokerRegistration(rc *reqCtx, req *kmsg.BrokerRegistrationRequest) server.Response {
	return later(rc, func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.BrokerRegistrationResponse)
		if cid := h.ctrl.Image().ClusterID(); req.ClusterID != "" && req.ClusterID != cid {
			resp.ErrorCode = kerr.InconsistentClusterID.Code
			return resp
		}
		if len(req.Listeners) == 0 {
			resp.ErrorCode = kerr.InvalidRequest.Code
			return resp
		}
		reg := controller.BrokerRegistration{
			NodeID:        req.BrokerID,
			IncarnationID: metadata.UUID(req.IncarnationID),
			Host:          req.Listeners[0].Host,
			Port:          int32(req.Listeners[0].Port),
		}
		if req.Rack != nil {
			reg.Rack = *req.Rack
		}
		if err := h.ctrl.RegisterBroker(rc.ctx, reg); err != nil {
			resp.ErrorCode = errorCode(rc.log, err)
			return resp
		}
		if b, ok := h.ctrl.Image().Broker(req.BrokerID); ok {
			resp.BrokerEpoch = b.BrokerEpoch
		}
		return resp
	})
}

func (h *Handler) allocateProducerIDs(rc *reqCtx, req *kmsg.AllocateProducerIDsRequest) server.Response {
	return later(rc, func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.AllocateProducerIDsResponse)
		first, err := h.ctrl.AllocateProducerIDs(rc.ctx, producerIDBlockSize)
		if err != nil {
			resp.ErrorCode = errorCode(rc.log, err)
			return resp
		}
		resp.ProducerIDStart, resp.ProducerIDLen = first, producerIDBlockSize
		return resp
	})
}

// BrokerHeartbeat 0-2 (KIP-631): liveness, fencing and controlled shutdown
// of brokers, answered by the active controller. Offline and cordoned log
// dirs (tags) are not used: one log directory per node.
func (h *Handler) brokerHeartbeat(rc *reqCtx, req *kmsg.BrokerHeartbeatRequest) server.Response {
	return later(rc, func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.BrokerHeartbeatResponse)
		hb, err := h.ctrl.BrokerHeartbeat(rc.ctx, controller.HeartbeatRequest{
			BrokerID: req.BrokerID, BrokerEpoch: req.BrokerEpoch, CurrentMetadataOffset: req.CurrentMetadataOffset,
			WantFence: req.WantFence, WantShutDown: req.WantShutdown,
		})
		if err != nil {
			resp.ErrorCode = errorCode(rc.log, err)
			resp.IsFenced = true
			return resp
		}
		resp.IsCaughtUp, resp.IsFenced, resp.ShouldShutdown = hb.IsCaughtUp, hb.IsFenced, hb.ShouldShutDown
		return resp
	})
}
