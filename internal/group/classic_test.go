package group

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestJoinSyncOneToThreeMembers(t *testing.T) {
	for _, n := range []int{1, 2, 3} {
		t.Run(string(rune('0'+n))+" members", func(t *testing.T) {
			bubble(t, func(t *testing.T) {
				c := startCoordinator(t, testConfig(t), &memLog{})
				ids := make([]string, n)
				joins := make([]<-chan *kmsg.JoinGroupResponse, n)
				for i := range n {
					ids[i], joins[i] = joinNew(t, c, "g", joinOpts{})
				}
				if _, done := ready(joins[0]); done {
					t.Fatalf("JoinGroup answered before the initial rebalance delay")
				}
				var leader string
				for i := range n {
					r := await(t, "JoinGroup", joins[i])
					wantCode(t, "JoinGroup", r.ErrorCode, nil)
					if r.Generation != 1 || r.MemberID != ids[i] || *r.Protocol != "range" || *r.ProtocolType != "consumer" {
						t.Fatalf("JoinGroup of %s = gen %d member %s protocol %s/%s, want gen 1, itself, consumer/range", ids[i], r.Generation, r.MemberID, *r.ProtocolType, *r.Protocol)
					}
					if leader == "" {
						leader = r.LeaderID
					}
					if r.LeaderID != leader || !slices.Contains(ids, leader) {
						t.Fatalf("JoinGroup of %s: leader %q, want one member agreed by all (%q)", ids[i], r.LeaderID, leader)
					}
					if wantMembers := map[bool]int{true: n, false: 0}[ids[i] == leader]; len(r.Members) != wantMembers {
						t.Fatalf("JoinGroup of %s (leader %v): %d members, want %d", ids[i], ids[i] == leader, len(r.Members), wantMembers)
					}
				}
				wantState(t, c, "g", "CompletingRebalance")

				var syncs []<-chan *kmsg.SyncGroupResponse
				for _, id := range ids {
					if id != leader {
						syncs = append(syncs, c.testSync("g", id, 1, nil))
					}
				}
				for _, ch := range syncs {
					if _, done := ready(ch); done {
						t.Fatalf("follower SyncGroup answered before the leader's")
					}
				}
				assign := map[string]string{}
				for _, id := range ids {
					assign[id] = "a-" + id
				}
				leaderSync := await(t, "leader SyncGroup", c.testSync("g", leader, 1, assign))
				wantCode(t, "leader SyncGroup", leaderSync.ErrorCode, nil)
				if got := string(leaderSync.MemberAssignment); got != "a-"+leader {
					t.Fatalf("leader SyncGroup assignment %q, want %q", got, "a-"+leader)
				}
				for _, ch := range syncs {
					r := await(t, "follower SyncGroup", ch)
					wantCode(t, "follower SyncGroup", r.ErrorCode, nil)
					if *r.Protocol != "range" {
						t.Fatalf("follower SyncGroup protocol %q, want range", *r.Protocol)
					}
				}
				d := c.describe(t, "g")
				if d.State != "Stable" || d.Protocol != "range" || len(d.Members) != n {
					t.Fatalf("DescribeGroups = %s/%s with %d members, want Stable/range with %d", d.State, d.Protocol, len(d.Members), n)
				}
				for _, m := range d.Members {
					if string(m.MemberAssignment) != "a-"+m.MemberID || m.ClientID != "client" || m.ClientHost != "/127.0.0.1" {
						t.Fatalf("DescribeGroups member %+v, want its assignment and client", m)
					}
				}
			})
		})
	}
}

func TestProtocolSelection(t *testing.T) {
	tests := []struct {
		name string
		give [][]string
		want string
	}{
		{"only common protocol wins", [][]string{{"range", "roundrobin"}, {"roundrobin", "range"}, {"roundrobin"}}, "roundrobin"},
		{"most votes among common", [][]string{{"a", "b"}, {"a", "b"}, {"b", "a"}}, "a"},
		{"second choice of majority", [][]string{{"b", "a"}, {"b", "a"}, {"a", "b"}}, "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bubble(t, func(t *testing.T) {
				c := startCoordinator(t, testConfig(t), &memLog{})
				var joins []<-chan *kmsg.JoinGroupResponse
				for _, ps := range tt.give {
					_, j := joinNew(t, c, "g", joinOpts{protocols: ps})
					joins = append(joins, j)
				}
				for _, j := range joins {
					r := await(t, "JoinGroup", j)
					wantCode(t, "JoinGroup", r.ErrorCode, nil)
					if *r.Protocol != tt.want {
						t.Fatalf("JoinGroup protocols %v: selected %q, want %q", tt.give, *r.Protocol, tt.want)
					}
				}
			})
		})
	}
}

func TestJoinErrors(t *testing.T) {
	bubble(t, func(t *testing.T) {
		cfg := testConfig(t)
		c := startCoordinator(t, cfg, &memLog{})

		r := mustReady(t, "JoinGroup empty group id", c.testJoin("", joinOpts{}))
		wantCode(t, "JoinGroup empty group id", r.ErrorCode, kerr.InvalidGroupID)
		r = mustReady(t, "JoinGroup short session", c.testJoin("g", joinOpts{session: 1000}))
		wantCode(t, "JoinGroup session 1s", r.ErrorCode, kerr.InvalidSessionTimeout)
		r = mustReady(t, "JoinGroup long session", c.testJoin("g", joinOpts{session: 31 * 60 * 1000}))
		wantCode(t, "JoinGroup session 31m", r.ErrorCode, kerr.InvalidSessionTimeout)
		r = mustReady(t, "JoinGroup unknown member", c.testJoin("g", joinOpts{memberID: "nobody"}))
		wantCode(t, "JoinGroup unknown member of unknown group", r.ErrorCode, kerr.UnknownMemberID)
		r = mustReady(t, "JoinGroup no protocols", c.testJoin("g", joinOpts{protocols: []string{}}))
		wantCode(t, "JoinGroup without protocols", r.ErrorCode, kerr.InconsistentGroupProtocol)

		stableGroup(t, c, "g", 1, joinOpts{})
		r = mustReady(t, "JoinGroup other type", c.testJoin("g", joinOpts{version: 3, ptype: "connect"}))
		wantCode(t, "JoinGroup of protocol type connect into a consumer group", r.ErrorCode, kerr.InconsistentGroupProtocol)
		r = mustReady(t, "JoinGroup no common protocol", c.testJoin("g", joinOpts{version: 3, protocols: []string{"sticky"}}))
		wantCode(t, "JoinGroup with no common protocol", r.ErrorCode, kerr.InconsistentGroupProtocol)
	})
}

func TestMemberIDRequired(t *testing.T) {
	bubble(t, func(t *testing.T) {
		c := startCoordinator(t, testConfig(t), &memLog{})
		first := mustReady(t, "JoinGroup v4", c.testJoin("g", joinOpts{version: 4}))
		wantCode(t, "JoinGroup v4 without member id", first.ErrorCode, kerr.MemberIDRequired)
		if first.MemberID == "" || first.Generation != -1 {
			t.Fatalf("JoinGroup v4 = member %q gen %d, want a member id and gen -1", first.MemberID, first.Generation)
		}
		wantState(t, c, "g", "Empty")

		// The pending id expires after the session timeout.
		advance(11 * time.Second)
		r := mustReady(t, "late rejoin", c.testJoin("g", joinOpts{version: 4, memberID: first.MemberID}))
		wantCode(t, "JoinGroup with an expired pending id", r.ErrorCode, kerr.UnknownMemberID)

		// v3 joins without the extra round trip.
		r = await(t, "JoinGroup v3", c.testJoin("g", joinOpts{version: 3}))
		wantCode(t, "JoinGroup v3 without member id", r.ErrorCode, nil)
		if r.MemberID == "" || r.Generation != 1 || r.LeaderID != r.MemberID {
			t.Fatalf("JoinGroup v3 = member %q gen %d leader %q, want a leader at gen 1", r.MemberID, r.Generation, r.LeaderID)
		}
	})
}

func TestRebalanceOnJoinAndLeave(t *testing.T) {
	bubble(t, func(t *testing.T) {
		c := startCoordinator(t, testConfig(t), &memLog{})
		ids, gen := stableGroup(t, c, "g", 1, joinOpts{})
		a := ids[0]

		// b joins: a rebalance starts and a is told by its heartbeat.
		b, bJoin := joinNew(t, c, "g", joinOpts{})
		synctest.Wait()
		wantState(t, c, "g", "PreparingRebalance")
		wantCode(t, "Heartbeat of a during rebalance", c.heartbeat("g", a, gen), kerr.RebalanceInProgress)
		if _, done := ready(bJoin); done {
			t.Fatalf("JoinGroup of b answered before a rejoined")
		}
		aJoin := c.testJoin("g", joinOpts{memberID: a})
		ra, rb := mustReady(t, "rejoin a", aJoin), mustReady(t, "join b", bJoin)
		if ra.Generation != gen+1 || rb.Generation != gen+1 || ra.LeaderID != a || len(ra.Members) != 2 {
			t.Fatalf("after b joined: gens %d/%d leader %s (%d members), want %d, leader a with 2", ra.Generation, rb.Generation, ra.LeaderID, len(ra.Members), gen+1)
		}
		gen++
		sa := c.testSync("g", a, gen, map[string]string{a: "x", b: "y"})
		sb := c.testSync("g", b, gen, nil)
		wantCode(t, "SyncGroup a", mustReady(t, "sync a", sa).ErrorCode, nil)
		wantCode(t, "SyncGroup b", mustReady(t, "sync b", sb).ErrorCode, nil)

		// a leaves: b is told to rejoin and forms the next generation alone.
		lreq := kmsg.NewPtrLeaveGroupRequest()
		lreq.Version = 5
		lreq.Group = "g"
		lm := kmsg.NewLeaveGroupRequestMember()
		lm.MemberID = a
		lreq.Members = []kmsg.LeaveGroupRequestMember{lm}
		lresp := c.LeaveGroup(context.Background(), lreq)
		wantCode(t, "LeaveGroup", lresp.ErrorCode, nil)
		wantCode(t, "LeaveGroup member", lresp.Members[0].ErrorCode, nil)
		wantCode(t, "Heartbeat of b after a left", c.heartbeat("g", b, gen), kerr.RebalanceInProgress)
		rb = mustReady(t, "rejoin b", c.testJoin("g", joinOpts{memberID: b}))
		if rb.Generation != gen+1 || rb.LeaderID != b || len(rb.Members) != 1 {
			t.Fatalf("after a left: gen %d leader %s (%d members), want %d, leader b alone", rb.Generation, rb.LeaderID, len(rb.Members), gen+1)
		}
		wantCode(t, "Heartbeat of departed a", c.heartbeat("g", a, gen), kerr.UnknownMemberID)

		// Leaving v0-v2 style; the last member out empties the group.
		wantCode(t, "SyncGroup b alone", mustReady(t, "sync", c.testSync("g", b, gen+1, map[string]string{b: "z"})).ErrorCode, nil)
		old := kmsg.NewPtrLeaveGroupRequest()
		old.Version = 1
		old.Group, old.MemberID = "g", b
		wantCode(t, "LeaveGroup v1", c.LeaveGroup(context.Background(), old).ErrorCode, nil)
		wantCode(t, "LeaveGroup v1 again", c.LeaveGroup(context.Background(), old).ErrorCode, kerr.UnknownMemberID)
		synctest.Wait()
		wantState(t, c, "g", "Empty")
	})
}

func TestSessionTimeoutRemovesMember(t *testing.T) {
	bubble(t, func(t *testing.T) {
		c := startCoordinator(t, testConfig(t), &memLog{})
		ids, gen := stableGroup(t, c, "g", 2, joinOpts{})
		a, b := ids[0], ids[1]
		// a heartbeats every 3s; b is silent. b's 10s session expires.
		for range 3 {
			advance(3 * time.Second)
			wantCode(t, "Heartbeat of a", c.heartbeat("g", a, gen), nil)
		}
		advance(2 * time.Second)
		wantCode(t, "Heartbeat of a after b expired", c.heartbeat("g", a, gen), kerr.RebalanceInProgress)
		r := mustReady(t, "rejoin a", c.testJoin("g", joinOpts{memberID: a}))
		if r.Generation != gen+1 || len(r.Members) != 1 || r.Members[0].MemberID != a {
			t.Fatalf("rejoin after b expired: gen %d members %d, want %d with only a", r.Generation, len(r.Members), gen+1)
		}
		wantCode(t, "Heartbeat of expired b", c.heartbeat("g", b, gen), kerr.UnknownMemberID)
	})
}

func TestRebalanceTimeoutDropsMembersThatDoNotRejoin(t *testing.T) {
	bubble(t, func(t *testing.T) {
		c := startCoordinator(t, testConfig(t), &memLog{})
		ids, gen := stableGroup(t, c, "g", 2, joinOpts{})
		a, b := ids[0], ids[1]
		aJoin := c.testJoin("g", joinOpts{memberID: a}) // the leader rejoins: rebalance
		// b keeps its session alive but never rejoins.
		for range 9 {
			advance(3 * time.Second)
			wantCode(t, "Heartbeat of b", c.heartbeat("g", b, gen), kerr.RebalanceInProgress)
			if _, done := ready(aJoin); done {
				t.Fatalf("JoinGroup of a answered before the rebalance timeout")
			}
		}
		advance(3 * time.Second) // 30s rebalance timeout
		r := mustReady(t, "rejoin a", aJoin)
		if r.Generation != gen+1 || len(r.Members) != 1 {
			t.Fatalf("after rebalance timeout: gen %d with %d members, want %d with 1", r.Generation, len(r.Members), gen+1)
		}
		wantCode(t, "Heartbeat of dropped b", c.heartbeat("g", b, gen+1), kerr.UnknownMemberID)
	})
}

func TestPendingSyncExpires(t *testing.T) {
	bubble(t, func(t *testing.T) {
		c := startCoordinator(t, testConfig(t), &memLog{})
		// Sessions outlast the 30s rebalance timeout, so only the pending
		// sync can remove the member.
		a, aJoin := joinNew(t, c, "g", joinOpts{session: 60_000})
		b, bJoin := joinNew(t, c, "g", joinOpts{session: 60_000})
		ra, _ := await(t, "join a", aJoin), await(t, "join b", bJoin)
		leader := ra.LeaderID
		other := map[string]string{a: b, b: a}[leader]
		// Only the leader syncs; the other never does.
		ls := c.testSync("g", leader, ra.Generation, map[string]string{a: "x", b: "y"})
		wantCode(t, "leader SyncGroup", mustReady(t, "leader sync", ls).ErrorCode, nil)
		advance(31 * time.Second)
		wantCode(t, "Heartbeat of leader", c.heartbeat("g", leader, ra.Generation), kerr.RebalanceInProgress)
		wantCode(t, "Heartbeat of member that never synced", c.heartbeat("g", other, ra.Generation), kerr.UnknownMemberID)
	})
}

func TestStaticMembership(t *testing.T) {
	bubble(t, func(t *testing.T) {
		log := &memLog{}
		c := startCoordinator(t, testConfig(t), log)
		first := await(t, "static join", c.testJoin("g", joinOpts{instanceID: "i1"}))
		wantCode(t, "static JoinGroup (no MEMBER_ID_REQUIRED)", first.ErrorCode, nil)
		oldID := first.MemberID
		wantCode(t, "SyncGroup", mustReady(t, "sync", c.testSync("g", oldID, first.Generation, map[string]string{oldID: "p0"})).ErrorCode, nil)

		// The instance restarts: same instance id, no member id. It takes
		// over without a rebalance; being the leader it is told to skip
		// the assignment (KIP-814).
		again := mustReady(t, "static rejoin", c.testJoin("g", joinOpts{instanceID: "i1"}))
		wantCode(t, "static rejoin", again.ErrorCode, nil)
		if again.MemberID == oldID || again.Generation != first.Generation || !again.SkipAssignment || again.LeaderID != again.MemberID || len(again.Members) != 1 {
			t.Fatalf("static rejoin = member %q gen %d skip %v leader %q members %d; want a new id, gen %d, skip, itself leading, 1 member",
				again.MemberID, again.Generation, again.SkipAssignment, again.LeaderID, len(again.Members), first.Generation)
		}
		wantState(t, c, "g", "Stable")
		iid := "i1"
		hb := kmsg.NewPtrHeartbeatRequest()
		hb.Version = 4
		hb.Group, hb.MemberID, hb.Generation, hb.InstanceID = "g", oldID, first.Generation, &iid
		wantCode(t, "Heartbeat of the replaced member id", c.Heartbeat(context.Background(), hb).ErrorCode, kerr.FencedInstanceID)
		hb.MemberID = again.MemberID
		wantCode(t, "Heartbeat of the new member id", c.Heartbeat(context.Background(), hb).ErrorCode, nil)
		sync := mustReady(t, "sync after rejoin", c.testSync("g", again.MemberID, again.Generation, nil))
		if string(sync.MemberAssignment) != "p0" {
			t.Fatalf("SyncGroup after static rejoin: assignment %q, want the kept %q", sync.MemberAssignment, "p0")
		}
		// The replacement is durable.
		recs := log.decoded(t)
		last := recs[len(recs)-1]
		if last.groupValue == nil || last.groupValue.Members[0].MemberID != again.MemberID || *last.groupValue.Members[0].InstanceID != "i1" {
			t.Fatalf("last record %+v, want group metadata with the new member id", last)
		}
		// Joining with the old id is fenced.
		r := mustReady(t, "join with old id", c.testJoin("g", joinOpts{instanceID: "i1", memberID: oldID}))
		wantCode(t, "JoinGroup with the replaced member id", r.ErrorCode, kerr.FencedInstanceID)

		// A static member that is silent is removed by its session.
		advance(11 * time.Second)
		wantState(t, c, "g", "Empty")
	})
}

func TestGroupMaxSize(t *testing.T) {
	bubble(t, func(t *testing.T) {
		cfg := testConfig(t)
		cfg.GroupMaxSize = 2
		c := startCoordinator(t, cfg, &memLog{})
		j1 := c.testJoin("g", joinOpts{version: 3})
		j2 := c.testJoin("g", joinOpts{version: 3})
		synctest.Wait()
		j3 := mustReady(t, "third join", c.testJoin("g", joinOpts{version: 3}))
		wantCode(t, "third JoinGroup with group.max.size 2", j3.ErrorCode, kerr.GroupMaxSizeReached)
		wantCode(t, "first JoinGroup", await(t, "j1", j1).ErrorCode, nil)
		wantCode(t, "second JoinGroup", await(t, "j2", j2).ErrorCode, nil)
		j4 := mustReady(t, "join after stable", c.testJoin("g", joinOpts{version: 3}))
		wantCode(t, "JoinGroup into a full group", j4.ErrorCode, kerr.GroupMaxSizeReached)
	})
}

func TestSyncAndHeartbeatErrors(t *testing.T) {
	bubble(t, func(t *testing.T) {
		c := startCoordinator(t, testConfig(t), &memLog{})
		wantCode(t, "Heartbeat of unknown group", c.heartbeat("nope", "m", 1), kerr.UnknownMemberID)
		wantCode(t, "SyncGroup of unknown group", mustReady(t, "sync", c.testSync("nope", "m", 1, nil)).ErrorCode, kerr.UnknownMemberID)
		ids, gen := stableGroup(t, c, "g", 1, joinOpts{})
		wantCode(t, "Heartbeat with old generation", c.heartbeat("g", ids[0], gen-1), kerr.IllegalGeneration)
		wantCode(t, "Heartbeat of unknown member", c.heartbeat("g", "stranger", gen), kerr.UnknownMemberID)
		wantCode(t, "SyncGroup with wrong generation", mustReady(t, "sync", c.testSync("g", ids[0], gen+1, nil)).ErrorCode, kerr.IllegalGeneration)
		req := syncReq("g", ids[0], gen, nil)
		other := "roundrobin"
		req.Protocol = &other
		wantCode(t, "SyncGroup with another protocol", c.SyncGroup(context.Background(), req).ErrorCode, kerr.InconsistentGroupProtocol)
		wantCode(t, "Heartbeat with empty group id", c.heartbeat("", ids[0], gen), kerr.InvalidGroupID)
	})
}

func TestLeaveGroupBatchAndStaticRemoval(t *testing.T) {
	bubble(t, func(t *testing.T) {
		c := startCoordinator(t, testConfig(t), &memLog{})
		leave := func(group string, members ...kmsg.LeaveGroupRequestMember) *kmsg.LeaveGroupResponse {
			req := kmsg.NewPtrLeaveGroupRequest()
			req.Version = 5
			req.Group = group
			req.Members = members
			return c.LeaveGroup(context.Background(), req)
		}
		member := func(id, instance string) kmsg.LeaveGroupRequestMember {
			m := kmsg.NewLeaveGroupRequestMember()
			m.MemberID = id
			if instance != "" {
				m.InstanceID = &instance
			}
			return m
		}
		resp := leave("nope", member("m", ""))
		wantCode(t, "LeaveGroup of unknown group (top level)", resp.ErrorCode, nil)
		wantCode(t, "LeaveGroup of unknown group (member)", resp.Members[0].ErrorCode, kerr.UnknownMemberID)

		s1 := c.testJoin("g", joinOpts{instanceID: "i1"})
		s2 := c.testJoin("g", joinOpts{instanceID: "i2"})
		r1, r2 := await(t, "join i1", s1), await(t, "join i2", s2)
		wantCode(t, "join i1", r1.ErrorCode, nil)
		wantCode(t, "join i2", r2.ErrorCode, nil)

		// A retried join during CompletingRebalance gets the same answer.
		again := mustReady(t, "retried join", c.testJoin("g", joinOpts{instanceID: "i1", memberID: r1.MemberID}))
		if again.Generation != r1.Generation || again.LeaderID != r1.LeaderID || len(again.Members) != len(r1.Members) {
			t.Fatalf("retried JoinGroup = gen %d leader %s members %d, want the first answer (gen %d leader %s members %d)",
				again.Generation, again.LeaderID, len(again.Members), r1.Generation, r1.LeaderID, len(r1.Members))
		}
		d := c.describe(t, "g")
		if d.State != "CompletingRebalance" || d.Protocol != "" || len(d.Members) != 2 || len(d.Members[0].MemberAssignment) != 0 {
			t.Fatalf("DescribeGroups during CompletingRebalance = %s protocol %q %d members, want no protocol and no assignments", d.State, d.Protocol, len(d.Members))
		}

		resp = leave("g", member("", "i1"), member(r2.MemberID, "wrong"), member("", "i9"))
		got := []int16{resp.Members[0].ErrorCode, resp.Members[1].ErrorCode, resp.Members[2].ErrorCode}
		want := []int16{0, kerr.UnknownMemberID.Code, kerr.UnknownMemberID.Code}
		if !slices.Equal(got, want) {
			t.Fatalf("LeaveGroup batch codes %v, want %v", got, want)
		}
		if d := c.describe(t, "g"); len(d.Members) != 1 || *d.Members[0].InstanceID != "i2" {
			t.Fatalf("after removing i1: %d members, want only i2", len(d.Members))
		}
	})
}

func TestLeaderThatDoesNotRejoinIsReplaced(t *testing.T) {
	bubble(t, func(t *testing.T) {
		c := startCoordinator(t, testConfig(t), &memLog{})
		ids, gen := stableGroup(t, c, "g", 2, joinOpts{topics: []string{"t"}})
		leader, follower := ids[0], ids[1]
		// The follower changes its subscription: rebalance. The leader
		// keeps heartbeating but never rejoins.
		fj := c.testJoin("g", joinOpts{memberID: follower, topics: []string{"t", "u"}})
		for range 9 {
			advance(3 * time.Second)
			wantCode(t, "Heartbeat of leader", c.heartbeat("g", leader, gen), kerr.RebalanceInProgress)
		}
		r := await(t, "follower join", fj)
		if r.LeaderID != follower || r.Generation != gen+1 || len(r.Members) != 1 {
			t.Fatalf("after the leader failed to rejoin: leader %s gen %d members %d, want the follower leading gen %d alone", r.LeaderID, r.Generation, len(r.Members), gen+1)
		}
	})
}
