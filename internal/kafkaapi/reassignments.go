package kafkaapi

// AlterPartitionReassignments v0-1 (KIP-455; v1 adds
// allowReplicationFactorChange, KIP-860) and ListPartitionReassignments v0.
// Both are served by the active controller (other nodes forward them).
// Null replicas cancel a partition's reassignment. Per-partition
// errors: UNKNOWN_TOPIC_OR_PARTITION, INVALID_REPLICA_ASSIGNMENT,
// NO_REASSIGNMENT_IN_PROGRESS, INVALID_REPLICATION_FACTOR, INVALID_REQUEST.
// The data moves as the new replicas fetch from the leader; the
// reassignment completes when they are all in sync.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/controller"
	"github.com/strata-io/strata/internal/server"
)

func (h *Handler) alterPartitionReassignments(rc *reqCtx, req *kmsg.AlterPartitionAssignmentsRequest) server.Response {
	var reqs []controller.Reassignment
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			reqs = append(reqs, controller.Reassignment{
				Topic: t.Topic, Partition: p.Partition, Replicas: p.Replicas,
				KeepReplicationFactor: req.Version >= 1 && !req.AllowReplicationFactorChange,
			})
		}
	}
	return later(rc, func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
		ctx, cancel := withTimeoutMillis(rc.ctx, req.TimeoutMillis)
		defer cancel()
		results, err := h.ctrl.AlterPartitionReassignments(ctx, reqs)
		if err != nil {
			resp.ErrorCode = errorCode(rc.log, err)
			msg := err.Error()
			resp.ErrorMessage = &msg
			return resp
		}
		i := 0
		for _, t := range req.Topics {
			rt := kmsg.NewAlterPartitionAssignmentsResponseTopic()
			rt.Topic = t.Topic
			for range t.Partitions {
				r := results[i]
				i++
				rp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
				rp.Partition = r.Partition
				rp.ErrorCode, rp.ErrorMessage = resultError(rc, r.Err)
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	})
}

func (h *Handler) listPartitionReassignments(rc *reqCtx, req *kmsg.ListPartitionReassignmentsRequest) server.Response {
	// NB: only the active controller gets here (maybeForward).
	resp := req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	// NB: null topics list every partition; an empty array lists none.
	var topics []controller.TopicPartitions
	if req.Topics != nil {
		topics = make([]controller.TopicPartitions, 0, len(req.Topics))
		for _, t := range req.Topics {
			topics = append(topics, controller.TopicPartitions{Topic: t.Topic, Partitions: t.Partitions})
		}
	}
	byTopic := make(map[string]int)
	for _, r := range h.ctrl.ListPartitionReassignments(topics) {
		i, ok := byTopic[r.Topic]
		if !ok {
			rt := kmsg.NewListPartitionReassignmentsResponseTopic()
			rt.Topic = r.Topic
			resp.Topics = append(resp.Topics, rt)
			i = len(resp.Topics) - 1
			byTopic[r.Topic] = i
		}
		rp := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
		rp.Partition, rp.Replicas, rp.AddingReplicas, rp.RemovingReplicas = r.Partition, r.Replicas, r.AddingReplicas, r.RemovingReplicas
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, rp)
	}
	return done(resp)
}
