package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// rssEvery is the period of broker RSS samples.
const rssEvery = 100 * time.Millisecond

// ErrRecordsFailed is wrapped by Run's error when records failed to
// produce (or fetches failed); the Result still describes the run.
var ErrRecordsFailed = errors.New("records failed")

// Run prepares the topic and runs cfg's workload, reporting progress each
// second. It returns a Result whenever the workload started, also together
// with an error: when records failed (ErrRecordsFailed), when consuming
// timed out, or when ctx was cancelled (the run stops early and the
// result covers what was done). Goroutines it starts (clients, the progress
// loop, the RSS sampler) have stopped when it returns.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	admCl, err := kgo.NewClient(cfg.ClientOpts...)
	if err != nil {
		return nil, fmt.Errorf("create client: %w", err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	adm.SetTimeoutMillis(int32(min(cfg.Timeout.Milliseconds(), 1<<31-1)))

	partitions, err := prepareTopic(ctx, admCl, adm, &cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Workload == WorkloadConsume && cfg.Group == "" && cfg.Consumers > len(partitions) {
		return nil, fmt.Errorf("%d consumers but topic %q has %d partitions: without --group each consumer needs at least one", cfg.Consumers, cfg.Topic, len(partitions))
	}

	var (
		cpuBefore time.Duration
		sampler   *RSSSampler
	)
	if cfg.BrokerPID > 0 {
		if cpuBefore, err = ReadCPUTime(cfg.BrokerPID); err != nil {
			return nil, fmt.Errorf("broker pid %d: %w", cfg.BrokerPID, err)
		}
		sampler = NewRSSSampler(cfg.BrokerPID, rssEvery)
	}

	start := time.Now()
	rec := newRecorder(start, cfg.Workload != WorkloadConsume)
	res := &Result{
		Workload:   cfg.Workload,
		Topic:      cfg.Topic,
		RecordSize: cfg.RecordSize,
		Partitions: len(partitions),
		Consumers:  cfg.Consumers,
	}
	if cfg.Workload != WorkloadConsume {
		res.Acks, res.Compression, res.Producers, res.Rate = cfg.Acks, cfg.Compression, cfg.Producers, cfg.Rate
	}
	if cfg.Transactional {
		res.Transactional, res.TxnRecords = true, cfg.TxnRecords
	}
	if cfg.Workload == WorkloadConsume {
		res.Isolation = cfg.Isolation
	}
	if cfg.Workload == WorkloadE2E {
		res.Consumers = 1
	}

	// Side goroutines: progress each second and the broker RSS sampler.
	sideCtx, stopSide := context.WithCancel(ctx)
	var (
		side       sync.WaitGroup
		wrote      bool
		samplerErr error
	)
	side.Go(func() { wrote = progressLoop(sideCtx.Done(), rec, cfg.Progress, cfg.ProgressInPlace) })
	if sampler != nil {
		side.Go(func() { samplerErr = sampler.Run(sideCtx) })
	}

	var runErr error
	switch cfg.Workload {
	case WorkloadProduce:
		runErr = runProducers(ctx, &cfg, rec, false)
	case WorkloadConsume:
		runErr = runConsume(ctx, &cfg, partitions, rec)
	case WorkloadE2E:
		runErr = runE2E(ctx, &cfg, adm, partitions, rec, res)
	}
	stop := time.Now()
	stopSide()
	side.Wait()
	rec.finish(stop)
	if wrote && cfg.ProgressInPlace {
		_, _ = fmt.Fprintln(cfg.Progress)
	}

	rec.fill(res, stop)
	if cfg.Workload == WorkloadConsume {
		rec.fillFetch(res)
	}
	if cfg.BrokerPID > 0 {
		res.Broker, err = brokerFigures(&cfg, cpuBefore, sampler, res)
		if err == nil {
			err = samplerErr
		}
		if err != nil {
			runErr = errors.Join(runErr, err)
		}
	}

	switch {
	case ctx.Err() != nil:
		return res, fmt.Errorf("interrupted: %w", context.Cause(ctx))
	case runErr != nil:
		return res, runErr
	case res.Errors > 0:
		return res, fmt.Errorf("%w: %d, first: %w", ErrRecordsFailed, res.Errors, rec.firstError())
	}
	return res, nil
}

// brokerFigures reads the broker's CPU time again and puts the figures
// together.
func brokerFigures(cfg *Config, cpuBefore time.Duration, sampler *RSSSampler, res *Result) (*Broker, error) {
	b := &Broker{PID: cfg.BrokerPID}
	b.PeakRSSBytes, b.RSSSamples = sampler.Peak()
	cpuAfter, err := ReadCPUTime(cfg.BrokerPID)
	if err != nil {
		return b, fmt.Errorf("broker pid %d: %w", cfg.BrokerPID, err)
	}
	b.CPUSeconds = (cpuAfter - cpuBefore).Seconds()
	b.BytesMoved = res.Bytes
	if cfg.Workload == WorkloadE2E {
		b.BytesMoved *= 2 // in from the producer and out to the consumer
	}
	if b.BytesMoved > 0 {
		b.CPUSecondsPerGB = b.CPUSeconds / (float64(b.BytesMoved) / 1e9)
	}
	if _, hwm, err := ReadMemory(cfg.BrokerPID); err == nil {
		b.VmHWMBytes = hwm
	} else {
		return b, fmt.Errorf("broker pid %d: %w", cfg.BrokerPID, err)
	}
	return b, nil
}

// prepareTopic returns the partitions of cfg.Topic once each has a leader,
// creating the topic first for produce and e2e when it is missing.
func prepareTopic(ctx context.Context, cl *kgo.Client, adm *kadm.Client, cfg *Config) ([]int32, error) {
	tctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	mayCreate := cfg.Workload != WorkloadConsume
	created := false
	for {
		partitions, err := topicPartitions(tctx, cl, cfg.Topic)
		switch {
		case err == nil:
			return partitions, nil
		case !errors.Is(err, kerr.UnknownTopicOrPartition) && !kerr.IsRetriable(err):
			return nil, fmt.Errorf("topic %q: %w", cfg.Topic, explainDeadline(err, cfg.Timeout))
		case errors.Is(err, kerr.UnknownTopicOrPartition) && !mayCreate:
			return nil, fmt.Errorf("topic %q: %w", cfg.Topic, err)
		case errors.Is(err, kerr.UnknownTopicOrPartition) && !created:
			resp, err := adm.CreateTopic(tctx, cfg.Partitions, cfg.ReplicationFactor, nil, cfg.Topic)
			if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
				if resp.ErrMessage != "" {
					err = fmt.Errorf("%w: %s", err, resp.ErrMessage)
				}
				return nil, fmt.Errorf("topic %q: create: %w", cfg.Topic, explainDeadline(err, cfg.Timeout))
			}
			created = true
			continue
		}
		// Created but not visible yet, or partitions without a leader.
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-tctx.Done():
			t.Stop()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("topic %q: not ready within --timeout %s: %w", cfg.Topic, cfg.Timeout, err)
		case <-t.C:
		}
	}
}

// topicPartitions asks for the topic's metadata, bypassing kgo's metadata
// cache (which would keep answering "unknown" for a topic created a moment
// ago), and returns its partitions when all of them have a leader.
func topicPartitions(ctx context.Context, cl *kgo.Client, topic string) ([]int32, error) {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	for _, t := range resp.Topics {
		if t.Topic == nil || *t.Topic != topic {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return nil, err
		}
		if len(t.Partitions) == 0 {
			return nil, kerr.LeaderNotAvailable
		}
		ids := make([]int32, 0, len(t.Partitions))
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("partition %d: %w", p.Partition, err)
			}
			if p.Leader < 0 {
				return nil, fmt.Errorf("partition %d: %w", p.Partition, kerr.LeaderNotAvailable)
			}
			ids = append(ids, p.Partition)
		}
		slices.Sort(ids)
		return ids, nil
	}
	return nil, kerr.UnknownTopicOrPartition
}

// explainDeadline says which bound a bare deadline error came from.
func explainDeadline(err error, timeout time.Duration) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer within --timeout %s: %w", timeout, err)
	}
	return err
}
