package kafkaapi

// ListOffsets v1-v9.
//   v1: one offset per partition with its timestamp. v2: isolation level.
//   v4 (KIP-320): current leader epoch in, leader epoch out. v6: flexible.
//   v7 (KIP-734): timestamp -3 = the record with the largest timestamp.
//   v8 (KIP-405): -4 = earliest local offset (the log start offset here:
//   there is no tiered storage). v9 (KIP-1005): -5 = latest tiered offset,
//   answered -1 because nothing is tiered.
// Special timestamps: -1 latest (the high watermark, or the last stable
// offset for read_committed, equal without transactions), -2 earliest.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/acl"
	"github.com/strata-io/strata/internal/server"
)

func (h *Handler) listOffsets(rc *reqCtx, req *kmsg.ListOffsetsRequest) server.Response {
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewListOffsetsResponseTopic()
		rt.Topic = t.Topic
		described := h.allowed(rc, acl.OpDescribe, acl.ResourceTopic, t.Topic)
		for _, tp := range t.Partitions {
			rp := kmsg.NewListOffsetsResponseTopicPartition()
			rp.Partition = tp.Partition
			rp.Timestamp, rp.Offset, rp.LeaderEpoch = -1, -1, -1
			if !described {
				rp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				rt.Partitions = append(rt.Partitions, rp)
				continue
			}
			p, ok := h.partitions.Get(t.Topic, tp.Partition)
			if !ok {
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				rt.Partitions = append(rt.Partitions, rp)
				continue
			}
			if !p.IsLeader() {
				rp.ErrorCode = kerr.NotLeaderForPartition.Code
				rt.Partitions = append(rt.Partitions, rp)
				continue
			}
			if err := p.CheckLeaderEpoch(tp.CurrentLeaderEpoch); err != nil {
				rp.ErrorCode = errorCode(rc.log, err)
				rt.Partitions = append(rt.Partitions, rp)
				continue
			}
			log := p.Log()
			// Offsets a consumer may fetch: below the high watermark, or
			// with read_committed below the last stable offset (v2+).
			fetchable := p.HighWatermark()
			if req.Version >= 2 && req.IsolationLevel == 1 {
				fetchable = log.LastStableOffset(fetchable)
			}
			switch tp.Timestamp {
			case -1: // latest
				rp.Offset, rp.LeaderEpoch = fetchable, p.LeaderEpoch()
			case -2, -4: // earliest, earliest local
				// The epoch stays -1 (unknown): clients then skip
				// truncation checks for this position, which is safe.
				rp.Offset = log.LogStartOffset()
			case -3: // max timestamp
				if off, ts, epoch := log.MaxTimestamp(); off >= 0 && off < fetchable {
					rp.Offset, rp.Timestamp, rp.LeaderEpoch = off, ts, epoch
				}
			case -5: // latest tiered: nothing is tiered
			default:
				if tp.Timestamp < 0 {
					rp.ErrorCode = kerr.InvalidRequest.Code
					break
				}
				off, ts, epoch, found, err := log.OffsetForTimestamp(tp.Timestamp)
				if err != nil {
					rp.ErrorCode = errorCode(rc.log, err)
				} else if found && off < fetchable {
					rp.Offset, rp.Timestamp, rp.LeaderEpoch = off, ts, epoch
				}
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return done(resp)
}
