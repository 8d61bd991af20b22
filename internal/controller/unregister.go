package controller

import (
	"context"
	"errors"
	"fmt"

	"github.com/strata-io/strata/internal/metadata"
	"github.com/strata-io/strata/internal/raft"
)

// observerRemover is what a Quorum may also offer: taking a non-voter (a
// broker-only node) out of the quorum configuration. *raft.Node does.
type observerRemover interface {
	// RemoveNonvoter removes node id if it is a non-voter; removed is
	// false when it is not a member, and a voter fails with an error
	// wrapping raft.ErrVoter.
	RemoveNonvoter(ctx context.Context, id int32) (removed bool, err error)
}

var _ observerRemover = (*raft.Node)(nil)

// UnregisterBroker removes broker id for good (UnregisterBroker, as Kafka's
// controller does it): in one batch its leaderships move away, it leaves
// the ISRs that have other members (KIP-841: a sole member stays, so the
// partition can come back cleanly if the broker does), and an
// UnregisterBrokerRecord removes its registration. Replica assignments
// keep the id until they are reassigned, as in Kafka; it is no longer
// eligible to lead or join an ISR. Like Kafka, a live broker is not
// refused: it is told its registration is gone at its next heartbeat and
// registers again.
//
// Strata-specific: a broker-only node also follows the metadata log as a
// non-voter of the quorum; it is removed from the quorum configuration, so
// the quorum leader stops replicating to it. A node that is a voter
// (combined mode) stays a voter: its broker is unregistered, but the voter
// set changes only by KIP-853's AddRaftVoter/RemoveRaftVoter, which Strata
// does not serve; removing a voter here could leave the quorum without a
// majority. When the record committed but the quorum change failed (the
// controller lost leadership in between), the error says so and a retry
// finds the id unregistered but still an observer: it removes the
// observer and succeeds. An id that is neither registered nor an observer
// fails with ErrBrokerNotRegistered.
func (c *Controller) UnregisterBroker(ctx context.Context, id int32) error {
	var opErr error
	if err := c.doAdmin(ctx, func(ctx context.Context) {
		opErr = c.unregisterBroker(ctx, id)
	}); err != nil {
		return err
	}
	return opErr
}

func (c *Controller) unregisterBroker(ctx context.Context, id int32) error {
	img, err := c.begin(ctx)
	if err != nil {
		return err
	}
	b, ok := img.Broker(id)
	if !ok {
		removed, err := c.removeObserver(ctx, id)
		switch {
		case err != nil:
			return err
		case !removed:
			return fmt.Errorf("%w: broker %d", ErrBrokerNotRegistered, id)
		}
		c.logger.Info("unregistered broker removed from the metadata quorum", "broker_id", id)
		return nil
	}
	e := eligibleIn(img)
	e.without = id
	recs, moved := c.appendPartitionChanges(nil, img, e, involves(id), c.leaves(img, id))
	recs = append(recs, &metadata.UnregisterBrokerRecord{NodeID: id, BrokerEpoch: b.BrokerEpoch})
	if err := c.propose(ctx, recs); err != nil {
		return err
	}
	delete(c.live.lastContact, id)
	delete(c.live.registered, id)
	delete(c.live.shutdownOffset, id)
	c.logger.Info("broker unregistered", "broker_id", id, "broker_epoch", b.BrokerEpoch, "fenced", b.Fenced, "partitions_changed", moved)
	if _, err := c.removeObserver(ctx, id); err != nil {
		return fmt.Errorf("broker %d is unregistered, but it is still a non-voter of the metadata quorum; retry: %w", id, err)
	}
	return nil
}

// removeObserver takes node id out of the quorum if it is a non-voter.
// A voter stays (see UnregisterBroker) and is reported as not removed.
func (c *Controller) removeObserver(ctx context.Context, id int32) (bool, error) {
	q, ok := c.cfg.Quorum.(observerRemover)
	if !ok {
		return false, nil
	}
	removed, err := q.RemoveNonvoter(ctx, id)
	switch {
	case errors.Is(err, raft.ErrVoter):
		c.logger.Info("unregistered broker's node stays a metadata quorum voter", "broker_id", id)
		return false, nil
	case err != nil:
		return false, c.quorumError(err)
	}
	return removed, nil
}
