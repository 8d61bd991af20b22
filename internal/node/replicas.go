package node

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/controller"
	"github.com/strata-io/strata/internal/metadata"
	"github.com/strata-io/strata/internal/partition"
)

// applyPartitionState makes p leader or follower as the image says, points
// the fetchers at its leader, and moves its coordinator shard with
// leadership (for __consumer_offsets). It runs on raft's apply goroutine
// under reconcileMu.
func (n *Node) applyPartitionState(p *partition.Partition, st partition.LeaderAndISR, offsets bool) {
	self := n.cfg.Static.NodeID
	if st.Leader == self {
		if err := p.MakeLeader(st); err != nil {
			n.log.Warn("becoming leader", "topic", p.Topic, "partition", p.Index, "err", err)
			return
		}
		n.replicas.Lead(p)
		if offsets {
			n.groups.Load(p.Index, st.LeaderEpoch, offsetsLog{p: p})
		}
		return
	}
	if offsets {
		n.groups.Unload(p.Index)
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

// replicaClient sends follower fetches to leader brokers.
type replicaClient struct{ channel *controllerChannel }

func (c replicaClient) Request(ctx context.Context, leaderID int32, req kmsg.Request) (kmsg.Response, error) {
	return c.channel.RequestTo(ctx, leaderID, req)
}

// isrChanger sends a leader's ISR proposals to the active controller with
// AlterPartition. The result arrives as a new metadata image; a rejected
// proposal is simply not applied (the partition re-proposes later).
type isrChanger struct {
	node    *Node
	channel *controllerChannel
	ctx     context.Context // the node's run context: proposals stop with it
	wg      sync.WaitGroup  // in-flight proposals; waited by the node on stop
}

func (c *isrChanger) ProposeISR(p *partition.Partition, st partition.LeaderAndISR) {
	self := c.node.cfg.Static.NodeID
	b, _ := c.node.ctrl.Image().Broker(self)
	req := controller.AlterPartitionRequest{BrokerID: self, BrokerEpoch: b.BrokerEpoch, Topics: []controller.AlterPartitionTopic{{
		TopicID: metadata.UUID(p.TopicID),
		Partitions: []controller.AlterPartitionData{{
			Partition: p.Index, LeaderEpoch: st.LeaderEpoch, PartitionEpoch: st.PartitionEpoch, NewISR: st.ISR,
		}},
	}}}
	// NB: called without partition locks held; the RPC runs on its own
	// goroutine, bounded by a timeout and the node's lifetime.
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
		defer cancel()
		res, err := c.channel.AlterPartition(ctx, req)
		if err == nil && len(res) == 1 && len(res[0].Partitions) == 1 {
			err = res[0].Partitions[0].Err
		}
		if err != nil && c.ctx.Err() == nil {
			c.node.log.Info("ISR change not applied", "topic", p.Topic, "partition", p.Index, "isr", st.ISR, "err", err)
		}
	}()
}
