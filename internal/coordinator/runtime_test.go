package coordinator

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

func TestLoadReplaysThenServes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startRuntime(t, 0)
		log := committedLog(rec("a", "1"), rec("b", "2"), Record{Key: []byte("a")}, rec("c", "3"))
		log.recs = append(log.recs, plain(rec("d", "uncommitted")))
		s := loaded(t, r, log)

		for key, want := range map[string]string{"a": "", "b": "2", "c": "3", "d": ""} {
			got, err := s.get(t.Context(), key)
			if err != nil || got != want {
				t.Errorf("get(%q) after replay = %q, %v, want %q, nil", key, got, err, want)
			}
		}
		loadedFirst, err := Call(t.Context(), s.loop, func(reply func(bool)) { reply(s.loaded) })
		if err != nil || !loadedFirst {
			t.Errorf("Loaded ran before the first request = %v, %v, want true, nil", loadedFirst, err)
		}
		if got := s.loop.Status(); got != Active {
			t.Errorf("Status() = %v, want Active", got)
		}
		if got := s.loop.Partition(); got != 0 {
			t.Errorf("Partition() = %d, want 0", got)
		}
	})
}

func TestRequestsDuringLoadGetLoadInProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startRuntime(t, 0)
		if _, err := r.Shard(0); !errors.Is(err, ErrNotCoordinator) {
			t.Fatalf("Shard(0) before any load = %v, want ErrNotCoordinator", err)
		}

		log := committedLog(rec("a", "1"))
		log.replayGate = make(chan struct{})
		r.Load(0, 0, log)
		synctest.Wait()
		if _, err := r.Shard(0); !errors.Is(err, ErrLoadInProgress) {
			t.Fatalf("Shard(0) while replaying = %v, want ErrLoadInProgress", err)
		}
		if shards := r.Shards(); len(shards) != 1 || shards[0].loop.Status() != Loading {
			t.Fatalf("Shards() while replaying = %d shards, want one Loading", len(shards))
		}

		close(log.replayGate)
		synctest.Wait()
		s, err := r.Shard(0)
		if err != nil {
			t.Fatalf("Shard(0) after replay = %v, want nil", err)
		}
		if got, err := s.get(t.Context(), "a"); got != "1" || err != nil {
			t.Fatalf("get(a) after replay = %q, %v, want 1, nil", got, err)
		}
	})
}

func TestFailedLoadIsNotServed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startRuntime(t, 0)
		r.Load(0, 0, committedLog(rec("a", "1"), rec("bad", "x")))
		synctest.Wait()
		if _, err := r.Shard(0); !errors.Is(err, ErrNotCoordinator) {
			t.Fatalf("Shard(0) after a failed replay = %v, want ErrNotCoordinator", err)
		}
		if shards := r.Shards(); len(shards) != 1 || shards[0].loop.Status() != Stopped {
			t.Fatalf("Shards() after a failed replay = %d shards, want one Stopped", len(shards))
		}
		// A newer leader epoch loads again.
		r.Load(0, 1, committedLog(rec("a", "2")))
		synctest.Wait()
		s, err := r.Shard(0)
		if err != nil {
			t.Fatalf("Shard(0) after reloading = %v, want nil", err)
		}
		if got, _ := s.get(t.Context(), "a"); got != "2" {
			t.Fatalf("get(a) after reloading = %q, want 2", got)
		}
	})
}

func TestNewerLeaderEpochReplacesShard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startRuntime(t, 0)
		r.Load(0, 5, committedLog(rec("from", "epoch 5")))
		synctest.Wait()
		old, err := r.Shard(0)
		if err != nil {
			t.Fatalf("Shard(0) = %v, want nil", err)
		}
		// A request that waits on the old shard.
		waiting := async(func() error {
			_, err := Call(t.Context(), old.loop, func(reply func(struct{})) {})
			return err
		})

		for _, epoch := range []int32{4, 5} {
			r.Load(0, epoch, committedLog(rec("from", "older")))
			synctest.Wait()
			s, err := r.Shard(0)
			if err != nil || s != old {
				t.Fatalf("Shard(0) after a load at epoch %d = %v, want the epoch 5 shard kept", epoch, err)
			}
		}
		if _, ok := ready(waiting); ok {
			t.Fatalf("request on the epoch 5 shard answered after ignored loads, want still waiting")
		}

		r.Load(0, 6, committedLog(rec("from", "epoch 6")))
		synctest.Wait()
		s, err := r.Shard(0)
		if err != nil || s == old {
			t.Fatalf("Shard(0) after a load at epoch 6 = %v (same shard: %v), want a new shard", err, s == old)
		}
		if got, _ := s.get(t.Context(), "from"); got != "epoch 6" {
			t.Errorf("get(from) on the new shard = %q, want epoch 6", got)
		}
		if got := s.loop.LeaderEpoch(); got != 6 {
			t.Errorf("LeaderEpoch() = %d, want 6", got)
		}
		if err, ok := ready(waiting); !ok || !errors.Is(err, ErrNotCoordinator) {
			t.Errorf("request waiting on the replaced shard = %v (answered: %v), want ErrNotCoordinator", err, ok)
		}
		if got := old.loop.Status(); got != Stopped {
			t.Errorf("replaced shard's Status() = %v, want Stopped", got)
		}
	})
}

func TestUnloadFailsWaitingCallers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startRuntime(t, 0)
		log := &fakeLog{commitGate: make(chan struct{})}
		s := loaded(t, r, log)

		neverAnswered := async(func() error {
			_, err := Call(t.Context(), s.loop, func(reply func(struct{})) {})
			return err
		})
		writing := async(func() error { return s.put(t.Context(), "k", "v") })
		if _, ok := ready(writing); ok {
			t.Fatalf("put answered before its commit, want waiting")
		}

		r.Unload(0)
		for what, ch := range map[string]<-chan error{"unanswered call": neverAnswered, "uncommitted write": writing} {
			if err, ok := ready(ch); !ok || !errors.Is(err, ErrNotCoordinator) {
				t.Errorf("%s after Unload = %v (answered: %v), want ErrNotCoordinator", what, err, ok)
			}
		}
		if _, err := r.Shard(0); !errors.Is(err, ErrNotCoordinator) {
			t.Errorf("Shard(0) after Unload = %v, want ErrNotCoordinator", err)
		}
		if err := s.loop.Submit(t.Context(), func() {}); !errors.Is(err, ErrNotCoordinator) {
			t.Errorf("Submit after Unload = %v, want ErrNotCoordinator", err)
		}
		r.Unload(0) // unloading again does nothing
	})
}

func TestCallEndsWithItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startRuntime(t, 0)
		s := loaded(t, r, &fakeLog{})
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err := Call(ctx, s.loop, func(reply func(struct{})) {})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Call never answered, with a 1s deadline = %v, want context.DeadlineExceeded", err)
		}
		if got, err := s.get(t.Context(), "k"); got != "" || err != nil {
			t.Fatalf("get(k) after a timed-out call = %q, %v, want \"\", nil (loop still serving)", got, err)
		}
	})
}

func TestRunStopsEveryLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := New(Config{Logger: testLogger(t), Topic: "__test"}, newKVShard)
		r.Load(0, 0, committedLog(rec("a", "1"))) // before Run: starts with it
		ctx, cancel := context.WithCancel(t.Context())
		done := async(func() error { return r.Run(ctx) })
		r.Load(1, 0, &fakeLog{})
		synctest.Wait()

		var waiting []<-chan error
		for _, p := range []int32{0, 1} {
			s, err := r.Shard(p)
			if err != nil {
				t.Fatalf("Shard(%d) = %v, want nil", p, err)
			}
			waiting = append(waiting, async(func() error {
				_, err := Call(t.Context(), s.loop, func(reply func(struct{})) {})
				return err
			}))
		}
		if err := r.Run(ctx); err == nil {
			t.Errorf("second Run() = nil, want an error")
		}

		cancel()
		if err, ok := ready(done); !ok || err != nil {
			t.Fatalf("Run() after cancel = %v (returned: %v), want nil", err, ok)
		}
		for i, ch := range waiting {
			if err, ok := ready(ch); !ok || !errors.Is(err, ErrNotCoordinator) {
				t.Errorf("call waiting on partition %d after Run ended = %v (answered: %v), want ErrNotCoordinator", i, err, ok)
			}
		}
		r.Load(2, 0, &fakeLog{}) // after Run: ignored
		if _, err := r.Shard(2); !errors.Is(err, ErrNotCoordinator) {
			t.Errorf("Shard(2) loaded after Run ended = %v, want ErrNotCoordinator", err)
		}
	})
}

func TestTickRunsOnTheLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startRuntime(t, time.Minute)
		s := loaded(t, r, &fakeLog{})
		time.Sleep(3*time.Minute + time.Second)
		ticks, err := Call(t.Context(), s.loop, func(reply func(int)) { reply(s.ticks) })
		if err != nil || ticks != 3 {
			t.Fatalf("ticks after 3m1s at a 1m interval = %d, %v, want 3, nil", ticks, err)
		}
	})
}

func TestPartitionFor(t *testing.T) {
	// Java's String.hashCode worked out by hand, then Kafka's
	// Utils.abs(h) % n.
	tests := []struct {
		give     string
		n        int32
		wantHash int32
		want     int32
	}{
		{give: "", n: 50, wantHash: 0, want: 0},
		{give: "ab", n: 50, wantHash: 3105, want: 5},
		{give: "txn-1", n: 7, wantHash: 110810510, want: 6},
		{give: "😀", n: 50, wantHash: 1772899, want: 49},                  // surrogate pair D83D DE00
		{give: "日本語グループ", n: 50, wantHash: -305235731, want: 31},         // negative: abs
		{give: "polygenelubricants", n: 50, wantHash: -1 << 31, want: 0}, // abs(MinInt32) is 0
		{give: "ab", n: 0, wantHash: 3105, want: 0},
	}
	for _, tt := range tests {
		if got := javaStringHashCode(tt.give); got != tt.wantHash {
			t.Errorf("javaStringHashCode(%q) = %d, want %d", tt.give, got, tt.wantHash)
		}
		if got := PartitionFor(tt.give, tt.n); got != tt.want {
			t.Errorf("PartitionFor(%q, %d) = %d, want %d", tt.give, tt.n, got, tt.want)
		}
	}
}
