package group

// Heartbeat v0-v4.
//   v3 (KIP-345): group instance id. v4: flexible.
// Deliberate as Kafka: while the shard loads, heartbeats are answered NONE
// (not COORDINATOR_LOAD_IN_PROGRESS) so members keep their assignment
// instead of rejoining.

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Heartbeat keeps a member's session alive and tells it when a rebalance
// started.
func (c *Coordinator) Heartbeat(ctx context.Context, req *kmsg.HeartbeatRequest) *kmsg.HeartbeatResponse {
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	if req.Group == "" {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp
	}
	s, err := c.shardFor(req.Group)
	if errors.Is(err, ErrLoadInProgress) {
		return resp
	}
	if err != nil {
		resp.ErrorCode = statusCode(err).Code
		return resp
	}
	code, err := call(ctx, s, func(reply func(*kerr.Error)) { reply(s.heartbeat(req)) })
	if err != nil {
		resp.ErrorCode = statusCode(err).Code
		return resp
	}
	if code != nil {
		resp.ErrorCode = code.Code
	}
	return resp
}

func (s *shard) heartbeat(req *kmsg.HeartbeatRequest) *kerr.Error {
	g := s.classicGroup(req.Group)
	if g == nil {
		return kerr.UnknownMemberID
	}
	if g.state == stateDead {
		return kerr.CoordinatorNotAvailable
	}
	if err := g.validateMember(req.MemberID, req.InstanceID); err != nil {
		return err
	}
	if req.Generation != g.generation {
		return kerr.IllegalGeneration
	}
	m := g.members[req.MemberID]
	switch g.state {
	case stateEmpty:
		return kerr.UnknownMemberID
	case statePreparingRebalance:
		s.scheduleHeartbeat(g, m, m.sessionTimeout())
		return kerr.RebalanceInProgress
	default: // CompletingRebalance (members may heartbeat before syncing), Stable
		s.scheduleHeartbeat(g, m, m.sessionTimeout())
		return nil
	}
}
