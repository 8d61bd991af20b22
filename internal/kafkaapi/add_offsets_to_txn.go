package kafkaapi

// AddOffsetsToTxn v0-v4.
//   v1: throttle. v2 (KIP-588): PRODUCER_FENCED. v3: flexible. v4: no
//   change (KIP-890 clients skip this API under transaction version 2).
// Adds the group's __consumer_offsets partition to the transaction, so
// that the transaction's markers reach the group coordinator and its
// TxnOffsetCommit offsets commit or abort with the transaction.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/acl"
	"github.com/strata-io/strata/internal/group"
	"github.com/strata-io/strata/internal/server"
	"github.com/strata-io/strata/internal/txn"
)

func (h *Handler) addOffsetsToTxn(rc *reqCtx, req *kmsg.AddOffsetsToTxnRequest) server.Response {
	resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	switch {
	case !h.allowed(rc, acl.OpWrite, acl.ResourceTransactionalID, req.TransactionalID):
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return done(resp)
	case !h.allowed(rc, acl.OpRead, acl.ResourceGroup, req.Group):
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return done(resp)
	}
	if _, ok := h.ctrl.Image().TopicByName(group.OffsetsTopic); !ok {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return done(resp)
	}
	p := txn.Partition{Topic: group.OffsetsTopic, Partition: h.groups.PartitionFor(req.Group)}
	pe := txn.ProducerIDAndEpoch{ID: req.ProducerID, Epoch: req.ProducerEpoch}
	return later(rc, func() kmsg.Response {
		resp.ErrorCode = txnCode(rc, h.txns.AddPartitions(rc.ctx, req.TransactionalID, pe, []txn.Partition{p}), req.Version, 2)
		return resp
	})
}
