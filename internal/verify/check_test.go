package verify

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/twmb/franz-go/pkg/kgo.(*Client).reapConnectionsLoop"),
	)
}

// Processes of the synthetic history.
const (
	pIdem  = 0 // idempotent producer
	pNon   = 1 // non-idempotent producer
	pTxn   = 2 // transactional producer
	cRC    = 3 // assign, read_committed (consumer spec 0)
	cRU    = 4 // assign, read_uncommitted (consumer spec 1)
	cG1    = 5 // group g, read_committed (consumer spec 2)
	cG2    = 6 // group g, second member
	tag    = "tag"
	groupG = "g"
)

// builder appends events 1ms apart.
type builder struct {
	h *History
	t time.Duration
}

func (b *builder) ev(e Event) {
	b.t += time.Millisecond
	e.T = b.t
	b.h.Events = append(b.h.Events, e)
}

func (b *builder) send(proc int, seq, txn int64, p int32, o int64) Rec {
	v := encodeValue(tag, proc, seq, txn)
	b.ev(Event{Type: EvSend, Process: proc, Seq: seq, Txn: txn, Partition: p, Value: v})
	b.ev(Event{Type: EvAck, Process: proc, Seq: seq, Txn: txn, Partition: p, Offset: o, Value: v})
	return Rec{Partition: p, Offset: o, Value: v}
}

func (b *builder) poll(proc int, recs ...Rec) {
	b.ev(Event{Type: EvPoll, Process: proc, Records: recs})
}

// cleanHistory is a small history with nothing wrong:
//
//	p0: idempotent seq 0..3 at offsets 0..3
//	p1: txn 1 (committed) at offsets 0, 1, marker 2; txn 2 (aborted) at 3, marker 4;
//	    idempotent seq 4 at offset 5
//
// An assign read_committed and an assign read_uncommitted consumer read
// everything they may; group g's first member owns both partitions, reads
// and commits; its second member joins, is assigned nothing.
func cleanHistory() (*History, map[string]Rec) {
	h := &History{
		Version: HistoryVersion, Seed: 7, RunTag: tag, Topic: "t", StartOffsets: []int64{0, 0},
		Consumers: []ConsumerSpec{
			{Mode: ModeAssign, Isolation: ReadCommitted, Members: 1},
			{Mode: ModeAssign, Isolation: ReadUncommitted, Members: 1},
			{Mode: ModeGroupClassic, Isolation: ReadCommitted, Members: 2},
		},
		Processes: []Process{
			{ID: pIdem, Role: "producer", Kind: KindIdempotent},
			{ID: pNon, Role: "producer", Kind: KindNonIdempotent},
			{ID: pTxn, Role: "producer", Kind: KindTransactional},
			{ID: cRC, Role: "consumer", Kind: ModeAssign, Isolation: ReadCommitted, Consumer: 0},
			{ID: cRU, Role: "consumer", Kind: ModeAssign, Isolation: ReadUncommitted, Consumer: 1},
			{ID: cG1, Role: "consumer", Kind: ModeGroupClassic, Isolation: ReadCommitted, Group: groupG, Consumer: 2},
			{ID: cG2, Role: "consumer", Kind: ModeGroupClassic, Isolation: ReadCommitted, Group: groupG, Consumer: 2},
		},
	}
	b := &builder{h: h}
	r := map[string]Rec{}
	b.ev(Event{Type: EvAssigned, Process: cRC, Partitions: []int32{0, 1}})
	b.ev(Event{Type: EvAssigned, Process: cRU, Partitions: []int32{0, 1}})
	b.ev(Event{Type: EvAssigned, Process: cG1, Partitions: []int32{0, 1}})
	h.LoadStart = b.t
	for i := range 4 {
		r["a"+string(rune('0'+i))] = b.send(pIdem, int64(i), 0, 0, int64(i))
	}
	b.ev(Event{Type: EvTxnBegin, Process: pTxn, Txn: 1})
	r["t1a"] = b.send(pTxn, 0, 1, 1, 0)
	r["t1b"] = b.send(pTxn, 1, 1, 1, 1)
	b.ev(Event{Type: EvTxnEndSent, Process: pTxn, Txn: 1, Commit: true})
	b.ev(Event{Type: EvTxnEnd, Process: pTxn, Txn: 1, Commit: true})
	b.ev(Event{Type: EvTxnBegin, Process: pTxn, Txn: 2})
	r["t2a"] = b.send(pTxn, 2, 2, 1, 3)
	b.ev(Event{Type: EvTxnEndSent, Process: pTxn, Txn: 2})
	b.ev(Event{Type: EvTxnEnd, Process: pTxn, Txn: 2})
	r["a4"] = b.send(pIdem, 4, 0, 1, 5)
	h.LoadEnd = b.t

	b.poll(cRC, r["a0"], r["a1"], r["a2"], r["a3"])
	b.poll(cRC, r["t1a"], r["t1b"], r["a4"])
	b.poll(cRU, r["a0"], r["a1"], r["a2"], r["a3"], r["t1a"], r["t1b"], r["t2a"], r["a4"])
	b.poll(cG1, r["a0"], r["a1"], r["t1a"])
	b.ev(Event{Type: EvCommit, Process: cG1, Offsets: []CommitOffset{{Partition: 0, Offset: 2}, {Partition: 1, Offset: 1}}})
	b.poll(cG1, r["a2"], r["a3"], r["t1b"], r["a4"])
	b.ev(Event{Type: EvCommit, Process: cG1, Offsets: []CommitOffset{{Partition: 0, Offset: 4}, {Partition: 1, Offset: 6}}})
	b.ev(Event{Type: EvClose, Process: cRC, Partitions: []int32{0, 1}})
	b.ev(Event{Type: EvClose, Process: cRU, Partitions: []int32{0, 1}})
	b.ev(Event{Type: EvRevoked, Process: cG1, Partitions: []int32{0, 1}})
	b.ev(Event{Type: EvClose, Process: cG1})
	b.ev(Event{Type: EvClose, Process: cG2})
	h.SettleEnd = b.t
	h.FinalCommitted = []GroupOffsets{{Group: groupG, Offsets: []CommitOffset{{Partition: 0, Offset: 4}, {Partition: 1, Offset: 6}}}}
	fr := func(recs ...Rec) []FinalRecord {
		var out []FinalRecord
		for _, r := range recs {
			out = append(out, FinalRecord{Offset: r.Offset, Value: r.Value})
		}
		return out
	}
	h.Final = []FinalPartition{
		{Partition: 0, HighWatermark: 4, LastStableOffset: 4,
			Uncommitted: fr(r["a0"], r["a1"], r["a2"], r["a3"]), UncommittedComplete: true,
			Committed: fr(r["a0"], r["a1"], r["a2"], r["a3"]), CommittedComplete: true},
		{Partition: 1, HighWatermark: 6, LastStableOffset: 6,
			Uncommitted: fr(r["t1a"], r["t1b"], r["t2a"], r["a4"]), UncommittedComplete: true,
			Committed: fr(r["t1a"], r["t1b"], r["a4"]), CommittedComplete: true},
	}
	b.t += time.Millisecond
	h.End = b.t
	return h, r
}

// pollsOf returns pointers to the poll events of proc, in order.
func pollsOf(h *History, proc int) []*Event {
	var out []*Event
	for i := range h.Events {
		if h.Events[i].Type == EvPoll && h.Events[i].Process == proc {
			out = append(out, &h.Events[i])
		}
	}
	return out
}

func without(recs []Rec, drop Rec) []Rec {
	return slices.DeleteFunc(slices.Clone(recs), func(r Rec) bool { return r == drop })
}

func withoutFinal(recs []FinalRecord, off int64) []FinalRecord {
	return slices.DeleteFunc(slices.Clone(recs), func(r FinalRecord) bool { return r.Offset == off })
}

// insertAt inserts e at index i of h's events, with the time of the event
// it displaces.
func insertAt(h *History, i int, e Event) {
	e.T = h.Events[i].T
	h.Events = slices.Insert(h.Events, i, e)
}

// insertBefore inserts e at index i, a microsecond before the event it
// displaces.
func insertBefore(h *History, i int, e Event) {
	e.T = h.Events[i].T - time.Microsecond
	h.Events = slices.Insert(h.Events, i, e)
}

// swapOffsets makes the log hold x at y's offset and y at x's (both on
// one partition): acknowledgements, polls and final reads agree.
func swapOffsets(h *History, x, y Rec) {
	moved := map[string]int64{x.Value: y.Offset, y.Value: x.Offset}
	for i := range h.Events {
		e := &h.Events[i]
		if o, ok := moved[e.Value]; ok && e.Type == EvAck {
			e.Offset = o
		}
		for j := range e.Records {
			if o, ok := moved[e.Records[j].Value]; ok {
				e.Records[j].Offset = o
			}
		}
		slices.SortFunc(e.Records, func(a, b Rec) int {
			if a.Partition != b.Partition {
				return int(a.Partition - b.Partition)
			}
			return int(a.Offset - b.Offset)
		})
	}
	for _, f := range []*[]FinalRecord{&h.Final[x.Partition].Uncommitted, &h.Final[x.Partition].Committed} {
		for j := range *f {
			if o, ok := moved[(*f)[j].Value]; ok {
				(*f)[j].Offset = o
			}
		}
		slices.SortFunc(*f, func(a, b FinalRecord) int { return int(a.Offset - b.Offset) })
	}
}

// indexOf returns the index of the first event matching f.
func indexOf(t *testing.T, h *History, f func(e Event) bool) int {
	t.Helper()
	i := slices.IndexFunc(h.Events, f)
	if i < 0 {
		t.Fatalf("no such event in the history")
	}
	return i
}

func TestCheckCleanHistoryHasNoAnomalies(t *testing.T) {
	h, _ := cleanHistory()
	res := Check(h)
	if !res.OK() || len(res.Counts) != 0 || len(res.Unknown) != 0 || len(res.Info) != 0 {
		t.Fatalf("Check(clean history) = counts %v, unknown %v, info %v, anomalies %+v; want none", res.Counts, res.Unknown, res.Info, res.Anomalies)
	}
	if res.Sent != 8 || res.Acked != 8 || res.TxnCommitted != 1 || res.TxnAborted != 1 || res.Polled != 22 {
		t.Errorf("Check(clean history): sent %d acked %d committed %d aborted %d polled %d; want 8 8 1 1 22",
			res.Sent, res.Acked, res.TxnCommitted, res.TxnAborted, res.Polled)
	}
}

// TestCheckFindsEachAnomaly breaks the clean history in one way per case
// and checks that Check reports exactly the anomalies that break implies.
func TestCheckFindsEachAnomaly(t *testing.T) {
	tests := []struct {
		name     string
		give     func(t *testing.T, h *History, r map[string]Rec)
		want     map[string]int
		wantInfo map[string]int
		example  string // a substring of the first anomaly's example
	}{
		{
			name: "acknowledged write missing from the final read is a lost write",
			give: func(t *testing.T, h *History, r map[string]Rec) {
				h.Final[0].Uncommitted = withoutFinal(h.Final[0].Uncommitted, 2)
				h.Final[0].Committed = withoutFinal(h.Final[0].Committed, 2)
			},
			want:    map[string]int{LostWrite: 1},
			example: `"tag-0-2" acknowledged to producer 0 (idempotent)`,
		},
		{
			name: "committed transaction aborted in the log is a lost write per record",
			give: func(t *testing.T, h *History, r map[string]Rec) {
				h.Final[1].Committed = withoutFinal(withoutFinal(h.Final[1].Committed, 0), 1)
				for _, p := range append(pollsOf(h, cRC), pollsOf(h, cG1)...) {
					p.Records = without(without(p.Records, r["t1a"]), r["t1b"])
				}
			},
			want:    map[string]int{LostWrite: 2},
			example: "was committed (acknowledged) but the final read_committed read does not return it",
		},
		{
			name: "record never polled by a consumer is unseen",
			give: func(t *testing.T, h *History, r map[string]Rec) {
				p := pollsOf(h, cRC)[0]
				p.Records = without(p.Records, r["a3"])
			},
			want:    map[string]int{Unseen: 1},
			example: `consumer #0 (assign:read_committed) never polled "tag-0-3"`,
		},
		{
			name: "one value at two offsets is a duplicate",
			give: func(t *testing.T, h *History, r map[string]Rec) {
				dup := FinalRecord{Offset: 4, Value: r["a3"].Value}
				h.Final[0].Uncommitted = append(h.Final[0].Uncommitted, dup)
				h.Final[0].Committed = append(h.Final[0].Committed, dup)
				h.Final[0].HighWatermark, h.Final[0].LastStableOffset = 5, 5
			},
			want:    map[string]int{Duplicate: 1},
			example: `value "tag-0-3" (producer 0 (idempotent), send 3) at 2 offsets`,
		},
		{
			name: "a non-idempotent producer's duplicate is information, not an anomaly",
			give: func(t *testing.T, h *History, r map[string]Rec) {
				b := &builder{h: h, t: h.End}
				v := b.send(pNon, 0, 0, 0, 4)
				twice := []Rec{v, {Partition: 0, Offset: 5, Value: v.Value}}
				for _, c := range []int{cRC, cRU, cG1} {
					b.poll(c, twice...)
				}
				for _, f := range []*[]FinalRecord{&h.Final[0].Uncommitted, &h.Final[0].Committed} {
					*f = append(*f, FinalRecord{Offset: 4, Value: v.Value}, FinalRecord{Offset: 5, Value: v.Value})
				}
				h.Final[0].HighWatermark, h.Final[0].LastStableOffset = 6, 6
				h.End = b.t
			},
			want:     map[string]int{},
			wantInfo: map[string]int{Duplicate: 1},
		},
		{
			// As when a new leader that never had an acknowledged write
			// (acks=all answered early) gives its offset to another.
			name: "another record at an acknowledged write's offset is an inconsistent offset and a lost write",
			give: func(t *testing.T, h *History, r map[string]Rec) {
				other := FinalRecord{Offset: 1, Value: "foreign"}
				h.Final[0].Uncommitted[1] = other
				h.Final[0].Committed[1] = other
			},
			want:    map[string]int{InconsistentOffsets: 1, LostWrite: 1},
			example: `"tag-0-1" acknowledged to producer 0 (idempotent) at 0.007s at partition 0 offset 1 is not in the final read (high watermark 4; the offset holds "foreign")`,
		},
		{
			name: "two values at one offset are inconsistent offsets",
			give: func(t *testing.T, h *History, r map[string]Rec) {
				p := pollsOf(h, cRU)[0]
				p.Records[1].Value = "foreign"
			},
			// The consumer never got the record at that offset.
			want:    map[string]int{InconsistentOffsets: 1, Unseen: 1},
			example: `partition 0 offset 1: acknowledged to producer 0 (idempotent) at 0.007s as "tag-0-1", polled by consumer 4 (assign read_uncommitted) at 0.028s as "foreign"`,
		},
		{
			// As when a leader serves past the high watermark and dies:
			// the consumer saw a record the new leader never had.
			name: "a polled record never acknowledged and not in the final read is a lost write",
			give: func(t *testing.T, h *History, r map[string]Rec) {
				v := Rec{Partition: 0, Offset: 4, Value: encodeValue(tag, pIdem, 5, 0)}
				i := indexOf(t, h, func(e Event) bool { return e.Type == EvClose && e.Process == cRU })
				insertAt(h, i, Event{Type: EvSend, Process: pIdem, Seq: 5, Partition: 0, Value: v.Value})
				insertAt(h, i+1, Event{Type: EvAck, Process: pIdem, Seq: 5, Partition: 0, Value: v.Value, Err: "NOT_LEADER_OR_FOLLOWER"})
				insertAt(h, i+2, Event{Type: EvPoll, Process: cRU, Records: []Rec{v}})
			},
			want:    map[string]int{LostWrite: 1},
			example: `"tag-0-5" polled by consumer 4 (assign read_uncommitted) at 0.034s at partition 0 offset 4 (never acknowledged) is not in the final read (high watermark 4; the offset holds nothing)`,
		},
		{
			name: "a polled record never acknowledged but in the final read is fine",
			give: func(t *testing.T, h *History, r map[string]Rec) {
				v := Rec{Partition: 0, Offset: 4, Value: encodeValue(tag, pIdem, 5, 0)}
				i := indexOf(t, h, func(e Event) bool { return e.Type == EvClose && e.Process == cRU })
				insertAt(h, i, Event{Type: EvSend, Process: pIdem, Seq: 5, Partition: 0, Value: v.Value})
				insertAt(h, i+1, Event{Type: EvAck, Process: pIdem, Seq: 5, Partition: 0, Value: v.Value, Err: "REQUEST_TIMED_OUT"})
				for _, c := range []int{cRC, cRU, cG1} {
					insertAt(h, i+2, Event{Type: EvPoll, Process: c, Records: []Rec{v}})
				}
				for _, f := range []*[]FinalRecord{&h.Final[0].Uncommitted, &h.Final[0].Committed} {
					*f = append(*f, FinalRecord{Offset: 4, Value: v.Value})
				}
				h.Final[0].HighWatermark, h.Final[0].LastStableOffset = 5, 5
			},
			want: map[string]int{},
		},
		{
			name: "write acknowledged at one offset and stored at another is inconsistent",
			give: func(t *testing.T, h *History, r map[string]Rec) {
				i := indexOf(t, h, func(e Event) bool { return e.Type == EvAck && e.Value == r["a3"].Value })
				h.Events[i].Offset = 7
			},
			want:    map[string]int{InconsistentOffsets: 1, Duplicate: 1},
			example: `but stored at partition 0 offset 3`,
		},
		{
			name: "read_committed consumer reading an aborted transaction is an aborted read",
			give: func(t *testing.T, h *History, r map[string]Rec) {
				p := pollsOf(h, cRC)[1]
				p.Records = []Rec{r["t1a"], r["t1b"], r["t2a"], r["a4"]}
			},
			want:    map[string]int{AbortedRead: 1},
			example: `consumer 3 (assign read_committed) polled "tag-2-2-2" at partition 1 offset 3`,
		},
		{
			name: "aborted transaction visible in the final committed read is an aborted read",
			give: func(t *testing.T, h *History, r map[string]Rec) {
				h.Final[1].Committed = []FinalRecord{h.Final[1].Uncommitted[0], h.Final[1].Uncommitted[1], h.Final[1].Uncommitted[2], h.Final[1].Uncommitted[3]}
			},
			// The read_committed consumers skipped the record the final
			// read_committed read now shows.
			want:    map[string]int{AbortedRead: 1, PollSkip: 2},
			example: "whose abort was acknowledged",
		},
		{
			name: "read_committed poll before the commit was requested is a precommitted read",
			give: func(t *testing.T, h *History, r map[string]Rec) {
				i := indexOf(t, h, func(e Event) bool { return e.Type == EvTxnEndSent && e.Txn == 1 })
				insertBefore(h, i, Event{Type: EvPoll, Process: cRC, Records: []Rec{r["t1a"]}})
				p := pollsOf(h, cRC)[2]
				p.Records = without(p.Records, r["t1a"])
			},
			want:    map[string]int{PrecommittedRead: 1},
			example: "which asked to commit it only at",
		},
		{
			name: "read_committed poll after the commit request, before its response, is fine",
			give: func(t *testing.T, h *History, r map[string]Rec) {
				i := indexOf(t, h, func(e Event) bool { return e.Type == EvTxnEnd && e.Txn == 1 })
				insertBefore(h, i, Event{Type: EvPoll, Process: cRC, Records: []Rec{r["t1a"]}})
				p := pollsOf(h, cRC)[2]
				p.Records = without(p.Records, r["t1a"])
			},
			want: map[string]int{},
		},
		{
			name: "final committed read with part of a transaction is a torn transaction",
			give: func(t *testing.T, h *History, r map[string]Rec) {
				h.Final[1].Committed = withoutFinal(h.Final[1].Committed, 1)
				for _, p := range append(pollsOf(h, cRC), pollsOf(h, cG1)...) {
					p.Records = without(p.Records, r["t1b"])
				}
			},
			// The read_committed consumers went on to offset 5 past the
			// missing 1 — which the final read_committed read no longer
			// shows, so that is no skip.
			want:    map[string]int{TornTransaction: 1},
			example: "the final read_committed read holds its records at 1/0 but not those at 1/1",
		},
		{
			name: "read_committed consumer skipping the rest of a transaction is a torn transaction",
			give: func(t *testing.T, h *History, r map[string]Rec) {
				p := pollsOf(h, cRC)[1]
				p.Records = without(p.Records, r["t1b"])
			},
			want:    map[string]int{TornTransaction: 1, Unseen: 1},
			example: `skipping the transaction's records at 1 ("tag-2-1-1")`,
		},
		{
			name: "consumer jumping over a visible record is a poll skip",
			give: func(t *testing.T, h *History, r map[string]Rec) {
				p := pollsOf(h, cRU)[0]
				p.Records = without(p.Records, r["a2"])
			},
			want:    map[string]int{PollSkip: 1, Unseen: 1},
			example: `after offset 1, skipping visible records at offsets 2 ("tag-0-2")`,
		},
		{
			name: "group member starting past its group's committed offset is a poll skip",
			give: func(t *testing.T, h *History, r map[string]Rec) {
				i := indexOf(t, h, func(e Event) bool { return e.Type == EvRevoked && e.Process == cG1 })
				insertAt(h, i+1, Event{Type: EvAssigned, Process: cG2, Partitions: []int32{0}})
				insertAt(h, i+2, Event{Type: EvPoll, Process: cG2, Records: []Rec{r["a0"], r["a1"], r["a3"]}})
				// The group committed 4: starting over at 0 is fine, but then 1 -> 3 skips 2.
			},
			want:    map[string]int{PollSkip: 1},
			example: "consumer 6 (group-classic read_committed, group g) polled partition 0 offset 3",
		},
		{
			name: "offsets going backwards within an assignment are a nonmonotonic poll",
			give: func(t *testing.T, h *History, r map[string]Rec) {
				i := indexOf(t, h, func(e Event) bool { return e.Type == EvClose && e.Process == cRU })
				insertAt(h, i, Event{Type: EvPoll, Process: cRU, Records: []Rec{r["a1"]}})
			},
			want:    map[string]int{NonmonotonicPoll: 1},
			example: "polled partition 0 offset 1 at",
		},
		{
			name: "acknowledged offsets out of send order are a nonmonotonic send",
			give: func(t *testing.T, h *History, r map[string]Rec) {
				swapOffsets(h, r["a2"], r["a3"])
			},
			want:    map[string]int{NonmonotonicSend: 1},
			example: `producer 0 (idempotent) sent "tag-0-3" (send 3) after "tag-0-2" (send 2) to partition 0, but they were acknowledged at offsets 2 and 3`,
		},
		{
			name: "a non-idempotent producer may reorder",
			give: func(t *testing.T, h *History, r map[string]Rec) {
				h.Processes[pIdem].Kind = KindNonIdempotent
				swapOffsets(h, r["a0"], r["a1"])
			},
			want: map[string]int{},
		},
		{
			name: "a group commit below the previous one is a committed offset regression",
			give: func(t *testing.T, h *History, r map[string]Rec) {
				i := indexOf(t, h, func(e Event) bool { return e.Type == EvRevoked && e.Process == cG1 })
				insertAt(h, i, Event{Type: EvCommit, Process: cG1, Offsets: []CommitOffset{{Partition: 0, Offset: 3}}})
				h.FinalCommitted[0].Offsets[0].Offset = 3
			},
			want:    map[string]int{CommittedOffsetRegression: 1},
			example: "group g partition 0: consumer 5 (group-classic read_committed, group g) committed offset 3 at",
		},
		{
			name: "a failed commit is no regression",
			give: func(t *testing.T, h *History, r map[string]Rec) {
				i := indexOf(t, h, func(e Event) bool { return e.Type == EvRevoked && e.Process == cG1 })
				insertAt(h, i, Event{Type: EvCommit, Process: cG1, Offsets: []CommitOffset{{Partition: 0, Offset: 3, Err: "NOT_COORDINATOR"}}})
			},
			want: map[string]int{},
		},
		{
			name: "a final committed offset below the last commit is a committed offset regression",
			give: func(t *testing.T, h *History, r map[string]Rec) {
				h.FinalCommitted[0].Offsets[1].Offset = 2
			},
			want:    map[string]int{CommittedOffsetRegression: 1},
			example: "group g partition 1: committed offset 2 after the run, below its last successful commit 6",
		},
		{
			name: "a second member reading a record with no rebalance between is a group double consume",
			give: func(t *testing.T, h *History, r map[string]Rec) {
				i := indexOf(t, h, func(e Event) bool { return e.Type == EvRevoked && e.Process == cG1 })
				insertAt(h, i, Event{Type: EvPoll, Process: cG2, Records: []Rec{r["a2"]}})
			},
			want:    map[string]int{GroupDoubleConsume: 1},
			example: `group g consumed partition 0 offset 2 ("tag-0-2") twice with no rebalance of the partition in between: consumer 5`,
		},
		{
			name: "a record read again after a rebalance is fine",
			give: func(t *testing.T, h *History, r map[string]Rec) {
				i := indexOf(t, h, func(e Event) bool { return e.Type == EvRevoked && e.Process == cG1 })
				insertAt(h, i+1, Event{Type: EvAssigned, Process: cG2, Partitions: []int32{0}})
				insertAt(h, i+2, Event{Type: EvPoll, Process: cG2, Records: []Rec{r["a2"], r["a3"]}})
			},
			want: map[string]int{},
		},
		{
			name: "an incomplete final read leaves lost writes unchecked",
			give: func(t *testing.T, h *History, r map[string]Rec) {
				h.Final[0].Uncommitted = h.Final[0].Uncommitted[:1]
				h.Final[0].UncommittedComplete = false
			},
			want: map[string]int{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, r := cleanHistory()
			tt.give(t, h, r)
			res := Check(h)
			if diff := cmp.Diff(tt.want, res.Counts); diff != "" {
				t.Errorf("Check: anomaly counts (-want +got):\n%s\nanomalies: %+v", diff, res.Anomalies)
			}
			wantInfo := tt.wantInfo
			if wantInfo == nil {
				wantInfo = map[string]int{}
			}
			if diff := cmp.Diff(wantInfo, res.InfoCounts); diff != "" {
				t.Errorf("Check: info counts (-want +got):\n%s", diff)
			}
			if tt.example != "" && !slices.ContainsFunc(res.Anomalies, func(a Anomaly) bool { return strings.Contains(a.Example, tt.example) }) {
				t.Errorf("Check: anomalies %+v; want an example containing %q", res.Anomalies, tt.example)
			}
			if res.OK() != (len(tt.want) == 0 && len(res.Unknown) == 0) {
				t.Errorf("Check: OK() = %v with counts %v and unknown %v", res.OK(), res.Counts, res.Unknown)
			}
		})
	}
}

func TestCheckIncompleteFinalReadIsNotOK(t *testing.T) {
	h, _ := cleanHistory()
	h.Final[0].UncommittedComplete = false
	res := Check(h)
	if res.OK() || len(res.Unknown) != 1 || len(res.Anomalies) != 0 {
		t.Fatalf("Check(incomplete final read): OK %v, unknown %v, anomalies %v; want not OK, one unknown, no anomalies", res.OK(), res.Unknown, res.Anomalies)
	}
	var buf bytes.Buffer
	if err := res.WriteSummary(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "result: UNKNOWN") {
		t.Errorf("WriteSummary: %q; want a result: UNKNOWN line", buf.String())
	}
}

func TestCheckCapsExamplesButCountsAll(t *testing.T) {
	h, _ := cleanHistory()
	b := &builder{h: h, t: h.LoadEnd}
	for i := range MaxExamplesPerType + 5 {
		b.send(pIdem, int64(100+i), 0, 0, int64(100+i)) // acknowledged, never stored
	}
	h.Final[0].HighWatermark = 500
	res := Check(h)
	if res.Counts[LostWrite] != MaxExamplesPerType+5 {
		t.Errorf("Check: %d lost writes counted, want %d", res.Counts[LostWrite], MaxExamplesPerType+5)
	}
	n := 0
	for _, a := range res.Anomalies {
		if a.Type == LostWrite {
			n++
		}
	}
	if n != MaxExamplesPerType {
		t.Errorf("Check: %d lost-write examples listed, want %d", n, MaxExamplesPerType)
	}
}

func TestSummaryAndJSON(t *testing.T) {
	h, r := cleanHistory()
	h.Final[0].Uncommitted = withoutFinal(h.Final[0].Uncommitted, 2)
	h.Final[0].Committed = withoutFinal(h.Final[0].Committed, 2)
	_ = r
	res := Check(h)
	var buf bytes.Buffer
	if err := res.WriteSummary(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"seed 7", "lost-write: 1", `"tag-0-2" acknowledged to producer 0 (idempotent)`, "result: ANOMALIES"} {
		if !strings.Contains(out, want) {
			t.Errorf("WriteSummary output lacks %q:\n%s", want, out)
		}
	}
	buf.Reset()
	if err := res.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back Result
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatalf("WriteJSON output does not parse: %v", err)
	}
	if diff := cmp.Diff(res, &back); diff != "" {
		t.Errorf("WriteJSON round trip (-want +got):\n%s", diff)
	}

	// A history survives JSON and checks the same.
	hj, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	var h2 History
	if err := json.Unmarshal(hj, &h2); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(res, Check(&h2)); diff != "" {
		t.Errorf("Check of the history after a JSON round trip (-want +got):\n%s", diff)
	}
}

func TestValueEncoding(t *testing.T) {
	tests := []struct {
		give string
		want value
		ok   bool
	}{
		{encodeValue("ab12", 3, 17, 0), value{producer: 3, seq: 17}, true},
		{encodeValue("ab12", 0, 0, 5), value{producer: 0, seq: 0, txn: 5}, true},
		{"ab12-1", value{}, false},
		{"zz-1-2", value{}, false},
		{"ab12-1-2-0", value{}, false},
		{"ab12-x-2", value{}, false},
	}
	for _, tt := range tests {
		got, ok := decodeValue("ab12", tt.give)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("decodeValue(%q) = %+v, %v; want %+v, %v", tt.give, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseConsumerSpecs(t *testing.T) {
	got, err := ParseConsumerSpecs("assign:read_uncommitted, group-consumer:read_committed:3,group-classic")
	if err != nil {
		t.Fatal(err)
	}
	want := []ConsumerSpec{
		{Mode: ModeAssign, Isolation: ReadUncommitted},
		{Mode: ModeGroupConsumer, Isolation: ReadCommitted, Members: 3},
		{Mode: ModeGroupClassic, Isolation: ReadCommitted},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseConsumerSpecs (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"", "bogus", "assign:dirty", "assign:read_committed:2", "group-classic:read_committed:0", "a:b:c:d"} {
		if _, err := ParseConsumerSpecs(bad); err == nil {
			t.Errorf("ParseConsumerSpecs(%q) = nil error, want one", bad)
		}
	}
}

// TestCheckConsumerGapsAndCommitErrors: each consumer's longest poll gap in
// the load phase and its first failed commit are reported.
func TestCheckConsumerGapsAndCommitErrors(t *testing.T) {
	h, r := cleanHistory()
	// The load phase runs 100ms past the clean history's load; the
	// read_committed assign consumer polls at +10ms and +90ms, the group
	// member at +20ms only, the read_uncommitted one never in the load.
	end := h.LoadEnd
	h.LoadEnd = end + 100*time.Millisecond
	var evs []Event
	for _, e := range h.Events {
		if e.T > end {
			e.T += 100 * time.Millisecond
		}
		evs = append(evs, e)
	}
	h.Events = evs
	extra := []Event{
		{T: end + 10*time.Millisecond, Type: EvPoll, Process: cRC},
		{T: end + 11*time.Millisecond, Type: EvPoll, Process: cRC, Records: []Rec{r["a0"]}},
		{T: end + 20*time.Millisecond, Type: EvPoll, Process: cG1, Records: []Rec{r["a0"]}},
		{T: end + 30*time.Millisecond, Type: EvCommit, Process: cG1, Offsets: []CommitOffset{{Partition: 0, Offset: 1}, {Partition: 1, Offset: 0, Err: "NOT_COORDINATOR"}}},
		{T: end + 40*time.Millisecond, Type: EvCommit, Process: cG1, Err: "context deadline exceeded", Offsets: []CommitOffset{{Partition: 0, Offset: 1, Err: "context deadline exceeded"}}},
		{T: end + 90*time.Millisecond, Type: EvPoll, Process: cRC, Records: []Rec{r["a1"]}},
	}
	i := slices.IndexFunc(h.Events, func(e Event) bool { return e.T > end })
	h.Events = slices.Insert(h.Events, i, extra...)
	h.SettleEnd += 100 * time.Millisecond
	h.End += 100 * time.Millisecond
	res := Check(h)
	want := []time.Duration{
		// cRC: from its poll at +90ms to the phase's end, 10ms, is less
		// than between +11ms and +90ms.
		79 * time.Millisecond,
		h.LoadEnd - h.LoadStart, // cRU: nothing polled in the load
		80 * time.Millisecond,   // cG1: from +20ms to the end
	}
	for i, c := range res.Consumers {
		if c.LongestGap != want[i] {
			t.Errorf("consumer #%d (%s): longest gap %v, want %v", i, c.Spec, c.LongestGap, want[i])
		}
	}
	if g := res.Consumers[2]; g.CommitErrs != 2 || g.CommitErr != "partition 1: NOT_COORDINATOR" {
		t.Errorf("group consumer: %d failed commits, first %q; want 2, %q", g.CommitErrs, g.CommitErr, "partition 1: NOT_COORDINATOR")
	}
	if res.Consumers[0].CommitErr != "" || res.Consumers[0].CommitErrs != 0 {
		t.Errorf("assign consumer: %d failed commits (%q); want none", res.Consumers[0].CommitErrs, res.Consumers[0].CommitErr)
	}
	var buf bytes.Buffer
	if err := res.WriteSummary(&buf); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{", longest gap 79ms\n", "first failed commit: partition 1: NOT_COORDINATOR\n"} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("summary lacks %q:\n%s", s, buf.String())
		}
	}
}
