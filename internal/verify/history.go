package verify

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// HistoryVersion is History.Version of histories this package writes.
const HistoryVersion = 1

// Event types.
const (
	EvSend       = "send"        // Process handed Value (Seq, Txn) to its client for Partition
	EvAck        = "ack"         // the send of (Process, Seq) was acknowledged at Partition/Offset, or failed (Err)
	EvTxnBegin   = "txn-begin"   // Process began transaction Txn
	EvTxnEndSent = "txn-end-req" // Process asked to commit (Commit) or abort transaction Txn
	EvTxnEnd     = "txn-end"     // the commit or abort of Txn returned (Err empty: it happened)
	EvPoll       = "poll"        // a poll of Process returned Records (and/or Err)
	EvAssigned   = "assigned"    // group member Process was assigned Partitions
	EvRevoked    = "revoked"     // group member Process had Partitions revoked
	EvLost       = "lost"        // group member Process lost Partitions (left the group uncleanly)
	EvClose      = "close"       // Process was closed, ending its ownership of Partitions
	EvCommit     = "commit"      // group member Process's offset commit returned: Offsets, each with its error
)

// History is everything one run did and saw. Times are offsets from Start
// measured with the monotonic clock. Events are in the order they were
// recorded (one recorder lock), which is the order the checker trusts.
type History struct {
	Version   int       `json:"version"`
	Seed      int64     `json:"seed"`
	RunTag    string    `json:"run_tag"` // prefix of every value of this run
	Topic     string    `json:"topic"`
	Bootstrap []string  `json:"bootstrap"`
	Start     time.Time `json:"start"` // wall clock at T=0

	Duration      time.Duration  `json:"duration"`
	Rate          int            `json:"rate"`
	AbortRatio    float64        `json:"abort_ratio"`
	Consumers     []ConsumerSpec `json:"consumers"`
	SettleTimeout time.Duration  `json:"settle_timeout"`

	LoadStart time.Duration `json:"load_start"` // producers started
	LoadEnd   time.Duration `json:"load_end"`   // producers told to stop
	SettleEnd time.Duration `json:"settle_end"` // consumers stopped
	End       time.Duration `json:"end"`        // final reads done

	// StartOffsets are the partitions' end offsets before the run: the
	// checker looks only at offsets from there on.
	StartOffsets []int64   `json:"start_offsets"`
	Processes    []Process `json:"processes"`
	Events       []Event   `json:"events"`
	Faults       []Fault   `json:"faults"`
	// FinalCommitted is each group's committed offsets after its members
	// closed.
	FinalCommitted []GroupOffsets   `json:"final_committed"`
	Final          []FinalPartition `json:"final"`
	// Notes are things the run tolerated or changed (a KIP-848 group
	// replaced by a classic one, a nemesis error, a final read that
	// timed out).
	Notes []string `json:"notes"`
}

// Process is one client incarnation. A group member that restarts is a
// new process with the same Group.
type Process struct {
	ID              int    `json:"id"`
	Role            string `json:"role"` // "producer" | "consumer"
	Kind            string `json:"kind"` // producer: "idempotent" | "non-idempotent" | "transactional"; consumer: its mode
	Isolation       string `json:"isolation,omitempty"`
	Group           string `json:"group,omitempty"`
	Consumer        int    `json:"consumer"` // consumer: index into History.Consumers
	TransactionalID string `json:"transactional_id,omitempty"`
}

// Producer kinds.
const (
	KindIdempotent    = "idempotent"
	KindNonIdempotent = "non-idempotent"
	KindTransactional = "transactional"
)

// Event is one step of the history; which fields are set depends on Type.
type Event struct {
	Type      string        `json:"type"`
	T         time.Duration `json:"t"`
	Process   int           `json:"process"`
	Seq       int64         `json:"seq,omitempty"`
	Txn       int64         `json:"txn,omitempty"`
	Partition int32         `json:"partition,omitempty"`
	Offset    int64         `json:"offset,omitempty"`
	Value     string        `json:"value,omitempty"`
	Commit    bool          `json:"commit,omitempty"`
	Records   []Rec         `json:"records,omitempty"`
	// Partitions of an assignment callback or a close.
	Partitions []int32        `json:"partitions,omitempty"`
	Offsets    []CommitOffset `json:"offsets,omitempty"`
	Err        string         `json:"err,omitempty"`
}

// Rec is one record a poll returned.
type Rec struct {
	Partition int32  `json:"p"`
	Offset    int64  `json:"o"`
	Value     string `json:"v"`
}

// CommitOffset is one partition's offset in a commit or a group's final
// committed offsets.
type CommitOffset struct {
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Err       string `json:"err,omitempty"`
}

// GroupOffsets are a group's committed offsets at the end.
type GroupOffsets struct {
	Group   string         `json:"group"`
	Offsets []CommitOffset `json:"offsets"`
	Err     string         `json:"err,omitempty"`
}

// Fault is one fault window a nemesis reported.
type Fault struct {
	Name   string        `json:"name"`
	Start  time.Duration `json:"start"`
	End    time.Duration `json:"end"`
	Output string        `json:"output,omitempty"`
	Err    string        `json:"err,omitempty"`
}

// FinalPartition is the final read of one partition, from
// StartOffsets[Partition].
type FinalPartition struct {
	Partition        int32 `json:"partition"`
	LogStartOffset   int64 `json:"log_start_offset"`
	HighWatermark    int64 `json:"high_watermark"`
	LastStableOffset int64 `json:"last_stable_offset"`
	// Uncommitted are the data records read_uncommitted up to
	// HighWatermark, Committed those read_committed up to
	// LastStableOffset. A read that did not reach its end (the cluster
	// did not serve it in time) is not Complete, and the checker does not
	// judge lost writes from it.
	Uncommitted         []FinalRecord `json:"uncommitted"`
	UncommittedComplete bool          `json:"uncommitted_complete"`
	Committed           []FinalRecord `json:"committed"`
	CommittedComplete   bool          `json:"committed_complete"`
}

// FinalRecord is one record of a final read.
type FinalRecord struct {
	Offset int64  `json:"o"`
	Value  string `json:"v"`
}

// value is the decoded form of a record value of this run.
type value struct {
	producer int
	seq      int64
	txn      int64 // 0: not transactional
}

// encodeValue builds a record value: tag-producer-seq[-txn].
func encodeValue(tag string, producer int, seq, txn int64) string {
	if txn > 0 {
		return fmt.Sprintf("%s-%d-%d-%d", tag, producer, seq, txn)
	}
	return fmt.Sprintf("%s-%d-%d", tag, producer, seq)
}

// decodeValue parses a value of run tag; ok is false for anything else.
func decodeValue(tag, s string) (v value, ok bool) {
	rest, found := strings.CutPrefix(s, tag+"-")
	if !found {
		return v, false
	}
	f := strings.Split(rest, "-")
	if len(f) != 2 && len(f) != 3 {
		return v, false
	}
	p, err1 := strconv.Atoi(f[0])
	seq, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil || p < 0 || seq < 0 {
		return v, false
	}
	v = value{producer: p, seq: seq}
	if len(f) == 3 {
		txn, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil || txn <= 0 {
			return v, false
		}
		v.txn = txn
	}
	return v, true
}

// recorder appends events to a history; every client goroutine shares
// it. Times come from start's monotonic clock reading.
type recorder struct {
	start time.Time // set in newRecorder, never changed

	mu struct {
		sync.Mutex
		h *History
		// seen counts, per consumer spec, the values any of its
		// processes polled: what the settle phase waits on.
		seen []map[string]struct{}
		// running totals for progress lines
		acked, failed, polled int
	}
}

func newRecorder(h *History, consumers int) *recorder {
	r := &recorder{start: time.Now()}
	h.Start = r.start
	r.mu.h = h
	r.mu.seen = make([]map[string]struct{}, consumers)
	for i := range r.mu.seen {
		r.mu.seen[i] = map[string]struct{}{}
	}
	return r
}

func (r *recorder) since() time.Duration { return time.Since(r.start) }

// add stamps e with the current time and appends it.
func (r *recorder) add(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e.T = time.Since(r.start)
	r.mu.h.Events = append(r.mu.h.Events, e)
	if e.Type == EvAck {
		if e.Err == "" {
			r.mu.acked++
		} else {
			r.mu.failed++
		}
	}
}

// poll appends a poll event and counts its values as seen by consumer.
func (r *recorder) poll(consumer int, e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e.T = time.Since(r.start)
	r.mu.h.Events = append(r.mu.h.Events, e)
	for _, rec := range e.Records {
		r.mu.seen[consumer][rec.Value] = struct{}{}
	}
	r.mu.polled += len(e.Records)
}

// addProcess registers a client and returns its id.
func (r *recorder) addProcess(p Process) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	p.ID = len(r.mu.h.Processes)
	r.mu.h.Processes = append(r.mu.h.Processes, p)
	return p.ID
}

func (r *recorder) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mu.h.Notes = append(r.mu.h.Notes, fmt.Sprintf("at %.3fs: ", time.Since(r.start).Seconds())+fmt.Sprintf(format, args...))
}

// missing returns how many of want consumer has not seen yet, and drops
// the seen ones from want.
func (r *recorder) missing(consumer int, want map[string]struct{}) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	for v := range want {
		if _, ok := r.mu.seen[consumer][v]; ok {
			delete(want, v)
		}
	}
	return len(want)
}

// counts returns acknowledged, failed and polled record counts so far,
// for progress lines.
func (r *recorder) counts() (acked, failed, polled int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.acked, r.mu.failed, r.mu.polled
}
