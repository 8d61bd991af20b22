package kafkaapi

// Forwarding (KIP-590's effect, without its Envelope): admin requests that
// only the active controller can serve — CreateTopics, DeleteTopics,
// CreatePartitions, ElectLeaders, AlterPartitionReassignments,
// ListPartitionReassignments, IncrementalAlterConfigs, AlterConfigs,
// DescribeQuorum, UnregisterBroker, UpdateFeatures,
// AlterUserScramCredentials, AlterClientQuotas, CreateAcls, DeleteAcls — are
// sent on by any other node to the active controller at the client's
// version, and its answer is relayed. Metadata names as controller the
// active controller when it is also a broker, else this broker (as Kafka
// does for KRaft controllers, which clients cannot reach), so clients may
// send these requests anywhere. A forwarded request is never forwarded
// again: a node that receives one from another node and is not the active
// controller answers NOT_CONTROLLER, and the client retries.
//
// Authorization of forwarded requests. Kafka wraps a forwarded request in
// an Envelope carrying the client's principal, and the controller
// authorizes the request as that principal once it has checked that the
// envelope's sender may CLUSTER_ACTION. Strata forwards the client's
// request itself, over the node's own connection, so the controller sees
// the forwarding node's principal. The node that receives the client's
// request therefore authorizes it as the client before forwarding
// (Handler.gate: the cluster operation, then per resource for
// CreateTopics, DeleteTopics, CreatePartitions and the config APIs),
// forwards only the part the client may do, and adds the refused part's
// errors to the controller's answer. The controller trusts a request
// from another node (client id ForwardClientIDPrefix) whose principal may
// CLUSTER_ACTION, the same condition Kafka puts on an Envelope, and does
// not authorize it again; the same prefix from any other principal buys
// nothing. The receiving node decides on its own image's ACLs, which
// every broker has applied by the time an ACL change is acknowledged.
//
// The controller answers once it has committed the change and every live
// broker has applied it (controller.awaitBrokers), so the forwarding
// broker's own Metadata and DescribeConfigs, and every other broker's,
// already show the change when the client gets the answer.

import (
	"context"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/server"
)

// ForwardClientIDPrefix starts the client id of requests one node sends to
// another (forwarding, replication, controller RPCs).
const ForwardClientIDPrefix = "strata-node-"

// forwardTimeout bounds a forwarded request that has no timeout of its own.
const forwardTimeout = 60 * time.Second

// forwardable reports whether req is an admin request served by the
// active controller.
func forwardable(req kmsg.Request) bool {
	switch req.(type) {
	case *kmsg.CreateTopicsRequest, *kmsg.DeleteTopicsRequest, *kmsg.CreatePartitionsRequest,
		*kmsg.ElectLeadersRequest, *kmsg.AlterPartitionAssignmentsRequest, *kmsg.ListPartitionReassignmentsRequest,
		*kmsg.IncrementalAlterConfigsRequest, *kmsg.AlterConfigsRequest, *kmsg.DescribeQuorumRequest,
		*kmsg.UnregisterBrokerRequest, *kmsg.UpdateFeaturesRequest, *kmsg.AlterUserSCRAMCredentialsRequest,
		*kmsg.AlterClientQuotasRequest, *kmsg.CreateACLsRequest, *kmsg.DeleteACLsRequest:
		return true
	}
	return false
}

// maybeForward serves req by forwarding when this node is not the active
// controller; ok is false when req should be served here.
func (h *Handler) maybeForward(rc *reqCtx, req kmsg.Request) (resp server.Response, ok bool) {
	if !forwardable(req) || h.ctrl.IsActive() {
		return server.Response{}, false
	}
	if h.channel == nil || strings.HasPrefix(rc.hdr.ClientID, ForwardClientIDPrefix) {
		return done(forwardError(req, kerr.NotController.Code)), true
	}
	return later(rc, func() kmsg.Response {
		ctx, cancel := context.WithTimeout(rc.ctx, forwardTimeout)
		defer cancel()
		version := req.GetVersion()
		resp, err := h.channel.Forward(ctx, req)
		if err != nil {
			rc.log.Info("forwarding to the active controller failed", "err", err)
			code := kerr.NotController.Code
			if ctx.Err() != nil {
				code = kerr.RequestTimedOut.Code
			}
			req.SetVersion(version)
			return forwardError(req, code)
		}
		resp.SetVersion(version)
		return resp
	}), true
}

// forwardError answers req with code on everything it names.
func forwardError(req kmsg.Request, code int16) kmsg.Response {
	switch r := req.(type) {
	case *kmsg.CreateTopicsRequest:
		resp := r.ResponseKind().(*kmsg.CreateTopicsResponse)
		for _, t := range r.Topics {
			rt := kmsg.NewCreateTopicsResponseTopic()
			rt.Topic, rt.ErrorCode = t.Topic, code
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	case *kmsg.DeleteTopicsRequest:
		resp := r.ResponseKind().(*kmsg.DeleteTopicsResponse)
		for _, name := range r.TopicNames {
			rt := kmsg.NewDeleteTopicsResponseTopic()
			rt.Topic, rt.ErrorCode = kmsg.StringPtr(name), code
			resp.Topics = append(resp.Topics, rt)
		}
		for _, t := range r.Topics {
			rt := kmsg.NewDeleteTopicsResponseTopic()
			rt.Topic, rt.TopicID, rt.ErrorCode = t.Topic, t.TopicID, code
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	case *kmsg.CreatePartitionsRequest:
		resp := r.ResponseKind().(*kmsg.CreatePartitionsResponse)
		for _, t := range r.Topics {
			rt := kmsg.NewCreatePartitionsResponseTopic()
			rt.Topic, rt.ErrorCode = t.Topic, code
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	case *kmsg.ElectLeadersRequest:
		return electLeadersError(r, code, kerr.ErrorForCode(code).Error())
	case *kmsg.AlterPartitionAssignmentsRequest:
		resp := r.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
		resp.ErrorCode = code
		return resp
	case *kmsg.ListPartitionReassignmentsRequest:
		resp := r.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
		resp.ErrorCode = code
		return resp
	case *kmsg.IncrementalAlterConfigsRequest:
		resp := r.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
		for _, res := range r.Resources {
			rr := kmsg.NewIncrementalAlterConfigsResponseResource()
			rr.ResourceType, rr.ResourceName, rr.ErrorCode = res.ResourceType, res.ResourceName, code
			resp.Resources = append(resp.Resources, rr)
		}
		return resp
	case *kmsg.DescribeQuorumRequest:
		resp := r.ResponseKind().(*kmsg.DescribeQuorumResponse)
		resp.ErrorCode = code
		for _, t := range r.Topics {
			rt := kmsg.NewDescribeQuorumResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewDescribeQuorumResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	case *kmsg.UpdateFeaturesRequest:
		return updateFeaturesError(r, code)
	case *kmsg.AlterConfigsRequest:
		resp := r.ResponseKind().(*kmsg.AlterConfigsResponse)
		for _, res := range r.Resources {
			rr := kmsg.NewAlterConfigsResponseResource()
			rr.ResourceType, rr.ResourceName, rr.ErrorCode = res.ResourceType, res.ResourceName, code
			resp.Resources = append(resp.Resources, rr)
		}
		return resp
	case *kmsg.UnregisterBrokerRequest:
		resp := r.ResponseKind().(*kmsg.UnregisterBrokerResponse)
		resp.ErrorCode = code
		return resp
	case *kmsg.AlterUserSCRAMCredentialsRequest:
		return alterScramError(r, code)
	case *kmsg.AlterClientQuotasRequest:
		return alterClientQuotasError(r, code)
	case *kmsg.CreateACLsRequest:
		return createACLsError(r, code, nil)
	case *kmsg.DeleteACLsRequest:
		return deleteACLsError(r, code, nil)
	}
	return nil
}

// controllerIDForClients is the controller id Metadata and DescribeCluster
// give clients: the active controller when it is a live broker they can
// reach, else this node when it is a broker (it forwards), else the first
// live broker, else -1.
func (h *Handler) controllerIDForClients() int32 {
	img := h.ctrl.Image()
	id := h.channel.ActiveControllerID()
	if b, ok := img.Broker(id); ok && !b.Fenced {
		return id
	}
	if b, ok := img.Broker(h.cfg.NodeID); ok && !b.Fenced {
		return h.cfg.NodeID
	}
	for _, b := range img.Brokers() {
		if !b.Fenced {
			return b.NodeID
		}
	}
	return -1
}
