package group

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestConsumerGroupMembersJoinAndConverge(t *testing.T) {
	for n := 1; n <= 4; n++ {
		t.Run(fmt.Sprintf("%d members", n), func(t *testing.T) {
			bubble(t, func(t *testing.T) {
				topics := newFakeTopics(map[string]int32{"a": 6, "b": 3})
				c := startCoordinator(t, consumerConfig(t, topics), &memLog{})
				var ms []*consumer848
				for i := range n {
					m := newConsumer848(t, c, "g", fmt.Sprintf("m%d", i), "a", "b")
					resp := m.join()
					if resp.Assignment == nil || resp.HeartbeatIntervalMillis != 5000 {
						t.Fatalf("join of %s: assignment %v, interval %d; want an assignment and 5000", m.id, resp.Assignment, resp.HeartbeatIntervalMillis)
					}
					ms = append(ms, m)
					checkDisjoint(t, ms)
				}
				d := converge(t, ms)
				if d.Epoch != int32(n) || d.AssignmentEpoch != int32(n) || d.AssignorName != UniformAssignor {
					t.Fatalf("group epoch %d, assignment epoch %d, assignor %s; want %d, %d, uniform", d.Epoch, d.AssignmentEpoch, d.AssignorName, n, n)
				}
				total := assignment{}
				for _, m := range ms {
					if got, lo, hi := m.owned.size(), 9/n, (9+n-1)/n; got < lo || got > hi {
						t.Fatalf("member %s owns %d partitions, want %d..%d (9 over %d members)", m.id, got, lo, hi, n)
					}
					total = union(total, m.owned)
				}
				if want := allPartitions(topics, "a", "b"); !total.equal(want) {
					t.Fatalf("members own %v together, want every partition %v", total, want)
				}
			})
		})
	}
}

func TestConsumerGroupV0GeneratesMemberID(t *testing.T) {
	bubble(t, func(t *testing.T) {
		topics := newFakeTopics(map[string]int32{"a": 2})
		c := startCoordinator(t, consumerConfig(t, topics), &memLog{})
		m := newConsumer848(t, c, "g", "", "a")
		m.version = 0
		resp := m.join()
		if resp.MemberID == nil || len(*resp.MemberID) != 22 {
			t.Fatalf("v0 join without member id: member id %v, want a generated 22-character id", resp.MemberID)
		}
		if m.owned.size() != 2 || m.epoch != 1 {
			t.Fatalf("v0 member owns %d partitions at epoch %d, want 2 at epoch 1", m.owned.size(), m.epoch)
		}
		m.beat()
	})
}

func TestConsumerGroupRevokesBeforeReassigning(t *testing.T) {
	bubble(t, func(t *testing.T) {
		topics := newFakeTopics(map[string]int32{"a": 4})
		c := startCoordinator(t, consumerConfig(t, topics), &memLog{})
		a := newConsumer848(t, c, "g", "a", "a")
		a.join()
		if a.owned.size() != 4 {
			t.Fatalf("first member owns %d partitions, want 4", a.owned.size())
		}
		b := newConsumer848(t, c, "g", "b", "a")
		b.join()
		if b.owned.size() != 0 || b.epoch != 2 {
			t.Fatalf("second member got %d partitions at epoch %d, want none (still owned by a) at epoch 2", b.owned.size(), b.epoch)
		}
		// a is asked to revoke two partitions; it keeps reporting them
		// while its revocation callbacks run.
		stillOwned := a.owned
		a.beat()
		if a.owned.size() != 2 || a.epoch != 1 {
			t.Fatalf("a after the new target: owns %d at epoch %d, want 2 at its old epoch 1", a.owned.size(), a.epoch)
		}
		if d := describedMember(describe848(t, c, "g"), "a"); d.MemberEpoch != 1 {
			t.Fatalf("described epoch of a = %d, want 1 while it revokes", d.MemberEpoch)
		}
		req := a.fullRequest()
		req.Topics = nil
		for _, id := range stillOwned.topicIDs() {
			rt := kmsg.NewConsumerGroupHeartbeatRequestTopic()
			rt.TopicID, rt.Partitions = id, stillOwned[id]
			req.Topics = append(req.Topics, rt)
		}
		wantCode(t, "heartbeat of a still owning revoked partitions", a.send(req).ErrorCode, nil)
		b.beat()
		if b.owned.size() != 0 {
			t.Fatalf("b got %d partitions while a still owns them, want 0", b.owned.size())
		}
		if st := describedMember(describe848(t, c, "g"), "b"); st == nil || st.MemberEpoch != 2 {
			t.Fatalf("b described %+v, want epoch 2 (waiting on unreleased partitions)", st)
		}
		// A keepalive (owned partitions left out) does not count as revoking.
		wantCode(t, "keepalive of a", a.send(a.keepaliveRequest()).ErrorCode, nil)
		if a.epoch != 1 {
			t.Fatalf("a moved to epoch %d on a keepalive, want 1", a.epoch)
		}
		a.beat() // now reports owning only its two
		if a.epoch != 2 {
			t.Fatalf("a after revoking: epoch %d, want 2", a.epoch)
		}
		b.beat()
		if b.owned.size() != 2 {
			t.Fatalf("b after a revoked: owns %d, want 2", b.owned.size())
		}
		checkDisjoint(t, []*consumer848{a, b})
		if d := describe848(t, c, "g"); d.State != consumerStateStable {
			t.Fatalf("state %s, want Stable", d.State)
		}
	})
}

func TestConsumerGroupLeaveAndExpiryRebalanceIncrementally(t *testing.T) {
	bubble(t, func(t *testing.T) {
		topics := newFakeTopics(map[string]int32{"a": 6})
		c := startCoordinator(t, consumerConfig(t, topics), &memLog{})
		ms := []*consumer848{
			newConsumer848(t, c, "g", "m0", "a"),
			newConsumer848(t, c, "g", "m1", "a"),
			newConsumer848(t, c, "g", "m2", "a"),
		}
		for _, m := range ms {
			m.join()
		}
		converge(t, ms)
		for _, m := range ms {
			m.lost = assignment{}
		}

		// m2 leaves: m0 and m1 take its partitions and give up none.
		if resp := ms[2].leave(leaveMemberEpoch); resp.MemberEpoch != leaveMemberEpoch {
			t.Fatalf("leave answered epoch %d, want -1", resp.MemberEpoch)
		}
		d := converge(t, ms[:2])
		if len(d.Members) != 2 {
			t.Fatalf("%d members after a leave, want 2", len(d.Members))
		}
		for _, m := range ms[:2] {
			if m.lost.size() != 0 || m.owned.size() != 3 {
				t.Fatalf("%s lost %v and owns %d after another left, want it to lose nothing and own 3", m.id, m.lost, m.owned.size())
			}
		}

		// m1 goes silent: after the 45s session timeout it is fenced and
		// m0 gets everything.
		for range 8 {
			advance(5 * time.Second)
			ms[0].beat()
		}
		if ms[1].owned.size() != 3 {
			t.Fatalf("m1 removed before its session expired")
		}
		advance(10 * time.Second)
		d = converge(t, ms[:1])
		if len(d.Members) != 1 || ms[0].owned.size() != 6 || ms[0].lost.size() != 0 {
			t.Fatalf("after m1 expired: %d members, m0 owns %d and lost %v; want 1 member owning all 6", len(d.Members), ms[0].owned.size(), ms[0].lost)
		}
		if code := heartbeatCode(t, c, ms[1].fullRequest()); code != kerr.UnknownMemberID {
			t.Fatalf("heartbeat of the expired member = %v, want UNKNOWN_MEMBER_ID", code)
		}
	})
}

func TestConsumerGroupRebalanceTimeoutFencesMemberThatDoesNotRevoke(t *testing.T) {
	bubble(t, func(t *testing.T) {
		topics := newFakeTopics(map[string]int32{"a": 2})
		c := startCoordinator(t, consumerConfig(t, topics), &memLog{})
		a := newConsumer848(t, c, "g", "a", "a")
		a.join()
		held := a.owned
		b := newConsumer848(t, c, "g", "b", "a")
		b.join()
		hold := func() {
			req := a.fullRequest()
			req.Topics = nil
			for _, id := range held.topicIDs() {
				rt := kmsg.NewConsumerGroupHeartbeatRequestTopic()
				rt.TopicID, rt.Partitions = id, held[id]
				req.Topics = append(req.Topics, rt)
			}
			wantCode(t, "heartbeat of a member holding on", a.send(req).ErrorCode, nil)
		}
		hold() // asked to revoke one partition, keeps it
		for range 5 {
			advance(5 * time.Second)
			hold()
			b.beat()
		}
		advance(6 * time.Second) // 31s after the revocation was asked for
		if code := heartbeatCode(t, c, a.fullRequest()); code != kerr.UnknownMemberID {
			t.Fatalf("heartbeat of a member past its rebalance timeout = %v, want UNKNOWN_MEMBER_ID (fenced)", code)
		}
		d := converge(t, []*consumer848{b})
		if b.owned.size() != 2 || len(d.Members) != 1 {
			t.Fatalf("b owns %d with %d members after a was fenced, want 2 and 1", b.owned.size(), len(d.Members))
		}
	})
}

func TestConsumerGroupUniformVersusRange(t *testing.T) {
	tests := []struct {
		name     string
		assignor string
		want     map[string]assignment
	}{
		{"range", RangeAssignor, map[string]assignment{
			"m0": parts(map[string][]int32{"a": {0, 1}, "b": {0, 1}}),
			"m1": parts(map[string][]int32{"a": {2}, "b": {2}}),
		}},
		{"uniform", UniformAssignor, nil}, // balanced: checked below
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bubble(t, func(t *testing.T) {
				topics := newFakeTopics(map[string]int32{"a": 3, "b": 3})
				c := startCoordinator(t, consumerConfig(t, topics), &memLog{})
				ms := []*consumer848{newConsumer848(t, c, "g", "m0", "a", "b"), newConsumer848(t, c, "g", "m1", "a", "b")}
				for _, m := range ms {
					m.assignor = &tt.assignor
					m.join()
				}
				d := converge(t, ms)
				if d.AssignorName != tt.assignor {
					t.Fatalf("assignor %s, want %s", d.AssignorName, tt.assignor)
				}
				for _, m := range ms {
					if tt.want != nil && !m.owned.equal(tt.want[m.id]) {
						t.Fatalf("%s with %s owns %v, want %v", m.id, tt.assignor, m.owned, tt.want[m.id])
					}
					if tt.want == nil && m.owned.size() != 3 {
						t.Fatalf("%s with uniform owns %d, want 3", m.id, m.owned.size())
					}
				}
			})
		})
	}
}

func TestConsumerGroupRegexSubscription(t *testing.T) {
	bubble(t, func(t *testing.T) {
		topics := newFakeTopics(map[string]int32{"orders-eu": 2, "orders-us": 2, "payments": 2, "xorders-eu": 1})
		c := startCoordinator(t, consumerConfig(t, topics), &memLog{})
		m := newConsumer848(t, c, "g", "m", "ignored")
		re := "orders-.*"
		m.regex = &re
		m.join()
		if want := allPartitions(topics, "orders-eu", "orders-us"); !m.owned.equal(want) {
			t.Fatalf("regex %q member owns %v, want the orders topics (whole names only) %v", re, m.owned, want)
		}
		dm := describedMember(describe848(t, c, "g"), "m")
		if dm.SubscribedTopicRegex == nil || *dm.SubscribedTopicRegex != re {
			t.Fatalf("described regex %v, want %q", dm.SubscribedTopicRegex, re)
		}

		// A new matching topic is picked up once the regex is refreshed.
		topics.set("orders-apac", 1)
		m.beat()
		if m.owned.size() != 4 {
			t.Fatalf("new topic seen before the regex refresh interval: owns %d", m.owned.size())
		}
		advance(regexRefreshInterval)
		m.beat()
		m.beat()
		if want := allPartitions(topics, "orders-eu", "orders-us", "orders-apac"); !m.owned.equal(want) {
			t.Fatalf("after a new matching topic: owns %v, want %v", m.owned, want)
		}

		bad := newConsumer848(t, c, "g", "bad", "x")
		badRe := "orders-(["
		bad.regex = &badRe
		if code := heartbeatCode(t, c, bad.fullRequest()); code != kerr.InvalidRegularExpression {
			t.Fatalf("join with regex %q = %v, want INVALID_REGULAR_EXPRESSION", badRe, code)
		}
	})
}

func TestConsumerGroupTopicMetadataChangesTriggerAssignment(t *testing.T) {
	bubble(t, func(t *testing.T) {
		topics := newFakeTopics(map[string]int32{"a": 2})
		c := startCoordinator(t, consumerConfig(t, topics), &memLog{})
		ms := []*consumer848{newConsumer848(t, c, "g", "m0", "a", "later"), newConsumer848(t, c, "g", "m1", "a", "later")}
		for _, m := range ms {
			m.join()
		}
		before := converge(t, ms)

		topics.set("a", 4)
		d := converge(t, ms)
		if d.Epoch != before.Epoch+1 {
			t.Fatalf("group epoch %d after partitions were added, want %d", d.Epoch, before.Epoch+1)
		}
		for _, m := range ms {
			if m.owned.size() != 2 {
				t.Fatalf("%s owns %d of 4 partitions, want 2", m.id, m.owned.size())
			}
		}

		topics.set("later", 2) // a subscribed topic that did not exist yet
		converge(t, ms)
		for _, m := range ms {
			if m.owned.size() != 3 {
				t.Fatalf("%s owns %d of 6 partitions after a subscribed topic appeared, want 3", m.id, m.owned.size())
			}
		}
		topics.remove("later")
		converge(t, ms)
		if total := union(ms[0].owned, ms[1].owned); !total.equal(allPartitions(topics, "a")) {
			t.Fatalf("after a topic was deleted members own %v, want only a's partitions", total)
		}
	})
}

func TestConsumerGroupStaticMemberLeavesAndReturns(t *testing.T) {
	bubble(t, func(t *testing.T) {
		topics := newFakeTopics(map[string]int32{"a": 4})
		c := startCoordinator(t, consumerConfig(t, topics), &memLog{})
		s := newConsumer848(t, c, "g", "s-1", "a").static("instance-1")
		d := newConsumer848(t, c, "g", "d", "a")
		s.join()
		d.join()
		before := converge(t, []*consumer848{s, d})
		kept := s.owned

		if resp := s.leave(leaveStaticMemberEpoch); resp.MemberEpoch != leaveStaticMemberEpoch {
			t.Fatalf("static leave answered epoch %d, want -2", resp.MemberEpoch)
		}
		desc := describe848(t, c, "g")
		if dm := describedMember(desc, "s-1"); dm == nil || dm.MemberEpoch != leaveStaticMemberEpoch || !fromDescribed(dm.Assignment).equal(kept) {
			t.Fatalf("static member after leaving for a while: %+v, want epoch -2 keeping %v", dm, kept)
		}
		if desc.Epoch != before.Epoch {
			t.Fatalf("group epoch moved to %d on a temporary leave, want %d", desc.Epoch, before.Epoch)
		}
		d.beat()
		if d.owned.size() != 2 {
			t.Fatalf("dynamic member got the away member's partitions: owns %d", d.owned.size())
		}

		// Another process with the same instance id while the first one is
		// still a member is refused.
		other := newConsumer848(t, c, "g", "s-other", "a").static("instance-2")
		other.join()
		dup := newConsumer848(t, c, "g", "s-dup", "a").static("instance-2")
		if code := heartbeatCode(t, c, dup.fullRequest()); code != kerr.UnreleasedInstanceID {
			t.Fatalf("join with an instance id in use = %v, want UNRELEASED_INSTANCE_ID", code)
		}
		other.leave(leaveMemberEpoch)

		// The instance returns with a new member id and gets its
		// partitions back at once.
		back := newConsumer848(t, c, "g", "s-2", "a").static("instance-1")
		back.join()
		if !back.owned.equal(kept) {
			t.Fatalf("returning static member got %v, want its old %v", back.owned, kept)
		}
		desc = describe848(t, c, "g")
		if describedMember(desc, "s-1") != nil || describedMember(desc, "s-2") == nil {
			t.Fatalf("members after the return: %+v, want s-2 in place of s-1", desc.Members)
		}
		old := newConsumer848(t, c, "g", "s-1", "a").static("instance-1")
		old.epoch = back.epoch
		if code := heartbeatCode(t, c, old.fullRequest()); code != kerr.FencedInstanceID {
			t.Fatalf("heartbeat of the replaced member id = %v, want FENCED_INSTANCE_ID", code)
		}
		converge(t, []*consumer848{back, d})

		// Away for longer than the session timeout: fenced, partitions move.
		back.leave(leaveStaticMemberEpoch)
		for range 10 {
			advance(5 * time.Second)
			d.beat()
		}
		converge(t, []*consumer848{d})
		if d.owned.size() != 4 {
			t.Fatalf("dynamic member owns %d after the static member's session expired, want 4", d.owned.size())
		}
	})
}

func TestConsumerGroupHeartbeatErrors(t *testing.T) {
	bubble(t, func(t *testing.T) {
		topics := newFakeTopics(map[string]int32{"a": 2})
		cfg := consumerConfig(t, topics)
		cfg.ConsumerGroupMaxSize = 2
		c := startCoordinator(t, cfg, &memLog{})
		a := newConsumer848(t, c, "g", "a", "a")
		a.join()
		a.beat()

		str := func(s string) *string { return &s }
		tests := []struct {
			name string
			give func(r *kmsg.ConsumerGroupHeartbeatRequest)
			want *kerr.Error
		}{
			{"v1 without member id", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberID = "" }, kerr.InvalidRequest},
			{"empty group", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.Group = " " }, kerr.InvalidRequest},
			{"empty instance id", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.InstanceID = str("") }, kerr.InvalidRequest},
			{"join without rebalance timeout", func(r *kmsg.ConsumerGroupHeartbeatRequest) {
				r.MemberID, r.MemberEpoch, r.RebalanceTimeoutMillis = "n", 0, -1
			}, kerr.InvalidRequest},
			{"join owning partitions", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberID, r.MemberEpoch = "n", 0 }, kerr.InvalidRequest},
			{"join without subscription", func(r *kmsg.ConsumerGroupHeartbeatRequest) {
				r.MemberID, r.MemberEpoch, r.Topics, r.SubscribedTopicNames = "n", 0, []kmsg.ConsumerGroupHeartbeatRequestTopic{}, nil
			}, kerr.InvalidRequest},
			{"epoch below -2", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberEpoch = -3 }, kerr.InvalidRequest},
			{"static leave without instance id", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberEpoch = -2 }, kerr.InvalidRequest},
			{"unknown assignor", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.ServerAssignor = str("sticky") }, kerr.UnsupportedAssignor},
			{"epoch ahead", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberEpoch = 7 }, kerr.FencedMemberEpoch},
			{"unknown member", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberID = "nobody" }, kerr.UnknownMemberID},
			{"unknown group", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.Group = "nope" }, kerr.GroupIDNotFound},
			{"leave of unknown member", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberID, r.MemberEpoch = "nobody", -1 }, kerr.UnknownMemberID},
			{"static heartbeat of unknown instance", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.InstanceID = str("i") }, kerr.UnknownMemberID},
		}
		for _, tt := range tests {
			req := a.fullRequest()
			tt.give(req)
			if got := heartbeatCode(t, c, req); got != tt.want {
				t.Errorf("ConsumerGroupHeartbeat (%s) = %v, want %v", tt.name, got, tt.want)
			}
		}
		resp := c.ConsumerGroupHeartbeat(context.Background(), func() *kmsg.ConsumerGroupHeartbeatRequest {
			r := a.fullRequest()
			r.MemberEpoch = 9
			return r
		}())
		if resp.ErrorMessage == nil || resp.MemberID != nil {
			t.Fatalf("fenced answer: message %v member id %v, want a message and no member id", resp.ErrorMessage, resp.MemberID)
		}

		b := newConsumer848(t, c, "g", "b", "a")
		b.join()
		third := newConsumer848(t, c, "g", "c", "a")
		if code := heartbeatCode(t, c, third.fullRequest()); code != kerr.GroupMaxSizeReached {
			t.Fatalf("third member of a group of max 2 = %v, want GROUP_MAX_SIZE_REACHED", code)
		}
	})
}

func TestConsumerGroupPreviousEpochIsAcceptedAfterLostAnswer(t *testing.T) {
	bubble(t, func(t *testing.T) {
		topics := newFakeTopics(map[string]int32{"a": 2})
		c := startCoordinator(t, consumerConfig(t, topics), &memLog{})
		a := newConsumer848(t, c, "g", "a", "a")
		req := a.fullRequest()
		a.join()
		// The join's answer (epoch 1 with both partitions) is lost: the
		// member retries its join at epoch 0.
		resp := a.send(req)
		wantCode(t, "join retried after a lost answer", resp.ErrorCode, nil)
		if resp.MemberEpoch != 1 || resp.Assignment == nil || len(resp.Assignment.Topics) != 1 {
			t.Fatalf("retried join: epoch %d assignment %v, want epoch 1 with the assignment again", resp.MemberEpoch, resp.Assignment)
		}
		// At epoch 2 after another member joined, a retry at epoch 1 owning
		// more than its assignment is fenced.
		b := newConsumer848(t, c, "g", "b", "a")
		b.join()
		owning := a.fullRequest()
		a.beat() // revokes one: now at epoch 1 with one partition pending revocation
		a.beat() // revoked: epoch 2
		if a.epoch != 2 {
			t.Fatalf("a at epoch %d, want 2", a.epoch)
		}
		if code := heartbeatCode(t, c, owning); code != kerr.FencedMemberEpoch {
			t.Fatalf("previous epoch with partitions no longer assigned = %v, want FENCED_MEMBER_EPOCH", code)
		}
		if code := heartbeatCode(t, c, req); code != kerr.FencedMemberEpoch {
			t.Fatalf("rejoin at epoch 0 of a member at epoch 2 = %v, want FENCED_MEMBER_EPOCH", code)
		}
		stale := a.fullRequest()
		stale.MemberEpoch = 1
		if code := heartbeatCode(t, c, stale); code != nil {
			t.Fatalf("previous epoch owning a subset = %v, want accepted", code)
		}
	})
}

func TestConsumerGroupOffsetsWithMemberEpochs(t *testing.T) {
	bubble(t, func(t *testing.T) {
		topics := newFakeTopics(map[string]int32{"a": 2})
		c := startCoordinator(t, consumerConfig(t, topics), &memLog{})
		// Offsets committed before the consumer group exists: the empty
		// "simple" group becomes a consumer group on the first join.
		wantCode(t, "commit without a group", c.commit("g", "", -1, "a", 0, 5), nil)
		m := newConsumer848(t, c, "g", "m", "a")
		m.join()
		if got := c.fetch(t, "g", "a", 0); got != 5 {
			t.Fatalf("offset after the group became a consumer group = %d, want 5", got)
		}

		wantCode(t, "commit at the member epoch", c.commit("g", "m", m.epoch, "a", 0, 10), nil)
		wantCode(t, "commit at a stale epoch", c.commit("g", "m", m.epoch-1, "a", 0, 11), kerr.StaleMemberEpoch)
		wantCode(t, "commit of an unknown member", c.commit("g", "x", m.epoch, "a", 0, 11), kerr.UnknownMemberID)
		wantCode(t, "commit without member while the group has members", c.commit("g", "", -1, "a", 0, 11), kerr.UnknownMemberID)
		v8 := c.OffsetCommit(context.Background(), commitReq("g", "m", m.epoch, 8, map[string]map[int32]int64{"a": {0: 12}}))
		wantCode(t, "commit by a member with OffsetCommit v8", v8.Topics[0].Partitions[0].ErrorCode, kerr.UnsupportedVersion)
		if got := c.fetch(t, "g", "a", 0); got != 10 {
			t.Fatalf("committed offset %d, want 10", got)
		}

		fetch := func(memberID *string, epoch int32) int16 {
			req := kmsg.NewPtrOffsetFetchRequest()
			req.Version = 9
			rg := kmsg.NewOffsetFetchRequestGroup()
			rg.Group, rg.MemberID, rg.MemberEpoch = "g", memberID, epoch
			req.Groups = []kmsg.OffsetFetchRequestGroup{rg}
			return c.OffsetFetch(context.Background(), req).Groups[0].ErrorCode
		}
		id, unknown := "m", "x"
		wantCode(t, "OffsetFetch v9 at the member epoch", fetch(&id, m.epoch), nil)
		wantCode(t, "OffsetFetch v9 at a stale epoch", fetch(&id, m.epoch+1), kerr.StaleMemberEpoch)
		wantCode(t, "OffsetFetch v9 of an unknown member", fetch(&unknown, m.epoch), kerr.UnknownMemberID)
		wantCode(t, "OffsetFetch v9 without member (admin)", fetch(nil, -1), nil)

		// OffsetDelete refuses topics the group consumes.
		od := kmsg.NewPtrOffsetDeleteRequest()
		od.Group = "g"
		ot := kmsg.NewOffsetDeleteRequestTopic()
		ot.Topic = "a"
		ot.Partitions = []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}
		od.Topics = []kmsg.OffsetDeleteRequestTopic{ot}
		wantCode(t, "OffsetDelete of a subscribed topic", c.OffsetDelete(context.Background(), od).Topics[0].Partitions[0].ErrorCode, kerr.GroupSubscribedToTopic)
	})
}

func TestConsumerGroupDescribeListDelete(t *testing.T) {
	bubble(t, func(t *testing.T) {
		topics := newFakeTopics(map[string]int32{"a": 2})
		c := startCoordinator(t, consumerConfig(t, topics), &memLog{})
		m := newConsumer848(t, c, "g", "m", "a").static("i")
		rack := "r1"
		req := m.fullRequest()
		req.RackID = &rack
		wantCode(t, "join", m.send(req).ErrorCode, nil)
		wantCode(t, "commit", c.commit("classic", "", -1, "a", 0, 1), nil)

		d := describe848(t, c, "g")
		dm := describedMember(d, "m")
		if d.ErrorCode != 0 || d.State != consumerStateStable || d.Epoch != 1 || d.AssignmentEpoch != 1 || dm == nil {
			t.Fatalf("ConsumerGroupDescribe = %+v, want a Stable group at epoch 1 with member m", d)
		}
		if *dm.InstanceID != "i" || *dm.RackID != "r1" || dm.ClientID != "client-m" || dm.ClientHost != "/10.0.0.1" ||
			dm.MemberEpoch != 1 || dm.MemberType != 1 || len(dm.SubscribedTopics) != 1 ||
			len(dm.Assignment.TopicPartitions) != 1 || dm.Assignment.TopicPartitions[0].Topic != "a" ||
			len(dm.TargetAssignment.TopicPartitions) != 1 {
			t.Fatalf("described member %+v, want its instance, rack, client, epoch 1, type 1 and topic a in both assignments", dm)
		}
		req2 := kmsg.NewPtrConsumerGroupDescribeRequest()
		req2.Groups = []string{"nope", "classic", ""}
		resp := c.ConsumerGroupDescribe(context.Background(), req2)
		wantCode(t, "ConsumerGroupDescribe of an unknown group", resp.Groups[0].ErrorCode, kerr.GroupIDNotFound)
		wantCode(t, "ConsumerGroupDescribe of a classic group", resp.Groups[1].ErrorCode, kerr.GroupIDNotFound)
		wantCode(t, "ConsumerGroupDescribe of an empty id", resp.Groups[2].ErrorCode, kerr.InvalidGroupID)

		lg := kmsg.NewPtrListGroupsRequest()
		lg.Version = 5
		lg.TypesFilter = []string{"Consumer"}
		listed := c.ListGroups(context.Background(), lg)
		if len(listed.Groups) != 1 || listed.Groups[0].Group != "g" || listed.Groups[0].GroupType != "consumer" ||
			listed.Groups[0].ProtocolType != "consumer" || listed.Groups[0].GroupState != "Stable" {
			t.Fatalf("ListGroups(types consumer) = %+v, want g, consumer, Stable", listed.Groups)
		}
		if got := c.listGroups(t, "stable"); got["g"] != "Stable" {
			t.Fatalf("ListGroups(state stable) = %v, want g", got)
		}
		// DescribeGroups is the classic protocol's: a consumer group is not
		// one of its groups (Kafka answers Dead up to v5).
		if got := c.describe(t, "g"); got.State != "Dead" || len(got.Members) != 0 {
			t.Fatalf("DescribeGroups of a consumer group = %+v, want Dead", got)
		}

		del := func() int16 {
			r := kmsg.NewPtrDeleteGroupsRequest()
			r.Groups = []string{"g"}
			return c.DeleteGroups(context.Background(), r).Groups[0].ErrorCode
		}
		wantCode(t, "DeleteGroups of a group with members", del(), kerr.NonEmptyGroup)
		m.leave(leaveMemberEpoch)
		if d := describe848(t, c, "g"); d.State != consumerStateEmpty || d.Epoch != 2 {
			t.Fatalf("after the last member left: %s at epoch %d, want Empty at 2", d.State, d.Epoch)
		}
		wantCode(t, "DeleteGroups of an empty group", del(), nil)
		wantCode(t, "ConsumerGroupDescribe after delete", describe848(t, c, "g").ErrorCode, kerr.GroupIDNotFound)
	})
}

func TestConsumerGroupSurvivesReload(t *testing.T) {
	log := &memLog{}
	topics := newFakeTopics(map[string]int32{"a": 4, "orders-1": 2})
	var saved []consumer848
	var before kmsg.ConsumerGroupDescribeResponseGroup
	bubble(t, func(t *testing.T) {
		c := startCoordinator(t, consumerConfig(t, topics), log)
		re := "orders-.*"
		ms := []*consumer848{newConsumer848(t, c, "g", "m0", "a"), newConsumer848(t, c, "g", "m1", "a").static("i1")}
		ms[1].regex = &re
		for _, m := range ms {
			m.join()
		}
		before = converge(t, ms)
		wantCode(t, "commit", c.commit("g", "m0", ms[0].epoch, "a", 0, 42), nil)
		for _, m := range ms {
			saved = append(saved, *m)
		}
	})
	bubble(t, func(t *testing.T) {
		c := startCoordinator(t, consumerConfig(t, topics), log)
		after := describe848(t, c, "g")
		if after.State != before.State || after.Epoch != before.Epoch || after.AssignmentEpoch != before.AssignmentEpoch || len(after.Members) != 2 {
			t.Fatalf("after reload: %s epoch %d/%d with %d members, want %s %d/%d with 2",
				after.State, after.Epoch, after.AssignmentEpoch, len(after.Members), before.State, before.Epoch, before.AssignmentEpoch)
		}
		for _, bm := range before.Members {
			am := describedMember(after, bm.MemberID)
			if am == nil || am.MemberEpoch != bm.MemberEpoch || !fromDescribed(am.Assignment).equal(fromDescribed(bm.Assignment)) ||
				!fromDescribed(am.TargetAssignment).equal(fromDescribed(bm.TargetAssignment)) || am.ClientID != bm.ClientID ||
				!equalPtr(am.InstanceID, bm.InstanceID) || !equalPtr(am.SubscribedTopicRegex, bm.SubscribedTopicRegex) {
				t.Fatalf("member after reload %+v, want %+v", am, bm)
			}
		}
		if got := c.fetch(t, "g", "a", 0); got != 42 {
			t.Fatalf("offset after reload = %d, want 42", got)
		}
		// m0 carries on at its epoch; m1 never comes back and is fenced a
		// session timeout after the load.
		m0 := saved[0]
		m0.t, m0.c = t, c
		for range 8 {
			advance(5 * time.Second)
			if resp := m0.beat(); resp.MemberEpoch != before.AssignmentEpoch {
				t.Fatalf("m0 after reload at epoch %d, want %d", resp.MemberEpoch, before.AssignmentEpoch)
			}
		}
		advance(10 * time.Second)
		d := converge(t, []*consumer848{&m0})
		if len(d.Members) != 1 || !m0.owned.equal(allPartitions(topics, "a")) || d.Epoch != before.Epoch+1 {
			t.Fatalf("after m1's session expired: %d members at epoch %d, m0 owns %v; want 1 member owning a at epoch %d",
				len(d.Members), d.Epoch, m0.owned, before.Epoch+1)
		}
	})
}

func TestClassicAndConsumerGroupsDoNotMix(t *testing.T) {
	bubble(t, func(t *testing.T) {
		topics := newFakeTopics(map[string]int32{"t": 2})
		c := startCoordinator(t, consumerConfig(t, topics), &memLog{})

		// A consumer group with a member refuses classic members.
		m := newConsumer848(t, c, "cg", "m", "t")
		m.join()
		r := mustReady(t, "JoinGroup to a consumer group", c.testJoin("cg", joinOpts{}))
		wantCode(t, "JoinGroup to a consumer group", r.ErrorCode, kerr.InconsistentGroupProtocol)
		s := mustReady(t, "SyncGroup to a consumer group", c.testSync("cg", "m", 1, nil))
		wantCode(t, "SyncGroup to a consumer group", s.ErrorCode, kerr.UnknownMemberID)
		wantCode(t, "Heartbeat to a consumer group", c.heartbeat("cg", "m", 1), kerr.UnknownMemberID)

		// A classic group with members refuses consumer members.
		stableGroup(t, c, "classic", 1, joinOpts{})
		x := newConsumer848(t, c, "classic", "x", "t")
		if code := heartbeatCode(t, c, x.fullRequest()); code != kerr.GroupIDNotFound {
			t.Fatalf("ConsumerGroupHeartbeat to a classic group with members = %v, want GROUP_ID_NOT_FOUND", code)
		}

		// Empty groups change type, as in Kafka.
		m.leave(leaveMemberEpoch)
		_, join := joinNew(t, c, "cg", joinOpts{})
		if r := await(t, "JoinGroup to an empty consumer group", join); r.ErrorCode != 0 {
			t.Fatalf("JoinGroup to an empty consumer group = %s, want it converted to a classic group", codeName(r.ErrorCode))
		}
		if got := c.listGroups(t)["cg"]; got != "CompletingRebalance" {
			t.Fatalf("cg after a classic join: %q, want a classic group", got)
		}
	})
}

func TestConsumerGroupFailedWriteLeavesNoState(t *testing.T) {
	bubble(t, func(t *testing.T) {
		topics := newFakeTopics(map[string]int32{"t": 2})
		log := &memLog{}
		c := startCoordinator(t, consumerConfig(t, topics), log)
		log.setAppendErr(errTestAppend)
		m := newConsumer848(t, c, "g", "m", "t")
		if code := heartbeatCode(t, c, m.fullRequest()); code != kerr.CoordinatorNotAvailable {
			t.Fatalf("join with a failing log = %v, want COORDINATOR_NOT_AVAILABLE", code)
		}
		if got := c.listGroups(t); len(got) != 0 {
			t.Fatalf("groups after a failed join: %v, want none", got)
		}
		log.setAppendErr(nil)
		m.join()
		log.setAppendErr(errTestAppend)
		n := newConsumer848(t, c, "g", "n", "t")
		if code := heartbeatCode(t, c, n.fullRequest()); code != kerr.CoordinatorNotAvailable {
			t.Fatalf("second join with a failing log = %v, want COORDINATOR_NOT_AVAILABLE", code)
		}
		if d := describe848(t, c, "g"); len(d.Members) != 1 || d.Epoch != 1 {
			t.Fatalf("after a failed join: %d members at epoch %d, want 1 at 1", len(d.Members), d.Epoch)
		}
		// The session of the member whose join failed fires harmlessly.
		log.setAppendErr(nil)
		for range 10 {
			advance(5 * time.Second)
			m.beat()
		}
		if d := describe848(t, c, "g"); len(d.Members) != 1 {
			t.Fatalf("%d members, want 1", len(d.Members))
		}
	})
}

func TestConsumerGroupOperationsWaitForTheWriteBeforeThem(t *testing.T) {
	bubble(t, func(t *testing.T) {
		topics := newFakeTopics(map[string]int32{"t": 2})
		log := &memLog{commitGate: make(chan struct{})}
		c := startCoordinator(t, consumerConfig(t, topics), log)
		a := newConsumer848(t, c, "g", "a", "t")
		b := newConsumer848(t, c, "g", "b", "t")
		ja := async(func() *kmsg.ConsumerGroupHeartbeatResponse { return a.send(a.fullRequest()) })
		jb := async(func() *kmsg.ConsumerGroupHeartbeatResponse { return b.send(b.fullRequest()) })
		synctest.Wait()
		if _, done := ready(ja); done {
			t.Fatalf("join answered before its records committed")
		}
		close(log.commitGate)
		ra, rb := await(t, "join a", ja), await(t, "join b", jb)
		wantCode(t, "join a", ra.ErrorCode, nil)
		wantCode(t, "join b", rb.ErrorCode, nil)
		if d := describe848(t, c, "g"); len(d.Members) != 2 || d.Epoch != 2 {
			t.Fatalf("after two concurrent joins: %d members at epoch %d, want 2 at 2", len(d.Members), d.Epoch)
		}
		converge(t, []*consumer848{a, b})
	})
}

func TestConsumerGroupConversionsAreDurable(t *testing.T) {
	log := &memLog{}
	topics := newFakeTopics(map[string]int32{"t": 2})
	bubble(t, func(t *testing.T) {
		c := startCoordinator(t, consumerConfig(t, topics), log)
		wantCode(t, "commit to a group nobody joined", c.commit("g", "", -1, "t", 0, 7), nil)
		newConsumer848(t, c, "g", "m", "t").join()
	})
	bubble(t, func(t *testing.T) {
		c := startCoordinator(t, consumerConfig(t, topics), log)
		d := describe848(t, c, "g")
		if d.ErrorCode != 0 || len(d.Members) != 1 || c.fetch(t, "g", "t", 0) != 7 {
			t.Fatalf("after reload: %+v, offset %d; want the consumer group with its member and offset 7", d, c.fetch(t, "g", "t", 0))
		}
		m := newConsumer848(t, c, "g", "m", "t")
		m.epoch = 1
		m.leave(leaveMemberEpoch)
		_, join := joinNew(t, c, "g", joinOpts{})
		wantCode(t, "classic JoinGroup to the empty consumer group", await(t, "join", join).ErrorCode, nil)
	})
	bubble(t, func(t *testing.T) {
		c := startCoordinator(t, consumerConfig(t, topics), log)
		wantCode(t, "ConsumerGroupDescribe after the group became classic", describe848(t, c, "g").ErrorCode, kerr.GroupIDNotFound)
		if got := c.fetch(t, "g", "t", 0); got != 7 {
			t.Fatalf("offset after both conversions = %d, want 7", got)
		}
	})
}

func TestEmptyConsumerGroupExpiresWithItsOffsets(t *testing.T) {
	bubble(t, func(t *testing.T) {
		topics := newFakeTopics(map[string]int32{"t": 1})
		cfg := consumerConfig(t, topics)
		cfg.OffsetsRetention = time.Hour
		cfg.OffsetsRetentionCheckInterval = time.Minute
		c := startCoordinator(t, cfg, &memLog{})
		m := newConsumer848(t, c, "g", "m", "t")
		m.join()
		wantCode(t, "commit", c.commit("g", "m", m.epoch, "t", 0, 3), nil)
		for range 180 { // an hour and a half with a member: its offsets stay
			advance(30 * time.Second)
			if m.beat(); c.fetch(t, "g", "t", 0) != 3 {
				t.Fatalf("offset of a subscribed topic expired")
			}
		}
		// Consumer group offsets expire counting from their commit (not from
		// when the group became empty, as classic groups').
		wantCode(t, "last commit", c.commit("g", "m", m.epoch, "t", 0, 4), nil)
		m.leave(leaveMemberEpoch)
		advance(59 * time.Minute)
		if _, ok := c.listGroups(t)["g"]; !ok {
			t.Fatalf("empty group deleted before its offsets expired")
		}
		advance(2 * time.Minute)
		if _, ok := c.listGroups(t)["g"]; ok {
			t.Fatalf("empty consumer group still listed after its offsets expired")
		}
		if got := c.fetch(t, "g", "t", 0); got != -1 {
			t.Fatalf("offset after expiry = %d, want -1", got)
		}
	})
}

func TestConsumerGroupConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		give func(c *Config)
	}{
		{"heartbeat interval not below the session timeout", func(c *Config) { c.ConsumerGroupHeartbeatInterval = c.ConsumerGroupSessionTimeout }},
		{"no assignors", func(c *Config) { c.ConsumerGroupAssignors = nil }},
		{"unknown assignor", func(c *Config) { c.ConsumerGroupAssignors = []string{"uniform", "sticky"} }},
		{"assignor twice", func(c *Config) { c.ConsumerGroupAssignors = []string{"range", "range"} }},
		{"max size below one", func(c *Config) { c.ConsumerGroupMaxSize = 0 }},
	}
	for _, tt := range tests {
		cfg := DefaultConfig()
		tt.give(&cfg)
		if err := cfg.Validate(); err == nil {
			t.Errorf("Validate with %s = nil, want an error", tt.name)
		}
	}
	c := NewCoordinator(Config{ConsumerGroupAssignors: []string{"sticky", "range"}})
	if got := c.cfg.ConsumerGroupAssignors; len(got) != 1 || got[0] != RangeAssignor {
		t.Fatalf("NewCoordinator kept assignors %v, want [range]", got)
	}
	if c.cfg.ConsumerGroupSessionTimeout != 45*time.Second || c.cfg.ConsumerGroupHeartbeatInterval != 5*time.Second {
		t.Fatalf("NewCoordinator defaults: session %v, interval %v; want 45s and 5s", c.cfg.ConsumerGroupSessionTimeout, c.cfg.ConsumerGroupHeartbeatInterval)
	}
}
