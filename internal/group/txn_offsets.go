package group

// Pending transactional offsets (KIP-98, KIP-447). A TxnOffsetCommit
// writes its offsets as a transactional batch of the producer; they stay
// pending, invisible to OffsetFetch, until the producer's transaction
// marker reaches this partition: COMMIT moves them into the committed
// offsets, ABORT drops them. Replay rebuilds the same state from the
// batches and markers, so a new coordinator shows exactly what the old
// one did. As Kafka's OffsetMetadataManager:
//   - at COMMIT a pending offset replaces the committed one only if its
//     record is later in the log (a plain commit written after the
//     transactional one wins, also after compaction);
//   - a tombstone of a partition drops every producer's pending offset
//     for it;
//   - pending offsets block their partition's expiry, and their group's
//     deletion by expiry.

import "github.com/strata-io/strata/internal/coordinator"

// pendingOffsets are one producer's transactional offsets:
// group → topic → partition.
type pendingOffsets map[string]map[string]map[int32]offsetEntry

// putPendingOffset stages a transactional offset of producerID (once its
// write committed, or on replay). Like a plain commit, it creates the
// group as an empty classic group when nobody joined it.
func (s *shard) putPendingOffset(producerID int64, groupID, topic string, partition int32, e offsetEntry) {
	if s.groups[groupID] == nil {
		s.groups[groupID] = newClassicGroup(groupID, nowMs())
	}
	byGroup := s.pending[producerID]
	if byGroup == nil {
		byGroup = make(pendingOffsets)
		s.pending[producerID] = byGroup
	}
	byTopic := byGroup[groupID]
	if byTopic == nil {
		byTopic = make(map[string]map[int32]offsetEntry)
		byGroup[groupID] = byTopic
	}
	byPartition := byTopic[topic]
	if byPartition == nil {
		byPartition = make(map[int32]offsetEntry)
		byTopic[topic] = byPartition
	}
	byPartition[partition] = e
}

// completeTxn applies producerID's transaction marker to its pending
// offsets: COMMIT materializes each unless the committed offset's record
// is later in the log; ABORT drops them.
func (s *shard) completeTxn(producerID int64, commit bool) {
	byGroup := s.pending[producerID]
	delete(s.pending, producerID)
	if !commit {
		return
	}
	for groupID, byTopic := range byGroup {
		for topic, byPartition := range byTopic {
			for p, e := range byPartition {
				if cur, ok := s.offset(groupID, topic, p); ok && cur.recordOffset >= e.recordOffset {
					s.logger.Debug("skipping a transactional offset older than the committed one",
						"group", groupID, "topic", topic, "partition", p, "offset", e.recordOffset)
					continue
				}
				s.putOffset(groupID, topic, p, e)
			}
		}
	}
}

// dropPendingOffset removes every producer's pending offset of a
// partition (its tombstone was written).
func (s *shard) dropPendingOffset(groupID, topic string, partition int32) {
	for pid, byGroup := range s.pending {
		byTopic := byGroup[groupID]
		byPartition := byTopic[topic]
		if byPartition == nil {
			continue
		}
		delete(byPartition, partition)
		if len(byPartition) == 0 {
			delete(byTopic, topic)
		}
		if len(byTopic) == 0 {
			delete(byGroup, groupID)
		}
		if len(byGroup) == 0 {
			delete(s.pending, pid)
		}
	}
}

// hasPendingOffset reports whether any producer has a pending offset for
// the partition (OffsetFetch's UNSTABLE_OFFSET_COMMIT, expiry).
func (s *shard) hasPendingOffset(groupID, topic string, partition int32) bool {
	for _, byGroup := range s.pending {
		if _, ok := byGroup[groupID][topic][partition]; ok {
			return true
		}
	}
	return false
}

// hasPendingOffsets reports whether a transaction holds pending offsets
// of the group.
func (s *shard) hasPendingOffsets(groupID string) bool {
	for _, byGroup := range s.pending {
		if len(byGroup[groupID]) > 0 {
			return true
		}
	}
	return false
}

// pendingOnlyPartitions returns the group's partitions that have a
// pending offset but no committed one: DeleteGroups writes their
// tombstones too (Kafka's deleteAllOffsets).
func (s *shard) pendingOnlyPartitions(groupID string) map[string][]int32 {
	out := make(map[string][]int32)
	seen := make(map[string]map[int32]bool)
	for _, byGroup := range s.pending {
		for topic, byPartition := range byGroup[groupID] {
			for p := range byPartition {
				if _, ok := s.offset(groupID, topic, p); ok || seen[topic][p] {
					continue
				}
				if seen[topic] == nil {
					seen[topic] = make(map[int32]bool)
				}
				seen[topic][p] = true
				out[topic] = append(out[topic], p)
			}
		}
	}
	return out
}

// ReplayMarker applies a transaction marker read at load: the producer's
// pending offsets are committed or dropped, as when the marker is
// written live (CompleteTransaction).
func (s *shard) ReplayMarker(r coordinator.ReplayRecord) error {
	s.completeTxn(r.ProducerID, r.Commit)
	return nil
}
