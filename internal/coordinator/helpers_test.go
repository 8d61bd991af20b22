package coordinator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeLog is an in-memory Log. Records appended become replayable once a
// Commit covers them; gates hold Replay and Commit until closed.
type fakeLog struct {
	mu        sync.Mutex
	recs      []Record
	committed int64   // end of the committed records
	commits   []int64 // every end Commit returned nil for, in order
	appendErr error
	commitErr error

	replayGate chan struct{} // when set, Replay waits for it to close
	commitGate chan struct{} // when set, Commit waits for it to close
}

// committedLog returns a log holding recs, all committed.
func committedLog(recs ...Record) *fakeLog {
	return &fakeLog{recs: recs, committed: int64(len(recs))}
}

func (l *fakeLog) Append(recs []Record) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.appendErr != nil {
		return 0, l.appendErr
	}
	l.recs = append(l.recs, recs...)
	return int64(len(l.recs)), nil
}

func (l *fakeLog) Commit(ctx context.Context, end int64) error {
	if err := pass(ctx, l.commitGate); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.commitErr != nil {
		return l.commitErr
	}
	l.committed = max(l.committed, end)
	l.commits = append(l.commits, end)
	return nil
}

func (l *fakeLog) Replay(ctx context.Context, fn func(offset int64, key, value []byte) error) error {
	if err := pass(ctx, l.replayGate); err != nil {
		return err
	}
	l.mu.Lock()
	recs := l.recs[:l.committed]
	l.mu.Unlock()
	for i, r := range recs {
		if err := fn(int64(i), r.Key, r.Value); err != nil {
			return err
		}
	}
	return nil
}

// pass waits for gate to close (a nil gate is open) or ctx to end.
func pass(ctx context.Context, gate chan struct{}) error {
	if gate == nil {
		return nil
	}
	select {
	case <-gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *fakeLog) set(f func(l *fakeLog)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f(l)
}

// kvShard is a toy state machine: a map of strings, written as records
// (key, value; nil value deletes), plus what the runtime did to it.
type kvShard struct {
	loop *Loop

	// Owned by the loop.
	kv     map[string]string
	loaded bool // Loaded ran
	ticks  int
	served bool // a request ran (Loaded must come first)
}

var errBadRecord = errors.New("bad record")

func newKVShard(l *Loop) *kvShard { return &kvShard{loop: l, kv: make(map[string]string)} }

func (s *kvShard) Replay(offset int64, key, value []byte) error {
	if string(key) == "bad" {
		return fmt.Errorf("offset %d: %w", offset, errBadRecord)
	}
	s.apply(Record{Key: key, Value: value})
	return nil
}

func (s *kvShard) apply(r Record) {
	if r.Value == nil {
		delete(s.kv, string(r.Key))
		return
	}
	s.kv[string(r.Key)] = string(r.Value)
}

func (s *kvShard) Loaded() { s.loaded = !s.served }
func (s *kvShard) Tick()   { s.ticks++ }

// get reads key on the loop.
func (s *kvShard) get(ctx context.Context, key string) (string, error) {
	return Call(ctx, s.loop, func(reply func(string)) {
		s.served = true
		reply(s.kv[key])
	})
}

// put writes key=value and applies it once committed, answering then.
func (s *kvShard) put(ctx context.Context, key, value string) error {
	err, callErr := Call(ctx, s.loop, func(reply func(error)) {
		r := Record{Key: []byte(key), Value: []byte(value)}
		s.loop.Write([]Record{r}, func(err error) {
			if err == nil {
				s.apply(r)
			}
			reply(err)
		})
	})
	return errors.Join(callErr, err)
}

func rec(key, value string) Record { return Record{Key: []byte(key), Value: []byte(value)} }

// startRuntime runs a runtime of kvShards until the test ends. Call it
// inside a synctest bubble.
func startRuntime(t *testing.T, tick time.Duration) *Runtime[*kvShard] {
	t.Helper()
	r := New(Config{Logger: testLogger(t), Topic: "__test", TickInterval: tick}, newKVShard)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v, want nil", err)
		}
	})
	return r
}

// loaded loads log as partition 0 at leader epoch 0 and returns its shard
// once active.
func loaded(t *testing.T, r *Runtime[*kvShard], log Log) *kvShard {
	t.Helper()
	r.Load(0, 0, log)
	synctest.Wait()
	s, err := r.Shard(0)
	if err != nil {
		t.Fatalf("Shard(0) after loading = %v, want the loaded shard", err)
	}
	return s
}

// async runs f in a goroutine; the channel yields its result.
func async[T any](f func() T) <-chan T {
	ch := make(chan T, 1)
	go func() { ch <- f() }()
	return ch
}

// ready returns the value of ch if it is there once the bubble settled.
func ready[T any](ch <-chan T) (T, bool) {
	synctest.Wait()
	select {
	case v := <-ch:
		return v, true
	default:
		var zero T
		return zero, false
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
