package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/strata-io/strata/internal/metadata"
)

// ErrNoReassignmentInProgress: a cancellation named a partition that is not
// being reassigned.
var ErrNoReassignmentInProgress = errors.New("no reassignment in progress")

// Reassignment asks for one partition to move to Replicas
// (AlterPartitionReassignments, KIP-455). Nil Replicas cancels the
// partition's ongoing reassignment.
type Reassignment struct {
	Topic     string
	Partition int32
	Replicas  []int32
	// KeepReplicationFactor refuses a target whose size differs from the
	// original replica count with ErrInvalidReplicationFactor (KIP-860's
	// allowReplicationFactorChange=false).
	KeepReplicationFactor bool
}

// ReassignmentResult is the outcome for one partition; Err is nil when the
// reassignment was started, completed at once, or cancelled.
type ReassignmentResult struct {
	Topic     string
	Partition int32
	Err       error
}

// OngoingReassignment is a partition being reassigned
// (ListPartitionReassignments).
type OngoingReassignment struct {
	Topic     string
	Partition int32
	// Replicas is the current replica set: the target replicas first, then
	// the replicas being removed.
	Replicas         []int32
	AddingReplicas   []int32
	RemovingReplicas []int32
}

// AlterPartitionReassignments starts, replaces or cancels reassignments,
// all in one batch. A partition moving to target replicas T from original
// replicas O gets Replicas = T followed by O−T, AddingReplicas = T−O and
// RemovingReplicas = O−T: the leader keeps serving while the new replicas
// fetch, and once every replica of T is in the ISR (the leader's
// AlterPartition expanding the ISR, or at once when T's replicas are
// already in sync) the partition moves to Replicas = T, ISR ∩ T, with a
// new leader from T if the old one is not in T. A new request for a
// partition being reassigned replaces the target; nil cancels, going back
// to O.
//
// Per partition errors: ErrUnknownTopicOrPartition,
// ErrInvalidReplicaAssignment (empty, duplicates, unregistered brokers, or
// a change that would leave no in-sync replica), ErrNoReassignmentInProgress
// (cancelling an idle partition), ErrInvalidRequest (a partition listed
// twice), ErrInvalidReplicationFactor (see KeepReplicationFactor). The returned error is request-wide (ErrNotController, quorum
// failures).
func (c *Controller) AlterPartitionReassignments(ctx context.Context, reqs []Reassignment) ([]ReassignmentResult, error) {
	var results []ReassignmentResult
	if err := c.doAdmin(ctx, func(ctx context.Context) {
		results = c.alterPartitionReassignments(ctx, reqs)
	}); err != nil {
		return nil, err
	}
	return results, nil
}

func (c *Controller) alterPartitionReassignments(ctx context.Context, reqs []Reassignment) []ReassignmentResult {
	results := make([]ReassignmentResult, len(reqs))
	img, err := c.begin(ctx)
	if err != nil {
		for i, r := range reqs {
			results[i] = ReassignmentResult{Topic: r.Topic, Partition: r.Partition, Err: err}
		}
		return results
	}
	type key struct {
		topic     string
		partition int32
	}
	seen := make(map[key]bool, len(reqs))
	var recs []metadata.Record
	var applied []int
	e := eligibleIn(img)
	for i, r := range reqs {
		res := &results[i]
		res.Topic, res.Partition = r.Topic, r.Partition
		k := key{r.Topic, r.Partition}
		if seen[k] {
			res.Err = fmt.Errorf("%w: partition %d of topic %q is listed more than once", ErrInvalidRequest, r.Partition, r.Topic)
			continue
		}
		seen[k] = true
		if len(recs) >= maxPartitionsPerRequest {
			res.Err = fmt.Errorf("%w: more than %d partitions in one request", ErrInvalidRequest, maxPartitionsPerRequest)
			continue
		}
		t, ok := img.TopicByName(r.Topic)
		if !ok {
			res.Err = fmt.Errorf("%w: topic %q", ErrUnknownTopicOrPartition, r.Topic)
			continue
		}
		cur, ok := t.Partition(r.Partition)
		if !ok {
			res.Err = fmt.Errorf("%w: partition %d of topic %q", ErrUnknownTopicOrPartition, r.Partition, r.Topic)
			continue
		}
		if r.KeepReplicationFactor && r.Replicas != nil && len(r.Replicas) != len(cur.OriginalReplicas()) {
			res.Err = fmt.Errorf("%w: topic %q partition %d has %d replicas, the target %d, and the request does not allow a change",
				ErrInvalidReplicationFactor, r.Topic, r.Partition, len(cur.OriginalReplicas()), len(r.Replicas))
			continue
		}
		next, err := reassign(img, cur, r.Replicas, e)
		if err != nil {
			res.Err = fmt.Errorf("topic %q partition %d: %w", r.Topic, r.Partition, err)
			continue
		}
		if next.PartitionEpoch == cur.PartitionEpoch {
			continue // already there
		}
		recs = append(recs, partitionRecord(t.ID, next))
		applied = append(applied, i)
		c.logger.Info("partition reassignment", "topic", t.Name, "partition", next.Partition,
			"target", next.TargetReplicas(), "replicas", next.Replicas, "adding", next.AddingReplicas,
			"removing", next.RemovingReplicas, "leader", next.Leader, "isr", next.ISR)
	}
	if len(recs) > 0 {
		if err := c.propose(ctx, recs); err != nil {
			for _, i := range applied {
				results[i].Err = err
			}
		}
	}
	return results
}

// reassign returns cur moved towards target (nil: back to the original
// replicas), completed at once if target's replicas are all in the ISR.
// The result equals cur when nothing changes.
func reassign(img *metadata.Image, cur metadata.PartitionInfo, target []int32, e eligibility) (metadata.PartitionInfo, error) {
	orig := cur.OriginalReplicas()
	if target == nil {
		if !cur.Reassigning() {
			return cur, ErrNoReassignmentInProgress
		}
		target = orig
	}
	if len(target) == 0 {
		return cur, fmt.Errorf("%w: no replicas", ErrInvalidReplicaAssignment)
	}
	for i, id := range target {
		if slices.Contains(target[:i], id) {
			return cur, fmt.Errorf("%w: broker %d is listed twice", ErrInvalidReplicaAssignment, id)
		}
		if _, ok := img.Broker(id); !ok {
			return cur, fmt.Errorf("%w: broker %d is not registered", ErrInvalidReplicaAssignment, id)
		}
	}
	next := cur
	next.Replicas = slices.Clone(target)
	next.AddingReplicas, next.RemovingReplicas = nil, nil
	for _, id := range target {
		if !slices.Contains(orig, id) {
			next.AddingReplicas = append(next.AddingReplicas, id)
		}
	}
	for _, id := range orig {
		if !slices.Contains(target, id) {
			next.Replicas = append(next.Replicas, id)
			next.RemovingReplicas = append(next.RemovingReplicas, id)
		}
	}
	// Replicas of a replaced reassignment that are no longer wanted leave
	// the ISR.
	next.ISR = slices.DeleteFunc(slices.Clone(cur.ISR), func(id int32) bool { return !slices.Contains(next.Replicas, id) })
	if len(next.ISR) == 0 {
		return cur, fmt.Errorf("%w: no in-sync replica would remain (ISR %v)", ErrInvalidReplicaAssignment, cur.ISR)
	}
	next = completeReassignment(next, e)
	if slices.Equal(next.Replicas, cur.Replicas) && slices.Equal(next.ISR, cur.ISR) && next.Leader == cur.Leader &&
		slices.Equal(next.AddingReplicas, cur.AddingReplicas) && slices.Equal(next.RemovingReplicas, cur.RemovingReplicas) {
		return cur, nil
	}
	if next.Leader != cur.Leader {
		next.LeaderEpoch = cur.LeaderEpoch + 1
	}
	next.PartitionEpoch = cur.PartitionEpoch + 1
	return next, nil
}

// completeReassignment finishes p's reassignment when every target replica
// is in the ISR: the removed replicas leave Replicas and the ISR, and if
// the leader is not a target replica (or cannot lead), the first eligible
// target replica in the ISR leads (-1 if none). It does not touch the
// epochs; p is returned unchanged when there is nothing to complete.
func completeReassignment(p metadata.PartitionInfo, e eligibility) metadata.PartitionInfo {
	if !p.Reassigning() {
		return p
	}
	target := p.TargetReplicas()
	for _, id := range target {
		if !slices.Contains(p.ISR, id) {
			return p
		}
	}
	next := p
	next.Replicas = slices.Clone(target)
	next.ISR = slices.DeleteFunc(slices.Clone(p.ISR), func(id int32) bool { return !slices.Contains(target, id) })
	next.AddingReplicas, next.RemovingReplicas = nil, nil
	if !slices.Contains(next.ISR, p.Leader) || !e.ok(p.Leader) {
		next.Leader = -1
		for _, id := range next.Replicas {
			if slices.Contains(next.ISR, id) && e.ok(id) {
				next.Leader = id
				break
			}
		}
	}
	return next
}

// ListPartitionReassignments lists ongoing reassignments of the given
// partitions (nil: every partition), by topic name and partition. Unknown
// topics and partitions are skipped, as Kafka does. It reads this node's
// metadata image; only the active controller's image is sure to be current.
func (c *Controller) ListPartitionReassignments(topics []TopicPartitions) []OngoingReassignment {
	img := c.Image()
	var out []OngoingReassignment
	add := func(t *metadata.Topic, p metadata.PartitionInfo) {
		if p.Reassigning() {
			out = append(out, OngoingReassignment{
				Topic: t.Name, Partition: p.Partition, Replicas: slices.Clone(p.Replicas),
				AddingReplicas: slices.Clone(p.AddingReplicas), RemovingReplicas: slices.Clone(p.RemovingReplicas),
			})
		}
	}
	if topics == nil {
		for _, t := range img.Topics() {
			for _, p := range t.Partitions {
				add(t, p)
			}
		}
		return out
	}
	for _, tp := range topics {
		t, ok := img.TopicByName(tp.Topic)
		if !ok {
			continue
		}
		for _, i := range tp.Partitions {
			if p, ok := t.Partition(i); ok {
				add(t, p)
			}
		}
	}
	return out
}
