package group

import (
	"context"
	"maps"

	"github.com/strata-io/strata/internal/coordinator"
)

// GroupOffsets is what the consumer group metrics show of one group: its
// member count and committed offsets.
type GroupOffsets struct {
	Group   string
	Members int
	// Offsets are the committed offsets by topic and partition
	// (transactional offsets not yet committed are left out).
	Offsets map[string]map[int32]int64
}

// GroupOffsets returns every group of the shards this node serves (the
// groups it coordinates) that has members or committed offsets, in no
// particular order. Shards still loading are skipped. It runs one short
// closure on each shard's loop.
func (c *Coordinator) GroupOffsets(ctx context.Context) ([]GroupOffsets, error) {
	var out []GroupOffsets
	for _, s := range c.shards() {
		if s.loop.Status() != coordinator.Active {
			continue
		}
		got, err := call(ctx, s, func(reply func([]GroupOffsets)) { reply(s.groupOffsets()) })
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			continue // unloaded meanwhile: no longer ours
		}
		out = append(out, got...)
	}
	return out, nil
}

func (s *shard) groupOffsets() []GroupOffsets {
	ids := make(map[string]bool, len(s.groups)+len(s.offsets))
	for id := range s.groups {
		ids[id] = true
	}
	for id := range s.offsets {
		ids[id] = true
	}
	out := make([]GroupOffsets, 0, len(ids))
	for id := range ids {
		g := GroupOffsets{Group: id, Offsets: make(map[string]map[int32]int64, len(s.offsets[id]))}
		switch grp := s.groups[id].(type) {
		case *classicGroup:
			if grp.isDeleting() {
				continue
			}
			g.Members = len(grp.members)
		case *consumerGroup:
			if grp.isDeleting() {
				continue
			}
			g.Members = len(grp.members)
		}
		for topic, parts := range s.offsets[id] {
			m := make(map[int32]int64, len(parts))
			for p, e := range maps.All(parts) {
				m[p] = e.offset
			}
			g.Offsets[topic] = m
		}
		if g.Members == 0 && len(g.Offsets) == 0 {
			continue
		}
		out = append(out, g)
	}
	return out
}
