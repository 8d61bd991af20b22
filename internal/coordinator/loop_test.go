package coordinator

import (
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

func TestWritesCompleteInLogOrderAfterCommit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startRuntime(t, 0)
		log := &fakeLog{commitGate: make(chan struct{})}
		s := loaded(t, r, log)

		// Three writes in one turn of the loop, and a reader that waits
		// for them.
		type event struct {
			what string
			err  error
		}
		events, err := Call(t.Context(), s.loop, func(reply func(chan event)) {
			ch := make(chan event, 4)
			for _, k := range []string{"w1", "w2", "w3"} {
				s.loop.Write([]Record{rec(k, "v")}, func(err error) { ch <- event{k, err} })
			}
			s.loop.AfterPendingWrites(func() { ch <- event{"after pending", nil} })
			reply(ch)
		})
		if err != nil {
			t.Fatalf("Call = %v, want nil", err)
		}
		synctest.Wait()
		if len(events) != 0 {
			t.Fatalf("%d writes completed while Commit waits, want none", len(events))
		}
		if got, _ := s.get(t.Context(), "w1"); got != "" {
			t.Fatalf("get(w1) before its commit = %q, want \"\"", got)
		}

		close(log.commitGate)
		synctest.Wait()
		var got []string
		for len(events) > 0 {
			e := <-events
			if e.err != nil {
				t.Errorf("write %s completed with %v, want nil", e.what, e.err)
			}
			got = append(got, e.what)
		}
		if want := []string{"w1", "w2", "w3", "after pending"}; !slices.Equal(got, want) {
			t.Errorf("completions = %q, want %q", got, want)
		}
		if slices.Max(log.commits) != 3 {
			t.Errorf("commits = %v, want the last one up to 3", log.commits)
		}

		// With nothing in flight, AfterPendingWrites runs at once.
		ran, err := Call(t.Context(), s.loop, func(reply func(bool)) {
			ran := false
			s.loop.AfterPendingWrites(func() { ran = true })
			reply(ran)
		})
		if err != nil || !ran {
			t.Errorf("AfterPendingWrites with nothing in flight ran at once = %v, %v, want true, nil", ran, err)
		}
	})
}

func TestWriteIsAnsweredOnceCommitted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startRuntime(t, 0)
		log := &fakeLog{commitGate: make(chan struct{})}
		s := loaded(t, r, log)
		put := async(func() error { return s.put(t.Context(), "k", "v") })
		if _, ok := ready(put); ok {
			t.Fatalf("put answered while Commit waits, want waiting")
		}
		close(log.commitGate)
		if err, ok := ready(put); !ok || err != nil {
			t.Fatalf("put after the commit = %v (answered: %v), want nil", err, ok)
		}
		if got, _ := s.get(t.Context(), "k"); got != "v" {
			t.Fatalf("get(k) after the committed put = %q, want v", got)
		}
	})
}

func TestFailedWritesReachTheCaller(t *testing.T) {
	errDisk := errors.New("disk on fire")
	tests := []struct {
		name string
		give func(l *fakeLog)
	}{
		{"failed append", func(l *fakeLog) { l.appendErr = errDisk }},
		{"failed commit", func(l *fakeLog) { l.commitErr = errDisk }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := startRuntime(t, 0)
				log := &fakeLog{}
				s := loaded(t, r, log)
				log.set(tt.give)
				if err := s.put(t.Context(), "k", "v"); !errors.Is(err, errDisk) {
					t.Fatalf("put = %v, want an error wrapping %v", err, errDisk)
				}
				if got, _ := s.get(t.Context(), "k"); got != "" {
					t.Fatalf("get(k) after a failed put = %q, want \"\"", got)
				}
				// The loop keeps serving; the next write may succeed.
				log.set(func(l *fakeLog) { l.appendErr, l.commitErr = nil, nil })
				if err := s.put(t.Context(), "k", "v2"); err != nil {
					t.Fatalf("put after the log recovered = %v, want nil", err)
				}
				if got, _ := s.get(t.Context(), "k"); got != "v2" {
					t.Fatalf("get(k) after the log recovered = %q, want v2", got)
				}
			})
		})
	}
}

// timerKey keeps the test's keys apart from other types' keys.
type timerKey string

func TestTimersFireOnTheLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startRuntime(t, 0)
		s := loaded(t, r, &fakeLog{})
		schedule := func(key timerKey, d time.Duration, value string) {
			t.Helper()
			err := s.loop.Submit(t.Context(), func() {
				s.loop.Schedule(key, d, func() { s.kv[string(key)] = value })
			})
			if err != nil {
				t.Fatalf("Submit = %v, want nil", err)
			}
		}
		schedule("fires", time.Second, "fired")
		schedule("replaced", time.Second, "first")
		schedule("replaced", 2*time.Second, "second")
		schedule("cancelled", time.Second, "fired")
		if err := s.loop.Submit(t.Context(), func() { s.loop.CancelTimer(timerKey("cancelled")) }); err != nil {
			t.Fatalf("Submit = %v, want nil", err)
		}
		// A string key is another key than timerKey("fires").
		if err := s.loop.Submit(t.Context(), func() { s.loop.CancelTimer("fires") }); err != nil {
			t.Fatalf("Submit = %v, want nil", err)
		}

		time.Sleep(time.Second + time.Millisecond)
		check := func(when string, want map[string]string) {
			t.Helper()
			for key, wantV := range want {
				if got, _ := s.get(t.Context(), key); got != wantV {
					t.Errorf("%s: get(%s) = %q, want %q", when, key, got, wantV)
				}
			}
		}
		check("after 1s", map[string]string{"fires": "fired", "replaced": "", "cancelled": ""})
		time.Sleep(time.Second)
		check("after 2s", map[string]string{"replaced": "second", "cancelled": ""})
	})
}

func TestTimerReplacedAfterFiringDoesNotRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startRuntime(t, 0)
		s := loaded(t, r, &fakeLog{})
		// The loop is busy when both timers fire: their firings wait for
		// it, and it replaces one and cancels the other before it gets them.
		err := s.loop.Submit(t.Context(), func() {
			s.loop.Schedule(timerKey("replaced"), time.Second, func() { s.kv["replaced"] = "first" })
			s.loop.Schedule(timerKey("cancelled"), time.Second, func() { s.kv["cancelled"] = "fired" })
			time.Sleep(2 * time.Second)
			s.loop.Schedule(timerKey("replaced"), 5*time.Second, func() { s.kv["replaced"] = "second" })
			s.loop.CancelTimer(timerKey("cancelled"))
		})
		if err != nil {
			t.Fatalf("Submit = %v, want nil", err)
		}
		time.Sleep(3 * time.Second)
		for _, key := range []string{"replaced", "cancelled"} {
			if got, _ := s.get(t.Context(), key); got != "" {
				t.Errorf("after 3s: get(%s) = %q, want \"\" (stale firing ignored)", key, got)
			}
		}
		time.Sleep(5 * time.Second)
		if got, _ := s.get(t.Context(), "replaced"); got != "second" {
			t.Errorf("after 8s: get(replaced) = %q, want second", got)
		}
	})
}

func TestTimersStopOnUnload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := startRuntime(t, 0)
		s := loaded(t, r, &fakeLog{})
		fired := make(chan struct{}, 1)
		if err := s.loop.Submit(t.Context(), func() {
			s.loop.Schedule(timerKey("t"), time.Second, func() { fired <- struct{}{} })
		}); err != nil {
			t.Fatalf("Submit = %v, want nil", err)
		}
		synctest.Wait()
		r.Unload(0)
		time.Sleep(time.Hour)
		if _, ok := ready(fired); ok {
			t.Fatalf("timer of an unloaded shard fired, want stopped")
		}
	})
}
