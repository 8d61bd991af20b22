package kafkaapi

// Leader hints (KIP-951) for Produce v10+ and Fetch v12+: a partition
// answered NOT_LEADER_OR_FOLLOWER or FENCED_LEADER_EPOCH carries the leader
// and leader epoch this broker knows of, and the response lists the
// endpoints of those leaders (Produce v10+, Fetch v16+), so a client can
// redirect without a Metadata round trip. The hint comes from the metadata
// image when it knows the partition, since the image is at least as new as
// any partition's applied state, else from the partition's NotLeaderError.

import (
	"errors"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/strata-io/strata/internal/metadata"
	"github.com/strata-io/strata/internal/partition"
)

// leaderHint is a partition's current leader for a KIP-951 answer.
type leaderHint struct {
	Leader      int32 // -1 when none is known
	LeaderEpoch int32
}

// hintFor returns the leader hint for topic-index answered with code
// after err, and false when code is not one KIP-951 answers with a hint.
func hintFor(img *metadata.Image, topic string, index int32, code int16, err error) (leaderHint, bool) {
	if code != kerr.NotLeaderForPartition.Code && code != kerr.FencedLeaderEpoch.Code {
		return leaderHint{}, false
	}
	hint := leaderHint{Leader: -1, LeaderEpoch: -1}
	var nle *partition.NotLeaderError
	if errors.As(err, &nle) {
		hint = leaderHint{Leader: nle.Leader, LeaderEpoch: nle.LeaderEpoch}
	}
	if t, ok := img.TopicByName(topic); ok {
		if pi, ok := t.Partition(index); ok && pi.LeaderEpoch >= hint.LeaderEpoch {
			hint = leaderHint{Leader: pi.Leader, LeaderEpoch: pi.LeaderEpoch}
		}
	}
	return hint, true
}

// knownElsewhere reports whether the image has topic-index although this
// broker does not host it: Kafka then answers NOT_LEADER_OR_FOLLOWER rather
// than UNKNOWN_TOPIC_OR_PARTITION, and the hint names the leader.
func knownElsewhere(img *metadata.Image, topic string, index int32) (leaderHint, bool) {
	t, ok := img.TopicByName(topic)
	if !ok {
		return leaderHint{}, false
	}
	pi, ok := t.Partition(index)
	if !ok {
		return leaderHint{}, false
	}
	return leaderHint{Leader: pi.Leader, LeaderEpoch: pi.LeaderEpoch}, true
}

// notHostedCode is the error for a partition this broker does not host:
// NOT_LEADER_OR_FOLLOWER when the image knows it (led elsewhere), else
// UNKNOWN_TOPIC_OR_PARTITION, for the APIs that carry no leader hint.
func notHostedCode(img *metadata.Image, topic string, index int32) int16 {
	if _, known := knownElsewhere(img, topic, index); known {
		return kerr.NotLeaderForPartition.Code
	}
	return kerr.UnknownTopicOrPartition.Code
}

// hintedLeaders collects the distinct leaders named in hints, in ascending
// order, for the response's endpoint list.
type hintedLeaders []int32

func (l *hintedLeaders) add(h leaderHint) {
	if h.Leader < 0 || slices.Contains(*l, h.Leader) {
		return
	}
	*l = append(*l, h.Leader)
	slices.Sort(*l)
}

// endpoints returns the registrations of the leaders the image knows.
func (l hintedLeaders) endpoints(img *metadata.Image, listener string) []brokerEndpoint {
	var out []brokerEndpoint
	for _, id := range l {
		if b, ok := img.Broker(id); ok {
			if e, ok := clientEndpoint(b, listener); ok {
				out = append(out, e)
			}
		}
	}
	return out
}
