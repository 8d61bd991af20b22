package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// payloadSpread is how far apart the value slices of one producer may start
// in its random buffer, so consecutive records differ.
const payloadSpread = 4096

// payload hands out record values cut from one buffer of random letters
// generated up front (like kafka-producer-perf-test), so the producer loop
// spends nothing on generating data. Values overlap and must not be
// written to. Owned by one producer goroutine.
type payload struct {
	buf  []byte
	size int
	off  int
}

func newPayload(size int, seed uint64) *payload {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	buf := make([]byte, size+payloadSpread)
	for i := range buf {
		buf[i] = 'A' + byte(r.IntN(26))
	}
	return &payload{buf: buf, size: size}
}

func (p *payload) next() []byte {
	v := p.buf[p.off : p.off+p.size : p.off+p.size]
	p.off = (p.off + 61) % (payloadSpread + 1)
	return v
}

// pacer spaces records evenly at a target rate: record n is due at start +
// n/rate. A producer that fell behind catches up without waiting, so the
// rate holds on average; waits shorter than pacerSlack are skipped because
// timers cannot keep them.
type pacer struct {
	start time.Time
	every float64 // nanoseconds between records
	n     int64
	timer *time.Timer
}

const pacerSlack = 200 * time.Microsecond

// newPacer returns nil (no pacing) for rate 0.
func newPacer(start time.Time, rate float64) *pacer {
	if rate <= 0 {
		return nil
	}
	return &pacer{start: start, every: float64(time.Second) / rate}
}

// wait blocks until the next record is due or ctx is done.
func (p *pacer) wait(ctx context.Context) error {
	if p == nil {
		return nil
	}
	due := p.start.Add(time.Duration(float64(p.n) * p.every))
	p.n++
	d := time.Until(due)
	if d < pacerSlack {
		return nil
	}
	if p.timer == nil {
		p.timer = time.NewTimer(d)
	} else {
		p.timer.Reset(d)
	}
	select {
	case <-ctx.Done():
		p.timer.Stop()
		return ctx.Err()
	case <-p.timer.C:
		return nil
	}
}

func (p *pacer) stop() {
	if p != nil && p.timer != nil {
		p.timer.Stop()
	}
}

// producerPlan is one producer client's share of the run.
type producerPlan struct {
	count    int64     // 0: no limit
	rate     float64   // 0: unlimited
	deadline time.Time // zero: none
	seed     uint64
}

// plans splits Count and Rate evenly over the producers.
func (cfg *Config) plans(start time.Time) []producerPlan {
	n := int64(cfg.Producers)
	plans := make([]producerPlan, n)
	for i := range plans {
		p := &plans[i]
		if cfg.Count > 0 {
			p.count = cfg.Count / n
			if int64(i) < cfg.Count%n {
				p.count++
			}
		}
		p.rate = cfg.Rate / float64(n)
		if cfg.Duration > 0 {
			p.deadline = start.Add(cfg.Duration)
		}
		p.seed = cfg.Seed + uint64(i)
	}
	return plans
}

// runProducers runs cfg.Producers clients until their shares are produced,
// the duration is over, a record failed, or ctx is done, and waits until
// every record handed to kgo is acknowledged or failed. rec counts acks (with
// latency from the Produce call) and failures. With stamp, each value starts
// with its send time in Unix nanoseconds (e2e).
func runProducers(ctx context.Context, cfg *Config, rec *recorder, stamp bool) error {
	start := time.Now()
	plans := cfg.plans(start)
	clients := make([]*kgo.Client, 0, len(plans))
	defer func() {
		for _, cl := range clients {
			cl.Close()
		}
	}()
	opts := append(slices.Clone(cfg.ClientOpts), cfg.producerOpts()...)
	// Transactional ids are unique to the run and the producer, so
	// concurrent or later runs never fence each other.
	txnIDPrefix := fmt.Sprintf("strata-bench-%d-%d", os.Getpid(), start.UnixNano())
	for i := range plans {
		popts := opts
		if cfg.Transactional {
			popts = append(slices.Clone(opts), kgo.TransactionalID(fmt.Sprintf("%s-%d", txnIDPrefix, i)))
		}
		cl, err := kgo.NewClient(popts...)
		if err != nil {
			return fmt.Errorf("create producer: %w", err)
		}
		clients = append(clients, cl)
	}
	var wg sync.WaitGroup
	for i, cl := range clients {
		wg.Go(func() { produceLoop(ctx, cl, cfg, plans[i], rec, stamp) })
	}
	wg.Wait()
	return nil
}

// produceLoop is one producer client's goroutine.
func produceLoop(ctx context.Context, cl *kgo.Client, cfg *Config, plan producerPlan, rec *recorder, stamp bool) {
	pay := newPayload(cfg.RecordSize, plan.seed)
	pace := newPacer(time.Now(), plan.rate)
	defer pace.stop()
	// NB: records already handed to kgo get a context that outlives an
	// interruption, so they end acknowledged or failed by the delivery
	// timeout rather than failed as cancelled, and the summary counts
	// what the broker took.
	pctx := context.WithoutCancel(ctx)
	inTxn := 0 // records produced in the open transaction
	for i := int64(0); plan.count == 0 || i < plan.count; i++ {
		if ctx.Err() != nil || rec.failed() {
			break
		}
		if pace.wait(ctx) != nil {
			break
		}
		sent := time.Now()
		if !plan.deadline.IsZero() && !sent.Before(plan.deadline) {
			break
		}
		value := pay.next()
		if stamp {
			v := make([]byte, len(value))
			copy(v, value)
			binary.BigEndian.PutUint64(v, uint64(sent.UnixNano()))
			value = v
		}
		if cfg.Transactional && inTxn == 0 {
			if err := cl.BeginTransaction(); err != nil {
				rec.fail(fmt.Errorf("begin transaction: %w", err))
				break
			}
		}
		cl.Produce(pctx, &kgo.Record{Topic: cfg.Topic, Value: value}, func(r *kgo.Record, err error) {
			if err != nil {
				if r.Partition >= 0 {
					err = fmt.Errorf("partition %d: %w", r.Partition, err)
				}
				rec.fail(err)
				return
			}
			now := time.Now()
			rec.addOne(now, len(r.Key)+len(r.Value), now.Sub(sent))
		})
		if cfg.Transactional {
			if inTxn++; inTxn == cfg.TxnRecords {
				inTxn = 0
				if !endTransaction(pctx, cl, rec) {
					break
				}
			}
		}
	}
	if inTxn > 0 {
		// The rest, also after an interruption: what was
		// acknowledged is committed.
		endTransaction(pctx, cl, rec)
		return
	}
	// Flush returns once every buffered record has been acknowledged or
	// failed; each is bounded by the delivery timeout.
	_ = cl.Flush(pctx)
}

// endTransaction waits for the open transaction's records and commits it,
// or aborts it when a record of the run failed. It reports whether it
// committed.
func endTransaction(ctx context.Context, cl *kgo.Client, rec *recorder) bool {
	_ = cl.Flush(ctx) // each record is bounded by the delivery timeout
	commit := !rec.failed()
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		verb := "commit"
		if !commit {
			verb = "abort"
		}
		rec.fail(fmt.Errorf("%s transaction: %w", verb, err))
		return false
	}
	if commit {
		rec.addTransaction()
	}
	return commit
}
