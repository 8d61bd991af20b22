package kafkaapi

// DeleteRecords v0-2.
//   v1: no change. v2: flexible.
// Raises each partition's log start offset on its leader (offset -1: the
// high watermark) and answers once every follower on a live broker has
// raised its own (the low watermark, learned from their fetches), or
// REQUEST_TIMED_OUT with the low watermark so far after timeout_ms, as
// Kafka's delayed DeleteRecords does. OFFSET_OUT_OF_RANGE above the high
// watermark, POLICY_VIOLATION on a topic without cleanup.policy=delete,
// NOT_LEADER_OR_FOLLOWER on a follower or a broker that does not host the
// partition but knows it, UNKNOWN_TOPIC_OR_PARTITION otherwise.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/acl"
	"github.com/strata-io/strata/internal/partition"
	"github.com/strata-io/strata/internal/server"
)

func (h *Handler) deleteRecords(rc *reqCtx, req *kmsg.DeleteRecordsRequest) server.Response {
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	img := h.ctrl.Image()
	type waiting struct {
		p    *partition.Partition
		rp   *kmsg.DeleteRecordsResponseTopicPartition
		want int64
	}
	var waits []waiting
	for _, t := range req.Topics {
		rt := kmsg.NewDeleteRecordsResponseTopic()
		rt.Topic = t.Topic
		rt.Partitions = make([]kmsg.DeleteRecordsResponseTopicPartition, len(t.Partitions))
		deletable := h.allowed(rc, acl.OpDelete, acl.ResourceTopic, t.Topic)
		for i, tp := range t.Partitions {
			rp := &rt.Partitions[i]
			*rp = kmsg.NewDeleteRecordsResponseTopicPartition()
			rp.Partition, rp.LowWatermark = tp.Partition, -1
			if !deletable {
				rp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				continue
			}
			p, ok := h.partitions.Get(t.Topic, tp.Partition)
			if !ok {
				rp.ErrorCode = notHostedCode(img, t.Topic, tp.Partition)
				continue
			}
			want, err := p.DeleteRecordsBefore(tp.Offset)
			if err != nil {
				rp.ErrorCode = errorCode(rc.log, err)
				continue
			}
			waits = append(waits, waiting{p: p, rp: rp, want: want})
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if len(waits) == 0 {
		return done(resp)
	}
	// NB: resp.Topics is not appended to below; the pointers into it stay valid.
	return later(rc, func() kmsg.Response {
		// NB: timeout_ms 0 does not wait: the partitions whose followers
		// have not caught up get REQUEST_TIMED_OUT at once, as in Kafka.
		ctx, cancel := context.WithTimeout(rc.ctx, time.Duration(max(req.TimeoutMillis, 0))*time.Millisecond)
		defer cancel()
		for _, w := range waits {
			low, err := w.p.WaitLowWatermark(ctx, w.want)
			w.rp.LowWatermark = low
			if err != nil {
				w.rp.ErrorCode = errorCode(rc.log, err)
			}
		}
		return resp
	})
}
