package kafkaapi

// ElectLeaders v0-v2 (KIP-183, KIP-460).
//   v0: preferred elections only. v1 (KIP-460): election type (0 preferred,
//   1 unclean) and a top-level error code. v2: flexible.
// Null topics elect every partition; then, as in Kafka, partitions whose
// election was not needed are left out of the answer. Per-partition errors:
// ELECTION_NOT_NEEDED, PREFERRED_LEADER_NOT_AVAILABLE,
// ELIGIBLE_LEADERS_NOT_AVAILABLE, UNKNOWN_TOPIC_OR_PARTITION. The request is
// served by the active controller; other nodes forward it (forward.go). A
// failure of the whole request (NOT_CONTROLLER during an election) is
// answered top-level from v1, and on every listed partition as Kafka's
// error response does.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/controller"
	"github.com/strata-io/strata/internal/server"
)

func (h *Handler) electLeaders(rc *reqCtx, req *kmsg.ElectLeadersRequest) server.Response {
	typ := controller.ElectionPreferred
	if req.Version >= 1 {
		typ = controller.ElectionType(req.ElectionType)
	}
	// NB: null topics (nil) mean every partition; an empty array means none.
	var topics []controller.TopicPartitions
	if req.Topics != nil {
		topics = make([]controller.TopicPartitions, 0, len(req.Topics))
		for _, t := range req.Topics {
			topics = append(topics, controller.TopicPartitions{Topic: t.Topic, Partitions: t.Partitions})
		}
	}
	return later(rc, func() kmsg.Response {
		ctx, cancel := withTimeoutMillis(rc.ctx, req.TimeoutMillis)
		defer cancel()
		results, err := h.ctrl.ElectLeaders(ctx, typ, topics)
		if err != nil {
			return electLeadersError(req, errorCode(rc.log, err), err.Error())
		}
		resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
		byTopic := make(map[string]int) // topic -> index in resp.Topics
		for _, r := range results {
			i, ok := byTopic[r.Topic]
			if !ok {
				rt := kmsg.NewElectLeadersResponseTopic()
				rt.Topic = r.Topic
				resp.Topics = append(resp.Topics, rt)
				i = len(resp.Topics) - 1
				byTopic[r.Topic] = i
			}
			rp := kmsg.NewElectLeadersResponseTopicPartition()
			rp.Partition = r.Partition
			if r.Err != nil {
				rp.ErrorCode = errorCode(rc.log, r.Err)
				msg := r.Err.Error()
				rp.ErrorMessage = &msg
			}
			resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, rp)
		}
		return resp
	})
}

// electLeadersError answers a request that failed as a whole: the code at
// the top level (v1+) and on every partition the request named.
func electLeadersError(req *kmsg.ElectLeadersRequest, code int16, msg string) *kmsg.ElectLeadersResponse {
	resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
	resp.ErrorCode = code
	for _, t := range req.Topics {
		rt := kmsg.NewElectLeadersResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewElectLeadersResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p, code
			m := msg
			rp.ErrorMessage = &m
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
