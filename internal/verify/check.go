package verify

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// Anomaly types. Each is checked only where the history can prove it; see
// Anomaly for the exact definitions.
const (
	LostWrite                 = "lost-write"
	Duplicate                 = "duplicate"
	InconsistentOffsets       = "inconsistent-offsets"
	AbortedRead               = "aborted-read"
	PollSkip                  = "poll-skip"
	NonmonotonicPoll          = "nonmonotonic-poll"
	NonmonotonicSend          = "nonmonotonic-send"
	Unseen                    = "unseen"
	PrecommittedRead          = "precommitted-read"
	TornTransaction           = "torn-transaction"
	CommittedOffsetRegression = "committed-offset-regression"
	GroupDoubleConsume        = "group-double-consume"
)

// AnomalyTypes lists every anomaly type in report order.
var AnomalyTypes = []string{
	LostWrite, Unseen, Duplicate, InconsistentOffsets, AbortedRead, PrecommittedRead, TornTransaction,
	PollSkip, NonmonotonicPoll, NonmonotonicSend, CommittedOffsetRegression, GroupDoubleConsume,
}

// MaxExamplesPerType bounds how many anomalies of one type Result.Anomalies
// lists; Result.Counts counts them all.
const MaxExamplesPerType = 100

// Anomaly is one violation the checker found. The types:
//
//   - lost-write: a write acknowledged to its producer is nowhere in the
//     final read_uncommitted read (records of transactions whose abort was
//     acknowledged are exempt; when another record holds its offset, that
//     offset is also inconsistent; a write stored at another offset is an
//     inconsistent offset, not a lost write); or a record a consumer
//     polled, acknowledged or not, is nowhere in the final
//     read_uncommitted read (a consumer is served only records below the
//     high watermark, which must survive); or a record of a transaction
//     whose commit was acknowledged is not in the final read_committed
//     read while none of its transaction's records are.
//   - unseen: an acknowledged record that is in the final read a consumer
//     could see (read_committed: the final read_committed read) was never
//     polled by that consumer (an assign client, or any member of a
//     group) before the settle phase ended.
//   - duplicate: one value (values are unique per send) was acknowledged,
//     polled or stored at two different offsets. Only for idempotent and
//     transactional producers: a non-idempotent producer's retries may
//     legitimately write a record twice, reported in Result.Info instead.
//   - inconsistent-offsets: one partition and offset was acknowledged,
//     polled or read with two different values.
//   - aborted-read (G1a): a read_committed consumer, or the final
//     read_committed read, returned a record of a transaction that was
//     aborted (its abort was acknowledged, or the final reads show it
//     aborted: in the read_uncommitted read, not in the read_committed one).
//   - precommitted-read: a read_committed consumer polled a record of a
//     transaction before the producer had even asked to commit it (the
//     poll returned before the EndTxn commit request was sent). A
//     read_committed consumer may see a committed transaction before the
//     producer receives the EndTxn response; that is not an anomaly.
//   - torn-transaction: the final read_committed read holds some but not all
//     acknowledged records of a transaction, or a read_committed consumer
//     read records of a transaction on a partition and then read past it
//     while skipping some of that transaction's records there.
//   - poll-skip: a consumer, within one assignment of a partition, polled
//     offset b after offset a (or after starting at the group's committed
//     offset, or at the run's start offset) while a record visible at its
//     isolation level (per the final reads) lies in between.
//   - nonmonotonic-poll: within one assignment of a partition, a consumer
//     polled an offset at or below one it had already polled.
//   - nonmonotonic-send: an idempotent or transactional producer's
//     acknowledged offsets on one partition do not increase with its send
//     order.
//   - committed-offset-regression: a group's successful offset commit for a
//     partition is lower than its previous successful commit, or the
//     group's final committed offset is below its last successful commit.
//   - group-double-consume: two polls by members of one group (the same
//     member or two) returned the same record with no assignment change of
//     that partition (assigned, revoked, lost, or a member closing) in the
//     group in between. The same member doing it is also a
//     nonmonotonic-poll.
type Anomaly struct {
	Type      string        `json:"type"`
	Partition int32         `json:"partition"`
	Offset    int64         `json:"offset"`
	T         time.Duration `json:"t"`       // when it was observed, from the history's start
	Example   string        `json:"example"` // concrete, human readable
}

// Second is one second of the run's timeline.
type Second struct {
	Sent         int `json:"sent"`
	Acked        int `json:"acked"`
	SendErrors   int `json:"send_errors"`
	Polled       int `json:"polled"`
	PollErrors   int `json:"poll_errors"`
	Commits      int `json:"commits"`
	CommitErrors int `json:"commit_errors"`
	Anomalies    int `json:"anomalies"`
}

// ConsumerSummary describes one consumer spec's clients over the run.
type ConsumerSummary struct {
	Spec       string `json:"spec"`
	Group      string `json:"group,omitempty"`
	Processes  int    `json:"processes"`
	Polled     int    `json:"polled"`      // records polled, all clients
	Distinct   int    `json:"distinct"`    // distinct values of the run polled
	Rebalances int    `json:"rebalances"`  // assigned, revoked and lost callbacks
	Commits    int    `json:"commits"`     // successful commit requests
	CommitErrs int    `json:"commit_errs"` // failed commit requests
	// CommitErr is the first failed commit's error.
	CommitErr string `json:"commit_err,omitempty"`
	// LongestGap is the longest window of the load phase in which this
	// consumer's polls returned no records.
	LongestGap time.Duration `json:"longest_gap"`
}

// Result is what Check found.
type Result struct {
	Seed   int64  `json:"seed"`
	Topic  string `json:"topic"`
	RunTag string `json:"run_tag"`

	Rate      int            `json:"rate"`
	Producers map[string]int `json:"producers"` // producer kind -> clients

	Sent       int `json:"sent"`
	Acked      int `json:"acked"` // records acknowledged
	SendErrors int `json:"send_errors"`
	Polled     int `json:"polled"`

	TxnCommitted int `json:"txn_committed"`
	TxnAborted   int `json:"txn_aborted"`
	TxnUnknown   int `json:"txn_unknown"` // the commit or abort was not confirmed

	Anomalies  []Anomaly      `json:"anomalies"` // empty == clean; at most MaxExamplesPerType per type
	Counts     map[string]int `json:"counts"`    // anomaly type -> count
	Info       []Anomaly      `json:"info"`      // findings that are not anomalies (duplicates of non-idempotent producers)
	InfoCounts map[string]int `json:"info_counts"`
	// Unknown lists why parts of the history could not be checked (a
	// final read that did not complete). A result with Unknown is not OK:
	// the run could not show the cluster kept its promises.
	Unknown []string `json:"unknown"`

	LoadDuration      time.Duration     `json:"load_duration"`
	LongestProduceGap time.Duration     `json:"longest_produce_gap"` // longest window with no acknowledged write during the load phase
	LongestFetchGap   time.Duration     `json:"longest_fetch_gap"`   // longest window in which a consumer's polls returned no records during the load phase
	Consumers         []ConsumerSummary `json:"consumers"`
	Faults            []Fault           `json:"faults"`
	Notes             []string          `json:"notes"`
	Series            []Second          `json:"series"` // one entry per second from the history's start
}

// OK reports whether the run found no anomaly and checked everything.
func (r *Result) OK() bool { return len(r.Anomalies) == 0 && len(r.Unknown) == 0 }

// Txn outcomes as the producer saw them.
const (
	outcomeCommitted = "committed"
	outcomeAborted   = "aborted"
	outcomeUnknown   = "unknown"
)

type txnKey struct {
	process int
	txn     int64
}

// txnOutcomes derives each transaction's outcome from its end events: an
// unconfirmed commit makes it unknown whatever follows (the abort retry
// may land after the commit); otherwise a confirmed commit or abort
// decides; with neither it is unknown.
func txnOutcomes(events []Event) map[txnKey]string {
	type state struct{ commitFailed, committed, aborted bool }
	st := map[txnKey]*state{}
	get := func(k txnKey) *state {
		if st[k] == nil {
			st[k] = &state{}
		}
		return st[k]
	}
	for _, e := range events {
		switch e.Type {
		case EvTxnBegin:
			get(txnKey{e.Process, e.Txn})
		case EvTxnEnd:
			s := get(txnKey{e.Process, e.Txn})
			switch {
			case e.Commit && e.Err != "":
				s.commitFailed = true
			case e.Commit:
				s.committed = true
			case e.Err == "":
				s.aborted = true
			}
		}
	}
	out := map[txnKey]string{}
	for k, s := range st {
		switch {
		case s.commitFailed:
			out[k] = outcomeUnknown
		case s.committed:
			out[k] = outcomeCommitted
		case s.aborted:
			out[k] = outcomeAborted
		default:
			out[k] = outcomeUnknown
		}
	}
	return out
}

type po struct {
	p int32
	o int64
}

type sendKey struct {
	process int
	seq     int64
}

type sendInfo struct {
	value     string
	txn       int64
	partition int32
	sendT     time.Duration
	acked     bool
	ackT      time.Duration
	offset    int64
}

type txnInfo struct {
	endSent time.Duration // first commit request; -1 when none was sent
	outcome string
	sends   []sendKey
}

// checker holds Check's indexes.
type checker struct {
	h      *History
	res    *Result
	sends  map[sendKey]*sendInfo
	txns   map[txnKey]*txnInfo
	finalU map[int32]map[int64]string
	finalC map[int32]map[int64]string
	// visible offsets per partition in the final reads, sorted
	visU, visC map[int32][]int64
	completeU  map[int32]bool
	completeC  map[int32]bool
	lso        map[int32]int64 // last stable offset of the final read_committed read
}

// Check analyses a history.
func Check(h *History) *Result {
	c := &checker{
		h: h,
		res: &Result{Seed: h.Seed, Topic: h.Topic, RunTag: h.RunTag, Counts: map[string]int{}, InfoCounts: map[string]int{},
			Anomalies: []Anomaly{}, Info: []Anomaly{}, Unknown: []string{},
			LoadDuration: h.LoadEnd - h.LoadStart, Faults: h.Faults, Notes: h.Notes, Rate: h.Rate, Producers: map[string]int{}},
		sends: map[sendKey]*sendInfo{}, txns: map[txnKey]*txnInfo{},
		finalU: map[int32]map[int64]string{}, finalC: map[int32]map[int64]string{},
		visU: map[int32][]int64{}, visC: map[int32][]int64{},
		completeU: map[int32]bool{}, completeC: map[int32]bool{}, lso: map[int32]int64{},
	}
	for _, p := range h.Processes {
		if p.Role == "producer" {
			c.res.Producers[p.Kind]++
		}
	}
	c.index()
	c.checkOffsets()
	c.checkFinal()
	c.checkConsumers()
	c.checkSends()
	c.summarize()
	for _, a := range c.res.Anomalies {
		if s := int(a.T / time.Second); s >= 0 && s < len(c.res.Series) {
			c.res.Series[s].Anomalies++
		}
	}
	return c.res
}

func (c *checker) add(typ string, p int32, o int64, t time.Duration, format string, args ...any) {
	a := Anomaly{Type: typ, Partition: p, Offset: o, T: t, Example: fmt.Sprintf(format, args...)}
	c.res.Counts[typ]++
	if c.res.Counts[typ] <= MaxExamplesPerType {
		c.res.Anomalies = append(c.res.Anomalies, a)
	}
}

func (c *checker) info(typ string, p int32, o int64, t time.Duration, format string, args ...any) {
	c.res.InfoCounts[typ]++
	if c.res.InfoCounts[typ] <= MaxExamplesPerType {
		c.res.Info = append(c.res.Info, Anomaly{Type: typ, Partition: p, Offset: o, T: t, Example: fmt.Sprintf(format, args...)})
	}
}

func (c *checker) proc(id int) Process {
	if id >= 0 && id < len(c.h.Processes) {
		return c.h.Processes[id]
	}
	return Process{ID: id, Role: "unknown"}
}

// who names a process for examples: "producer 1 (idempotent)".
func (c *checker) who(id int) string {
	p := c.proc(id)
	if p.Role == "producer" {
		return fmt.Sprintf("producer %d (%s)", id, p.Kind)
	}
	s := fmt.Sprintf("consumer %d (%s %s", id, p.Kind, p.Isolation)
	if p.Group != "" {
		s += ", group " + p.Group
	}
	return s + ")"
}

func secs(d time.Duration) string { return fmt.Sprintf("%.3fs", d.Seconds()) }

func (c *checker) startOffset(p int32) int64 {
	if int(p) < len(c.h.StartOffsets) && p >= 0 {
		return c.h.StartOffsets[p]
	}
	return 0
}

// index builds the send, transaction and final-read indexes.
func (c *checker) index() {
	outcomes := txnOutcomes(c.h.Events)
	for k, o := range outcomes {
		c.txns[k] = &txnInfo{endSent: -1, outcome: o}
		switch o {
		case outcomeCommitted:
			c.res.TxnCommitted++
		case outcomeAborted:
			c.res.TxnAborted++
		default:
			c.res.TxnUnknown++
		}
	}
	for _, e := range c.h.Events {
		switch e.Type {
		case EvSend:
			k := sendKey{e.Process, e.Seq}
			c.sends[k] = &sendInfo{value: e.Value, txn: e.Txn, partition: e.Partition, sendT: e.T}
			c.res.Sent++
			if e.Txn > 0 {
				if t := c.txns[txnKey{e.Process, e.Txn}]; t != nil {
					t.sends = append(t.sends, k)
				}
			}
		case EvAck:
			s := c.sends[sendKey{e.Process, e.Seq}]
			if e.Err != "" {
				c.res.SendErrors++
				continue
			}
			c.res.Acked++
			if s == nil {
				s = &sendInfo{value: e.Value, txn: e.Txn, partition: e.Partition, sendT: e.T}
				c.sends[sendKey{e.Process, e.Seq}] = s
			}
			s.acked, s.ackT, s.partition, s.offset = true, e.T, e.Partition, e.Offset
		case EvTxnEndSent:
			if t := c.txns[txnKey{e.Process, e.Txn}]; t != nil && e.Commit && t.endSent < 0 {
				t.endSent = e.T
			}
		case EvPoll:
			c.res.Polled += len(e.Records)
		}
	}
	for _, f := range c.h.Final {
		p := f.Partition
		c.finalU[p], c.finalC[p] = map[int64]string{}, map[int64]string{}
		for _, r := range f.Uncommitted {
			c.finalU[p][r.Offset] = r.Value
			c.visU[p] = append(c.visU[p], r.Offset)
		}
		for _, r := range f.Committed {
			c.finalC[p][r.Offset] = r.Value
			c.visC[p] = append(c.visC[p], r.Offset)
		}
		slices.Sort(c.visU[p])
		slices.Sort(c.visC[p])
		c.completeU[p], c.completeC[p] = f.UncommittedComplete, f.CommittedComplete
		c.lso[p] = f.LastStableOffset
		if !f.UncommittedComplete {
			c.res.Unknown = append(c.res.Unknown, fmt.Sprintf("partition %d: the final read_uncommitted read did not reach the high watermark %d: lost writes, unseen records and skips there are not checked", p, f.HighWatermark))
		}
		if !f.CommittedComplete {
			c.res.Unknown = append(c.res.Unknown, fmt.Sprintf("partition %d: the final read_committed read did not reach the last stable offset %d: transactions there are not fully checked", p, f.LastStableOffset))
		}
	}
	if len(c.h.Final) == 0 {
		c.res.Unknown = append(c.res.Unknown, "no final read: lost writes, unseen records and skips are not checked")
	}
}

// observation is one sighting of a value at a partition and offset.
type observation struct {
	value string
	desc  string
	t     time.Duration
}

// checkOffsets finds inconsistent offsets (two values at one offset) and
// duplicates (one value at two offsets), over acknowledgements, polls and
// the final reads.
func (c *checker) checkOffsets() {
	at := map[po]observation{}
	reported := map[po]bool{}
	where := map[string]map[po]observation{} // this run's values only
	observe := func(p int32, o int64, v, desc string, t time.Duration) {
		if o < c.startOffset(p) {
			return
		}
		k := po{p, o}
		if prev, ok := at[k]; !ok {
			at[k] = observation{v, desc, t}
		} else if prev.value != v && !reported[k] {
			reported[k] = true
			c.add(InconsistentOffsets, p, o, t, "partition %d offset %d: %s as %q, %s as %q", p, o, prev.desc, prev.value, desc, v)
		}
		if _, ok := decodeValue(c.h.RunTag, v); ok {
			if where[v] == nil {
				where[v] = map[po]observation{}
			}
			if _, ok := where[v][k]; !ok {
				where[v][k] = observation{v, desc, t}
			}
		}
	}
	for _, e := range c.h.Events {
		switch e.Type {
		case EvAck:
			if e.Err == "" {
				observe(e.Partition, e.Offset, e.Value, fmt.Sprintf("acknowledged to %s at %s", c.who(e.Process), secs(e.T)), e.T)
			}
		case EvPoll:
			for _, r := range e.Records {
				observe(r.Partition, r.Offset, r.Value, fmt.Sprintf("polled by %s at %s", c.who(e.Process), secs(e.T)), e.T)
			}
		}
	}
	for _, f := range c.h.Final {
		for _, r := range f.Uncommitted {
			observe(f.Partition, r.Offset, r.Value, "read by the final read_uncommitted read", c.h.End)
		}
		for _, r := range f.Committed {
			observe(f.Partition, r.Offset, r.Value, "read by the final read_committed read", c.h.End)
		}
	}
	for _, v := range slices.Sorted(maps.Keys(where)) {
		ws := where[v]
		if len(ws) < 2 {
			continue
		}
		keys := slices.SortedFunc(maps.Keys(ws), func(a, b po) int {
			if a.p != b.p {
				return int(a.p - b.p)
			}
			return cmpInt64(a.o, b.o)
		})
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("partition %d offset %d (%s)", k.p, k.o, ws[k].desc))
		}
		dv, _ := decodeValue(c.h.RunTag, v)
		first := ws[keys[1]]
		msg := fmt.Sprintf("value %q (%s, send %d) at %d offsets: %s", v, c.who(dv.producer), dv.seq, len(keys), strings.Join(parts, "; "))
		if c.proc(dv.producer).Kind == KindNonIdempotent {
			c.info(Duplicate, keys[1].p, keys[1].o, first.t, "%s; expected now and then from a non-idempotent producer's retries", msg)
		} else {
			c.add(Duplicate, keys[1].p, keys[1].o, first.t, "%s", msg)
		}
	}
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// checkFinal compares acknowledged writes and transactions with the final
// reads: lost writes, torn transactions, aborted records read committed.
func (c *checker) checkFinal() {
	valueAt := map[string]po{}
	for p, offs := range c.finalU {
		for o, v := range offs {
			valueAt[v] = po{p, o}
		}
	}
	keys := slices.SortedFunc(maps.Keys(c.sends), func(a, b sendKey) int {
		if a.process != b.process {
			return a.process - b.process
		}
		return cmpInt64(a.seq, b.seq)
	})
	for _, k := range keys {
		s := c.sends[k]
		if !s.acked || !c.completeU[s.partition] || s.offset < c.startOffset(s.partition) {
			continue
		}
		if s.txn > 0 && c.txns[txnKey{k.process, s.txn}] != nil && c.txns[txnKey{k.process, s.txn}].outcome == outcomeAborted {
			continue
		}
		got, ok := c.finalU[s.partition][s.offset]
		if ok && got == s.value {
			continue
		}
		if elsewhere, found := valueAt[s.value]; found {
			if !ok {
				c.add(InconsistentOffsets, s.partition, s.offset, s.ackT, "%q acknowledged to %s at %s at partition %d offset %d, but stored at partition %d offset %d (offset %d holds nothing)",
					s.value, c.who(k.process), secs(s.ackT), s.partition, s.offset, elsewhere.p, elsewhere.o, s.offset)
			}
			continue // else another value holds its offset: an inconsistent offset, reported already
		}
		// NB: nowhere in the log, even when another record took its
		// offset (a new leader that never had it reused the offset): that
		// is also an inconsistent offset, reported already.
		holds := "nothing"
		if ok {
			holds = fmt.Sprintf("%q", got)
		}
		c.add(LostWrite, s.partition, s.offset, s.ackT, "%q acknowledged to %s at %s at partition %d offset %d is not in the final read (high watermark %d; the offset holds %s)",
			s.value, c.who(k.process), secs(s.ackT), s.partition, s.offset, c.finalHWM(s.partition), holds)
	}
	c.checkPolledLost(valueAt)

	for _, tk := range slices.SortedFunc(maps.Keys(c.txns), func(a, b txnKey) int {
		if a.process != b.process {
			return a.process - b.process
		}
		return cmpInt64(a.txn, b.txn)
	}) {
		t := c.txns[tk]
		var visible, missing []string
		var firstMissing *sendInfo
		complete := true
		for _, sk := range t.sends {
			s := c.sends[sk]
			if !s.acked {
				continue
			}
			if !c.completeC[s.partition] || !c.completeU[s.partition] {
				complete = false
				continue
			}
			if c.finalC[s.partition][s.offset] == s.value {
				visible = append(visible, fmt.Sprintf("%d/%d", s.partition, s.offset))
				if t.outcome == outcomeAborted {
					c.add(AbortedRead, s.partition, s.offset, c.h.End, "the final read_committed read returned %q at partition %d offset %d, of transaction %d of %s whose abort was acknowledged",
						s.value, s.partition, s.offset, tk.txn, c.who(tk.process))
				}
			} else if c.finalU[s.partition][s.offset] == s.value && s.offset < c.lso[s.partition] {
				missing = append(missing, fmt.Sprintf("%d/%d", s.partition, s.offset))
				if firstMissing == nil {
					firstMissing = s
				}
			}
		}
		if !complete || len(missing) == 0 {
			continue
		}
		switch {
		case len(visible) > 0:
			c.add(TornTransaction, firstMissing.partition, firstMissing.offset, c.h.End,
				"transaction %d of %s (%s): the final read_committed read holds its records at %s but not those at %s",
				tk.txn, c.who(tk.process), t.outcome, strings.Join(visible, ", "), strings.Join(missing, ", "))
		case t.outcome == outcomeCommitted:
			for _, sk := range t.sends {
				s := c.sends[sk]
				if s.acked && c.finalU[s.partition][s.offset] == s.value && s.offset < c.lso[s.partition] {
					c.add(LostWrite, s.partition, s.offset, s.ackT, "%q at partition %d offset %d: transaction %d of %s was committed (acknowledged) but the final read_committed read does not return it (the log has it aborted)",
						s.value, s.partition, s.offset, tk.txn, c.who(tk.process))
				}
			}
		}
	}
}

// checkPolledLost reports records consumers polled that were never
// acknowledged and are nowhere in the final read_uncommitted read: the log
// had them (a consumer is served records below the high watermark only,
// and those must survive), then lost them. Acknowledged ones were judged
// with their acknowledgement.
func (c *checker) checkPolledLost(valueAt map[string]po) {
	acked := map[string]bool{}
	for _, s := range c.sends {
		if s.acked {
			acked[s.value] = true
		}
	}
	reported := map[string]bool{}
	for _, e := range c.h.Events {
		if e.Type != EvPoll {
			continue
		}
		for _, r := range e.Records {
			if r.Offset < c.startOffset(r.Partition) || !c.completeU[r.Partition] || acked[r.Value] || reported[r.Value] {
				continue
			}
			if _, ours := decodeValue(c.h.RunTag, r.Value); !ours {
				continue
			}
			if _, found := valueAt[r.Value]; found {
				continue
			}
			reported[r.Value] = true
			holds := "nothing"
			if got, ok := c.finalU[r.Partition][r.Offset]; ok {
				holds = fmt.Sprintf("%q", got)
			}
			c.add(LostWrite, r.Partition, r.Offset, e.T, "%q polled by %s at %s at partition %d offset %d (never acknowledged) is not in the final read (high watermark %d; the offset holds %s)",
				r.Value, c.who(e.Process), secs(e.T), r.Partition, r.Offset, c.finalHWM(r.Partition), holds)
		}
	}
}

func (c *checker) finalHWM(p int32) int64 {
	for _, f := range c.h.Final {
		if f.Partition == p {
			return f.HighWatermark
		}
	}
	return -1
}

// segment is one consumer's run of a partition within one assignment.
type segment struct {
	last     int64   // last offset polled; -1 before the first
	starts   []int64 // where the segment may have started (committed offsets)
	txnsSeen map[txnKey]bool
}

type consumed struct {
	process int
	idx     int // event index
	t       time.Duration
}

// checkConsumers walks the events in order, keeping each consumer's
// assignments and each group's commits, and checks every polled record.
func (c *checker) checkConsumers() {
	segs := map[int]map[int32]*segment{}
	committed := map[string]map[int32]int64{}   // group -> partition -> last successful commit
	attempted := map[string]map[int32][]int64{} // commits attempted (failed) since that success
	lastRebalance := map[string]map[int32]int{} // group -> partition -> event index of its last assignment change
	lastConsumed := map[string]map[po]consumed{}
	seen := map[int]map[string]bool{} // consumer spec -> values polled

	ensure := func(g string) {
		if committed[g] == nil {
			committed[g], attempted[g], lastRebalance[g], lastConsumed[g] = map[int32]int64{}, map[int32][]int64{}, map[int32]int{}, map[po]consumed{}
		}
	}
	for i, e := range c.h.Events {
		pr := c.proc(e.Process)
		if pr.Role != "consumer" {
			continue
		}
		g := pr.Group
		if g != "" {
			ensure(g)
		}
		if segs[e.Process] == nil {
			segs[e.Process] = map[int32]*segment{}
		}
		switch e.Type {
		case EvAssigned:
			for _, p := range e.Partitions {
				s := &segment{last: -1, txnsSeen: map[txnKey]bool{}}
				if g == "" {
					s.starts = []int64{c.startOffset(p)}
				} else {
					if o, ok := committed[g][p]; ok {
						s.starts = append([]int64{o}, attempted[g][p]...)
					} else {
						s.starts = append([]int64{c.startOffset(p)}, attempted[g][p]...)
					}
					lastRebalance[g][p] = i
				}
				segs[e.Process][p] = s
			}
		case EvRevoked, EvLost, EvClose:
			for _, p := range e.Partitions {
				delete(segs[e.Process], p)
				if g != "" {
					lastRebalance[g][p] = i
				}
			}
		case EvCommit:
			for _, co := range e.Offsets {
				if co.Err != "" || e.Err != "" {
					attempted[g][co.Partition] = append(attempted[g][co.Partition], co.Offset)
					continue
				}
				if prev, ok := committed[g][co.Partition]; ok && co.Offset < prev {
					c.add(CommittedOffsetRegression, co.Partition, co.Offset, e.T, "group %s partition %d: %s committed offset %d at %s after the group had committed %d",
						g, co.Partition, c.who(e.Process), co.Offset, secs(e.T), prev)
				}
				committed[g][co.Partition] = co.Offset
				attempted[g][co.Partition] = nil
			}
		case EvPoll:
			if seen[pr.Consumer] == nil {
				seen[pr.Consumer] = map[string]bool{}
			}
			for _, r := range e.Records {
				seen[pr.Consumer][r.Value] = true
				c.checkRecord(i, e, pr, r, segs[e.Process], lastRebalance[g], lastConsumed[g])
			}
		}
	}
	for _, fc := range c.h.FinalCommitted {
		if fc.Err != "" {
			continue
		}
		for _, co := range fc.Offsets {
			if prev, ok := committed[fc.Group][co.Partition]; ok && co.Offset < prev {
				c.add(CommittedOffsetRegression, co.Partition, co.Offset, c.h.End, "group %s partition %d: committed offset %d after the run, below its last successful commit %d",
					fc.Group, co.Partition, co.Offset, prev)
			}
		}
	}
	c.checkUnseen(seen)
}

// checkRecord checks one polled record r of poll event e (index i).
func (c *checker) checkRecord(i int, e Event, pr Process, r Rec, segs map[int32]*segment, rebalanced map[int32]int, last map[po]consumed) {
	rc := pr.Isolation == ReadCommitted
	dv, ours := decodeValue(c.h.RunTag, r.Value)
	var tk txnKey
	var t *txnInfo
	if ours && dv.txn > 0 {
		tk = txnKey{dv.producer, dv.txn}
		t = c.txns[tk]
	}

	if rc && t != nil {
		inU := c.completeU[r.Partition] && c.finalU[r.Partition][r.Offset] == r.Value
		inC := c.finalC[r.Partition][r.Offset] == r.Value
		judged := c.completeC[r.Partition] && r.Offset < c.lso[r.Partition]
		switch {
		case t.outcome == outcomeAborted || (inU && !inC && judged):
			c.add(AbortedRead, r.Partition, r.Offset, e.T, "%s polled %q at partition %d offset %d at %s, of transaction %d of %s, which was aborted (%s)",
				c.who(e.Process), r.Value, r.Partition, r.Offset, secs(e.T), tk.txn, c.who(tk.process), abortEvidence(t.outcome))
		case t.endSent < 0 || e.T < t.endSent:
			when := "never asked to commit it"
			if t.endSent >= 0 {
				when = "asked to commit it only at " + secs(t.endSent)
			}
			c.add(PrecommittedRead, r.Partition, r.Offset, e.T, "%s polled %q at partition %d offset %d at %s, of transaction %d of %s, which %s",
				c.who(e.Process), r.Value, r.Partition, r.Offset, secs(e.T), tk.txn, c.who(tk.process), when)
		}
	}

	if r.Offset >= c.startOffset(r.Partition) {
		s := segs[r.Partition]
		if s == nil {
			// A record of a partition the consumer does not own (no
			// callback): check it on its own from here on.
			s = &segment{last: -1, txnsSeen: map[txnKey]bool{}}
			segs[r.Partition] = s
		}
		if s.last >= 0 && r.Offset <= s.last {
			c.add(NonmonotonicPoll, r.Partition, r.Offset, e.T, "%s polled partition %d offset %d at %s after offset %d, with no assignment change in between",
				c.who(e.Process), r.Partition, r.Offset, secs(e.T), s.last)
		} else {
			c.checkSkip(e, s, r, rc)
			s.last = r.Offset
		}
		if t != nil {
			s.txnsSeen[tk] = true
		}
	}

	if pr.Group != "" {
		k := po{r.Partition, r.Offset}
		if prev, ok := last[k]; ok && rebalanced[r.Partition] < prev.idx {
			c.add(GroupDoubleConsume, r.Partition, r.Offset, e.T, "group %s consumed partition %d offset %d (%q) twice with no rebalance of the partition in between: %s at %s, %s at %s",
				pr.Group, r.Partition, r.Offset, r.Value, c.who(prev.process), secs(prev.t), c.who(e.Process), secs(e.T))
		}
		last[k] = consumed{process: e.Process, idx: i, t: e.T}
	}
}

func abortEvidence(outcome string) string {
	if outcome == outcomeAborted {
		return "its abort was acknowledged"
	}
	return "the final reads have it aborted"
}

// checkSkip reports a poll-skip (or a torn transaction) when visible
// records lie between where s was and r.
func (c *checker) checkSkip(e Event, s *segment, r Rec, rc bool) {
	vis, final, complete := c.visU[r.Partition], c.finalU[r.Partition], c.completeU[r.Partition]
	if rc {
		vis, final, complete = c.visC[r.Partition], c.finalC[r.Partition], c.completeC[r.Partition]
	}
	if !complete {
		return
	}
	from := s.last + 1
	if s.last < 0 {
		// The first record of an assignment: it started at one of the
		// offsets the group may have committed; the closest one below r
		// is the most lenient.
		from = -1
		for _, o := range s.starts {
			if o <= r.Offset && o > from {
				from = o
			}
		}
		if from < 0 {
			return
		}
	}
	lo, _ := slices.BinarySearch(vis, from)
	hi, _ := slices.BinarySearch(vis, r.Offset)
	if hi <= lo {
		return
	}
	skipped := vis[lo:hi]
	torn := true
	for _, o := range skipped {
		dv, ok := decodeValue(c.h.RunTag, final[o])
		if !ok || dv.txn == 0 || !s.txnsSeen[txnKey{dv.producer, dv.txn}] {
			torn = false
			break
		}
	}
	var ex []string
	for _, o := range skipped[:min(len(skipped), 5)] {
		ex = append(ex, fmt.Sprintf("%d (%q)", o, final[o]))
	}
	if len(skipped) > 5 {
		ex = append(ex, fmt.Sprintf("and %d more", len(skipped)-5))
	}
	before := fmt.Sprintf("after offset %d", s.last)
	if s.last < 0 {
		before = fmt.Sprintf("starting at offset %d", from)
	}
	if torn && rc {
		c.add(TornTransaction, r.Partition, skipped[0], e.T, "%s read part of a transaction on partition %d and then offset %d at %s, skipping the transaction's records at %s",
			c.who(e.Process), r.Partition, r.Offset, secs(e.T), strings.Join(ex, ", "))
		return
	}
	c.add(PollSkip, r.Partition, skipped[0], e.T, "%s polled partition %d offset %d at %s %s, skipping visible records at offsets %s",
		c.who(e.Process), r.Partition, r.Offset, secs(e.T), before, strings.Join(ex, ", "))
}

// checkUnseen reports acknowledged records in the final read a consumer
// should have polled but never did.
func (c *checker) checkUnseen(seen map[int]map[string]bool) {
	keys := slices.SortedFunc(maps.Keys(c.sends), func(a, b sendKey) int {
		if a.process != b.process {
			return a.process - b.process
		}
		return cmpInt64(a.seq, b.seq)
	})
	for ci, spec := range c.h.Consumers {
		name := fmt.Sprintf("consumer #%d (%s)", ci, spec)
		for _, p := range c.h.Processes {
			if p.Role == "consumer" && p.Consumer == ci && p.Group != "" {
				name = fmt.Sprintf("consumer #%d (%s, group %s)", ci, spec, p.Group)
				break
			}
		}
		for _, k := range keys {
			s := c.sends[k]
			if !s.acked || s.offset < c.startOffset(s.partition) || seen[ci][s.value] {
				continue
			}
			if spec.Isolation == ReadCommitted {
				if !c.completeC[s.partition] || c.finalC[s.partition][s.offset] != s.value {
					continue
				}
				if t := c.txns[txnKey{k.process, s.txn}]; s.txn > 0 && t != nil && t.outcome == outcomeAborted {
					continue // visible by mistake: an aborted read, not a record to wait for
				}
			} else if !c.completeU[s.partition] || c.finalU[s.partition][s.offset] != s.value {
				continue
			}
			c.add(Unseen, s.partition, s.offset, s.ackT, "%s never polled %q (partition %d offset %d, acknowledged to %s at %s) by %s, though the final read has it",
				name, s.value, s.partition, s.offset, c.who(k.process), secs(s.ackT), secs(c.h.SettleEnd))
		}
	}
}

// checkSends reports idempotent and transactional producers whose
// acknowledged offsets on a partition go backwards in send order.
func (c *checker) checkSends() {
	type pp struct {
		process int
		p       int32
	}
	last := map[pp]sendKey{}
	keys := slices.SortedFunc(maps.Keys(c.sends), func(a, b sendKey) int {
		if a.process != b.process {
			return a.process - b.process
		}
		return cmpInt64(a.seq, b.seq)
	})
	for _, k := range keys {
		s := c.sends[k]
		if !s.acked || c.proc(k.process).Kind == KindNonIdempotent {
			continue
		}
		key := pp{k.process, s.partition}
		if pk, ok := last[key]; ok {
			prev := c.sends[pk]
			if s.offset <= prev.offset {
				c.add(NonmonotonicSend, s.partition, s.offset, s.ackT, "%s sent %q (send %d) after %q (send %d) to partition %d, but they were acknowledged at offsets %d and %d",
					c.who(k.process), s.value, k.seq, prev.value, pk.seq, s.partition, s.offset, prev.offset)
			}
		}
		last[key] = k
	}
}

// summarize fills the gaps, the per-second series and the consumer
// summaries.
func (c *checker) summarize() {
	h := c.h
	end := max(h.End, h.SettleEnd, h.LoadEnd)
	c.res.Series = make([]Second, int(end/time.Second)+1)
	bucket := func(t time.Duration) *Second {
		i := min(max(int(t/time.Second), 0), len(c.res.Series)-1)
		return &c.res.Series[i]
	}
	inLoad := func(t time.Duration) bool { return t >= h.LoadStart && t <= h.LoadEnd }
	var ackTimes []time.Duration
	fetchTimes := map[int][]time.Duration{}
	sums := make([]ConsumerSummary, len(h.Consumers))
	distinct := make([]map[string]bool, len(h.Consumers))
	for i, spec := range h.Consumers {
		sums[i].Spec = spec.String()
		distinct[i] = map[string]bool{}
	}
	for _, p := range h.Processes {
		if p.Role == "consumer" && p.Consumer >= 0 && p.Consumer < len(sums) {
			sums[p.Consumer].Processes++
			sums[p.Consumer].Group = p.Group
		}
	}
	for _, e := range h.Events {
		pr := c.proc(e.Process)
		var sum *ConsumerSummary
		if pr.Role == "consumer" && pr.Consumer >= 0 && pr.Consumer < len(sums) {
			sum = &sums[pr.Consumer]
		}
		switch e.Type {
		case EvSend:
			bucket(e.T).Sent++
		case EvAck:
			if e.Err != "" {
				bucket(e.T).SendErrors++
			} else {
				bucket(e.T).Acked++
				if inLoad(e.T) {
					ackTimes = append(ackTimes, e.T)
				}
			}
		case EvPoll:
			b := bucket(e.T)
			b.Polled += len(e.Records)
			if e.Err != "" {
				b.PollErrors++
			}
			if len(e.Records) > 0 && inLoad(e.T) {
				fetchTimes[pr.Consumer] = append(fetchTimes[pr.Consumer], e.T)
			}
			if sum != nil {
				sum.Polled += len(e.Records)
				for _, r := range e.Records {
					if _, ok := decodeValue(h.RunTag, r.Value); ok {
						distinct[pr.Consumer][r.Value] = true
					}
				}
			}
		case EvCommit:
			b := bucket(e.T)
			failed := e.Err != ""
			for _, o := range e.Offsets {
				failed = failed || o.Err != ""
			}
			if failed {
				b.CommitErrors++
				if sum != nil {
					sum.CommitErrs++
					if sum.CommitErr == "" {
						sum.CommitErr = commitError(e)
					}
				}
			} else {
				b.Commits++
				if sum != nil {
					sum.Commits++
				}
			}
		case EvAssigned, EvRevoked, EvLost:
			if sum != nil && pr.Group != "" {
				sum.Rebalances++
			}
		}
	}
	for i := range sums {
		sums[i].Distinct = len(distinct[i])
	}
	c.res.Consumers = sums
	c.res.LongestProduceGap = longestGap(ackTimes, h.LoadStart, h.LoadEnd, true)
	for i := range sums {
		// NB: a consumer that polled nothing in the load phase has the
		// whole phase as its gap.
		sums[i].LongestGap = longestGap(fetchTimes[i], h.LoadStart, h.LoadEnd, false)
	}
	for _, ts := range fetchTimes {
		c.res.LongestFetchGap = max(c.res.LongestFetchGap, longestGap(ts, h.LoadStart, h.LoadEnd, false))
	}
	sort.SliceStable(c.res.Anomalies, func(i, j int) bool {
		return slices.Index(AnomalyTypes, c.res.Anomalies[i].Type) < slices.Index(AnomalyTypes, c.res.Anomalies[j].Type)
	})
}

// longestGap returns the longest time between consecutive times in ts
// (sorted), and to end; with fromStart also from start to the first.
func longestGap(ts []time.Duration, start, end time.Duration, fromStart bool) time.Duration {
	if len(ts) == 0 {
		return end - start
	}
	slices.Sort(ts)
	gap := end - ts[len(ts)-1]
	if fromStart {
		gap = max(gap, ts[0]-start)
	}
	for i := 1; i < len(ts); i++ {
		gap = max(gap, ts[i]-ts[i-1])
	}
	return gap
}

// commitError is a failed commit event's error: the request's, else the
// first partition's.
func commitError(e Event) string {
	if e.Err != "" {
		return e.Err
	}
	for _, o := range e.Offsets {
		if o.Err != "" {
			return fmt.Sprintf("partition %d: %s", o.Partition, o.Err)
		}
	}
	return ""
}
