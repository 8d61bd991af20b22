package storage

import (
	"slices"
	"sort"
	"sync"
)

// epochCache maps leader epochs to the first offset written in each
// (Kafka's LeaderEpochFileCache). It is small: one entry per leadership
// change still covered by the log.
type epochCache struct {
	mu      sync.RWMutex
	entries []epochEntry // guarded by mu; epochs and start offsets increase strictly
}

func (c *epochCache) set(entries []epochEntry) {
	c.mu.Lock()
	c.entries = slices.Clone(entries)
	c.mu.Unlock()
}

func (c *epochCache) snapshot() []epochEntry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return slices.Clone(c.entries)
}

// latestEpoch returns the newest epoch, or -1.
func (c *epochCache) latestEpoch() int32 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if len(c.entries) == 0 {
		return -1
	}
	return c.entries[len(c.entries)-1].Epoch
}

// assign records that epoch starts at start. Entries that would break the
// ordering (an epoch >= epoch or a start >= start) are dropped first, as
// Kafka does. It reports whether the cache changed.
func (c *epochCache) assign(epoch int32, start int64) bool {
	if epoch < 0 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.entries); n > 0 {
		last := c.entries[n-1]
		if last.Epoch == epoch && last.StartOffset <= start {
			return false
		}
	}
	for n := len(c.entries); n > 0; n-- {
		last := c.entries[n-1]
		if last.Epoch < epoch && last.StartOffset < start {
			break
		}
		c.entries = c.entries[:n-1]
	}
	c.entries = append(c.entries, epochEntry{Epoch: epoch, StartOffset: start})
	return true
}

// truncateFromEnd drops epochs that start at or after end.
func (c *epochCache) truncateFromEnd(end int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.entries)
	for n > 0 && c.entries[n-1].StartOffset >= end {
		n--
	}
	changed := n != len(c.entries)
	c.entries = c.entries[:n]
	return changed
}

// truncateFromStart drops epochs that end before start and moves the start
// of the epoch covering start to start.
func (c *epochCache) truncateFromStart(start int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := 0
	for i < len(c.entries) && c.entries[i].StartOffset <= start {
		i++
	}
	if i == 0 {
		return false
	}
	kept := c.entries[i-1]
	if i == 1 && kept.StartOffset == start {
		return false
	}
	kept.StartOffset = start
	rest := c.entries[i:]
	c.entries = append([]epochEntry{kept}, rest...)
	return true
}

// endOffsetFor answers OffsetForLeaderEpoch (KIP-101, KIP-279): the largest
// epoch <= epoch the log knows and the offset where the next epoch starts
// (the log end offset for the latest epoch); (-1, -1) when unknown.
func (c *epochCache) endOffsetFor(epoch int32, logEndOffset int64) (int32, int64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n := len(c.entries)
	if epoch < 0 || n == 0 {
		return -1, -1
	}
	if c.entries[n-1].Epoch == epoch {
		return epoch, logEndOffset
	}
	// higher: the first entry with an epoch above the requested one.
	higher := sort.Search(n, func(i int) bool { return c.entries[i].Epoch > epoch })
	if higher == n {
		return -1, -1
	}
	if higher == 0 {
		return epoch, c.entries[0].StartOffset
	}
	return c.entries[higher-1].Epoch, c.entries[higher].StartOffset
}
