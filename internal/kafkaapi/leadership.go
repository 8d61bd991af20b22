package kafkaapi

import "github.com/strata-io/strata/internal/metadata"

// leads reports whether this node leads topic's partition according to the
// latest metadata image. Replicas that do not lead refuse client produce
// and fetch with NOT_LEADER_OR_FOLLOWER, so a client with stale metadata
// never writes beside the leader.
func (h *Handler) leads(img *metadata.Image, topic string, partition int32) bool {
	t, ok := img.TopicByName(topic)
	if !ok {
		return false
	}
	p, ok := t.Partition(partition)
	return ok && p.Leader == h.cfg.NodeID
}
