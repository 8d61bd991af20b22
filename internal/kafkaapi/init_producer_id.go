package kafkaapi

// InitProducerId v0-v5.
//   v1: throttle. v2: flexible. v3 (KIP-360): existing producer id and epoch
//   in the request. v4 (KIP-588): PRODUCER_FENCED (older versions get
//   INVALID_PRODUCER_EPOCH). v5: no change.
// Without a transactional id Kafka always hands out a fresh producer id with
// epoch 0, ignoring any id in the request; so do we. Ids come from blocks the
// controller allocates through the metadata log (KIP-730), so they are never
// reused after a restart. With a transactional id the transaction
// coordinator of the id answers (internal/txn): a new epoch, fencing older
// producers of the id; NOT_COORDINATOR elsewhere.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/acl"
	"github.com/strata-io/strata/internal/server"
	"github.com/strata-io/strata/internal/txn"
)

// producerIDBlockSize is how many ids one controller allocation reserves.
const producerIDBlockSize = 1000

func (h *Handler) initProducerID(rc *reqCtx, req *kmsg.InitProducerIDRequest) server.Response {
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	// A transactional producer needs WRITE on its transactional id; an
	// idempotent one IDEMPOTENT_WRITE on the cluster or, since Kafka 3.0
	// (KIP-679), WRITE on some topic. Kafka checks idempotent writes here
	// only: the producer id is what makes a produce idempotent.
	if req.TransactionalID != nil {
		if !h.allowed(rc, acl.OpWrite, acl.ResourceTransactionalID, *req.TransactionalID) {
			resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
			return done(resp)
		}
		return h.initTransactionalProducerID(rc, req, resp)
	}
	if !h.allowedCluster(rc, acl.OpIdempotentWrite) && !h.allowedByType(rc, acl.OpWrite, acl.ResourceTopic) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return done(resp)
	}
	return later(rc, func() kmsg.Response {
		id, err := h.AllocateProducerID(rc.ctx)
		if err != nil {
			rc.log.Warn("allocating producer id", "err", err)
			resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
			return resp
		}
		resp.ProducerID, resp.ProducerEpoch = id, 0
		return resp
	})
}

// allocateProducerIDsTimeout bounds the wait for a new block of producer
// ids from the active controller; the client retries InitProducerId.
const allocateProducerIDsTimeout = 10 * time.Second

// AllocateProducerID returns a producer id never handed out before, from
// this broker's block of ids (a new block from the controller when it is
// used up). The transaction coordinator draws from it too.
func (h *Handler) AllocateProducerID(ctx context.Context) (int64, error) {
	h.pidMu.Lock()
	defer h.pidMu.Unlock()
	if h.pidMu.next >= h.pidMu.end {
		// NB: pidMu is held across the call: bound it, or an unreachable
		// controller would hold up every InitProducerId of this broker.
		ctx, cancel := context.WithTimeout(ctx, allocateProducerIDsTimeout)
		defer cancel()
		first, err := h.channel.AllocateProducerIDs(ctx, producerIDBlockSize)
		if err != nil {
			return -1, err
		}
		h.pidMu.next, h.pidMu.end = first, first+producerIDBlockSize
	}
	id := h.pidMu.next
	h.pidMu.next++
	return id, nil
}

func (h *Handler) initTransactionalProducerID(rc *reqCtx, req *kmsg.InitProducerIDRequest, resp *kmsg.InitProducerIDResponse) server.Response {
	var expected *txn.ProducerIDAndEpoch
	switch {
	case req.ProducerID == -1 && req.ProducerEpoch == -1:
	case req.ProducerID == -1 || req.ProducerEpoch == -1:
		resp.ErrorCode = kerr.InvalidRequest.Code
		return done(resp)
	default:
		expected = &txn.ProducerIDAndEpoch{ID: req.ProducerID, Epoch: req.ProducerEpoch}
	}
	return later(rc, func() kmsg.Response {
		pe, err := h.txns.InitProducerID(rc.ctx, *req.TransactionalID, req.TransactionTimeoutMillis, expected)
		if err != nil {
			resp.ErrorCode = txnCode(rc, err, req.Version, 4)
			return resp
		}
		resp.ProducerID, resp.ProducerEpoch = pe.ID, pe.Epoch
		return resp
	})
}
