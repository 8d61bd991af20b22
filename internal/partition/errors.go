package partition

import (
	"errors"
	"fmt"
)

// Errors for the API layer.
var (
	// ErrNotLeader: a leader-only call on a follower (NOT_LEADER_OR_FOLLOWER).
	// Returned as a *NotLeaderError, which carries the leader hint.
	ErrNotLeader = errors.New("not leader for partition")
	// ErrNotFollower: a follower-only call (follower append, truncation) on
	// the leader; the fetcher's view is stale.
	ErrNotFollower = errors.New("partition is led by this broker")
	// ErrNotEnoughReplicas: an acks=all append while the ISR is smaller than
	// min.insync.replicas; nothing was appended.
	ErrNotEnoughReplicas = errors.New("not enough in-sync replicas")
	// ErrNotEnoughReplicasAfterAppend: the records were appended and
	// replicated to the ISR, but the ISR had shrunk below
	// min.insync.replicas by then.
	ErrNotEnoughReplicasAfterAppend = errors.New("not enough in-sync replicas after append")
	// ErrFencedLeaderEpoch: the caller's leader epoch is older than ours.
	ErrFencedLeaderEpoch = errors.New("fenced leader epoch")
	// ErrUnknownLeaderEpoch: the caller's leader epoch is newer than ours.
	ErrUnknownLeaderEpoch = errors.New("unknown leader epoch")
)

// NotLeaderError is ErrNotLeader with the leader this broker knows of, for
// the KIP-951 hints in Produce and Fetch responses.
type NotLeaderError struct {
	Leader      int32 // -1 if none
	LeaderEpoch int32
}

func (e *NotLeaderError) Error() string {
	return fmt.Sprintf("%v (leader %d, leader epoch %d)", ErrNotLeader, e.Leader, e.LeaderEpoch)
}

// Is makes errors.Is(err, ErrNotLeader) hold.
func (e *NotLeaderError) Is(target error) bool { return target == ErrNotLeader }
