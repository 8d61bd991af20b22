package node

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// history records what a fault test's clients saw: every acknowledged
// write and every consumed record, by partition and offset. check compares
// them with a final read of the log.
type history struct {
	mu       sync.Mutex
	acked    map[int32]map[int64]string // partition → offset → value acknowledged there
	consumed map[int32]map[int64]string // partition → offset → value a consumer saw there
	problems []string
	// lastAck is when the latest write was acknowledged; longestPause the
	// longest time between two acknowledgements (how long writes stopped
	// during the faults), reported by check, never asserted.
	lastAck      time.Time
	longestPause time.Duration
}

func newHistory() *history {
	return &history{acked: map[int32]map[int64]string{}, consumed: map[int32]map[int64]string{}}
}

func (h *history) problem(format string, args ...any) {
	h.problems = append(h.problems, fmt.Sprintf(format, args...))
}

// ack records an acknowledged write.
func (h *history) ack(p int32, off int64, v string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.acked[p] == nil {
		h.acked[p] = map[int64]string{}
	}
	now := time.Now()
	if !h.lastAck.IsZero() {
		h.longestPause = max(h.longestPause, now.Sub(h.lastAck))
	}
	h.lastAck = now
	if prev, ok := h.acked[p][off]; ok && prev != v {
		h.problem("partition %d offset %d acknowledged for two records: %q and %q", p, off, prev, v)
	}
	h.acked[p][off] = v
}

// consume records a record a consumer saw.
func (h *history) consume(p int32, off int64, v string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.consumed[p] == nil {
		h.consumed[p] = map[int64]string{}
	}
	if prev, ok := h.consumed[p][off]; ok && prev != v {
		h.problem("partition %d offset %d consumed as two records: %q and %q", p, off, prev, v)
	}
	h.consumed[p][off] = v
}

// check compares the history with final, the whole log of each partition
// read after the faults (offset → value, in offset order). It reports: an
// acknowledged write missing or moved, a record consumed at an offset that
// now holds something else or nothing (it vanished), a value stored twice
// (a duplicate; values are unique per write attempt), and values of one
// producer out of order within a partition (order).
func (h *history) check(t *testing.T, final map[int32][]*kgo.Record, order func(v string) (producer string, seq int)) {
	t.Helper()
	h.mu.Lock()
	n := 0
	for _, m := range h.acked {
		n += len(m)
	}
	t.Logf("history: %d acknowledged writes; writes stopped for at most %v (longest time between two acknowledgements)",
		n, h.longestPause.Round(time.Millisecond))
	h.mu.Unlock()
	problems := h.findProblems(final, order)
	for i, pr := range problems {
		if i == 20 {
			t.Errorf("... and %d more", len(problems)-20)
			break
		}
		t.Error(pr)
	}
}

func (h *history) findProblems(final map[int32][]*kgo.Record, order func(v string) (producer string, seq int)) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	stored := map[int32]map[int64]string{}
	seen := map[string]string{}
	for p, recs := range final {
		stored[p] = map[int64]string{}
		last := map[string]int{}
		for _, r := range recs {
			v := string(r.Value)
			stored[p][r.Offset] = v
			if where, dup := seen[v]; dup {
				h.problem("value %q stored twice: %s and partition %d offset %d", v, where, p, r.Offset)
			}
			seen[v] = fmt.Sprintf("partition %d offset %d", p, r.Offset)
			if order != nil {
				prod, seq := order(v)
				if prev, ok := last[prod]; ok && seq < prev {
					h.problem("partition %d: %q stored after seq %d of the same producer", p, v, prev)
				}
				last[prod] = seq
			}
		}
	}
	for p, offs := range h.acked {
		for off, v := range offs {
			if got, ok := stored[p][off]; !ok {
				h.problem("acknowledged write %q at partition %d offset %d is lost", v, p, off)
			} else if got != v {
				h.problem("acknowledged write %q at partition %d offset %d was replaced by %q", v, p, off, got)
			}
		}
	}
	for p, offs := range h.consumed {
		for off, v := range offs {
			if got, ok := stored[p][off]; !ok || got != v {
				h.problem("record %q consumed at partition %d offset %d later vanished (now %q)", v, p, off, got)
			}
		}
	}
	sort.Strings(h.problems)
	return h.problems
}

// readAll reads every partition of topic from offset 0 to its end at the
// time of the call.
func readAll(t *testing.T, addr, topic string, opts ...kgo.Opt) map[int32][]*kgo.Record {
	t.Helper()
	ends, err := kadmClient(kgoClient(t, addr, opts...)).ListEndOffsets(ctxTimeout(t, 30*time.Second), topic)
	if err != nil {
		t.Fatalf("list end offsets: %v", err)
	}
	want := map[int32]int64{}
	total := int64(0)
	ends.Each(func(o kadmListedOffset) { want[o.Partition] = o.Offset; total += o.Offset })
	c := kgoClient(t, addr, append([]kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	out := map[int32][]*kgo.Record{}
	got := int64(0)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for got < total {
		fs := c.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("final read of %s: %d of %d records", topic, got, total)
		}
		for _, r := range fs.Records() {
			if r.Offset < want[r.Partition] {
				out[r.Partition] = append(out[r.Partition], r)
				got++
			}
		}
	}
	return out
}

func TestHistoryCheckerFindsEachViolation(t *testing.T) {
	rec := func(off int64, v string) *kgo.Record { return &kgo.Record{Offset: off, Value: []byte(v)} }
	order := func(v string) (string, int) {
		var p string
		var s int
		fmt.Sscanf(v, "%1s%d", &p, &s)
		return p, s
	}
	tests := []struct {
		name  string
		setup func(h *history)
		final map[int32][]*kgo.Record
		want  int
	}{
		{"clean", func(h *history) { h.ack(0, 0, "a0"); h.consume(0, 1, "a1") }, map[int32][]*kgo.Record{0: {rec(0, "a0"), rec(1, "a1")}}, 0},
		{"lost acknowledged write", func(h *history) { h.ack(0, 1, "a1") }, map[int32][]*kgo.Record{0: {rec(0, "a0")}}, 1},
		{"acknowledged write replaced", func(h *history) { h.ack(0, 0, "a0") }, map[int32][]*kgo.Record{0: {rec(0, "b0")}}, 1},
		{"consumed record vanished", func(h *history) { h.consume(0, 1, "a1") }, map[int32][]*kgo.Record{0: {rec(0, "a0")}}, 1},
		{"duplicate", func(*history) {}, map[int32][]*kgo.Record{0: {rec(0, "a0"), rec(1, "a0")}}, 1},
		{"reordered", func(*history) {}, map[int32][]*kgo.Record{0: {rec(0, "a2"), rec(1, "a1")}}, 1},
		{"two records acknowledged at one offset", func(h *history) { h.ack(0, 0, "a0"); h.ack(0, 0, "b0") }, map[int32][]*kgo.Record{0: {rec(0, "a0")}}, 2},
	}
	for _, tt := range tests {
		h := newHistory()
		tt.setup(h)
		if got := h.findProblems(tt.final, order); len(got) != tt.want {
			t.Errorf("%s: checker reported %d problems %v, want %d", tt.name, len(got), got, tt.want)
		}
	}
}

// historyLoad runs an acks=all producer of unique, increasing values
// ("p0", "p1", ...) and a consumer against topic, recording both into a
// history, until stop.
type historyLoad struct {
	h      *history
	acked  atomic.Int64
	p      *kgo.Client
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startHistoryLoad starts the load on a cluster reached through seeds. The
// producer paces itself to about 10k records/s so the final read stays
// small.
func startHistoryLoad(t *testing.T, seeds []string, topic string, extra ...kgo.Opt) *historyLoad {
	t.Helper()
	l := &historyLoad{h: newHistory()}
	l.p = kgoClient(t, seeds[0], append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordDeliveryTimeout(60 * time.Second), kgo.ProducerLinger(time.Millisecond)}, extra...)...)
	c := kgoClient(t, seeds[0], append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, extra...)...)
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	t.Cleanup(cancel)
	l.wg.Add(2)
	go func() {
		defer l.wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			if i%10 == 9 {
				time.Sleep(time.Millisecond)
			}
			l.p.Produce(ctx, &kgo.Record{Value: fmt.Appendf(nil, "p%d", i)}, func(r *kgo.Record, err error) {
				if err == nil {
					l.h.ack(r.Partition, r.Offset, string(r.Value))
					l.acked.Add(1)
				}
			})
		}
	}()
	go func() {
		defer l.wg.Done()
		for ctx.Err() == nil {
			c.PollFetches(ctx).EachRecord(func(r *kgo.Record) { l.h.consume(r.Partition, r.Offset, string(r.Value)) })
		}
	}()
	return l
}

// waitAcked waits until n more records than now are acknowledged and
// returns the count it started from.
func (l *historyLoad) waitAcked(t *testing.T, what string, n int64) int64 {
	t.Helper()
	from := l.acked.Load()
	waitFor(t, what, 60*time.Second, func() bool { return l.acked.Load() >= from+n })
	return from
}

// stopAndCheck stops the load, reads topic back through addr and checks
// the history against it. It returns the final log.
func (l *historyLoad) stopAndCheck(t *testing.T, addr, topic string, opts ...kgo.Opt) map[int32][]*kgo.Record {
	t.Helper()
	l.cancel()
	l.wg.Wait()
	l.p.Flush(context.Background())
	final := readAll(t, addr, topic, opts...)
	l.h.check(t, final, func(v string) (string, int) {
		var n int
		fmt.Sscanf(v, "p%d", &n)
		return "p", n
	})
	return final
}
