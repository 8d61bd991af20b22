package quota

import (
	"math"
	"sync"
	"time"
)

// rate measures a value per second over a sampled window, as Kafka's Rate
// over a SampledStat (see the package doc). Times are durations since the
// Manager's epoch, from the monotonic clock.
type rate struct {
	mu struct {
		sync.Mutex
		samples []sample // at most Config.Samples; ring once full
		current int      // index of the newest sample
		last    time.Duration
	}
}

type sample struct {
	start time.Duration
	value float64
}

// record adds v at now and returns the rate after it and the window it was
// measured over.
func (r *rate) record(cfg *Config, v float64, now time.Duration) (perSec float64, window time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mu.last = now
	r.recordLocked(cfg, v, now)
	return r.measureLocked(cfg, now)
}

// measure returns the rate at now without recording.
func (r *rate) measure(cfg *Config, now time.Duration) (perSec float64, window time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.measureLocked(cfg, now)
}

func (r *rate) recordLocked(cfg *Config, v float64, now time.Duration) {
	if len(r.mu.samples) == 0 {
		r.mu.samples = append(r.mu.samples, sample{start: now})
		r.mu.current = 0
	}
	cur := &r.mu.samples[r.mu.current]
	if now-cur.start >= cfg.Window {
		r.mu.current = (r.mu.current + 1) % cfg.Samples
		if r.mu.current >= len(r.mu.samples) {
			r.mu.samples = append(r.mu.samples, sample{start: now})
		} else {
			r.mu.samples[r.mu.current] = sample{start: now}
		}
		cur = &r.mu.samples[r.mu.current]
	}
	cur.value += v
}

func (r *rate) measureLocked(cfg *Config, now time.Duration) (float64, time.Duration) {
	expire := time.Duration(cfg.Samples) * cfg.Window
	var total float64
	oldest := now
	for i := range r.mu.samples {
		s := &r.mu.samples[i]
		if now-s.start >= expire {
			*s = sample{start: now}
		}
		total += s.value
		oldest = min(oldest, s.start)
	}
	elapsed := now - oldest
	if full, minFull := int(elapsed/cfg.Window), cfg.Samples-1; full < minFull {
		elapsed += time.Duration(minFull-full) * cfg.Window
	}
	return total / elapsed.Seconds(), elapsed
}

// idleSince reports when the rate last recorded a value.
func (r *rate) idleSince() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.last
}

// throttleTime is Kafka's QuotaUtils.throttleTime: how long the client
// must wait for the rate measured over window to come down to bound; 0
// when it is within bound.
func throttleTime(perSec, bound float64, window time.Duration) time.Duration {
	if perSec <= bound {
		return 0
	}
	ms := math.Round((perSec - bound) / bound * float64(window.Milliseconds()))
	return time.Duration(min(ms, math.MaxInt32)) * time.Millisecond
}
