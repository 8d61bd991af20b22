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
		samples []sample // at most Config.Samples+1; ring once full
		current int      // index of the newest sample
		last    time.Duration
	}
}

type sample struct {
	start     time.Duration // when the sample's first value came
	lastEvent time.Duration // when its latest value came
	value     float64
}

// record adds v at now and returns how long the client must wait for the
// rate to come back to bound.
func (r *rate) record(cfg *Config, bound, v float64, now time.Duration) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mu.last = now
	r.recordLocked(cfg, v, now)
	perSec, window := r.measureLocked(cfg, now)
	return throttleTime(perSec, bound, window)
}

// wait is record without a value.
func (r *rate) wait(cfg *Config, bound float64, now time.Duration) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	perSec, window := r.measureLocked(cfg, now)
	return throttleTime(perSec, bound, window)
}

func (r *rate) recordLocked(cfg *Config, v float64, now time.Duration) {
	if len(r.mu.samples) == 0 {
		r.mu.samples = append(r.mu.samples, sample{start: now, lastEvent: now})
		r.mu.current = 0
	}
	cur := &r.mu.samples[r.mu.current]
	if now-cur.start >= cfg.Window {
		// One sample more than quota.window.num: the oldest may still
		// overlap the measured window (Kafka's SampledStat since 3.8).
		r.mu.current = (r.mu.current + 1) % (cfg.Samples + 1)
		if r.mu.current >= len(r.mu.samples) {
			r.mu.samples = append(r.mu.samples, sample{start: now, lastEvent: now})
		} else {
			r.mu.samples[r.mu.current] = sample{start: now, lastEvent: now}
		}
		cur = &r.mu.samples[r.mu.current]
	}
	cur.value += v
	cur.lastEvent = now
}

// measureLocked returns the rate at now and the window it is measured
// over. A sample is dropped once its last value is a whole window
// (Samples × Window) old; one that started earlier but still overlaps the
// window is kept whole, and the window reaches back to its start, so the
// sum and the span it is divided by always cover the same samples.
func (r *rate) measureLocked(cfg *Config, now time.Duration) (float64, time.Duration) {
	expire := time.Duration(cfg.Samples) * cfg.Window
	var total float64
	oldest := now
	for i := range r.mu.samples {
		s := &r.mu.samples[i]
		if now-s.lastEvent >= expire {
			*s = sample{start: now, lastEvent: now}
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
