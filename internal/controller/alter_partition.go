package controller

import (
	"context"
	"fmt"
	"slices"

	"github.com/strata-io/strata/internal/metadata"
)

// AlterPartitionRequest is a partition leader's request to change ISRs
// (AlterPartition, KIP-497).
type AlterPartitionRequest struct {
	BrokerID    int32
	BrokerEpoch int64
	Topics      []AlterPartitionTopic
}

// AlterPartitionTopic holds the partitions of one topic.
type AlterPartitionTopic struct {
	TopicID    metadata.UUID
	Partitions []AlterPartitionData
}

// AlterPartitionData is the leader's proposed ISR for one partition.
type AlterPartitionData struct {
	Partition int32
	// LeaderEpoch and PartitionEpoch are the leader's view of the state it
	// changes.
	LeaderEpoch    int32
	PartitionEpoch int32
	NewISR         []int32
	// NewISRBrokerEpochs, if set, has the broker epoch of each NewISR
	// member as the leader saw it; a member whose registration has another
	// epoch is ineligible (KIP-903). Nil skips the check.
	NewISRBrokerEpochs []int64
}

// AlterPartitionTopicResult holds the per-partition outcomes of one topic,
// in request order.
type AlterPartitionTopicResult struct {
	TopicID    metadata.UUID
	Partitions []AlterPartitionResult
}

// AlterPartitionResult is the partition's state after the request, or Err.
type AlterPartitionResult struct {
	Partition      int32
	Err            error
	Leader         int32
	LeaderEpoch    int32
	ISR            []int32
	PartitionEpoch int32
}

// AlterPartition validates each proposed ISR and applies the valid ones in
// one batch, each as a PartitionRecord with PartitionEpoch+1. Per
// partition errors: ErrUnknownTopicID, ErrUnknownTopicOrPartition,
// ErrFencedLeaderEpoch (stale leader epoch), ErrNotLeaderOrFollower (the
// sender is not the leader, or knows a newer leader epoch than the
// controller), ErrInvalidUpdateVersion (stale partition epoch),
// ErrIneligibleReplica (a member is unregistered, fenced, in controlled
// shutdown, or has another broker epoch), ErrInvalidRequest (empty ISR,
// duplicates, non-replicas, or the leader missing). A proposed ISR equal
// to the current one changes nothing and returns the current state.
//
// The returned error is request-wide: ErrNotController,
// ErrBrokerNotRegistered, ErrStaleBrokerEpoch, or a quorum failure.
func (c *Controller) AlterPartition(ctx context.Context, req AlterPartitionRequest) ([]AlterPartitionTopicResult, error) {
	var results []AlterPartitionTopicResult
	var opErr error
	if err := c.do(ctx, func(ctx context.Context) {
		results, opErr = c.alterPartition(ctx, req)
	}); err != nil {
		return nil, err
	}
	if opErr != nil {
		return nil, opErr
	}
	return results, nil
}

func (c *Controller) alterPartition(ctx context.Context, req AlterPartitionRequest) ([]AlterPartitionTopicResult, error) {
	img, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	b, ok := img.Broker(req.BrokerID)
	if !ok {
		return nil, fmt.Errorf("%w: broker %d", ErrBrokerNotRegistered, req.BrokerID)
	}
	if b.BrokerEpoch != req.BrokerEpoch {
		return nil, fmt.Errorf("%w: broker %d sent epoch %d, its registration has %d", ErrStaleBrokerEpoch, req.BrokerID, req.BrokerEpoch, b.BrokerEpoch)
	}
	results := make([]AlterPartitionTopicResult, len(req.Topics))
	var recs []metadata.Record
	// applied points at the results whose state comes from recs.
	type pending struct{ ti, pi int }
	var applied []pending
	seen := map[metadata.UUID]map[int32]bool{}
	for ti, rt := range req.Topics {
		results[ti] = AlterPartitionTopicResult{TopicID: rt.TopicID, Partitions: make([]AlterPartitionResult, len(rt.Partitions))}
		t, ok := img.TopicByID(rt.TopicID)
		for pi, rp := range rt.Partitions {
			res := &results[ti].Partitions[pi]
			res.Partition = rp.Partition
			if !ok {
				res.Err = fmt.Errorf("%w: %s", ErrUnknownTopicID, rt.TopicID)
				continue
			}
			if seen[rt.TopicID] == nil {
				seen[rt.TopicID] = map[int32]bool{}
			}
			if seen[rt.TopicID][rp.Partition] {
				res.Err = fmt.Errorf("%w: partition %d of topic %q is listed more than once", ErrInvalidRequest, rp.Partition, t.Name)
				continue
			}
			seen[rt.TopicID][rp.Partition] = true
			cur, ok := t.Partition(rp.Partition)
			if !ok {
				res.Err = fmt.Errorf("%w: partition %d of topic %q", ErrUnknownTopicOrPartition, rp.Partition, t.Name)
				continue
			}
			next, err := c.checkAlterPartition(img, req.BrokerID, cur, rp, c.electionBase(img, t))
			if err != nil {
				res.Err = fmt.Errorf("topic %q partition %d: %w", t.Name, rp.Partition, err)
				continue
			}
			setResult(res, next)
			if next.PartitionEpoch != cur.PartitionEpoch {
				recs = append(recs, partitionRecord(t.ID, next))
				applied = append(applied, pending{ti, pi})
				c.logger.Info("ISR changed", "topic", t.Name, "partition", next.Partition, "leader", next.Leader,
					"isr", next.ISR, "previous_isr", cur.ISR, "partition_epoch", next.PartitionEpoch)
				if cur.Reassigning() && !next.Reassigning() {
					c.logger.Info("partition reassignment completed", "topic", t.Name, "partition", next.Partition,
						"replicas", next.Replicas, "leader", next.Leader, "leader_epoch", next.LeaderEpoch)
				}
			}
		}
	}
	if len(recs) > 0 {
		if err := c.propose(ctx, recs); err != nil {
			for _, a := range applied {
				res := &results[a.ti].Partitions[a.pi]
				*res = AlterPartitionResult{Partition: res.Partition, Err: err}
			}
		}
	}
	return results, nil
}

func setResult(res *AlterPartitionResult, p metadata.PartitionInfo) {
	res.Leader, res.LeaderEpoch, res.ISR, res.PartitionEpoch = p.Leader, p.LeaderEpoch, slices.Clone(p.ISR), p.PartitionEpoch
}

// checkAlterPartition validates one proposed ISR against the partition's
// current state and returns the next state (cur itself when the ISR does
// not change). With eligible leader replicas (ch.elr), members that leave
// an ISR below ch.minISR join the ELR, and an ISR back at minISR clears
// it (KIP-966).
func (c *Controller) checkAlterPartition(img *metadata.Image, brokerID int32, cur metadata.PartitionInfo, rp AlterPartitionData, ch partitionChange) (metadata.PartitionInfo, error) {
	switch {
	case rp.LeaderEpoch < cur.LeaderEpoch:
		return cur, fmt.Errorf("%w: leader epoch %d, the partition is at %d", ErrFencedLeaderEpoch, rp.LeaderEpoch, cur.LeaderEpoch)
	case cur.Leader != brokerID:
		return cur, fmt.Errorf("%w: broker %d, the leader is %d", ErrNotLeaderOrFollower, brokerID, cur.Leader)
	case rp.LeaderEpoch > cur.LeaderEpoch:
		return cur, fmt.Errorf("%w: leader epoch %d is newer than the controller's %d", ErrNotLeaderOrFollower, rp.LeaderEpoch, cur.LeaderEpoch)
	case rp.PartitionEpoch != cur.PartitionEpoch:
		return cur, fmt.Errorf("%w: partition epoch %d, the partition is at %d", ErrInvalidUpdateVersion, rp.PartitionEpoch, cur.PartitionEpoch)
	case len(rp.NewISR) == 0:
		return cur, fmt.Errorf("%w: empty ISR", ErrInvalidRequest)
	case rp.NewISRBrokerEpochs != nil && len(rp.NewISRBrokerEpochs) != len(rp.NewISR):
		return cur, fmt.Errorf("%w: %d broker epochs for %d ISR members", ErrInvalidRequest, len(rp.NewISRBrokerEpochs), len(rp.NewISR))
	case !slices.Contains(rp.NewISR, cur.Leader):
		return cur, fmt.Errorf("%w: the ISR %v leaves out the leader %d", ErrInvalidRequest, rp.NewISR, cur.Leader)
	}
	for i, r := range rp.NewISR {
		if slices.Contains(rp.NewISR[:i], r) {
			return cur, fmt.Errorf("%w: the ISR lists broker %d twice", ErrInvalidRequest, r)
		}
		if !slices.Contains(cur.Replicas, r) {
			return cur, fmt.Errorf("%w: broker %d in the ISR is not a replica (%v)", ErrInvalidRequest, r, cur.Replicas)
		}
		b, ok := img.Broker(r)
		switch {
		case !ok:
			return cur, fmt.Errorf("%w: broker %d is not registered", ErrIneligibleReplica, r)
		case b.Fenced:
			return cur, fmt.Errorf("%w: broker %d is fenced", ErrIneligibleReplica, r)
		case b.InControlledShutdown && r != cur.Leader:
			return cur, fmt.Errorf("%w: broker %d is in controlled shutdown", ErrIneligibleReplica, r)
		case rp.NewISRBrokerEpochs != nil && rp.NewISRBrokerEpochs[i] >= 0 && rp.NewISRBrokerEpochs[i] != b.BrokerEpoch:
			return cur, fmt.Errorf("%w: broker %d has epoch %d, not %d", ErrIneligibleReplica, r, b.BrokerEpoch, rp.NewISRBrokerEpochs[i])
		}
	}
	if slices.Equal(rp.NewISR, cur.ISR) {
		return cur, nil
	}
	next := cur
	next.ISR = slices.Clone(rp.NewISR)
	elr, _ := targetELR(cur, next.ISR, ch)
	// The partition keeps its leader, so no last known leader is kept.
	next.ELR, next.LastKnownELR = nilIfEmpty(slices.Clone(elr)), nil
	// The ISR may now hold every target replica of a reassignment.
	next = completeReassignment(next, eligibleIn(img))
	next.ELR = nilIfEmpty(slices.DeleteFunc(next.ELR, func(r int32) bool { return !slices.Contains(next.Replicas, r) }))
	if next.Leader != cur.Leader {
		next.LeaderEpoch++
	}
	next.PartitionEpoch++
	return next, nil
}
