package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/strata-io/strata/internal/metadata"
)

// ElectionType is ElectLeaders' election type, numbered as Kafka's
// (KIP-460).
type ElectionType int8

const (
	ElectionPreferred ElectionType = 0
	ElectionUnclean   ElectionType = 1
)

// TopicPartitions names partitions of a topic by name.
type TopicPartitions struct {
	Topic      string
	Partitions []int32
}

// ElectLeadersResult is the outcome for one partition.
type ElectLeadersResult struct {
	Topic     string
	Partition int32
	// Err is nil when a new leader was elected.
	Err error
}

// ElectLeaders runs elections for the given partitions (nil: every
// partition), all changes in one batch (KIP-460):
//
//   - preferred: the first replica leads if it is in the ISR and eligible;
//     ErrElectionNotNeeded when it already leads,
//     ErrPreferredLeaderNotAvailable when it cannot.
//   - unclean: a partition without a leader gets the first eligible ISR
//     member, else the first eligible replica with ISR = [it], whatever
//     the topic config says; ErrElectionNotNeeded when it has a leader,
//     ErrEligibleLeadersNotAvailable when no replica is eligible.
//
// Unknown topics and partitions get ErrUnknownTopicOrPartition. Results
// follow request order; with nil, partitions are listed by topic name and
// index, and those whose election was not needed are left out, as Kafka
// does. The returned error is request-wide (ErrNotController,
// ErrInvalidRequest for an unknown election type).
func (c *Controller) ElectLeaders(ctx context.Context, typ ElectionType, topics []TopicPartitions) ([]ElectLeadersResult, error) {
	if typ != ElectionPreferred && typ != ElectionUnclean {
		return nil, fmt.Errorf("%w: election type %d", ErrInvalidRequest, typ)
	}
	var results []ElectLeadersResult
	var opErr error
	if err := c.doAdmin(ctx, func(ctx context.Context) {
		results, opErr = c.electLeaders(ctx, typ, topics)
	}); err != nil {
		return nil, err
	}
	if opErr != nil {
		return nil, opErr
	}
	return results, nil
}

func (c *Controller) electLeaders(ctx context.Context, typ ElectionType, topics []TopicPartitions) ([]ElectLeadersResult, error) {
	img, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	all := topics == nil
	if all {
		for _, t := range img.Topics() {
			tp := TopicPartitions{Topic: t.Name}
			for i := range t.Partitions {
				tp.Partitions = append(tp.Partitions, int32(i))
			}
			topics = append(topics, tp)
		}
	}
	var results []ElectLeadersResult
	var recs []metadata.Record
	var elected []int // indexes into results
	e := eligibleIn(img)
	seen := map[string]map[int32]bool{}
	for _, tp := range topics {
		t, tok := img.TopicByName(tp.Topic)
		for _, p := range tp.Partitions {
			res := ElectLeadersResult{Topic: tp.Topic, Partition: p}
			var cur metadata.PartitionInfo
			ok := false
			if tok {
				cur, ok = t.Partition(p)
			}
			switch {
			case !ok:
				res.Err = fmt.Errorf("%w: %s-%d", ErrUnknownTopicOrPartition, tp.Topic, p)
			case seen[tp.Topic][p]:
				// Listed twice: the first entry carries the outcome.
				continue
			default:
				if seen[tp.Topic] == nil {
					seen[tp.Topic] = map[int32]bool{}
				}
				seen[tp.Topic][p] = true
				next, err := electOne(typ, cur, e, c.electionBase(img, t))
				if err == nil {
					recs = append(recs, partitionRecord(t.ID, next))
					elected = append(elected, len(results))
					c.logPartitionChange(t.Name, cur, next)
				}
				res.Err = err
			}
			if all && res.Err != nil && errors.Is(res.Err, ErrElectionNotNeeded) {
				continue
			}
			results = append(results, res)
		}
	}
	if len(recs) > 0 {
		if err := c.propose(ctx, recs); err != nil {
			for _, i := range elected {
				results[i].Err = err
			}
		}
	}
	return results, nil
}

// electionBase is the change an ElectLeaders election of topic t starts
// from: no ISR removal, eligible leader replicas as the cluster has them.
func (c *Controller) electionBase(img *metadata.Image, t *metadata.Topic) partitionChange {
	ch := partitionChange{removeFromISR: -1, uncleanShutdown: -1}
	if ch.elr = img.ELREnabled(); ch.elr {
		ch.minISR = c.minISR(img, t)
	}
	return ch
}

// electOne returns the partition's state after an election of type typ,
// starting from change base.
func electOne(typ ElectionType, cur metadata.PartitionInfo, e eligibility, base partitionChange) (metadata.PartitionInfo, error) {
	if typ == ElectionPreferred {
		preferred := cur.Replicas[0]
		switch {
		case cur.Leader == preferred:
			return cur, fmt.Errorf("%w: broker %d already leads", ErrElectionNotNeeded, preferred)
		case !slices.Contains(cur.ISR, preferred) || !e.ok(preferred):
			return cur, fmt.Errorf("%w: broker %d is not an eligible ISR member", ErrPreferredLeaderNotAvailable, preferred)
		}
		base.preferred = true
		next, _ := nextPartitionState(cur, base, e)
		return next, nil
	}
	if cur.Leader >= 0 {
		return cur, fmt.Errorf("%w: broker %d leads", ErrElectionNotNeeded, cur.Leader)
	}
	base.unclean = true
	next, changed := nextPartitionState(cur, base, e)
	if !changed || next.Leader < 0 {
		return cur, fmt.Errorf("%w: no replica of %v is eligible", ErrEligibleLeadersNotAvailable, cur.Replicas)
	}
	return next, nil
}
