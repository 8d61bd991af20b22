package group

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestOffsetCommitWithGenerations(t *testing.T) {
	bubble(t, func(t *testing.T) {
		c := startCoordinator(t, testConfig(t), &memLog{})
		ids, gen := stableGroup(t, c, "g", 1, joinOpts{})
		m := ids[0]

		wantCode(t, "OffsetCommit by member", c.commit("g", m, gen, "t", 0, 42), nil)
		if got := c.fetch(t, "g", "t", 0); got != 42 {
			t.Fatalf("OffsetFetch(g t-0) = %d, want 42", got)
		}
		wantCode(t, "OffsetCommit with old generation", c.commit("g", m, gen-1, "t", 0, 50), kerr.IllegalGeneration)
		wantCode(t, "OffsetCommit by unknown member", c.commit("g", "stranger", gen, "t", 0, 50), kerr.UnknownMemberID)
		wantCode(t, "standalone OffsetCommit to a group with members", c.commit("g", "", -1, "t", 0, 50), kerr.UnknownMemberID)
		if got := c.fetch(t, "g", "t", 0); got != 42 {
			t.Fatalf("OffsetFetch after rejected commits = %d, want 42", got)
		}

		// During CompletingRebalance the member must sync first.
		rj := mustReady(t, "leader rejoin", c.testJoin("g", joinOpts{memberID: m}))
		wantCode(t, "leader rejoin", rj.ErrorCode, nil)
		wantCode(t, "OffsetCommit in CompletingRebalance", c.commit("g", m, rj.Generation, "t", 0, 60), kerr.RebalanceInProgress)

		// Commits for a group that does not exist: by version.
		old := commitReq("nope", "m", 3, 8, map[string]map[int32]int64{"t": {0: 1}})
		wantCode(t, "OffsetCommit v8 with generation to unknown group", c.OffsetCommit(context.Background(), old).Topics[0].Partitions[0].ErrorCode, kerr.IllegalGeneration)
		wantCode(t, "OffsetCommit v9 with generation to unknown group", c.commit("nope", "m", 3, "t", 0, 1), kerr.GroupIDNotFound)
	})
}

func TestStandaloneCommit(t *testing.T) {
	bubble(t, func(t *testing.T) {
		log := &memLog{}
		c := startCoordinator(t, testConfig(t), log)
		wantCode(t, "standalone OffsetCommit", c.commit("solo", "", -1, "t", 3, 7), nil)
		if got := c.fetch(t, "solo", "t", 3); got != 7 {
			t.Fatalf("OffsetFetch(solo t-3) = %d, want 7", got)
		}
		if got := c.listGroups(t)["solo"]; got != "Empty" {
			t.Fatalf("ListGroups: solo is %q, want Empty", got)
		}
		recs := log.decoded(t)
		if len(recs) != 1 || recs[0].offsetValue == nil {
			t.Fatalf("log holds %d records, want one offset commit", len(recs))
		}
		want := offsetEntry{offset: 7, leaderEpoch: 7, metadata: "md", commitTimestamp: time.Now().UnixMilli(), expireTimestamp: -1}
		if diff := cmp.Diff(want, entryFromValue(recs[0].offsetValue), cmp.AllowUnexported(offsetEntry{})); diff != "" {
			t.Fatalf("committed record (-want +got):\n%s", diff)
		}
		if k := recs[0].offsetKey; k.Version != 1 || k.Group != "solo" || k.Topic != "t" || k.Partition != 3 || recs[0].offsetValue.Version != 3 {
			t.Fatalf("record key %+v value version %d, want key v1 solo/t/3 and value v3", k, recs[0].offsetValue.Version)
		}
	})
}

func TestOffsetCommitPartitionErrors(t *testing.T) {
	bubble(t, func(t *testing.T) {
		cfg := testConfig(t)
		cfg.OffsetMetadataMaxBytes = 10
		cfg.PartitionExists = func(topic string, partition int32) bool { return topic == "t" && partition < 2 }
		c := startCoordinator(t, cfg, &memLog{})

		req := kmsg.NewPtrOffsetCommitRequest()
		req.Version = 9
		req.Group, req.Generation = "g", -1
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = "t"
		for p, md := range []string{"short", strings.Repeat("x", 11), "ok"} {
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset, rp.Metadata = int32(p), 100, &md
			rt.Partitions = append(rt.Partitions, rp)
		}
		other := kmsg.NewOffsetCommitRequestTopic()
		other.Topic = "missing"
		op := kmsg.NewOffsetCommitRequestTopicPartition()
		other.Partitions = []kmsg.OffsetCommitRequestTopicPartition{op}
		req.Topics = []kmsg.OffsetCommitRequestTopic{rt, other}
		resp := c.OffsetCommit(context.Background(), req)

		got := map[string]int16{}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				got[fmt.Sprintf("%s-%d", t.Topic, p.Partition)] = p.ErrorCode
			}
		}
		want := map[string]int16{
			"t-0":       0,
			"t-1":       kerr.OffsetMetadataTooLarge.Code,
			"t-2":       kerr.UnknownTopicOrPartition.Code,
			"missing-0": kerr.UnknownTopicOrPartition.Code,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("OffsetCommit error codes (-want +got):\n%s", diff)
		}
		if c.fetch(t, "g", "t", 0) != 100 || c.fetch(t, "g", "t", 1) != -1 {
			t.Fatalf("OffsetFetch: only t-0 should be committed")
		}
	})
}

func TestOffsetFetchVersions(t *testing.T) {
	bubble(t, func(t *testing.T) {
		c := startCoordinator(t, testConfig(t), &memLog{})
		wantCode(t, "commit g1", c.commit("g1", "", -1, "a", 0, 1), nil)
		wantCode(t, "commit g1", c.commit("g1", "", -1, "a", 1, 2), nil)
		wantCode(t, "commit g1", c.commit("g1", "", -1, "b", 0, 3), nil)
		wantCode(t, "commit g2", c.commit("g2", "", -1, "a", 0, 4), nil)

		// v7, topics null: every committed partition.
		all := kmsg.NewPtrOffsetFetchRequest()
		all.Version = 7
		all.Group = "g1"
		all.RequireStable = true
		resp := c.OffsetFetch(context.Background(), all)
		var got []string
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				got = append(got, fmt.Sprintf("%s-%d@%d/%d/%s", t.Topic, p.Partition, p.Offset, p.LeaderEpoch, *p.Metadata))
			}
		}
		if diff := cmp.Diff([]string{"a-0@1/7/md", "a-1@2/7/md", "b-0@3/7/md"}, got); diff != "" {
			t.Fatalf("OffsetFetch v7 all partitions (-want +got):\n%s", diff)
		}

		// v8: several groups, unknown ones have no offsets.
		multi := kmsg.NewPtrOffsetFetchRequest()
		multi.Version = 8
		for _, g := range []string{"g2", "unknown"} {
			rg := kmsg.NewOffsetFetchRequestGroup()
			rg.Group = g
			rt := kmsg.NewOffsetFetchRequestGroupTopic()
			rt.Topic, rt.Partitions = "a", []int32{0, 5}
			rg.Topics = []kmsg.OffsetFetchRequestGroupTopic{rt}
			multi.Groups = append(multi.Groups, rg)
		}
		mresp := c.OffsetFetch(context.Background(), multi)
		got = nil
		for _, g := range mresp.Groups {
			for _, t := range g.Topics {
				for _, p := range t.Partitions {
					got = append(got, fmt.Sprintf("%s:%s-%d@%d err %d", g.Group, t.Topic, p.Partition, p.Offset, p.ErrorCode))
				}
			}
		}
		want := []string{"g2:a-0@4 err 0", "g2:a-5@-1 err 0", "unknown:a-0@-1 err 0", "unknown:a-5@-1 err 0"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("OffsetFetch v8 (-want +got):\n%s", diff)
		}
	})
}

func TestOffsetDelete(t *testing.T) {
	bubble(t, func(t *testing.T) {
		c := startCoordinator(t, testConfig(t), &memLog{})
		ids, gen := stableGroup(t, c, "g", 1, joinOpts{topics: []string{"sub"}})
		wantCode(t, "commit sub", c.commit("g", ids[0], gen, "sub", 0, 5), nil)
		wantCode(t, "commit old", c.commit("g", ids[0], gen, "old", 0, 6), nil)

		del := func(group string, topics ...string) *kmsg.OffsetDeleteResponse {
			req := kmsg.NewPtrOffsetDeleteRequest()
			req.Group = group
			for _, topic := range topics {
				rt := kmsg.NewOffsetDeleteRequestTopic()
				rt.Topic = topic
				rt.Partitions = []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}
				req.Topics = append(req.Topics, rt)
			}
			return c.OffsetDelete(context.Background(), req)
		}
		resp := del("g", "sub", "old")
		wantCode(t, "OffsetDelete", resp.ErrorCode, nil)
		wantCode(t, "OffsetDelete of a subscribed topic", resp.Topics[0].Partitions[0].ErrorCode, kerr.GroupSubscribedToTopic)
		wantCode(t, "OffsetDelete of an unsubscribed topic", resp.Topics[1].Partitions[0].ErrorCode, nil)
		if c.fetch(t, "g", "sub", 0) != 5 || c.fetch(t, "g", "old", 0) != -1 {
			t.Fatalf("after OffsetDelete: want sub-0 kept and old-0 gone")
		}
		wantCode(t, "OffsetDelete of unknown group", del("nope", "t").ErrorCode, kerr.GroupIDNotFound)

		// A non-empty group of another protocol type refuses.
		_, j := joinNew(t, c, "connect-group", joinOpts{ptype: "connect"})
		wantCode(t, "join connect", await(t, "join", j).ErrorCode, nil)
		wantCode(t, "OffsetDelete of non-empty non-consumer group", del("connect-group", "t").ErrorCode, kerr.NonEmptyGroup)
	})
}

func TestDescribeListDeleteGroups(t *testing.T) {
	bubble(t, func(t *testing.T) {
		log := &memLog{}
		c := startCoordinator(t, testConfig(t), log)
		stableGroup(t, c, "busy", 1, joinOpts{})
		wantCode(t, "commit", c.commit("idle", "", -1, "t", 0, 9), nil)
		wantCode(t, "commit", c.commit("idle", "", -1, "t", 1, 9), nil)

		d := c.describe(t, "unknown")
		if d.State != "Dead" || d.ErrorCode != 0 || len(d.Members) != 0 {
			t.Fatalf("DescribeGroups(unknown) = %s err %d, want Dead without error", d.State, d.ErrorCode)
		}
		if diff := cmp.Diff(map[string]string{"busy": "Stable", "idle": "Empty"}, c.listGroups(t)); diff != "" {
			t.Fatalf("ListGroups (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]string{"idle": "Empty"}, c.listGroups(t, "EMPTY")); diff != "" {
			t.Fatalf("ListGroups states [EMPTY] (-want +got):\n%s", diff)
		}
		types := kmsg.NewPtrListGroupsRequest()
		types.Version = 5
		types.TypesFilter = []string{"consumer"}
		if got := c.ListGroups(context.Background(), types).Groups; len(got) != 0 {
			t.Fatalf("ListGroups types [consumer] = %d groups, want none (all are classic)", len(got))
		}

		req := kmsg.NewPtrDeleteGroupsRequest()
		req.Version = 2
		req.Groups = []string{"busy", "unknown", "idle"}
		resp := c.DeleteGroups(context.Background(), req)
		got := map[string]int16{}
		for _, g := range resp.Groups {
			got[g.Group] = g.ErrorCode
		}
		want := map[string]int16{"busy": kerr.NonEmptyGroup.Code, "unknown": kerr.GroupIDNotFound.Code, "idle": 0}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("DeleteGroups codes (-want +got):\n%s", diff)
		}
		if c.fetch(t, "idle", "t", 0) != -1 {
			t.Fatalf("OffsetFetch after DeleteGroups: offsets still there")
		}
		if _, ok := c.listGroups(t)["idle"]; ok {
			t.Fatalf("ListGroups after DeleteGroups still lists idle")
		}
		recs := log.decoded(t)
		var tombstones int
		for _, r := range recs[len(recs)-3:] {
			if r.offsetValue == nil && r.groupValue == nil {
				tombstones++
			}
		}
		if tombstones != 3 || recs[len(recs)-1].typ != recordTypeGroupMetadata {
			t.Fatalf("last records: %d tombstones ending with %d, want 2 offset + 1 group tombstone", tombstones, recs[len(recs)-1].typ)
		}
	})
}

func TestOffsetsOfEmptyGroupsExpire(t *testing.T) {
	bubble(t, func(t *testing.T) {
		cfg := testConfig(t)
		cfg.OffsetsRetention = time.Hour
		cfg.OffsetsRetentionCheckInterval = time.Minute
		log := &memLog{}
		c := startCoordinator(t, cfg, log)

		// A standalone commit expires an hour after the commit.
		wantCode(t, "standalone commit", c.commit("solo", "", -1, "t", 0, 1), nil)
		// A group with members keeps its offsets; once empty, they expire
		// an hour after it became empty.
		ids, gen := stableGroup(t, c, "g", 1, joinOpts{session: 30 * 60 * 1000})
		wantCode(t, "member commit", c.commit("g", ids[0], gen, "t", 0, 2), nil)

		for range 10 {
			advance(5 * time.Minute)
			wantCode(t, "heartbeat", c.heartbeat("g", ids[0], gen), nil)
		}
		lreq := kmsg.NewPtrLeaveGroupRequest()
		lreq.Version = 0
		lreq.Group, lreq.MemberID = "g", ids[0]
		wantCode(t, "LeaveGroup", c.LeaveGroup(context.Background(), lreq).ErrorCode, nil)
		synctest.Wait()
		wantState(t, c, "g", "Empty")

		advance(11 * time.Minute) // solo: 61 min after its commit
		if got := c.fetch(t, "solo", "t", 0); got != -1 {
			t.Fatalf("standalone offset after retention = %d, want expired (-1)", got)
		}
		if _, ok := c.listGroups(t)["solo"]; ok {
			t.Fatalf("ListGroups still lists solo after its offsets expired")
		}
		if got := c.fetch(t, "g", "t", 0); got != 2 {
			t.Fatalf("offset of g 11 minutes after it emptied = %d, want 2", got)
		}
		advance(50 * time.Minute)
		if got := c.fetch(t, "g", "t", 0); got != -1 {
			t.Fatalf("offset of g an hour after it emptied = %d, want expired (-1)", got)
		}
		recs := log.decoded(t)
		last := recs[len(recs)-1]
		if last.typ != recordTypeGroupMetadata || last.groupValue != nil || last.groupKey.Group != "g" {
			t.Fatalf("last record %+v, want the group tombstone of g", last)
		}
	})
}

func TestOffsetsOfUnsubscribedTopicsExpireInStableGroup(t *testing.T) {
	bubble(t, func(t *testing.T) {
		cfg := testConfig(t)
		cfg.OffsetsRetention = time.Hour
		cfg.OffsetsRetentionCheckInterval = time.Minute
		c := startCoordinator(t, cfg, &memLog{})
		ids, gen := stableGroup(t, c, "g", 1, joinOpts{topics: []string{"t"}, session: 30 * 60 * 1000})
		wantCode(t, "commit t", c.commit("g", ids[0], gen, "t", 0, 1), nil)
		wantCode(t, "commit old", c.commit("g", ids[0], gen, "old", 0, 2), nil)
		for range 13 { // 65 minutes
			advance(5 * time.Minute)
			wantCode(t, "heartbeat", c.heartbeat("g", ids[0], gen), nil)
		}
		// KIP-496: a Stable consumer group keeps offsets of topics it
		// subscribes to; the others expire from their commit.
		if got := c.fetch(t, "g", "t", 0); got != 1 {
			t.Fatalf("offset of subscribed topic after retention = %d, want 1", got)
		}
		if got := c.fetch(t, "g", "old", 0); got != -1 {
			t.Fatalf("offset of unsubscribed topic after retention = %d, want expired", got)
		}
	})
}

func TestOffsetFetchV1CarriesErrorsPerPartition(t *testing.T) {
	bubble(t, func(t *testing.T) {
		c := startCoordinator(t, testConfig(t), nil) // nothing loaded
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Version = 1
		req.Group = "g"
		rt := kmsg.NewOffsetFetchRequestTopic()
		rt.Topic, rt.Partitions = "t", []int32{0, 1}
		req.Topics = []kmsg.OffsetFetchRequestTopic{rt}
		resp := c.OffsetFetch(context.Background(), req)
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 2 {
			t.Fatalf("OffsetFetch v1 not coordinator: %d topics, want 1 with 2 partitions", len(resp.Topics))
		}
		for _, p := range resp.Topics[0].Partitions {
			wantCode(t, "OffsetFetch v1 partition", p.ErrorCode, kerr.NotCoordinator)
		}
		req.Version = 7
		wantCode(t, "OffsetFetch v7", c.OffsetFetch(context.Background(), req).ErrorCode, kerr.NotCoordinator)
	})
}
