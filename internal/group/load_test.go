package group

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestLoadRestoresGroupsAndOffsets(t *testing.T) {
	log := &memLog{}
	var ids []string
	var gen int32
	bubble(t, func(t *testing.T) {
		c := startCoordinator(t, testConfig(t), log)
		ids, gen = stableGroup(t, c, "g", 2, joinOpts{instanceID: "", topics: []string{"t"}})
		wantCode(t, "commit", c.commit("g", ids[0], gen, "t", 0, 11), nil)
		wantCode(t, "commit", c.commit("g", ids[1], gen, "t", 1, 12), nil)
		wantCode(t, "commit", c.commit("g", ids[1], gen, "t", 1, 13), nil) // later wins
		wantCode(t, "commit", c.commit("solo", "", -1, "u", 0, 1), nil)
		wantCode(t, "commit", c.commit("gone", "", -1, "u", 0, 1), nil)
		req := kmsg.NewPtrDeleteGroupsRequest()
		req.Groups = []string{"gone"}
		wantCode(t, "DeleteGroups", c.DeleteGroups(context.Background(), req).Groups[0].ErrorCode, nil)
	})

	// A new coordinator (a restarted broker) replays what the first wrote.
	bubble(t, func(t *testing.T) {
		c := startCoordinator(t, testConfig(t), log)
		d := c.describe(t, "g")
		if d.State != "Stable" || d.Protocol != "range" || len(d.Members) != 2 {
			t.Fatalf("restored group: %s/%s with %d members, want Stable/range with 2", d.State, d.Protocol, len(d.Members))
		}
		for _, m := range d.Members {
			if string(m.MemberAssignment) != "assignment-of-"+m.MemberID || m.ClientID != "client" {
				t.Fatalf("restored member %s: assignment %q client %q, want its assignment and client", m.MemberID, m.MemberAssignment, m.ClientID)
			}
		}
		for _, tt := range []struct {
			group, topic string
			partition    int32
			want         int64
		}{{"g", "t", 0, 11}, {"g", "t", 1, 13}, {"solo", "u", 0, 1}, {"gone", "u", 0, -1}} {
			if got := c.fetch(t, tt.group, tt.topic, tt.partition); got != tt.want {
				t.Fatalf("restored OffsetFetch(%s %s-%d) = %d, want %d", tt.group, tt.topic, tt.partition, got, tt.want)
			}
		}
		if _, ok := c.listGroups(t)["gone"]; ok {
			t.Fatalf("deleted group came back after load")
		}
		// Sessions restart on load: the members carry on...
		wantCode(t, "Heartbeat of restored leader", c.heartbeat("g", ids[0], gen), nil)
		s := mustReady(t, "sync", c.testSync("g", ids[1], gen, nil))
		if string(s.MemberAssignment) != "assignment-of-"+ids[1] {
			t.Fatalf("SyncGroup of restored member: %q, want its assignment", s.MemberAssignment)
		}
		// ...and the one that never comes back is removed.
		for range 3 {
			advance(3 * time.Second)
			wantCode(t, "Heartbeat of restored leader", c.heartbeat("g", ids[0], gen), nil)
		}
		advance(3 * time.Second)
		wantCode(t, "Heartbeat after the silent member expired", c.heartbeat("g", ids[0], gen), kerr.RebalanceInProgress)
	})
}

func TestLoadInProgressThenUnload(t *testing.T) {
	bubble(t, func(t *testing.T) {
		cfg := testConfig(t)
		cfg.NumPartitions = 2
		log := &memLog{replayGate: make(chan struct{})}
		c := startCoordinator(t, cfg, nil)
		c.Load(1, 0, log)
		synctest.Wait()

		// "a" hashes to 97 % 2 = 1, "b" to 98 % 2 = 0.
		if err := c.Status("a"); !errors.Is(err, ErrLoadInProgress) {
			t.Fatalf("Status(a) while loading = %v, want ErrLoadInProgress", err)
		}
		if err := c.Status("b"); !errors.Is(err, ErrNotCoordinator) {
			t.Fatalf("Status(b) of a partition not loaded = %v, want ErrNotCoordinator", err)
		}
		r := mustReady(t, "join while loading", c.testJoin("a", joinOpts{}))
		wantCode(t, "JoinGroup while loading", r.ErrorCode, kerr.CoordinatorLoadInProgress)
		wantCode(t, "OffsetCommit while loading", c.commit("a", "", -1, "t", 0, 1), kerr.CoordinatorLoadInProgress)
		wantCode(t, "Heartbeat while loading (Kafka answers NONE)", c.heartbeat("a", "m", 1), nil)
		lg := kmsg.NewPtrListGroupsRequest()
		wantCode(t, "ListGroups while loading", c.ListGroups(context.Background(), lg).ErrorCode, kerr.CoordinatorLoadInProgress)
		wantCode(t, "OffsetCommit to a partition not loaded", c.commit("b", "", -1, "t", 0, 1), kerr.NotCoordinator)

		close(log.replayGate)
		synctest.Wait()
		if err := c.Status("a"); err != nil {
			t.Fatalf("Status(a) after load = %v, want nil", err)
		}
		// A member waits in a rebalance when the shard is unloaded.
		j1 := c.testJoin("a", joinOpts{version: 3})
		synctest.Wait()
		if _, done := ready(j1); done {
			t.Fatalf("JoinGroup answered before the initial delay")
		}
		c.Unload(1)
		r = mustReady(t, "join waiting at unload", j1)
		wantCode(t, "JoinGroup waiting when the shard unloads", r.ErrorCode, kerr.NotCoordinator)
		if err := c.Status("a"); !errors.Is(err, ErrNotCoordinator) {
			t.Fatalf("Status(a) after unload = %v, want ErrNotCoordinator", err)
		}
		wantCode(t, "OffsetCommit after unload", c.commit("a", "", -1, "t", 0, 1), kerr.NotCoordinator)
	})
}

func TestFailedWritesKeepNoState(t *testing.T) {
	bubble(t, func(t *testing.T) {
		log := &memLog{}
		c := startCoordinator(t, testConfig(t), log)
		wantCode(t, "commit", c.commit("idle", "", -1, "t", 0, 1), nil)

		log.setAppendErr(errTestAppend)
		wantCode(t, "OffsetCommit with failing log", c.commit("idle", "", -1, "t", 0, 2), kerr.CoordinatorNotAvailable)
		if got := c.fetch(t, "idle", "t", 0); got != 1 {
			t.Fatalf("OffsetFetch after a failed commit = %d, want the old 1", got)
		}
		req := kmsg.NewPtrDeleteGroupsRequest()
		req.Groups = []string{"idle"}
		wantCode(t, "DeleteGroups with failing log", c.DeleteGroups(context.Background(), req).Groups[0].ErrorCode, kerr.CoordinatorNotAvailable)
		if got := c.listGroups(t)["idle"]; got != "Empty" {
			t.Fatalf("group after a failed delete is %q, want Empty", got)
		}

		// Lost leadership is NOT_COORDINATOR.
		log.setAppendErr(fmt.Errorf("partition moved: %w", ErrNotCoordinator))
		wantCode(t, "OffsetCommit after leadership moved", c.commit("idle", "", -1, "t", 0, 3), kerr.NotCoordinator)

		// The leader's assignment cannot be stored: members are told and
		// the group rebalances.
		log.setAppendErr(nil)
		a, aj := joinNew(t, c, "g", joinOpts{})
		ra := await(t, "join", aj)
		log.setAppendErr(errTestAppend)
		s := mustReady(t, "leader sync", c.testSync("g", a, ra.Generation, map[string]string{a: "x"}))
		wantCode(t, "SyncGroup when the assignment cannot be written", s.ErrorCode, kerr.CoordinatorNotAvailable)
		wantState(t, c, "g", "PreparingRebalance")
	})
}

func TestCommitErrorAnswersWriteError(t *testing.T) {
	bubble(t, func(t *testing.T) {
		log := &memLog{commitErr: errTestAppend}
		c := startCoordinator(t, testConfig(t), log)
		wantCode(t, "OffsetCommit when commit fails", c.commit("g", "", -1, "t", 0, 1), kerr.CoordinatorNotAvailable)
		if got := c.fetch(t, "g", "t", 0); got != -1 {
			t.Fatalf("OffsetFetch after failed commit = %d, want -1", got)
		}
	})
}

func TestLoadFailsOnCorruptRecord(t *testing.T) {
	bubble(t, func(t *testing.T) {
		log := &memLog{}
		log.recs = []Record{
			offsetCommitRecord("g", "t", 0, offsetEntry{offset: 1, leaderEpoch: -1, expireTimestamp: -1}),
			{Key: []byte{0, 42, 1}, Value: []byte{1}},   // unknown type: skipped
			{Key: []byte{0, 1, 0}, Value: []byte{0, 3}}, // truncated offset commit key
		}
		log.committed = int64(len(log.recs))
		c := startCoordinator(t, testConfig(t), log)
		if err := c.Status("g"); !errors.Is(err, ErrNotCoordinator) {
			t.Fatalf("Status after a corrupt load = %v, want ErrNotCoordinator", err)
		}
	})
}

func TestLoadSkipsUnknownRecordTypes(t *testing.T) {
	bubble(t, func(t *testing.T) {
		log := &memLog{}
		log.recs = []Record{
			offsetCommitRecord("g", "t", 0, offsetEntry{offset: 5, leaderEpoch: -1, expireTimestamp: -1}),
			{Key: []byte{0, 42, 1}, Value: []byte{1}},
		}
		log.committed = int64(len(log.recs))
		c := startCoordinator(t, testConfig(t), log)
		if got := c.fetch(t, "g", "t", 0); got != 5 {
			t.Fatalf("OffsetFetch after loading past an unknown record = %d, want 5", got)
		}
	})
}

func TestRunStopsShardsAndLoadBeforeRun(t *testing.T) {
	bubble(t, func(t *testing.T) {
		c := NewCoordinator(testConfig(t))
		c.Load(0, 0, &memLog{})
		if err := c.Status("g"); !errors.Is(err, ErrLoadInProgress) {
			t.Fatalf("Status before Run = %v, want ErrLoadInProgress", err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := async(func() error { return c.Run(ctx) })
		synctest.Wait()
		if err := c.Status("g"); err != nil {
			t.Fatalf("Status after Run started = %v, want nil", err)
		}
		j := c.testJoin("g", joinOpts{version: 3})
		synctest.Wait()
		cancel()
		if err := mustReady(t, "Run", done); err != nil {
			t.Fatalf("Run() = %v, want nil", err)
		}
		wantCode(t, "JoinGroup waiting at shutdown", mustReady(t, "join", j).ErrorCode, kerr.NotCoordinator)
		if err := c.Run(context.Background()); err == nil {
			t.Fatalf("second Run() = nil, want an error")
		}
	})
}

func TestLoadWithNewerLeaderEpochReplacesShard(t *testing.T) {
	bubble(t, func(t *testing.T) {
		old := &memLog{}
		c := startCoordinator(t, testConfig(t), old)
		wantCode(t, "commit", c.commit("g", "", -1, "t", 0, 1), nil)

		c.Load(0, 0, &memLog{}) // same epoch: ignored
		synctest.Wait()
		if got := c.fetch(t, "g", "t", 0); got != 1 {
			t.Fatalf("after a Load at the same epoch: offset %d, want 1 (shard kept)", got)
		}
		c.Load(0, 1, &memLog{}) // newer epoch: a new shard over the new log
		synctest.Wait()
		if got := c.fetch(t, "g", "t", 0); got != -1 {
			t.Fatalf("after a Load at a newer epoch: offset %d, want -1 (new log)", got)
		}
	})
}
