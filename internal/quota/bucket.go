package quota

import (
	"math"
	"sync"
	"time"
)

// bucket measures usage against a quota as Kafka's TokenBucket stat
// (KIP-599): credits refill at the quota per second up to a burst of
// quota × Samples × Window, each value takes its size in credits, and a
// client below zero waits -credits/quota. Used for the byte rates and the
// controller mutation rate; see the package doc for why the byte rates do
// not use Kafka's sampled Rate.
type bucket struct {
	mu struct {
		sync.Mutex
		credits float64
		last    time.Duration // when credits were last refilled
		started bool          // false until the first value: the bucket starts full
	}
}

// record takes v credits at now (gives them back when v is negative) and
// returns how long the client must wait for its credits to come back to
// zero.
func (b *bucket) record(cfg *Config, bound, v float64, now time.Duration) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refillLocked(cfg, bound, now)
	b.mu.credits = min(b.mu.credits-v, burst(cfg, bound))
	return creditWait(b.mu.credits, bound)
}

// wait is record without a value.
func (b *bucket) wait(cfg *Config, bound float64, now time.Duration) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refillLocked(cfg, bound, now)
	return creditWait(b.mu.credits, bound)
}

func (b *bucket) refillLocked(cfg *Config, bound float64, now time.Duration) {
	full := burst(cfg, bound)
	if !b.mu.started {
		b.mu.started, b.mu.credits = true, full
	} else if now > b.mu.last {
		b.mu.credits = min(full, b.mu.credits+bound*(now-b.mu.last).Seconds())
	}
	b.mu.last = max(b.mu.last, now)
}

// idleSince reports when the bucket last refilled.
func (b *bucket) idleSince() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mu.last
}

func burst(cfg *Config, bound float64) float64 {
	return bound * float64(cfg.Samples) * cfg.Window.Seconds()
}

// creditWait is Kafka's throttle time for a token bucket:
// -credits/quota, rounded to the millisecond; 0 when credits are not
// negative.
func creditWait(credits, bound float64) time.Duration {
	if credits >= 0 {
		return 0
	}
	ms := math.Round(-credits / bound * 1000)
	return time.Duration(min(ms, math.MaxInt32)) * time.Millisecond
}
