package group

import (
	"cmp"
	"context"
	"slices"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
)

func TestGroupOffsetsListsMembersAndCommits(t *testing.T) {
	bubble(t, func(t *testing.T) {
		c := startCoordinator(t, testConfig(t), &memLog{})
		ids, gen := stableGroup(t, c, "live", 2, joinOpts{})
		wantCode(t, "OffsetCommit by member", c.commit("live", ids[0], gen, "t", 0, 42), nil)
		wantCode(t, "standalone OffsetCommit", c.commit("idle", "", -1, "t", 1, 7), nil)
		wantCode(t, "standalone OffsetCommit", c.commit("idle", "", -1, "u", 0, 3), nil)
		stableGroup(t, c, "nothing-committed", 1, joinOpts{})

		got, err := c.GroupOffsets(context.Background())
		if err != nil {
			t.Fatalf("GroupOffsets: %v", err)
		}
		slices.SortFunc(got, func(a, b GroupOffsets) int { return cmp.Compare(a.Group, b.Group) })
		want := []GroupOffsets{
			{Group: "idle", Members: 0, Offsets: map[string]map[int32]int64{"t": {1: 7}, "u": {0: 3}}},
			{Group: "live", Members: 2, Offsets: map[string]map[int32]int64{"t": {0: 42}}},
			{Group: "nothing-committed", Members: 1, Offsets: map[string]map[int32]int64{}},
		}
		if diff := gocmp.Diff(want, got); diff != "" {
			t.Errorf("GroupOffsets (-want +got):\n%s", diff)
		}
	})
}
