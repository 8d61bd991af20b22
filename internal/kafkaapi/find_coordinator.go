package kafkaapi

// FindCoordinator v0-v6.
//   v1: coordinator type (0 group, 1 transaction), error message. v3:
//   flexible. v4 (KIP-699): several keys per request. v5-v6: no change for
//   group and transaction keys (v6 adds share keys, KIP-932).
// A group's coordinator is the leader of its __consumer_offsets partition,
// a transactional id's the leader of its __transaction_state partition, as
// any broker's metadata image says; while that leader loads the partition,
// requests there get COORDINATOR_LOAD_IN_PROGRESS. The first lookup of a
// transactional id has __transaction_state created (COORDINATOR_NOT_AVAILABLE
// until it has leaders), as in Kafka. Share coordinators do not exist yet:
// INVALID_REQUEST, final for clients.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/acl"
	"github.com/strata-io/strata/internal/group"
	"github.com/strata-io/strata/internal/server"
	"github.com/strata-io/strata/internal/txn"
)

type coordinatorAnswer struct {
	nodeID int32
	host   string
	port   int32
	code   int16
	msg    string
}

func (h *Handler) findCoordinator(rc *reqCtx, req *kmsg.FindCoordinatorRequest) server.Response {
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	if req.Version < 4 {
		a := h.authorizedCoordinatorFor(rc, req.CoordinatorType, req.CoordinatorKey)
		resp.NodeID, resp.Host, resp.Port, resp.ErrorCode = a.nodeID, a.host, a.port, a.code
		if a.msg != "" && req.Version >= 1 {
			resp.ErrorMessage = &a.msg
		}
		return done(resp)
	}
	for _, key := range req.CoordinatorKeys {
		a := h.authorizedCoordinatorFor(rc, req.CoordinatorType, key)
		c := kmsg.NewFindCoordinatorResponseCoordinator()
		c.Key, c.NodeID, c.Host, c.Port, c.ErrorCode = key, a.nodeID, a.host, a.port, a.code
		if a.msg != "" {
			c.ErrorMessage = &a.msg
		}
		resp.Coordinators = append(resp.Coordinators, c)
	}
	return done(resp)
}

// authorizedCoordinatorFor is coordinatorFor for a client that may
// DESCRIBE the group or transactional id, as Kafka requires.
func (h *Handler) authorizedCoordinatorFor(rc *reqCtx, keyType int8, key string) coordinatorAnswer {
	denied := coordinatorAnswer{nodeID: -1, port: -1}
	switch {
	case keyType == 0 && !h.allowed(rc, acl.OpDescribe, acl.ResourceGroup, key):
		denied.code = kerr.GroupAuthorizationFailed.Code
		return denied
	case keyType == 1 && !h.allowed(rc, acl.OpDescribe, acl.ResourceTransactionalID, key):
		denied.code = kerr.TransactionalIDAuthorizationFailed.Code
		return denied
	}
	return h.coordinatorFor(listenerOf(rc.conn), keyType, key)
}

// coordinatorFor answers with the coordinator's endpoint on listener; a
// coordinator without one is not available to this client.
func (h *Handler) coordinatorFor(listener string, keyType int8, key string) coordinatorAnswer {
	none := coordinatorAnswer{nodeID: -1, port: -1}
	var topic string
	var partition int32
	switch keyType {
	case 0:
		topic, partition = group.OffsetsTopic, h.groups.PartitionFor(key)
	case 1:
		if h.txns == nil {
			none.code, none.msg = kerr.InvalidRequest.Code, "transactions are not served"
			return none
		}
		if key == "" {
			none.code, none.msg = kerr.InvalidRequest.Code, "empty transactional id"
			return none
		}
		topic, partition = txn.TransactionStateTopic, h.txns.PartitionFor(key)
	default:
		none.code, none.msg = kerr.InvalidRequest.Code, "unsupported coordinator type"
		return none
	}
	// Any broker answers from the metadata image: the coordinator is the
	// leader of the key's partition.
	img := h.ctrl.Image()
	t, ok := img.TopicByName(topic)
	if !ok {
		if keyType == 1 {
			h.wantTxnTopic()
		}
		none.code = kerr.CoordinatorNotAvailable.Code
		return none
	}
	p, ok := t.Partition(partition)
	if !ok || p.Leader < 0 {
		none.code = kerr.CoordinatorNotAvailable.Code
		return none
	}
	b, ok := img.Broker(p.Leader)
	if !ok || b.Fenced {
		none.code = kerr.CoordinatorNotAvailable.Code
		return none
	}
	e, ok := clientEndpoint(b, listener)
	if !ok {
		none.code = kerr.CoordinatorNotAvailable.Code
		return none
	}
	return coordinatorAnswer{nodeID: b.NodeID, host: e.Host, port: e.Port}
}
