package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// runE2E starts one consumer at the log end of every partition, then the
// producers; rec gets what the consumer counts, with the latency from each
// record's send-time stamp. Once the producers are done the consumer runs
// until it has counted as many records as were acknowledged. It assumes it
// is the topic's only writer: records from others would count as its own.
func runE2E(ctx context.Context, cfg *Config, adm *kadm.Client, partitions []int32, rec *recorder, res *Result) error {
	offsets, err := endOffsets(ctx, adm, cfg, partitions)
	if err != nil {
		return err
	}
	cctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)

	opts := append(slices.Clone(cfg.ClientOpts),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{cfg.Topic: offsets}),
		// A fetch waits at most this long for new records, which
		// bounds how late an idle consumer sees the next one.
		kgo.FetchMaxWait(100*time.Millisecond),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("create consumer: %w", err)
	}
	defer cl.Close()

	q := newQuota(0) // the limit is known once the producers are done
	progress := make(chan struct{}, 1)
	c := &consumer{cl: cl, quota: q, rec: rec, stamp: true, progress: progress, stop: stop}
	var wg sync.WaitGroup
	wg.Go(func() { c.pollLoop(cctx) })

	prodRec := newRecorder(time.Now(), false)
	prodDone := make(chan struct{})
	var prodErr error
	wg.Go(func() {
		defer close(prodDone)
		prodErr = runProducers(cctx, cfg, prodRec, true)
	})

	describe := func() string {
		return fmt.Sprintf("%d records consumed, %d acknowledged", rec.records(), prodRec.records())
	}
	// Phase one: the producers run; the consumer keeps up.
	t := time.NewTimer(cfg.Timeout)
	defer t.Stop()
wait:
	for {
		select {
		case <-cctx.Done():
			break wait
		case <-progress:
			t.Reset(cfg.Timeout)
		case <-t.C:
			stop(fmt.Errorf("no records arrived for --timeout %s (%s)", cfg.Timeout, describe()))
			break wait
		case <-prodDone:
			// Phase two: count up to what was acknowledged.
			q.limit.Store(prodRec.records())
			if q.full() {
				stop(errDone)
				break wait
			}
			awaitConsumers(cctx, stop, progress, nil, q.full, cfg.Timeout, describe)
			break wait
		}
	}
	wg.Wait()

	res.ProducedRecords = prodRec.records()
	rec.mergeErrors(prodRec)
	err = context.Cause(cctx)
	if ctx.Err() != nil || errors.Is(err, errDone) {
		err = nil
	}
	return errors.Join(prodErr, err)
}

// endOffsets returns the high watermark of each partition, retrying while
// the partitions are not ready.
func endOffsets(ctx context.Context, adm *kadm.Client, cfg *Config, partitions []int32) (map[int32]kgo.Offset, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	for {
		listed, err := adm.ListEndOffsets(ctx, cfg.Topic)
		if err == nil {
			offsets := make(map[int32]kgo.Offset, len(partitions))
			for _, p := range partitions {
				o, ok := listed.Lookup(cfg.Topic, p)
				switch {
				case !ok:
					err = fmt.Errorf("partition %d missing from ListOffsets", p)
				case o.Err != nil:
					err = fmt.Errorf("partition %d: %w", p, o.Err)
				default:
					offsets[p] = kgo.NewOffset().At(o.Offset)
				}
			}
			if err == nil {
				return offsets, nil
			}
		}
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("topic %q: list end offsets: %w", cfg.Topic, explainDeadline(err, cfg.Timeout))
		case <-t.C:
		}
	}
}
