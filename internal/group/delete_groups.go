package group

// DeleteGroups v0-v2.
//   v2: flexible.
// A group is deleted only when it has no members (NON_EMPTY_GROUP
// otherwise); an unknown one is GROUP_ID_NOT_FOUND. The group and all its
// offsets (pending transactional ones included) get tombstones; the group
// is Dead while they are written.

import (
	"cmp"
	"context"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DeleteGroups deletes empty groups with their offsets.
func (c *Coordinator) DeleteGroups(ctx context.Context, req *kmsg.DeleteGroupsRequest) *kmsg.DeleteGroupsResponse {
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	results := make([]kmsg.DeleteGroupsResponseGroup, len(req.Groups))
	for i, id := range req.Groups {
		results[i] = kmsg.NewDeleteGroupsResponseGroup()
		results[i].Group = id
	}
	order, byPartition := c.groupsByShard(req.Groups)
	for _, p := range order {
		idx := byPartition[p]
		ids := make([]string, len(idx))
		for i, gi := range idx {
			ids[i] = req.Groups[gi]
		}
		codes, err := func() ([]*kerr.Error, error) {
			s, err := c.shard(p)
			if err != nil {
				return nil, err
			}
			return call(ctx, s, func(reply func([]*kerr.Error)) { s.deleteGroups(ids, reply) })
		}()
		for i, gi := range idx {
			switch {
			case err != nil:
				results[gi].ErrorCode = statusCode(err).Code
			case codes[i] != nil:
				results[gi].ErrorCode = codes[i].Code
			}
		}
	}
	resp.Groups = results
	return resp
}

func (s *shard) deleteGroups(ids []string, reply func([]*kerr.Error)) {
	codes := make([]*kerr.Error, len(ids))
	type deletion struct {
		g       group
		offsets map[string][]int32
	}
	var deletions []deletion
	var recs []Record
	now := nowMs()
	for i, id := range ids {
		g := s.groups[id]
		if g == nil {
			codes[i] = kerr.GroupIDNotFound
			continue
		}
		if err := g.validateDeleteGroup(); err != nil {
			codes[i] = err
			continue
		}
		d := deletion{g: g, offsets: make(map[string][]int32)}
		byTopic := s.offsets[id]
		for _, topic := range slices.Sorted(maps.Keys(byTopic)) {
			for _, p := range slices.SortedFunc(maps.Keys(byTopic[topic]), cmp.Compare[int32]) {
				recs = append(recs, offsetTombstone(id, topic, p))
				d.offsets[topic] = append(d.offsets[topic], p)
			}
		}
		// As Kafka: partitions with only a pending transactional offset
		// get a tombstone too, which drops it.
		pendingOnly := s.pendingOnlyPartitions(id)
		for _, topic := range slices.Sorted(maps.Keys(pendingOnly)) {
			ps := pendingOnly[topic]
			slices.Sort(ps)
			for _, p := range ps {
				recs = append(recs, offsetTombstone(id, topic, p))
				d.offsets[topic] = append(d.offsets[topic], p)
			}
		}
		recs = append(recs, g.deleteRecords()...)
		g.beginDelete(now)
		deletions = append(deletions, d)
	}
	if len(recs) == 0 {
		reply(codes)
		return
	}
	s.loop.Write(recs, func(err error) {
		if err != nil {
			s.logger.Warn("writing group deletion failed", "err", err)
			code := writeCode(err)
			for _, d := range deletions {
				d.g.abortDelete(nowMs())
				codes[slices.Index(ids, d.g.groupID())] = code
			}
			reply(codes)
			return
		}
		for _, d := range deletions {
			id := d.g.groupID()
			for topic, ps := range d.offsets {
				for _, p := range ps {
					s.deleteOffset(id, topic, p)
				}
			}
			if s.groups[id] == d.g && d.g.isDeleting() {
				delete(s.groups, id)
			}
			s.logger.Info("deleted group", "group", id)
		}
		reply(codes)
	})
}
