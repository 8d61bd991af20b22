package kafkaapi

// ListTransactions v0-v2 (KIP-664): the transactional ids this broker
// coordinates (the admin client asks every broker), filtered by state and
// producer id; v1 (KIP-994) by duration (running longer than the filter);
// v2 (KIP-1152) by a regular expression over the id (RE2 syntax here,
// INVALID_REGULAR_EXPRESSION when it does not compile). Unknown state
// names are returned in UnknownStateFilters and match nothing.

import (
	"regexp"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/acl"
	"github.com/strata-io/strata/internal/server"
	"github.com/strata-io/strata/internal/txn"
)

func (h *Handler) listTransactions(rc *reqCtx, req *kmsg.ListTransactionsRequest) server.Response {
	resp := req.ResponseKind().(*kmsg.ListTransactionsResponse)
	f := txn.ListFilter{ProducerIDs: req.ProducerIDFilters, MinDurationMs: req.DurationFilterMillis}
	if req.Version < 1 {
		f.MinDurationMs = -1
	}
	for _, name := range req.StateFilters {
		st, err := kmsg.ParseTransactionState(name)
		if err != nil || st.String() != name {
			resp.UnknownStateFilters = append(resp.UnknownStateFilters, name)
			continue
		}
		f.States = append(f.States, st)
	}
	if len(req.StateFilters) > 0 && len(f.States) == 0 {
		// Only unknown states asked for: nothing matches them.
		return done(resp)
	}
	if req.TransactionalIDPattern != nil && *req.TransactionalIDPattern != "" {
		re, err := regexp.Compile(*req.TransactionalIDPattern)
		if err != nil {
			resp.ErrorCode = kerr.InvalidRegularExpression.Code
			return done(resp)
		}
		f.Pattern = re
	}
	return later(rc, func() kmsg.Response {
		ls, err := h.txns.List(rc.ctx, f)
		if err != nil {
			resp.ErrorCode = txnCode(rc, err, req.Version, 0)
			return resp
		}
		for _, l := range ls {
			if !h.allowed(rc, acl.OpDescribe, acl.ResourceTransactionalID, l.ID) {
				continue // as Kafka: only the ids the client may describe
			}
			st := kmsg.NewListTransactionsResponseTransactionState()
			st.TransactionalID, st.ProducerID, st.TransactionState = l.ID, l.ProducerID, l.State.String()
			resp.TransactionStates = append(resp.TransactionStates, st)
		}
		return resp
	})
}
