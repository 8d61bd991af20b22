package server

import (
	"context"
	"slices"
	"sync"
)

// exemptFrameBytes is the largest frame a connection holding none of the
// budget may always send (see the package doc): the size of its read
// buffer, so the excess is no more than memory each connection has anyway.
const exemptFrameBytes = readBufferBytes

// budget bounds the bytes of requests read and not yet answered
// (queued.max.request.bytes). Waiters are served first come, first served.
type budget struct {
	limit int64 // set in newBudget; <= 0: unbounded (still counted)

	mu struct {
		sync.Mutex
		used    int64
		waiters []*budgetWaiter // FIFO
	}
}

type budgetWaiter struct {
	n     int64
	ready chan struct{} // closed once granted, under mu
}

func newBudget(limit int64) *budget { return &budget{limit: limit} }

// used returns the bytes held.
func (b *budget) used() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mu.used
}

// fitsLocked reports whether n bytes may be taken now. A request larger
// than the whole budget fits once nothing else is held.
func (b *budget) fitsLocked(n int64) bool {
	return b.limit <= 0 || b.mu.used+n <= b.limit || b.mu.used == 0
}

// acquire takes n bytes, waiting while the budget is exhausted, unless
// exempt. It fails only with ctx's error, holding nothing.
func (b *budget) acquire(ctx context.Context, n int64, exempt bool) error {
	b.mu.Lock()
	if exempt || (len(b.mu.waiters) == 0 && b.fitsLocked(n)) {
		b.mu.used += n
		b.mu.Unlock()
		return nil
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	b.mu.waiters = append(b.mu.waiters, w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-w.ready:
		// Granted just as ctx ended: give it back.
		b.mu.used -= n
	default:
		if i := slices.Index(b.mu.waiters, w); i >= 0 {
			b.mu.waiters = slices.Delete(b.mu.waiters, i, i+1)
		}
	}
	// Either way the head may fit now.
	b.grantLocked()
	return ctx.Err()
}

// release gives back n bytes and wakes the waiters that now fit.
func (b *budget) release(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mu.used -= n
	b.grantLocked()
}

func (b *budget) grantLocked() {
	for len(b.mu.waiters) > 0 && b.fitsLocked(b.mu.waiters[0].n) {
		w := b.mu.waiters[0]
		b.mu.waiters[0] = nil
		b.mu.waiters = b.mu.waiters[1:]
		b.mu.used += w.n
		close(w.ready)
	}
}
