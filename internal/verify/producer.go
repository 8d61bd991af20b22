package verify

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// producer is one producing client (or, transactional, a client that is
// replaced with the same transactional id after an error it cannot
// recover from). Owned by its run goroutine.
type producer struct {
	w        *workload
	id       int    // process id
	kind     string // KindIdempotent, KindNonIdempotent, KindTransactional
	txnID    string // transactional id (KindTransactional)
	rng      *rand.Rand
	interval time.Duration // time between two sends
	offset   time.Duration // phase of the first send, so producers do not send in lockstep
	seq      int64         // next sequence number
	txn      int64         // last transaction number
}

// newProducer registers producer number idx (of all kinds) as a process.
func (w *workload) newProducer(kind string, idx int) *producer {
	n := w.cfg.Producers + w.cfg.NonIdempotent + w.cfg.Transactional
	p := &producer{
		w:        w,
		kind:     kind,
		rng:      rand.New(rand.NewPCG(uint64(w.cfg.Seed), uint64(idx)+1)),
		interval: time.Duration(float64(time.Second) * float64(n) / float64(w.cfg.Rate)),
	}
	p.offset = p.interval * time.Duration(idx) / time.Duration(n)
	proc := Process{Role: "producer", Kind: kind}
	if kind == KindTransactional {
		p.txnID = fmt.Sprintf("strata-verify-%s-%d", w.h.RunTag, idx)
		proc.TransactionalID = p.txnID
	}
	p.id = w.rec.addProcess(proc)
	return p
}

// opts returns the client options of p's kind.
func (p *producer) opts() []kgo.Opt {
	opts := append(slices.Clone(p.w.base),
		kgo.DefaultProduceTopic(p.w.h.Topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(p.w.cfg.RecordTimeout),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedRecords(max(1000, 2*p.w.cfg.Rate)),
	)
	switch p.kind {
	case KindNonIdempotent:
		opts = append(opts, kgo.DisableIdempotentWrite())
	case KindTransactional:
		opts = append(opts, kgo.TransactionalID(p.txnID), kgo.TransactionTimeout(20*time.Second))
	}
	return opts
}

// run produces until loadCtx ends, then waits for the last records.
func (p *producer) run(loadCtx context.Context) {
	tick := newPacer(p.interval, p.offset)
	defer tick.stop()
	if p.kind == KindTransactional {
		p.runTransactional(loadCtx, tick)
		return
	}
	cl, err := kgo.NewClient(p.opts()...)
	if err != nil {
		p.w.rec.note("producer %d: %v", p.id, err)
		return
	}
	defer cl.Close()
	for tick.wait(loadCtx) {
		p.send(cl, int32(p.rng.IntN(int(p.w.partitions))), 0, nil)
	}
	p.flush(cl)
}

// send hands one record to cl and records the send and, later, its
// acknowledgement. failed, when set, is raised when the record fails.
func (p *producer) send(cl *kgo.Client, partition int32, txn int64, failed *atomic.Bool) {
	seq := p.seq
	p.seq++
	v := encodeValue(p.w.h.RunTag, p.id, seq, txn)
	p.w.rec.add(Event{Type: EvSend, Process: p.id, Seq: seq, Txn: txn, Partition: partition, Value: v})
	r := &kgo.Record{Topic: p.w.h.Topic, Partition: partition, Value: []byte(v)}
	// NB: TryProduce fails at once when the buffer is full (a long
	// outage) instead of blocking the pacing loop past the load's end.
	cl.TryProduce(context.Background(), r, func(r *kgo.Record, err error) {
		e := Event{Type: EvAck, Process: p.id, Seq: seq, Txn: txn, Partition: r.Partition, Value: v}
		if err != nil {
			e.Err = err.Error()
			if failed != nil {
				failed.Store(true)
			}
		} else {
			e.Offset = r.Offset
		}
		p.w.rec.add(e)
	})
}

// flush waits for every buffered record, at most the record timeout and
// a little more; records still buffered then are failed.
func (p *producer) flush(cl *kgo.Client) error {
	ctx, cancel := context.WithTimeout(context.Background(), p.w.cfg.RecordTimeout+5*time.Second)
	defer cancel()
	err := cl.Flush(ctx)
	if err != nil {
		actx, acancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer acancel()
		_ = cl.AbortBufferedRecords(actx)
	}
	return err
}

// runTransactional runs transactions of 1..TxnRecords records spread over
// up to three partitions until loadCtx ends, committing or aborting each
// (AbortRatio; always aborting one with a failed record). The transaction
// open when the load ends is still finished.
func (p *producer) runTransactional(loadCtx context.Context, tick *pacer) {
	var cl *kgo.Client
	defer func() {
		if cl != nil {
			cl.Close()
		}
	}()
	for loadCtx.Err() == nil {
		if cl == nil {
			var err error
			if cl, err = kgo.NewClient(p.opts()...); err != nil {
				p.w.rec.note("producer %d: %v", p.id, err)
				return
			}
		}
		if err := p.begin(loadCtx, cl); err != nil {
			p.w.rec.note("producer %d: begin transaction: %v", p.id, err)
			cl.Close()
			cl = nil
			continue
		}
		p.txn++
		txn := p.txn
		p.w.rec.add(Event{Type: EvTxnBegin, Process: p.id, Txn: txn})

		// Every draw happens whatever the timing, so a seed gives the
		// same transactions.
		size := 1 + p.rng.IntN(p.w.cfg.TxnRecords)
		parts := p.rng.Perm(int(p.w.partitions))[:1+p.rng.IntN(min(3, int(p.w.partitions)))]
		targets := make([]int32, size)
		for i := range targets {
			targets[i] = int32(parts[p.rng.IntN(len(parts))])
		}
		abort := p.rng.Float64() < p.w.cfg.AbortRatio

		var failed atomic.Bool
		for i, part := range targets {
			if i > 0 && !tick.wait(loadCtx) {
				break
			}
			p.send(cl, part, txn, &failed)
		}
		flushErr := p.flush(cl)
		commit := !abort && !failed.Load() && flushErr == nil
		if !p.end(cl, txn, commit) {
			// Unknown state: a new client with the same transactional
			// id fences this one and aborts whatever it left open.
			cl.Close()
			cl = nil
		}
		if !tick.wait(loadCtx) {
			return
		}
	}
}

// begin begins a transaction on cl. NB: kgo's BeginTransaction takes no
// context and retries CONCURRENT_TRANSACTIONS from the coordinator for as
// long as it lasts: forever for a transaction the coordinator never
// finishes (a broken cluster). Once the load is over and RecordTimeout
// more has passed, begin closes cl, which ends the retries, so Run always
// returns.
func (p *producer) begin(loadCtx context.Context, cl *kgo.Client) error {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-done:
			return
		case <-loadCtx.Done():
		}
		t := time.NewTimer(p.w.cfg.RecordTimeout)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			cl.Close()
		}
	})
	err := cl.BeginTransaction()
	close(done)
	wg.Wait()
	return err
}

// end commits or aborts transaction txn and records the outcome. A failed
// commit is retried as an abort, as kgo documents; it reports whether cl
// can go on with a new transaction.
func (p *producer) end(cl *kgo.Client, txn int64, commit bool) bool {
	for attempt := range 2 {
		p.w.rec.add(Event{Type: EvTxnEndSent, Process: p.id, Txn: txn, Commit: commit})
		ctx, cancel := context.WithTimeout(context.Background(), p.w.cfg.RecordTimeout)
		err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit))
		cancel()
		e := Event{Type: EvTxnEnd, Process: p.id, Txn: txn, Commit: commit}
		if err != nil {
			e.Err = err.Error()
		}
		p.w.rec.add(e)
		if err == nil {
			return true
		}
		if attempt == 0 && !errors.Is(err, context.DeadlineExceeded) {
			commit = false
			continue
		}
		break
	}
	return false
}

// pacer ticks every interval from a phase offset. A sender that falls
// behind catches up (timers oversleep on a loaded machine), but after a
// stall of more than a second it skips the missed ticks rather than
// bursting.
type pacer struct {
	interval time.Duration
	next     time.Time
	t        *time.Timer
}

func newPacer(interval, offset time.Duration) *pacer {
	return &pacer{interval: interval, next: time.Now().Add(offset), t: time.NewTimer(time.Hour)}
}

// wait blocks until the next tick; false when ctx ended first.
func (p *pacer) wait(ctx context.Context) bool {
	now := time.Now()
	if p.next.Before(now.Add(-time.Second)) {
		p.next = now // behind by more than a second (a stall): drop the backlog
	}
	if d := p.next.Sub(now); d > 0 {
		p.t.Reset(d)
		select {
		case <-ctx.Done():
			return false
		case <-p.t.C:
		}
	} else if ctx.Err() != nil {
		return false
	}
	p.next = p.next.Add(p.interval)
	return true
}

func (p *pacer) stop() { p.t.Stop() }
