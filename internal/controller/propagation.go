package controller

import (
	"context"
	"sync"
	"time"
)

// propagation is the metadata offset each broker last reported applying
// (BrokerHeartbeat's CurrentMetadataOffset), so that an admin operation
// answers only once every live broker's image holds its change: a client
// that creates a topic through any node and then asks any node for
// Metadata finds it. Brokers heartbeat as soon as they apply a metadata
// batch (besides their interval), and followers learn of a commit at once
// (raft's commit announcer), so the wait is a few milliseconds.
//
// Safe for concurrent use: heartbeats report on the loop, operations wait
// off it (the loop must keep serving the heartbeats they wait for).
type propagation struct {
	mu      sync.Mutex
	reports map[int32]appliedReport // guarded by mu
	changed chan struct{}           // guarded by mu; closed and replaced on every report
}

type appliedReport struct {
	offset int64
	at     time.Time
}

func newPropagation() *propagation {
	return &propagation{reports: map[int32]appliedReport{}, changed: make(chan struct{})}
}

// report records that broker id has applied the metadata log up to offset.
func (p *propagation) report(id int32, offset int64, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reports[id] = appliedReport{offset: offset, at: now}
	close(p.changed)
	p.changed = make(chan struct{})
}

// lagging returns the brokers among ids that last reported within recent
// of now and have not reached offset, and a channel closed at the next
// report.
func (p *propagation) lagging(ids []int32, offset int64, now time.Time, recent time.Duration) ([]int32, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []int32
	for _, id := range ids {
		r, ok := p.reports[id]
		if ok && r.offset < offset && now.Sub(r.at) <= recent {
			out = append(out, id)
		}
	}
	return out, p.changed
}

// awaitBrokers waits until every unfenced broker that heartbeated within
// two heartbeat intervals has applied the metadata log up to index, or
// Config.PropagationTimeout passes (a broker that is slow or about to be
// fenced does not hold every admin request back; its clients see the
// change when it catches up, as they would in Kafka), or ctx ends. Never
// call it on the loop.
func (c *Controller) awaitBrokers(ctx context.Context, index uint64) {
	if index == 0 || c.cfg.PropagationTimeout <= 0 {
		return
	}
	var ids []int32
	for _, b := range c.Image().Brokers() {
		if !b.Fenced && !b.InControlledShutdown {
			ids = append(ids, b.NodeID)
		}
	}
	recent := 2 * c.cfg.BrokerHeartbeatInterval
	timer := time.NewTimer(c.cfg.PropagationTimeout)
	defer timer.Stop()
	for {
		lag, changed := c.applied.lagging(ids, int64(index), c.cfg.Now(), recent)
		if len(lag) == 0 {
			return
		}
		select {
		case <-changed:
		case <-timer.C:
			c.logger.Info("brokers have not applied a metadata change yet; answering anyway", "offset", index, "brokers", lag, "waited", c.cfg.PropagationTimeout)
			return
		case <-ctx.Done():
			return
		}
	}
}

// doAdmin is do for admin operations: once fn has run, it waits until the
// live brokers have applied what fn proposed (see awaitBrokers).
func (c *Controller) doAdmin(ctx context.Context, fn func(ctx context.Context)) error {
	before := c.proposed.Load()
	if err := c.do(ctx, fn); err != nil {
		return err
	}
	if after := c.proposed.Load(); after > before {
		c.awaitBrokers(ctx, after)
	}
	return nil
}
