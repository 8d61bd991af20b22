package kafkaapi

// WriteTxnMarkers v1-v2 (v0 was removed in Kafka 4.0, KIP-896).
//   v1: flexible. v2 (KIP-890 part 2): TransactionVersion per marker.
// Only transaction coordinators send it: each marker ends one producer's
// transaction (commit or abort) on the listed partitions this broker
// leads. A partition of __consumer_offsets goes to the group coordinator
// (TxnMarkerGroups), which writes the marker through its own loop and
// makes the transaction's offsets visible; any other partition gets a
// control batch (Partition.AppendControlAsLeader) in the current leader
// epoch. Every partition of the request is appended first and then all
// are waited on together, off the reader goroutine, until the markers
// are committed (acks=all).
//
// Error codes, as Kafka's handleWriteTxnMarkersRequest gives them: a
// partition not hosted here UNKNOWN_TOPIC_OR_PARTITION; hosted but led
// elsewhere NOT_LEADER_OR_FOLLOWER; a marker older than the producer's
// epoch INVALID_PRODUCER_EPOCH (NB: not PRODUCER_FENCED, the code the
// storage sentinel gets elsewhere: the coordinator's marker sender drops a
// transaction's markers on INVALID_PRODUCER_EPOCH and fails on anything
// it does not expect); from an older coordinator epoch
// TRANSACTION_COORDINATOR_FENCED; NOT_ENOUGH_REPLICAS(_AFTER_APPEND),
// REQUEST_TIMED_OUT and KAFKA_STORAGE_ERROR for the sender to retry. The
// group coordinator's NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS and
// COORDINATOR_NOT_AVAILABLE become NOT_LEADER_OR_FOLLOWER, which the
// sender retries (it does not expect coordinator errors).
//
// Differences from Kafka:
//   - Not authorized: Kafka requires CLUSTER_ACTION on the cluster; Strata
//     has no ACLs yet, so any client can write markers (issue 10).
//   - The wait is bounded by markerWriteTimeout, Kafka's request.timeout.ms
//     default that it uses for this append, not by configuration.
//   - v2's TransactionVersion is ignored: with transaction version 2 Kafka
//     refuses a marker whose epoch is not above the producer's (not just
//     below); Strata applies the version-1 check to all markers.

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/group"
	"github.com/strata-io/strata/internal/partition"
	"github.com/strata-io/strata/internal/server"
	"github.com/strata-io/strata/internal/storage"
)

// markerWriteTimeout bounds how long WriteTxnMarkers waits for its markers
// to be committed: Kafka appends them with the broker's request.timeout.ms
// (30s by default), and the coordinator's own request times out after
// that too, then retries.
const markerWriteTimeout = 30 * time.Second

// TxnMarkerGroups completes transactions on __consumer_offsets partitions
// (the group coordinator): CompleteTransaction writes the marker for
// producerID into partition through the coordinator's loop, waits until it
// is committed, and then applies or drops the transaction's pending
// offsets. Errors wrap group.ErrNotCoordinator or group.ErrLoadInProgress
// when partition is not loaded here, storage.ErrProducerFenced or
// storage.ErrCoordinatorFenced for a stale marker.
type TxnMarkerGroups interface {
	CompleteTransaction(ctx context.Context, partition int32, producerID int64, producerEpoch int16, coordinatorEpoch int32, commit bool) error
}

// SetTxnMarkerGroups sets the group coordinator that completes
// transactions on __consumer_offsets. Call it before the handler serves.
// Without one, markers for __consumer_offsets partitions are answered
// NOT_LEADER_OR_FOLLOWER (retried by the coordinator).
func (h *Handler) SetTxnMarkerGroups(g TxnMarkerGroups) { h.txnGroups = g }

// markerWait is a marker appended to a local partition, waiting to be
// committed.
type markerWait struct {
	p    *partition.Partition
	rp   *kmsg.WriteTxnMarkersResponseMarkerTopicPartition
	next int64
}

// markerGroupOp is a marker for a __consumer_offsets partition.
type markerGroupOp struct {
	m  *kmsg.WriteTxnMarkersRequestMarker
	rp *kmsg.WriteTxnMarkersResponseMarkerTopicPartition
}

func (h *Handler) writeTxnMarkers(rc *reqCtx, req *kmsg.WriteTxnMarkersRequest) server.Response {
	resp := req.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
	now := h.cfg.WallClock()
	var waits []markerWait
	var groupOps []markerGroupOp
	resp.Markers = make([]kmsg.WriteTxnMarkersResponseMarker, len(req.Markers))
	for mi := range req.Markers {
		m := &req.Markers[mi]
		rm := &resp.Markers[mi]
		*rm = kmsg.NewWriteTxnMarkersResponseMarker()
		rm.ProducerID = m.ProducerID
		rm.Topics = make([]kmsg.WriteTxnMarkersResponseMarkerTopic, len(m.Topics))
		for ti, t := range m.Topics {
			rt := &rm.Topics[ti]
			*rt = kmsg.NewWriteTxnMarkersResponseMarkerTopic()
			rt.Topic = t.Topic
			rt.Partitions = make([]kmsg.WriteTxnMarkersResponseMarkerTopicPartition, len(t.Partitions))
			for pi, idx := range t.Partitions {
				rp := &rt.Partitions[pi]
				*rp = kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
				rp.Partition = idx
				p, ok := h.partitions.Get(t.Topic, idx)
				if !ok {
					rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
					continue
				}
				if t.Topic == group.OffsetsTopic {
					groupOps = append(groupOps, markerGroupOp{m: m, rp: rp})
					continue
				}
				info, err := p.AppendControlAsLeader(m.ProducerID, m.ProducerEpoch, m.CoordinatorEpoch, m.Committed, now)
				if err != nil {
					rp.ErrorCode = markerErrorCode(rc.log, err)
					continue
				}
				waits = append(waits, markerWait{p: p, rp: rp, next: info.LastOffset + 1})
			}
		}
	}
	if len(waits) == 0 && len(groupOps) == 0 {
		return done(resp)
	}
	for _, w := range waits {
		if w.p.NeedsSync() {
			w.p.Log().SyncAsync(w.next)
		}
	}
	return later(rc, func() kmsg.Response {
		ctx, cancel := context.WithTimeout(rc.ctx, markerWriteTimeout)
		defer cancel()
		var wg sync.WaitGroup
		for _, op := range groupOps {
			wg.Go(func() {
				op.rp.ErrorCode = h.completeGroupTxn(ctx, rc.log, op)
			})
		}
		for _, w := range waits {
			if err := w.p.WaitCommitted(ctx, w.next, -1); err != nil {
				w.rp.ErrorCode = markerErrorCode(rc.log, err)
			}
		}
		wg.Wait()
		return resp
	})
}

// completeGroupTxn hands one marker for a __consumer_offsets partition to
// the group coordinator and returns the partition's error code.
func (h *Handler) completeGroupTxn(ctx context.Context, log *slog.Logger, op markerGroupOp) int16 {
	if h.txnGroups == nil {
		return kerr.NotLeaderForPartition.Code
	}
	m := op.m
	err := h.txnGroups.CompleteTransaction(ctx, op.rp.Partition, m.ProducerID, m.ProducerEpoch, m.CoordinatorEpoch, m.Committed)
	var ke *kerr.Error
	switch {
	case err == nil:
		return 0
	case errors.Is(err, group.ErrNotCoordinator), errors.Is(err, group.ErrLoadInProgress),
		errors.As(err, &ke) && (ke == kerr.NotCoordinator || ke == kerr.CoordinatorLoadInProgress || ke == kerr.CoordinatorNotAvailable):
		// Kafka translates these: the marker sender retries
		// NOT_LEADER_OR_FOLLOWER but not coordinator errors.
		return kerr.NotLeaderForPartition.Code
	}
	return markerErrorCode(log, err)
}

// markerErrorCode is errorCode for a marker append, with the one code
// WriteTxnMarkers gives differently: a marker older than the producer's
// epoch is INVALID_PRODUCER_EPOCH, as Kafka answers and its coordinator
// expects.
func markerErrorCode(log *slog.Logger, err error) int16 {
	if errors.Is(err, storage.ErrProducerFenced) {
		return kerr.InvalidProducerEpoch.Code
	}
	return errorCode(log, err)
}
