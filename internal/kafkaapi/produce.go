package kafkaapi

// Produce v3-v12 (v0-v2 are advertised but answered UNSUPPORTED_VERSION, see
// protocol.supported).
//   v3: record batch v2 only, transactional id. v5: log start offset in the
//   response. v8 (KIP-467): per-record errors and an error message.
//   v9: flexible. v10-v11 (KIP-951): current leader and the leaders'
//   endpoints on NOT_LEADER_OR_FOLLOWER (leader_hints.go); a partition this
//   broker does not host but the metadata knows gets NOT_LEADER_OR_FOLLOWER
//   (with the hint) rather than UNKNOWN_TOPIC_OR_PARTITION, as in Kafka.
//   v12 (KIP-890): no wire change.
// Validation (produce_validate.go), as Kafka's produce path and LogValidator:
// one batch per partition, magic 2, CRC-32C, record count against last
// offset delta and the records themselves, max.message.bytes; then per
// record (KIP-467) keys on compacted topics and CreateTime timestamp bounds,
// failing the whole batch with INVALID_RECORD or INVALID_TIMESTAMP and the
// record_errors naming each bad record.
// acks=0 failures close the connection, as Kafka does, so the client notices.
// Transactional batches (KIP-98) are accepted and verified with the
// transaction coordinator before they start a transaction (KIP-890 part 1):
// see produce_txn.go. Control batches from clients are refused
// (INVALID_RECORD).

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/acl"
	"github.com/strata-io/strata/internal/failpoint"
	"github.com/strata-io/strata/internal/metadata"
	"github.com/strata-io/strata/internal/partition"
	"github.com/strata-io/strata/internal/server"
	"github.com/strata-io/strata/internal/storage"
)

// produceError answers every partition of req with code.
func produceError(req *kmsg.ProduceRequest, code int16) *kmsg.ProduceResponse {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for _, p := range t.Partitions {
			rp := newProducePartition(p.Partition)
			rp.ErrorCode = code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// newProducePartition is a partition's answer before the append: base
// offset -1, as Kafka answers a partition that failed (librdkafka reports it
// as the failed records' offset).
func newProducePartition(partition int32) kmsg.ProduceResponseTopicPartition {
	rp := kmsg.NewProduceResponseTopicPartition()
	rp.Partition = partition
	rp.BaseOffset = -1
	return rp
}

// appended is a partition append waiting to be committed before the answer.
type appended struct {
	p    *partition.Partition
	rp   *kmsg.ProduceResponseTopicPartition
	next int64
}

// produceTarget is a partition of a produce request whose batches passed
// validation, ready to append.
type produceTarget struct {
	p       *partition.Partition
	rp      *kmsg.ProduceResponseTopicPartition
	topic   string
	records []byte
	txn     bool // holds transactional batches
	// verified: append with AppendVerifiedAsLeader and guard (KIP-890).
	verified bool
	guard    *storage.VerificationGuard
}

// txnVerifyTimeout bounds the question to the transaction coordinator
// (Kafka sends it with the inter-broker request.timeout.ms, 30s).
const txnVerifyTimeout = 30 * time.Second

func (h *Handler) produce(rc *reqCtx, req *kmsg.ProduceRequest) server.Response {
	if req.Acks != 0 && req.Acks != 1 && req.Acks != -1 {
		return done(produceError(req, kerr.InvalidRequiredAcks.Code))
	}
	now := h.cfg.WallClock()
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	img := h.ctrl.Image()
	var leaders hintedLeaders // KIP-951: leaders named in hints
	var targets []produceTarget
	var txnProducer producerOf
	failed := false
	for _, t := range req.Topics {
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		rt.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(t.Partitions))
		written := h.allowed(rc, acl.OpWrite, acl.ResourceTopic, t.Topic)
		for i, tp := range t.Partitions {
			rp := &rt.Partitions[i]
			*rp = newProducePartition(tp.Partition)
			if !written {
				rp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				failed = true
				continue
			}
			if isInternalTopic(t.Topic) {
				rp.ErrorCode = kerr.InvalidTopicException.Code
				failed = true
				continue
			}
			p, ok := h.partitions.Get(t.Topic, tp.Partition)
			if !ok {
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				if hint, known := knownElsewhere(img, t.Topic, tp.Partition); known {
					// Led elsewhere: Kafka answers NOT_LEADER_OR_FOLLOWER.
					rp.ErrorCode = kerr.NotLeaderForPartition.Code
					setProduceHint(req.Version, rp, hint, &leaders)
				}
				failed = true
				continue
			}
			txn, err := h.validateProduce(p, tp.Records, req.Version, now, &txnProducer)
			if err != nil {
				h.setProduceError(rc, req.Version, rp, p, err, &leaders)
				failed = true
				continue
			}
			targets = append(targets, produceTarget{p: p, rp: rp, topic: t.Topic, records: tp.Records, txn: txn})
		}
		resp.Topics = append(resp.Topics, rt)
	}
	// Kafka's checks of the request as a whole: transactional batches need
	// the transactional id (its authorization fails without one) and one
	// producer (ReplicaManager's InvalidPidMappingException). NB: as in
	// Kafka, a request with a transactional id may carry batches that are
	// not transactional; they append as idempotent or plain batches.
	code := txnProducer.requestError(req.TransactionID)
	if code == 0 && txnProducer.n > 0 && !h.allowed(rc, acl.OpWrite, acl.ResourceTransactionalID, *req.TransactionID) {
		code = kerr.TransactionalIDAuthorizationFailed.Code
	}
	if code != 0 {
		if req.Acks == 0 {
			return server.Response{Close: true}
		}
		return done(produceError(req, code))
	}
	if toVerify := h.startTxnVerification(req, targets, txnProducer); len(toVerify) > 0 {
		// NB: the verification runs on the reader goroutine, so that the
		// connection's requests still append in order (Kafka serves one
		// request of a connection at a time): a pipelined produce of the
		// same producer must not overtake this one and reach the log with
		// a later sequence first. Other connections are not held up.
		h.verifyTxnTargets(rc, req, targets, toVerify, txnProducer)
	}
	waits := h.appendTargets(rc, req, targets, h.cfg.WallClock(), &leaders, &failed)
	return h.finishProduce(rc, req, resp, waits, failed, leaders)
}

// setProduceError puts err on a partition's response.
func (h *Handler) setProduceError(rc *reqCtx, version int16, rp *kmsg.ProduceResponseTopicPartition, p *partition.Partition, err error, leaders *hintedLeaders) {
	rp.ErrorCode = errorCode(rc.log, err)
	if hint, ok := hintFor(h.ctrl.Image(), p.Topic, p.Index, rp.ErrorCode, err); ok {
		setProduceHint(version, rp, hint, leaders)
	}
	if rc.hdr.APIVersion >= 8 {
		msg := err.Error()
		rp.ErrorMessage = &msg
		var re *recordErrors
		if errors.As(err, &re) {
			rp.ErrorRecords = re.records
		}
	}
	rp.LogStartOffset = p.Log().LogStartOffset()
}

// appendTargets appends the targets not failed yet (ErrorCode 0) and
// returns those whose answer waits for a commit.
func (h *Handler) appendTargets(rc *reqCtx, req *kmsg.ProduceRequest, targets []produceTarget, now time.Time, leaders *hintedLeaders, failed *bool) []appended {
	var waits []appended
	for i := range targets {
		t := &targets[i]
		if t.rp.ErrorCode != 0 {
			*failed = true
			continue
		}
		var info storage.AppendInfo
		var err error
		if t.verified {
			info, err = t.p.AppendVerifiedAsLeader(t.records, now, req.Acks, t.guard)
		} else {
			info, err = t.p.AppendAsLeader(t.records, now, req.Acks)
		}
		if err != nil {
			h.setProduceError(rc, req.Version, t.rp, t.p, err, leaders)
			*failed = true
			continue
		}
		t.p.CountProduced(len(t.records), info)
		rp, p := t.rp, t.p
		rp.BaseOffset = info.FirstOffset
		rp.LogAppendTime = info.LogAppendTime
		rp.LogStartOffset = info.LogStartOffset
		next := info.LastOffset + 1
		// NB: without fsync-before-ack, a partition whose ISR is this
		// broker alone has committed the records already; only real
		// waits get a goroutine.
		committed := !p.NeedsSync() && p.HighWatermark() >= next
		if (p.NeedsSync() || req.Acks != 1) && !committed {
			waits = append(waits, appended{p: p, rp: rp, next: next})
		}
	}
	// With fsync before ack, queue every partition's fsync now: they run
	// side by side (and are shared with other requests), and WaitCommitted's
	// own sync joins them instead of syncing partitions one by one.
	for _, w := range waits {
		if w.p.NeedsSync() {
			w.p.Log().SyncAsync(w.next)
		}
	}
	return waits
}

// finishProduce answers a produce whose partitions were appended on the
// reader goroutine: at once, or once waits are committed.
func (h *Handler) finishProduce(rc *reqCtx, req *kmsg.ProduceRequest, resp *kmsg.ProduceResponse, waits []appended, failed bool, leaders hintedLeaders) server.Response {
	if req.Acks == 0 {
		// No answer, but the records must still become durable and visible.
		for _, w := range waits {
			if err := w.p.WaitCommitted(rc.ctx, w.next, 1); err != nil {
				rc.log.Error("commit after acks=0 produce failed", "topic", w.p.Topic, "partition", w.p.Index, "err", err)
				failed = true
			}
		}
		if failed {
			return server.Response{Close: true}
		}
		return server.Response{}
	}
	if failpoint.Inject(failpoint.ProduceDropResponse) {
		return server.Response{Close: true} // the answer is lost, as on a network failure
	}
	if len(waits) == 0 {
		setProduceBrokers(resp, leaders, h.ctrl.Image(), listenerOf(rc.conn))
		return done(resp)
	}
	return later(rc, func() kmsg.Response {
		h.waitProduced(rc, req, waits, &leaders)
		setProduceBrokers(resp, leaders, h.ctrl.Image(), listenerOf(rc.conn))
		return resp
	})
}

// waitProduced waits for the appended records to be committed for the
// request's acks, bounded by its timeout, and records the failures.
func (h *Handler) waitProduced(rc *reqCtx, req *kmsg.ProduceRequest, waits []appended, leaders *hintedLeaders) {
	ctx, cancel := context.WithTimeout(rc.ctx, time.Duration(max(req.TimeoutMillis, 0))*time.Millisecond)
	defer cancel()
	for _, w := range waits {
		if err := w.p.WaitCommitted(ctx, w.next, req.Acks); err != nil {
			w.rp.ErrorCode = errorCode(rc.log, err)
			if hint, ok := hintFor(h.ctrl.Image(), w.p.Topic, w.p.Index, w.rp.ErrorCode, err); ok {
				setProduceHint(req.Version, w.rp, hint, leaders)
			}
		}
	}
}

// setProduceHint puts a KIP-951 leader hint on a partition (v10+).
func setProduceHint(version int16, rp *kmsg.ProduceResponseTopicPartition, hint leaderHint, leaders *hintedLeaders) {
	if version < 10 {
		return
	}
	rp.CurrentLeader.LeaderID, rp.CurrentLeader.LeaderEpoch = hint.Leader, hint.LeaderEpoch
	leaders.add(hint)
}

// setProduceBrokers lists the endpoints of the hinted leaders (v10+; leaders
// is empty below v10).
func setProduceBrokers(resp *kmsg.ProduceResponse, leaders hintedLeaders, img *metadata.Image, listener string) {
	for _, b := range leaders.endpoints(img, listener) {
		rb := kmsg.NewProduceResponseBroker()
		rb.NodeID, rb.Host, rb.Port = b.NodeID, b.Host, b.Port
		if b.Rack != "" {
			rack := b.Rack
			rb.Rack = &rack
		}
		resp.Brokers = append(resp.Brokers, rb)
	}
}
