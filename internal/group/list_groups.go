package group

// ListGroups v0-v5.
//   v3: flexible. v4 (KIP-518): states filter (case-insensitive).
//   v5 (KIP-848): types filter ("classic", "consumer"; case-insensitive)
//   and the group type in the response.
// Groups of every loaded shard are listed; while any shard here is still
// loading the answer is COORDINATOR_LOAD_IN_PROGRESS, as Kafka's.

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/strata-io/strata/internal/coordinator"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ListGroups lists the groups this node coordinates.
func (c *Coordinator) ListGroups(ctx context.Context, req *kmsg.ListGroupsRequest) *kmsg.ListGroupsResponse {
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	states := make(map[string]bool)
	for _, st := range req.StatesFilter {
		states[strings.ToLower(strings.TrimSpace(st))] = true
	}
	types := make(map[string]bool)
	for _, t := range req.TypesFilter {
		types[strings.ToLower(strings.TrimSpace(t))] = true
	}
	for _, s := range c.shards() {
		switch s.loop.Status() {
		case coordinator.Loading:
			resp.ErrorCode = kerr.CoordinatorLoadInProgress.Code
			resp.Groups = nil
			return resp
		case coordinator.Stopped:
			continue
		}
		listed, err := call(ctx, s, func(reply func([]kmsg.ListGroupsResponseGroup)) { reply(s.listGroups(states, types)) })
		if err != nil {
			if ctx.Err() != nil {
				resp.ErrorCode = statusCode(err).Code
				resp.Groups = nil
				return resp
			}
			continue // unloaded meanwhile: no longer ours to list
		}
		resp.Groups = append(resp.Groups, listed...)
	}
	slices.SortFunc(resp.Groups, func(a, b kmsg.ListGroupsResponseGroup) int { return cmp.Compare(a.Group, b.Group) })
	return resp
}

func (s *shard) listGroups(states, types map[string]bool) []kmsg.ListGroupsResponseGroup {
	var out []kmsg.ListGroupsResponseGroup
	for id, g := range s.groups {
		if len(states) > 0 && !states[strings.ToLower(g.stateName())] {
			continue
		}
		if len(types) > 0 && !types[string(g.groupType())] {
			continue
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group = id
		lg.ProtocolType = g.protocolTypeName()
		lg.GroupState = g.stateName()
		lg.GroupType = string(g.groupType())
		out = append(out, lg)
	}
	return out
}
