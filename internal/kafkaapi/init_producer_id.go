package kafkaapi

// InitProducerId v0-v5 for idempotent producers.
//   v1: throttle. v2: flexible. v3 (KIP-360): existing producer id and epoch
//   in the request. v4-v5: no change for non-transactional producers.
// Without a transactional id Kafka always hands out a fresh producer id with
// epoch 0, ignoring any id in the request; so do we. Ids come from blocks the
// controller allocates through the metadata log (KIP-730), so they are never
// reused after a restart. Transactional ids are not supported yet and get
// INVALID_REQUEST.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/server"
)

// producerIDBlockSize is how many ids one controller allocation reserves.
const producerIDBlockSize = 1000

func (h *Handler) initProducerID(rc *reqCtx, req *kmsg.InitProducerIDRequest) server.Response {
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		// NB: no transaction coordinator yet. INVALID_REQUEST is final for
		// every client, instead of a retriable code that would loop.
		rc.log.Warn("transactional producer refused: transactions are not supported yet", "transactional_id", *req.TransactionalID)
		resp.ErrorCode = kerr.InvalidRequest.Code
		return done(resp)
	}
	return later(rc, func() kmsg.Response {
		id, err := h.nextProducerID(rc)
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

func (h *Handler) nextProducerID(rc *reqCtx) (int64, error) {
	h.pidMu.Lock()
	defer h.pidMu.Unlock()
	if h.pidMu.next >= h.pidMu.end {
		// NB: pidMu is held across the call: bound it, or an unreachable
		// controller would hold up every InitProducerId of this broker.
		ctx, cancel := context.WithTimeout(rc.ctx, allocateProducerIDsTimeout)
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
