package controller

import (
	"context"
	"log/slog"
	"slices"
	"strconv"

	"github.com/strata-io/strata/internal/config"
	"github.com/strata-io/strata/internal/metadata"
)

// eligibility says which brokers may lead a partition or join its ISR
// while a batch is built: registered, unfenced and not in controlled
// shutdown in img, except that the batch may be fencing (without) or
// unfencing (with) one broker.
type eligibility struct {
	img *metadata.Image
	// without is ineligible whatever img says; -1 for none.
	without int32
	// with is eligible whatever img says; -1 for none.
	with int32
}

func eligibleIn(img *metadata.Image) eligibility { return eligibility{img: img, without: -1, with: -1} }

func (e eligibility) ok(id int32) bool {
	switch id {
	case e.without:
		return false
	case e.with:
		return true
	}
	b, ok := e.img.Broker(id)
	return ok && !b.Fenced && !b.InControlledShutdown
}

// partitionChange says how to move one partition on.
type partitionChange struct {
	// removeFromISR leaves the ISR if other members remain (KIP-841); -1
	// for none.
	removeFromISR int32
	// preferred moves leadership to the first replica when it is in the
	// ISR and eligible.
	preferred bool
	// unclean allows, when no ISR member can lead, the first eligible
	// replica to lead with ISR = [it].
	unclean bool
}

// nextPartitionState applies ch to p. A partition whose leader is -1,
// ineligible or outside the ISR gets the first replica, in replica order,
// that is in the ISR and eligible; with none, the leader is -1 and the ISR
// is kept, unless ch.unclean. A leader change bumps LeaderEpoch; any change
// bumps PartitionEpoch. changed is false when nothing changed.
func nextPartitionState(p metadata.PartitionInfo, ch partitionChange, e eligibility) (next metadata.PartitionInfo, changed bool) {
	isr := p.ISR
	if ch.removeFromISR >= 0 && len(isr) > 1 && slices.Contains(isr, ch.removeFromISR) {
		isr = slices.DeleteFunc(slices.Clone(isr), func(r int32) bool { return r == ch.removeFromISR })
	}
	leader := p.Leader
	switch {
	case ch.preferred && len(p.Replicas) > 0 && p.Replicas[0] != leader &&
		slices.Contains(isr, p.Replicas[0]) && e.ok(p.Replicas[0]):
		leader = p.Replicas[0]
	case leader < 0 || !e.ok(leader) || !slices.Contains(isr, leader):
		leader = -1
		for _, r := range p.Replicas {
			if slices.Contains(isr, r) && e.ok(r) {
				leader = r
				break
			}
		}
		if leader < 0 && ch.unclean {
			for _, r := range p.Replicas {
				// A replica still being added has never caught up.
				if e.ok(r) && !slices.Contains(p.AddingReplicas, r) {
					leader, isr = r, []int32{r}
					break
				}
			}
		}
	}
	if leader == p.Leader && slices.Equal(isr, p.ISR) {
		return p, false
	}
	next = p
	next.ISR = slices.Clone(isr)
	next.Leader = leader
	if leader != p.Leader {
		next.LeaderEpoch++
	}
	next.PartitionEpoch++
	return next, true
}

// partitionRecord returns the record that sets partition state p.
func partitionRecord(topicID metadata.UUID, p metadata.PartitionInfo) *metadata.PartitionRecord {
	return &metadata.PartitionRecord{
		TopicID: topicID, Partition: p.Partition,
		Replicas: slices.Clone(p.Replicas), ISR: slices.Clone(p.ISR),
		Leader: p.Leader, LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch,
		AddingReplicas: slices.Clone(p.AddingReplicas), RemovingReplicas: slices.Clone(p.RemovingReplicas),
	}
}

// appendPartitionChanges appends a PartitionRecord for every partition
// that match selects and that ch(topic) changes, and logs each leader
// change. It returns the extended slice and the number of partitions
// changed.
func (c *Controller) appendPartitionChanges(recs []metadata.Record, img *metadata.Image, e eligibility,
	match func(p *metadata.PartitionInfo) bool, ch func(t *metadata.Topic) partitionChange,
) ([]metadata.Record, int) {
	n := 0
	for _, t := range img.Topics() {
		var tch partitionChange
		resolved := false
		for i := range t.Partitions {
			p := &t.Partitions[i]
			if !match(p) {
				continue
			}
			if !resolved {
				tch, resolved = ch(t), true
			}
			next, changed := nextPartitionState(*p, tch, e)
			if !changed {
				continue
			}
			recs = append(recs, partitionRecord(t.ID, next))
			n++
			c.logPartitionChange(t.Name, *p, next)
		}
	}
	return recs, n
}

func (c *Controller) logPartitionChange(topic string, prev, next metadata.PartitionInfo) {
	level := slog.LevelDebug
	msg := "partition ISR changed"
	if prev.Leader != next.Leader {
		level, msg = slog.LevelInfo, "partition leader changed"
		if next.Leader < 0 {
			level, msg = slog.LevelWarn, "partition offline: no eligible leader"
		}
	}
	c.logger.Log(context.Background(), level, msg, "topic", topic, "partition", next.Partition,
		"leader", next.Leader, "leader_epoch", next.LeaderEpoch, "isr", next.ISR, "partition_epoch", next.PartitionEpoch)
}

// uncleanAllowed resolves unclean.leader.election.enable for topic t: the
// topic override, then this node's and the cluster's dynamic broker
// configs, then the static broker config, then Config.UncleanLeaderElection.
func (c *Controller) uncleanAllowed(img *metadata.Image, t *metadata.Topic) bool {
	const name = "unclean.leader.election.enable"
	for _, m := range []map[string]string{
		t.Configs,
		img.BrokerConfigs(strconv.FormatInt(int64(c.cfg.NodeID), 10)),
		img.BrokerConfigs(""),
		c.cfg.Defaults.StaticBrokerConfigs,
	} {
		if v, ok := m[name]; ok {
			if b, err := config.ParseBool(v); err == nil {
				return b
			}
		}
	}
	return c.cfg.UncleanLeaderElection
}

// leaves returns the change for partitions that broker id leaves: out of
// the ISR where others remain, leadership moved away.
func (c *Controller) leaves(img *metadata.Image, id int32) func(t *metadata.Topic) partitionChange {
	return func(t *metadata.Topic) partitionChange {
		return partitionChange{removeFromISR: id, unclean: c.uncleanAllowed(img, t)}
	}
}

// involves selects partitions that broker id leads or is in the ISR of.
func involves(id int32) func(p *metadata.PartitionInfo) bool {
	return func(p *metadata.PartitionInfo) bool { return p.Leader == id || slices.Contains(p.ISR, id) }
}

// leaderless selects partitions without a leader that have broker id as a
// replica.
func leaderless(id int32) func(p *metadata.PartitionInfo) bool {
	return func(p *metadata.PartitionInfo) bool { return p.Leader < 0 && slices.Contains(p.Replicas, id) }
}
