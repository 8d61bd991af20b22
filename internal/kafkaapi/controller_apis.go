package kafkaapi

// Controller APIs that brokers send to the active controller (KIP-631).
//   BrokerRegistration 0-4: listeners, rack, incarnation id; the cluster id
//   must match (INCONSISTENT_CLUSTER_ID). Features are the broker's
//   supported ranges; every finalized level must be in them
//   (UNSUPPORTED_VERSION). PreviousBrokerEpoch (v3+): Strata brokers send
//   -1 after an unclean shutdown and their last known epoch (0 when they do
//   not know it) after a clean one; the controller reads only that
//   distinction (KIP-966 unclean shutdown). Fields of v1-v2 (ZooKeeper
//   migration, log dirs) are accepted and ignored.
//   A listener named STRATA_RAFT carries a broker-only node's metadata
//   quorum address; the controller adds it to the quorum as a non-voter.
//   AllocateProducerIds 0 (KIP-730): a block of producer ids.
// A node that is not the active controller answers NOT_CONTROLLER; the
// sender finds the new one through the metadata quorum and retries.

import (
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/controller"
	"github.com/strata-io/strata/internal/metadata"
	"github.com/strata-io/strata/internal/server"
)

// RaftListenerName names the listener in a broker-only node's
// BrokerRegistration that carries its metadata quorum observer address
// (see controller.BrokerRegistration.RaftAddr).
const RaftListenerName = "STRATA_RAFT"

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
		reg := controller.BrokerRegistration{NodeID: req.BrokerID, IncarnationID: metadata.UUID(req.IncarnationID),
			CleanShutdown: req.Version >= 3 && req.PreviousBrokerEpoch >= 0}
		for _, f := range req.Features {
			reg.Features = append(reg.Features, metadata.SupportedFeature{Name: f.Name, MinLevel: f.MinSupportedVersion, MaxLevel: f.MaxSupportedVersion})
		}
		// The first listener other than the raft one is the broker's
		// inter-broker listener (Strata brokers send it first).
		for _, l := range req.Listeners {
			if l.Name == RaftListenerName {
				reg.RaftAddr = net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port)))
				continue
			}
			proto := server.SecurityProtocolName(l.SecurityProtocol)
			if proto == "" {
				resp.ErrorCode = kerr.InvalidRequest.Code
				return resp
			}
			if reg.Host == "" {
				reg.Host, reg.Port = l.Host, int32(l.Port)
			}
			reg.Listeners = append(reg.Listeners, metadata.Endpoint{Name: l.Name, Host: l.Host, Port: int32(l.Port), SecurityProtocol: proto})
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
// of brokers, answered by the active controller. v1's offline log dirs
// (KIP-858) take the broker's replicas in them offline (see
// AssignReplicasToDirs); v2's cordoned log dirs are not used.
func (h *Handler) brokerHeartbeat(rc *reqCtx, req *kmsg.BrokerHeartbeatRequest) server.Response {
	return later(rc, func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.BrokerHeartbeatResponse)
		hreq := controller.HeartbeatRequest{
			BrokerID: req.BrokerID, BrokerEpoch: req.BrokerEpoch, CurrentMetadataOffset: req.CurrentMetadataOffset,
			WantFence: req.WantFence, WantShutDown: req.WantShutdown,
		}
		for _, d := range req.OfflineLogDirs {
			hreq.OfflineLogDirs = append(hreq.OfflineLogDirs, metadata.UUID(d))
		}
		hb, err := h.ctrl.BrokerHeartbeat(rc.ctx, hreq)
		if err != nil {
			resp.ErrorCode = errorCode(rc.log, err)
			resp.IsFenced = true
			return resp
		}
		resp.IsCaughtUp, resp.IsFenced, resp.ShouldShutdown = hb.IsCaughtUp, hb.IsFenced, hb.ShouldShutDown
		return resp
	})
}

// AssignReplicasToDirs 0 (KIP-858): a broker tells the active controller
// which of its log directories hold which replicas. Strata brokers send it
// for the replicas of their offline directories, ahead of the heartbeat
// that lists those directories; the controller keeps the assignment in
// memory (see controller/log_dirs.go). Per-partition errors are not
// produced: the request is applied whole or refused with a top-level code.
func (h *Handler) assignReplicasToDirs(rc *reqCtx, req *kmsg.AssignReplicasToDirsRequest) server.Response {
	return later(rc, func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.AssignReplicasToDirsResponse)
		var dirs []controller.DirAssignment
		for _, d := range req.Directories {
			a := controller.DirAssignment{Dir: metadata.UUID(d.ID)}
			rd := kmsg.NewAssignReplicasToDirsResponseDirectory()
			rd.ID = d.ID
			for _, t := range d.Topics {
				rt := kmsg.NewAssignReplicasToDirsResponseDirectoryTopic()
				rt.TopicID = t.TopicID
				for _, p := range t.Partitions {
					a.Partitions = append(a.Partitions, controller.ReplicaRef{TopicID: metadata.UUID(t.TopicID), Partition: p.Partition})
					rp := kmsg.NewAssignReplicasToDirsResponseDirectoryTopicPartition()
					rp.Partition = p.Partition
					rt.Partitions = append(rt.Partitions, rp)
				}
				rd.Topics = append(rd.Topics, rt)
			}
			dirs = append(dirs, a)
			resp.Directories = append(resp.Directories, rd)
		}
		if err := h.ctrl.AssignReplicasToDirs(rc.ctx, req.BrokerID, req.BrokerEpoch, dirs); err != nil {
			resp.ErrorCode = errorCode(rc.log, err)
			resp.Directories = nil
		}
		return resp
	})
}

// AlterPartition 2-3 (KIP-497, KIP-903): a partition leader's ISR change,
// validated and applied by the active controller. v2 names topics by id;
// v3 carries each ISR member's broker epoch. v0-v1 (topic names) are not
// served: Strata brokers send v2+.
func (h *Handler) alterPartition(rc *reqCtx, req *kmsg.AlterPartitionRequest) server.Response {
	return later(rc, func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.AlterPartitionResponse)
		creq := controller.AlterPartitionRequest{BrokerID: req.BrokerID, BrokerEpoch: req.BrokerEpoch}
		for _, t := range req.Topics {
			ct := controller.AlterPartitionTopic{TopicID: metadata.UUID(t.TopicID)}
			for _, p := range t.Partitions {
				d := controller.AlterPartitionData{Partition: p.Partition, LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch, NewISR: p.NewISR}
				if req.Version >= 3 {
					d.NewISR = d.NewISR[:0:0]
					for _, e := range p.NewEpochISR {
						d.NewISR = append(d.NewISR, e.BrokerID)
						d.NewISRBrokerEpochs = append(d.NewISRBrokerEpochs, e.BrokerEpoch)
					}
				}
				ct.Partitions = append(ct.Partitions, d)
			}
			creq.Topics = append(creq.Topics, ct)
		}
		results, err := h.ctrl.AlterPartition(rc.ctx, creq)
		if err != nil {
			resp.ErrorCode = errorCode(rc.log, err)
			return resp
		}
		for _, t := range results {
			rt := kmsg.NewAlterPartitionResponseTopic()
			rt.TopidID = t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewAlterPartitionResponseTopicPartition()
				rp.Partition = p.Partition
				if p.Err != nil {
					rp.ErrorCode = errorCode(rc.log, p.Err)
				} else {
					rp.LeaderID, rp.LeaderEpoch, rp.ISR, rp.PartitionEpoch = p.Leader, p.LeaderEpoch, p.ISR, p.PartitionEpoch
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	})
}
