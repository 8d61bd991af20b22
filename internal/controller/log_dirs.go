package controller

import (
	"context"
	"fmt"
	"slices"

	"github.com/strata-io/strata/internal/metadata"
)

// Log directory failures (JBOD, KIP-858). A broker with several log
// directories keeps running when one fails: it assigns the replicas of the
// failed directory to it (AssignReplicasToDirs) and lists the directory in
// every heartbeat (BrokerHeartbeat's OfflineLogDirs) until it restarts. The
// controller then treats those replicas as offline: the broker leaves
// their ISRs where other members remain and their leadership moves to
// another ISR member, in one batch, as Kafka's handleDirectoriesOffline
// does; and no election picks an offline replica again.
//
// NB: Kafka records every replica's directory in the partition records and
// the online directories in the broker registration. Strata keeps the
// assignments the active controller was told in memory (the outcome, the
// ISR and leader changes, is in the metadata log): a new active controller
// learns them again from the next heartbeat of each broker, which resends
// them while a directory is offline.

// ReplicaRef names a partition by topic id.
type ReplicaRef struct {
	TopicID   metadata.UUID
	Partition int32
}

// DirAssignment places replicas of a broker in one of its log directories.
type DirAssignment struct {
	Dir        metadata.UUID
	Partitions []ReplicaRef
}

// logDirState is the active controller's view of the brokers' log
// directories. Owned by the loop in Run.
type logDirState struct {
	// assigned maps, per broker, replicas to the directory the broker
	// last assigned them to.
	assigned map[int32]map[ReplicaRef]metadata.UUID
	// offline holds, per broker, its replicas in directories its last
	// heartbeat reported offline.
	offline map[int32]map[ReplicaRef]bool
}

// forget drops what broker id reported (a new registration).
func (s *logDirState) forget(id int32) {
	delete(s.assigned, id)
	delete(s.offline, id)
}

// AssignReplicasToDirs records which of its log directories a broker keeps
// replicas in (AssignReplicasToDirs, KIP-858).
//
// Errors: ErrBrokerNotRegistered, ErrStaleBrokerEpoch, ErrNotController.
func (c *Controller) AssignReplicasToDirs(ctx context.Context, brokerID int32, brokerEpoch int64, dirs []DirAssignment) error {
	var opErr error
	if err := c.do(ctx, func(ctx context.Context) {
		img, err := c.begin(ctx)
		if err != nil {
			opErr = err
			return
		}
		b, ok := img.Broker(brokerID)
		switch {
		case !ok:
			opErr = fmt.Errorf("%w: broker %d", ErrBrokerNotRegistered, brokerID)
			return
		case b.BrokerEpoch != brokerEpoch:
			opErr = fmt.Errorf("%w: broker %d sent epoch %d, its registration has %d", ErrStaleBrokerEpoch, brokerID, brokerEpoch, b.BrokerEpoch)
			return
		}
		if c.dirs.assigned == nil {
			c.dirs.assigned = map[int32]map[ReplicaRef]metadata.UUID{}
		}
		m := c.dirs.assigned[brokerID]
		if m == nil {
			m = map[ReplicaRef]metadata.UUID{}
			c.dirs.assigned[brokerID] = m
		}
		for _, d := range dirs {
			for _, r := range d.Partitions {
				m[r] = d.Dir
			}
		}
	}); err != nil {
		return err
	}
	return opErr
}

// handleOfflineDirs records the replicas of broker id in the offline
// directories and moves their leaderships and ISR memberships away. Run on
// the loop, from a heartbeat.
func (c *Controller) handleOfflineDirs(ctx context.Context, id int32, offlineDirs []metadata.UUID) error {
	if len(offlineDirs) == 0 {
		delete(c.dirs.offline, id)
		return nil
	}
	set := map[ReplicaRef]bool{}
	for r, dir := range c.dirs.assigned[id] {
		if slices.Contains(offlineDirs, dir) {
			set[r] = true
		}
	}
	if c.dirs.offline == nil {
		c.dirs.offline = map[int32]map[ReplicaRef]bool{}
	}
	c.dirs.offline[id] = set
	img := c.Image()
	refs := replicaPointers(img, set)
	e := eligibleIn(img)
	e.without = id
	recs, moved := c.appendPartitionChanges(nil, img, e,
		func(p *metadata.PartitionInfo) bool { return refs[p] && (p.Leader == id || slices.Contains(p.ISR, id)) },
		c.leaves(img, id))
	if len(recs) == 0 {
		return nil
	}
	if err := c.propose(ctx, recs); err != nil {
		return err
	}
	c.logger.Info("replicas in offline log directories moved away", "broker_id", id, "log_dirs", len(offlineDirs), "partitions_changed", moved)
	return nil
}

// replicaPointers returns the partitions of img named by set, keyed by
// their address in img (what appendPartitionChanges' match sees).
func replicaPointers(img *metadata.Image, set map[ReplicaRef]bool) map[*metadata.PartitionInfo]bool {
	out := make(map[*metadata.PartitionInfo]bool, len(set))
	for r := range set {
		t, ok := img.TopicByID(r.TopicID)
		if !ok || r.Partition < 0 || int(r.Partition) >= len(t.Partitions) {
			continue
		}
		out[&t.Partitions[r.Partition]] = true
	}
	return out
}

// withoutOfflineReplicas narrows match to partitions none of whose ISR
// members has its replica in an offline log directory: an election there
// could pick that replica.
func (c *Controller) withoutOfflineReplicas(img *metadata.Image, match func(p *metadata.PartitionInfo) bool) func(p *metadata.PartitionInfo) bool {
	if len(c.dirs.offline) == 0 {
		return match
	}
	byBroker := make(map[int32]map[*metadata.PartitionInfo]bool, len(c.dirs.offline))
	for id, set := range c.dirs.offline {
		byBroker[id] = replicaPointers(img, set)
	}
	return func(p *metadata.PartitionInfo) bool {
		for _, r := range p.ISR {
			if byBroker[r][p] {
				return false
			}
		}
		return match(p)
	}
}
