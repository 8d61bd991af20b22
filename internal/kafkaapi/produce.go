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
// Validation per batch: framing, magic 2, CRC-32C, record count against
// last offset delta (and against the records themselves when uncompressed),
// max.message.bytes, timestamp bounds for CreateTime topics. Compressed
// batches are stored as sent without being decompressed (Kafka decompresses
// to re-validate; we trust the CRC the client computed over its own bytes).
// acks=0 failures close the connection, as Kafka does, so the client notices.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/metadata"
	"github.com/strata-io/strata/internal/partition"
	"github.com/strata-io/strata/internal/record"
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
			rp := kmsg.NewProduceResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode = code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// appended is a partition append waiting to be committed before the answer.
type appended struct {
	p    *partition.Partition
	rp   *kmsg.ProduceResponseTopicPartition
	next int64
}

func (h *Handler) produce(rc *reqCtx, req *kmsg.ProduceRequest) server.Response {
	if req.Acks != 0 && req.Acks != 1 && req.Acks != -1 {
		return done(produceError(req, kerr.InvalidRequiredAcks.Code))
	}
	if req.TransactionID != nil {
		if req.Acks == 0 {
			return server.Response{Close: true}
		}
		return done(produceError(req, kerr.InvalidTxnState.Code))
	}
	now := h.cfg.Now()
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	img := h.ctrl.Image()
	var leaders hintedLeaders // KIP-951: leaders named in hints
	var waits []appended
	failed := false
	for _, t := range req.Topics {
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		rt.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(t.Partitions))
		for i, tp := range t.Partitions {
			rp := &rt.Partitions[i]
			*rp = kmsg.NewProduceResponseTopicPartition()
			rp.Partition = tp.Partition
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
			info, err := h.appendOne(p, tp.Records, now, req.Acks)
			if err != nil {
				rp.ErrorCode = errorCode(rc.log, err)
				if hint, ok := hintFor(img, t.Topic, tp.Partition, rp.ErrorCode, err); ok {
					setProduceHint(req.Version, rp, hint, &leaders)
				}
				if rc.hdr.APIVersion >= 8 {
					msg := err.Error()
					rp.ErrorMessage = &msg
				}
				rp.LogStartOffset = p.Log().LogStartOffset()
				failed = true
				continue
			}
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
		resp.Topics = append(resp.Topics, rt)
	}
	// With fsync before ack, queue every partition's fsync now: they run
	// side by side (and are shared with other requests), and WaitCommitted's
	// own sync joins them instead of syncing partitions one by one.
	for _, w := range waits {
		if w.p.NeedsSync() {
			w.p.Log().SyncAsync(w.next)
		}
	}
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
	if len(waits) == 0 {
		setProduceBrokers(resp, leaders, img)
		return done(resp)
	}
	return later(rc, func() kmsg.Response {
		// The request's own timeout bounds the wait for replication.
		ctx, cancel := context.WithTimeout(rc.ctx, time.Duration(max(req.TimeoutMillis, 0))*time.Millisecond)
		defer cancel()
		for _, w := range waits {
			if err := w.p.WaitCommitted(ctx, w.next, req.Acks); err != nil {
				w.rp.ErrorCode = errorCode(rc.log, err)
				if hint, ok := hintFor(h.ctrl.Image(), w.p.Topic, w.p.Index, w.rp.ErrorCode, err); ok {
					setProduceHint(req.Version, w.rp, hint, &leaders)
				}
			}
		}
		setProduceBrokers(resp, leaders, h.ctrl.Image())
		return resp
	})
}

// maxCompactedDecompressed bounds the memory used to check the keys of one
// compressed batch for a compacted topic.
const maxCompactedDecompressed = 64 << 20

func requireKey(r *record.Record) error {
	if r.Key == nil {
		return errNullKeyCompacted
	}
	return nil
}

// appendOne validates the batches for one partition and appends them.
func (h *Handler) appendOne(p *partition.Partition, records []byte, now time.Time, acks int16) (storage.AppendInfo, error) {
	lim := p.Limits()
	if len(records) == 0 {
		return storage.AppendInfo{}, record.ErrInvalid
	}
	nowMs := now.UnixMilli()
	rest := records
	for len(rest) > 0 {
		b, r, err := record.NextBatch(rest)
		if err != nil {
			return storage.AppendInfo{}, err
		}
		rest = r
		if int64(len(b)) > lim.MaxMessageBytes {
			return storage.AppendInfo{}, errMessageTooLarge
		}
		hdr, err := record.ValidateBatch(b)
		if err != nil {
			return storage.AppendInfo{}, err
		}
		if err := record.ValidateProduced(&hdr); err != nil {
			return storage.AppendInfo{}, err
		}
		if hdr.IsControl() {
			return storage.AppendInfo{}, record.ErrInvalid
		}
		if hdr.IsTransactional() {
			return storage.AppendInfo{}, errTransactional
		}
		switch {
		case lim.Compact:
			// Compaction keeps the last record per key: a record without
			// one cannot be kept, so Kafka refuses it.
			if err := record.Records(b, maxCompactedDecompressed, requireKey); err != nil {
				return storage.AppendInfo{}, err
			}
		case hdr.Codec() == record.CodecNone:
			if err := record.CheckFraming(b); err != nil {
				return storage.AppendInfo{}, err
			}
		}
		if !lim.LogAppendTime && hdr.MaxTimestamp >= 0 {
			if nowMs-hdr.BaseTimestamp > lim.TimestampBeforeMaxMs || hdr.MaxTimestamp-nowMs > lim.TimestampAfterMaxMs {
				return storage.AppendInfo{}, errInvalidTimestamp
			}
		}
	}
	return p.AppendAsLeader(records, now, acks)
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
func setProduceBrokers(resp *kmsg.ProduceResponse, leaders hintedLeaders, img *metadata.Image) {
	for _, b := range leaders.endpoints(img) {
		rb := kmsg.NewProduceResponseBroker()
		rb.NodeID, rb.Host, rb.Port = b.NodeID, b.Host, b.Port
		if b.Rack != "" {
			rack := b.Rack
			rb.Rack = &rack
		}
		resp.Brokers = append(resp.Brokers, rb)
	}
}
