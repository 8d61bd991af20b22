package node

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/controller"
	"github.com/strata-io/strata/internal/metadata"
	"github.com/strata-io/strata/internal/partition"
)

// applyPartitionState makes p leader or follower as the image says, points
// the fetchers at its leader, and moves its coordinator shard with
// leadership (for __consumer_offsets and __transaction_state: coord is
// the coordinator hosted on p's topic, nil for other topics). It runs on
// raft's apply goroutine under reconcileMu.
func (n *Node) applyPartitionState(p *partition.Partition, st partition.LeaderAndISR, coord coordinatorHost) {
	self := n.cfg.Static.NodeID
	if st.Leader == self {
		newLeadership := !p.IsLeader() || p.LeaderEpoch() != st.LeaderEpoch
		if err := p.MakeLeader(st); err != nil {
			n.log.Warn("becoming leader", "topic", p.Topic, "partition", p.Index, "err", err)
			return
		}
		n.replicas.Lead(p)
		if newLeadership {
			n.expectFollowers(p, st)
		}
		if coord != nil {
			coord.Load(p.Index, st.LeaderEpoch, offsetsLog{p: p})
		}
		return
	}
	if coord != nil {
		coord.Unload(p.Index)
	}
	if _, err := p.MakeFollower(st); err != nil {
		n.log.Warn("becoming follower", "topic", p.Topic, "partition", p.Index, "err", err)
		return
	}
	if st.Leader < 0 {
		n.replicas.Unfollow(p) // offline: nobody to fetch from
		return
	}
	n.replicas.Follow(p, st.Leader)
}

// expectFollowers hurries the followers of a partition this broker has
// just started leading (see kafkaapi.ReplicaPolls).
func (n *Node) expectFollowers(p *partition.Partition, st partition.LeaderAndISR) {
	followers := make([]int32, 0, len(st.Replicas))
	for _, r := range st.Replicas {
		if r != n.cfg.Static.NodeID {
			followers = append(followers, r)
		}
	}
	if len(followers) > 0 {
		n.replicaPolls.Expect(p.TopicID, p.Index, followers)
	}
}

// replicaClient sends follower fetches to leader brokers.
type replicaClient struct{ channel *controllerChannel }

func (c replicaClient) Request(ctx context.Context, leaderID int32, req kmsg.Request) (kmsg.Response, error) {
	return c.channel.RequestTo(ctx, leaderID, req)
}

// isrChanger sends a leader's ISR proposals to the active controller with
// AlterPartition. An applied proposal arrives as a new metadata image. One
// the controller refuses as INELIGIBLE_REPLICA is dropped from the
// partition (RejectISRProposal), so its members stop counting toward the
// high watermark. Any other failure leaves the outcome unknown (the
// controller may have applied it, or the image may be behind): the
// proposal is retried while it is still pending, and the image settles it.
type isrChanger struct {
	node    *Node
	channel *controllerChannel
	ctx     context.Context // the node's run context: proposals stop with it
	wg      sync.WaitGroup  // in-flight proposals; waited by the node on stop
}

// isrRetryBackoff bounds the wait between attempts of one proposal.
const isrRetryBackoff = 500 * time.Millisecond

func (c *isrChanger) ProposeISR(p *partition.Partition, prop partition.ISRProposal) {
	// NB: called without partition locks held; the RPCs run on their own
	// goroutine, each bounded by a timeout, all by the node's lifetime.
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.propose(p, prop)
	}()
}

func (c *isrChanger) propose(p *partition.Partition, prop partition.ISRProposal) {
	self := c.node.cfg.Static.NodeID
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		req := controller.AlterPartitionRequest{BrokerID: self, BrokerEpoch: c.node.brokerEpoch(), Topics: []controller.AlterPartitionTopic{{
			TopicID: metadata.UUID(p.TopicID),
			Partitions: []controller.AlterPartitionData{{
				Partition: p.Index, LeaderEpoch: prop.LeaderEpoch, PartitionEpoch: prop.PartitionEpoch,
				NewISR: prop.ISR, NewISRBrokerEpochs: prop.BrokerEpochs,
			}},
		}}}
		ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
		res, err := c.channel.AlterPartition(ctx, req)
		cancel()
		if c.ctx.Err() != nil {
			return
		}
		if err == nil && (len(res) != 1 || len(res[0].Partitions) != 1) {
			err = errors.New("AlterPartition answer without exactly this partition")
		}
		if err == nil {
			switch perr := res[0].Partitions[0].Err; {
			case perr == nil:
				// Applied; the image brings the new state.
			case errors.Is(perr, controller.ErrIneligibleReplica), errors.Is(perr, kerr.IneligibleReplica):
				c.node.log.Info("ISR change refused", "topic", p.Topic, "partition", p.Index, "isr", prop.ISR, "err", perr)
				p.RejectISRProposal(prop)
			default:
				// Refused for a stale view (leader or partition epoch):
				// the image brings the current state, which ends the
				// proposal.
				c.node.log.Info("ISR change not applied", "topic", p.Topic, "partition", p.Index, "isr", prop.ISR, "err", perr)
			}
			return
		}
		// The outcome is unknown: try again while it is still pending.
		if attempt == 1 || attempt%10 == 0 {
			c.node.log.Info("ISR change not sent; retrying", "topic", p.Topic, "partition", p.Index, "isr", prop.ISR, "attempt", attempt, "err", err)
		}
		select {
		case <-c.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, isrRetryBackoff)
		if !p.ISRProposalPending(prop) {
			return
		}
	}
}
