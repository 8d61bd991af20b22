package kafkaapi

// EndTxn v0-v5.
//   v1: throttle. v2 (KIP-588): PRODUCER_FENCED. v3: flexible. v4: no
//   change. v5 (KIP-890 part 2, transaction version 2): every end bumps
//   the producer epoch (rotating to a new producer id once the epoch is
//   exhausted) and the response carries the producer id and epoch to go
//   on with; an abort with no transaction ongoing is allowed; a retry of
//   an end that happened (the epoch before the bump) succeeds with the
//   current id and epoch (txn.Coordinator.EndTxnV2).
// The answer comes once the transaction is complete, or 50 ms after
// PrepareCommit or PrepareAbort is logged in __transaction_state (see
// docs/design/transactions.md); the coordinator then writes the markers,
// and calls for the id meanwhile get CONCURRENT_TRANSACTIONS.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/acl"
	"github.com/strata-io/strata/internal/server"
	"github.com/strata-io/strata/internal/txn"
)

func (h *Handler) endTxn(rc *reqCtx, req *kmsg.EndTxnRequest) server.Response {
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	if !h.allowed(rc, acl.OpWrite, acl.ResourceTransactionalID, req.TransactionalID) {
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		resp.ProducerID, resp.ProducerEpoch = -1, -1
		return done(resp)
	}
	pe := txn.ProducerIDAndEpoch{ID: req.ProducerID, Epoch: req.ProducerEpoch}
	return later(rc, func() kmsg.Response {
		if req.Version < 5 {
			resp.ErrorCode = txnCode(rc, h.txns.EndTxn(rc.ctx, req.TransactionalID, pe, req.Commit), req.Version, 2)
			return resp
		}
		next, err := h.txns.EndTxnV2(rc.ctx, req.TransactionalID, pe, req.Commit)
		resp.ErrorCode = txnCode(rc, err, req.Version, 2)
		resp.ProducerID, resp.ProducerEpoch = next.ID, next.Epoch
		if resp.ErrorCode != 0 {
			resp.ProducerID, resp.ProducerEpoch = -1, -1
		}
		return resp
	})
}
