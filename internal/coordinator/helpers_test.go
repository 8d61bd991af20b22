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

// fakeLog is an in-memory Log, one entry per offset. Records appended
// become replayable once a Commit covers them; gates hold Replay and
// Commit until closed. Markers from an older coordinator epoch than the
// producer's last are refused with errFenced.
type fakeLog struct {
	mu         sync.Mutex
	recs       []ReplayRecord
	committed  int64   // end of the committed records
	commits    []int64 // every end Commit returned nil for, in order
	appendErr  error
	commitErr  error
	coordEpoch map[int64]int32 // producer → coordinator epoch of its last marker

	replayGate chan struct{} // when set, Replay waits for it to close
	commitGate chan struct{} // when set, Commit waits for it to close
}

var errFenced = errors.New("fenced marker")

// committedLog returns a log holding recs, all committed.
func committedLog(recs ...Record) *fakeLog {
	l := &fakeLog{}
	for _, r := range recs {
		l.recs = append(l.recs, plain(r))
	}
	l.committed = int64(len(recs))
	return l
}

// plain is r as written by Append.
func plain(r Record) ReplayRecord {
	return ReplayRecord{Key: r.Key, Value: r.Value, ProducerID: -1, ProducerEpoch: -1}
}

func (l *fakeLog) Append(recs []Record) (int64, error) {
	return l.appendEntries(len(recs), func(i int) ReplayRecord { return plain(recs[i]) })
}

func (l *fakeLog) AppendTransactional(producerID int64, producerEpoch int16, recs []Record) (int64, error) {
	return l.appendEntries(len(recs), func(i int) ReplayRecord {
		r := plain(recs[i])
		r.ProducerID, r.ProducerEpoch, r.Transactional = producerID, producerEpoch, true
		return r
	})
}

func (l *fakeLog) AppendMarker(producerID int64, producerEpoch int16, coordinatorEpoch int32, commit bool) (int64, error) {
	l.mu.Lock()
	prev, ok := l.coordEpoch[producerID]
	l.mu.Unlock()
	if ok && coordinatorEpoch < prev {
		return 0, fmt.Errorf("%w: coordinator epoch %d after %d", errFenced, coordinatorEpoch, prev)
	}
	end, err := l.appendEntries(1, func(int) ReplayRecord {
		return ReplayRecord{ProducerID: producerID, ProducerEpoch: producerEpoch, Transactional: true, Control: true, Commit: commit}
	})
	if err == nil {
		l.mu.Lock()
		if l.coordEpoch == nil {
			l.coordEpoch = make(map[int64]int32)
		}
		l.coordEpoch[producerID] = coordinatorEpoch
		l.mu.Unlock()
	}
	return end, err
}

func (l *fakeLog) appendEntries(n int, entry func(i int) ReplayRecord) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.appendErr != nil {
		return 0, l.appendErr
	}
	for i := range n {
		l.recs = append(l.recs, entry(i))
	}
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

func (l *fakeLog) Replay(ctx context.Context, fn func(r ReplayRecord) error) error {
	if err := pass(ctx, l.replayGate); err != nil {
		return err
	}
	l.mu.Lock()
	recs := l.recs[:l.committed]
	l.mu.Unlock()
	for i, r := range recs {
		r.Offset = int64(i)
		if err := fn(r); err != nil {
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
// Transactional records wait per producer for their marker.
type kvShard struct {
	loop *Loop

	// Owned by the loop.
	kv      map[string]string
	pending map[int64][]Record // producer → its transactional records
	loaded  bool               // Loaded ran
	ticks   int
	served  bool // a request ran (Loaded must come first)
}

var errBadRecord = errors.New("bad record")

func newKVShard(l *Loop) *kvShard {
	return &kvShard{loop: l, kv: make(map[string]string), pending: make(map[int64][]Record)}
}

var _ MarkerShard = (*kvShard)(nil)

func (s *kvShard) Replay(r ReplayRecord) error {
	if string(r.Key) == "bad" {
		return fmt.Errorf("offset %d: %w", r.Offset, errBadRecord)
	}
	if r.Control {
		return fmt.Errorf("offset %d: Replay got a marker", r.Offset)
	}
	rec := Record{Key: r.Key, Value: r.Value}
	if r.Transactional {
		s.pending[r.ProducerID] = append(s.pending[r.ProducerID], rec)
		return nil
	}
	s.apply(rec)
	return nil
}

func (s *kvShard) ReplayMarker(r ReplayRecord) error {
	s.endTxn(r.ProducerID, r.Commit)
	return nil
}

// endTxn applies (commit) or drops producerID's pending records.
func (s *kvShard) endTxn(producerID int64, commit bool) {
	if commit {
		for _, r := range s.pending[producerID] {
			s.apply(r)
		}
	}
	delete(s.pending, producerID)
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
