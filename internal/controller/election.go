package controller

import (
	"context"
	"log/slog"
	"math"
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
	// removeFromISR leaves the ISR; -1 for none. Without ELR it stays when
	// it is the sole member (KIP-841).
	removeFromISR int32
	// uncleanShutdown is a broker that restarted after an unclean shutdown
	// (KIP-966): it leaves the ISR and the ELR; -1 for none.
	uncleanShutdown int32
	// preferred moves leadership to the first replica when it is in the
	// ISR and eligible.
	preferred bool
	// unclean allows, when no ISR or ELR member (nor the last known
	// leader) can lead, the first eligible replica to lead with ISR = [it].
	unclean bool
	// elr turns KIP-966 eligible leader replicas on (the feature
	// eligible.leader.replicas.version >= 1), with the topic's
	// min.insync.replicas as minISR.
	elr    bool
	minISR int
}

// nextPartitionState applies ch to p: the ISR loses ch.removeFromISR and
// ch.uncleanShutdown, then buildPartitionState elects.
func nextPartitionState(p metadata.PartitionInfo, ch partitionChange, e eligibility) (next metadata.PartitionInfo, changed bool) {
	isr := p.ISR
	for _, id := range []int32{ch.removeFromISR, ch.uncleanShutdown} {
		if id >= 0 && slices.Contains(isr, id) && (ch.elr || len(isr) > 1) {
			isr = slices.DeleteFunc(slices.Clone(isr), func(r int32) bool { return r == id })
		}
	}
	return buildPartitionState(p, isr, ch, e)
}

// buildPartitionState moves p to the ISR targetISR, keeps the KIP-966
// fields and elects a leader, as Kafka's PartitionChangeBuilder does:
//
//   - ELR (with ch.elr): while the ISR is at or above minISR the ELR and
//     LastKnownELR are empty. Below it, the ELR is the old ISR plus the old
//     ELR, minus the new ISR and any unclean-shutdown broker: replicas that
//     left the ISR once acks=all writes were refused (NOT_ENOUGH_REPLICAS),
//     so they hold every record acknowledged with acks=all. NB: unlike
//     Kafka 4.x ("strict min ISR") a partition leader still advances its
//     high watermark below min.insync.replicas, so acks=0/1 records
//     written then may be missing on an ELR member.
//   - Election, when the leader is -1, ineligible or no longer valid: the
//     first replica, in replica order, that is eligible and in the ISR, or
//     in the ELR when the ISR is empty (the ELR member then becomes the ISR,
//     a clean election); else the last known leader when ISR and ELR are
//     empty and it is eligible (Kafka's "balanced" recovery: what KIP-841
//     kept as the sole ISR member); else, with ch.unclean, the first
//     eligible replica not being added, with ISR = [it] (unclean: the ELR
//     is dropped). Otherwise the leader is -1.
//   - LastKnownELR holds the leader of the moment the ISR became empty
//     (usable in the same change: a broker that leaves the ISR after an
//     unclean restart may lead again as last known leader), and is cleared
//     once the partition has a leader again.
//
// A leader change bumps LeaderEpoch; any change bumps PartitionEpoch.
// changed is false when nothing changed. Without ch.elr the ISR never
// becomes empty (its sole member stays, KIP-841) and the ELR fields are
// cleared.
func buildPartitionState(p metadata.PartitionInfo, targetISR []int32, ch partitionChange, e eligibility) (next metadata.PartitionInfo, changed bool) {
	isr := targetISR
	if !ch.elr && len(isr) == 0 {
		isr = p.ISR
	}
	elr, lastKnown := targetELR(p, isr, ch)

	// The partition may be losing its last ISR member: its leader becomes
	// the last known leader.
	if ch.elr && len(isr) == 0 && len(p.ISR) > 0 && p.Leader >= 0 {
		lastKnown = []int32{p.Leader}
	}

	valid := func(r int32) bool {
		return r >= 0 && (slices.Contains(isr, r) || (len(isr) == 0 && slices.Contains(elr, r))) && e.ok(r)
	}
	first := func(ok func(int32) bool) int32 {
		for _, r := range p.Replicas {
			if ok(r) {
				return r
			}
		}
		return -1
	}
	var newLeader int32
	switch {
	case ch.preferred && len(p.Replicas) > 0 && valid(p.Replicas[0]):
		newLeader = p.Replicas[0]
	case valid(p.Leader):
		newLeader = p.Leader
	default:
		newLeader = first(valid)
	}
	uncleanElection := false
	if newLeader < 0 && ch.elr && len(isr) == 0 && len(elr) == 0 && len(lastKnown) == 1 && e.ok(lastKnown[0]) &&
		slices.Contains(p.Replicas, lastKnown[0]) {
		newLeader, uncleanElection = lastKnown[0], true
	}
	if newLeader < 0 && ch.unclean {
		// A replica still being added has never caught up.
		newLeader = first(func(r int32) bool { return e.ok(r) && !slices.Contains(p.AddingReplicas, r) })
		uncleanElection = newLeader >= 0
	}
	// NB: also when the leader stays the same replica: a broker that
	// restarted uncleanly and is elected again as the last known leader
	// must get an ISR of itself, or no write ever commits.
	switch {
	case newLeader < 0:
	case uncleanElection:
		isr = []int32{newLeader}
		elr = nil
	case len(isr) == 0 && slices.Contains(elr, newLeader):
		isr = []int32{newLeader}
		elr = slices.DeleteFunc(slices.Clone(elr), func(r int32) bool { return r == newLeader })
	}
	if newLeader >= 0 {
		lastKnown = nil
	}
	if !uncleanElection && newLeader == p.Leader && slices.Equal(isr, p.ISR) && slices.Equal(elr, p.ELR) && slices.Equal(lastKnown, p.LastKnownELR) {
		return p, false
	}
	next = p
	next.ISR = slices.Clone(isr)
	next.ELR = nilIfEmpty(slices.Clone(elr))
	next.LastKnownELR = nilIfEmpty(slices.Clone(lastKnown))
	next.Leader = newLeader
	if newLeader != p.Leader || uncleanElection {
		next.LeaderEpoch++ // an unclean election is a new term even for the same replica
	}
	next.PartitionEpoch++
	return next, true
}

// targetELR returns the ELR and LastKnownELR of partition p once its ISR
// is isr, before any election (see buildPartitionState).
func targetELR(p metadata.PartitionInfo, isr []int32, ch partitionChange) (elr, lastKnown []int32) {
	if !ch.elr || len(isr) >= max(ch.minISR, 1) {
		return nil, nil
	}
	for _, r := range p.Replicas {
		if (slices.Contains(p.ELR, r) || slices.Contains(p.ISR, r)) && !slices.Contains(isr, r) && r != ch.uncleanShutdown {
			elr = append(elr, r)
		}
	}
	// NB: the last known leader stays after an unclean shutdown: it is what
	// KIP-841 kept as the sole ISR member, elected only once the ISR and
	// the ELR are empty.
	return elr, p.LastKnownELR
}

func nilIfEmpty(s []int32) []int32 {
	if len(s) == 0 {
		return nil
	}
	return s
}

// partitionRecord returns the record that sets partition state p. ELR and
// LastKnownELR members that are no longer replicas (a reassignment moved
// the partition) are dropped.
func partitionRecord(topicID metadata.UUID, p metadata.PartitionInfo) *metadata.PartitionRecord {
	notReplica := func(r int32) bool { return !slices.Contains(p.Replicas, r) }
	return &metadata.PartitionRecord{
		TopicID: topicID, Partition: p.Partition,
		Replicas: slices.Clone(p.Replicas), ISR: slices.Clone(p.ISR),
		Leader: p.Leader, LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch,
		AddingReplicas: slices.Clone(p.AddingReplicas), RemovingReplicas: slices.Clone(p.RemovingReplicas),
		ELR:          slices.DeleteFunc(slices.Clone(p.ELR), notReplica),
		LastKnownELR: slices.DeleteFunc(slices.Clone(p.LastKnownELR), notReplica),
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
		"leader", next.Leader, "leader_epoch", next.LeaderEpoch, "isr", next.ISR, "elr", next.ELR,
		"last_known_elr", next.LastKnownELR, "partition_epoch", next.PartitionEpoch)
}

// topicConfig resolves config name for topic t as the controller sees
// it: the topic override, then this node's and the cluster's dynamic
// broker configs, then the static broker config. ok is false when none
// sets it.
func (c *Controller) topicConfig(img *metadata.Image, t *metadata.Topic, name string) (string, bool) {
	for _, m := range []map[string]string{
		t.Configs,
		img.BrokerConfigs(strconv.FormatInt(int64(c.cfg.NodeID), 10)),
		img.BrokerConfigs(""),
		c.cfg.Defaults.StaticBrokerConfigs,
	} {
		if v, ok := m[name]; ok {
			return v, true
		}
	}
	return "", false
}

// uncleanAllowed resolves unclean.leader.election.enable for topic t (see
// topicConfig), defaulting to Config.UncleanLeaderElection.
func (c *Controller) uncleanAllowed(img *metadata.Image, t *metadata.Topic) bool {
	if v, ok := c.topicConfig(img, t, "unclean.leader.election.enable"); ok {
		if b, err := config.ParseBool(v); err == nil {
			return b
		}
	}
	return c.cfg.UncleanLeaderElection
}

// minISR resolves min.insync.replicas for topic t (see topicConfig),
// defaulting to 1.
func (c *Controller) minISR(img *metadata.Image, t *metadata.Topic) int {
	if v, ok := c.topicConfig(img, t, "min.insync.replicas"); ok {
		if n, err := config.ParseInt64(v); err == nil && n >= 1 && n <= math.MaxInt32 {
			return int(n)
		}
	}
	return 1
}

// topicChange is the change for topic t's partitions that ch starts:
// with the topic's unclean election setting and, when eligible leader
// replicas are on, its min.insync.replicas.
func (c *Controller) topicChange(img *metadata.Image, t *metadata.Topic, ch partitionChange) partitionChange {
	ch.unclean = ch.unclean || c.uncleanAllowed(img, t)
	if ch.elr = img.ELREnabled(); ch.elr {
		ch.minISR = c.minISR(img, t)
	}
	return ch
}

// leaves returns the change for partitions that broker id leaves: out of
// the ISR (where others remain, without ELR), leadership moved away.
func (c *Controller) leaves(img *metadata.Image, id int32) func(t *metadata.Topic) partitionChange {
	return func(t *metadata.Topic) partitionChange {
		return c.topicChange(img, t, partitionChange{removeFromISR: id, uncleanShutdown: -1})
	}
}

// involves selects partitions that broker id leads or is in the ISR, ELR
// or last known ELR of.
func involves(id int32) func(p *metadata.PartitionInfo) bool {
	return func(p *metadata.PartitionInfo) bool {
		return p.Leader == id || slices.Contains(p.ISR, id) || slices.Contains(p.ELR, id) || slices.Contains(p.LastKnownELR, id)
	}
}

// leaderless selects partitions without a leader that have broker id as a
// replica.
func leaderless(id int32) func(p *metadata.PartitionInfo) bool {
	return func(p *metadata.PartitionInfo) bool { return p.Leader < 0 && slices.Contains(p.Replicas, id) }
}
