package bench

import (
	"math"
	"time"
)

// Histogram layout. Values are nanoseconds kept to three significant decimal
// digits: 0..999 ns exactly, then each decade [10^k, 10^(k+1)) for k = 3..10
// in 900 buckets of width 10^(k-2). A bucket is therefore at most 1% of its
// lower bound wide, a value with three significant digits (1µs, 250µs, 1.5ms,
// 42s) lands on a bucket's lower bound and is reported exactly, and the whole
// range 0 to 100s takes a fixed 8,200 counters. Longer values count in the
// last bucket; Max still reports them exactly.
const (
	histExact       = 1000 // values below this have a bucket each
	histPerDecade   = 900  // buckets in each decade from 10^3 on
	histFirstDecade = 3
	histLastDecade  = 10 // the last decade is [10^10, 10^11) ns, 10s to 100s
	histBuckets     = histExact + (histLastDecade-histFirstDecade+1)*histPerDecade
)

// pow10 holds 10^0 .. 10^11.
var pow10 = func() [12]int64 {
	var p [12]int64
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// Histogram counts durations in fixed memory with at most 1% relative error
// (see the layout above). The zero value is not usable; call NewHistogram.
// It is not safe for concurrent use.
type Histogram struct {
	counts [histBuckets]int64
	total  int64
	sum    int64 // nanoseconds, for Mean
	min    int64
	max    int64
}

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram {
	h := &Histogram{}
	h.Reset()
	return h
}

// Reset empties h.
func (h *Histogram) Reset() {
	clear(h.counts[:])
	h.total, h.sum = 0, 0
	h.min, h.max = math.MaxInt64, 0
}

// histIndex returns the bucket of v nanoseconds; v < 0 counts as 0.
func histIndex(v int64) int {
	if v < histExact {
		return int(max(v, 0))
	}
	k := histFirstDecade
	for k < histLastDecade && v >= pow10[k+1] {
		k++
	}
	m := v / pow10[k-2] // 100..999, more only past the last decade
	m = min(m, 999)
	return histExact + (k-histFirstDecade)*histPerDecade + int(m-100)
}

// histLowerBound is the smallest value that lands in bucket i.
func histLowerBound(i int) int64 {
	if i < histExact {
		return int64(i)
	}
	j := i - histExact
	k := histFirstDecade + j/histPerDecade
	m := int64(100 + j%histPerDecade)
	return m * pow10[k-2]
}

// Record adds one duration. Negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := max(int64(d), 0)
	h.counts[histIndex(v)]++
	h.total++
	h.sum += v
	h.min = min(h.min, v)
	h.max = max(h.max, v)
}

// Merge adds every value of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.total == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.sum += o.sum
	h.min = min(h.min, o.min)
	h.max = max(h.max, o.max)
}

// Count is the number of recorded values.
func (h *Histogram) Count() int64 { return h.total }

// Min is the smallest recorded value, exactly; 0 when empty.
func (h *Histogram) Min() time.Duration {
	if h.total == 0 {
		return 0
	}
	return time.Duration(h.min)
}

// Max is the largest recorded value, exactly; 0 when empty.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Mean is the average recorded value, exactly; 0 when empty.
func (h *Histogram) Mean() time.Duration {
	if h.total == 0 {
		return 0
	}
	return time.Duration(h.sum / h.total)
}

// Quantile returns the nearest-rank q-quantile (q in [0, 1]): the smallest
// recorded value v such that at least q of all values are <= v, rounded
// down to its bucket's lower bound and clamped into [Min, Max]. Quantile(1)
// is Max. It returns 0 when h is empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	if !(q > 0) { // also NaN
		return h.Min()
	}
	if q >= 1 {
		return h.Max()
	}
	rank := nearestRank(q, h.total)
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			v := histLowerBound(i)
			return time.Duration(min(max(v, h.min), h.max))
		}
	}
	return h.Max() // not reached: the counts add up to total
}

// nearestRank is ceil(q*n) computed so that float error in q*n (0.07*100
// is 7.000000000000001) does not push an exact product to the next rank.
func nearestRank(q float64, n int64) int64 {
	x := q * float64(n)
	r := math.Round(x)
	if math.Abs(x-r) <= 1e-9*max(1, x) {
		return max(int64(r), 1)
	}
	return max(int64(math.Ceil(x)), 1)
}
