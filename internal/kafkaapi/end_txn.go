package kafkaapi

// EndTxn v0-v4.
//   v1: throttle. v2 (KIP-588): PRODUCER_FENCED. v3: flexible. v4: no
//   change. v5 (KIP-890 part 2, an epoch bump on every end) is not served:
//   the transaction.version feature is not advertised, so clients stay on
//   v4.
// The answer comes once PrepareCommit or PrepareAbort is logged in
// __transaction_state; the coordinator then writes the markers, and
// calls for the id meanwhile get CONCURRENT_TRANSACTIONS.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/server"
	"github.com/strata-io/strata/internal/txn"
)

func (h *Handler) endTxn(rc *reqCtx, req *kmsg.EndTxnRequest) server.Response {
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	pe := txn.ProducerIDAndEpoch{ID: req.ProducerID, Epoch: req.ProducerEpoch}
	return later(rc, func() kmsg.Response {
		resp.ErrorCode = txnCode(rc, h.txns.EndTxn(rc.ctx, req.TransactionalID, pe, req.Commit), req.Version, 2)
		return resp
	})
}
