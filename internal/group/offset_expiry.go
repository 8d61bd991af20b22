package group

import (
	"cmp"
	"maps"
	"slices"
)

// expireBatchRecords bounds the records of one expiry write so a batch
// stays well under message size limits.
const expireBatchRecords = 1000

// expireOffsets runs every OffsetsRetentionCheckInterval on the loop, as
// Kafka's cleanupGroupMetadata: offsets whose retention has passed (per
// the group's expiration condition) get tombstones, and a group left
// without offsets and without members is deleted. Pending transactional
// offsets keep their partition's offset, and their group, from expiring.
func (s *shard) expireOffsets() {
	now := nowMs()
	retention := s.cfg.OffsetsRetention.Milliseconds()
	type tp struct {
		group, topic string
		partition    int32
	}
	var offsetDeletes []tp
	var groupDeletes []group
	ids := make(map[string]bool, len(s.groups)+len(s.offsets))
	for id := range s.groups {
		ids[id] = true
	}
	for id := range s.offsets {
		ids[id] = true
	}
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		g := s.groups[id]
		allExpired := true
		byTopic := s.offsets[id]
		for _, topic := range slices.Sorted(maps.Keys(byTopic)) {
			if g != nil && g.isSubscribedToTopic(topic) {
				allExpired = false
				continue
			}
			byPartition := byTopic[topic]
			for _, p := range slices.SortedFunc(maps.Keys(byPartition), cmp.Compare[int32]) {
				if s.hasPendingOffset(id, topic, p) {
					// As Kafka: not while a transaction may still
					// commit an offset of it.
					allExpired = false
					continue
				}
				e := byPartition[p]
				base, ok := e.commitTimestamp, true
				if g != nil {
					base, ok = g.offsetExpirationBase(e)
				}
				expired := false
				switch {
				case !ok:
				case e.expireTimestamp >= 0:
					expired = now >= e.expireTimestamp
				default:
					expired = now-base >= retention
				}
				if !expired {
					allExpired = false
					continue
				}
				offsetDeletes = append(offsetDeletes, tp{id, topic, p})
			}
		}
		if allExpired && g != nil && g.isEmpty() && !hasPendingMembers(g) && !s.hasPendingOffsets(id) {
			groupDeletes = append(groupDeletes, g)
		}
	}
	if len(offsetDeletes) == 0 && len(groupDeletes) == 0 {
		return
	}
	s.logger.Info("expiring offsets and groups", "offsets", len(offsetDeletes), "groups", len(groupDeletes))
	// Offsets first, then groups, in batches; each batch takes effect when
	// it commits. A group's tombstones follow its offsets' in the log.
	for start := 0; start < len(offsetDeletes); start += expireBatchRecords {
		chunk := offsetDeletes[start:min(start+expireBatchRecords, len(offsetDeletes))]
		recs := make([]Record, 0, len(chunk))
		for _, d := range chunk {
			recs = append(recs, offsetTombstone(d.group, d.topic, d.partition))
		}
		s.loop.Write(recs, func(err error) {
			if err != nil {
				s.logger.Warn("writing offset expiry tombstones failed; retrying at the next check", "err", err)
				return
			}
			for _, d := range chunk {
				s.deleteOffset(d.group, d.topic, d.partition)
			}
		})
	}
	var batch []group
	var recs []Record
	flush := func() {
		if len(batch) == 0 {
			return
		}
		gs := batch
		s.loop.Write(recs, func(err error) {
			if err != nil {
				s.logger.Warn("writing group expiry tombstones failed; retrying at the next check", "err", err)
				return
			}
			for _, g := range gs {
				// Only if nobody joined meanwhile; a group with new
				// members rewrites its metadata at its next generation.
				if s.groups[g.groupID()] == g && g.isEmpty() && !hasPendingMembers(g) {
					delete(s.groups, g.groupID())
				}
			}
		})
		batch, recs = nil, nil
	}
	for _, g := range groupDeletes {
		batch = append(batch, g)
		recs = append(recs, g.deleteRecords()...)
		if len(recs) >= expireBatchRecords {
			flush()
		}
	}
	flush()
}

func hasPendingMembers(g group) bool {
	cg, ok := g.(*classicGroup)
	return ok && len(cg.pending) > 0
}
