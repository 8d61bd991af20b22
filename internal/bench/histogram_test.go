package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistogramExactOnKnownInputs(t *testing.T) {
	tests := []struct {
		name string
		give []time.Duration
		want map[float64]time.Duration // quantile -> value
	}{
		{
			name: "1 to 100 microseconds",
			give: seq(1, 100, time.Microsecond),
			want: map[float64]time.Duration{
				0.5: 50 * time.Microsecond, 0.9: 90 * time.Microsecond, 0.99: 99 * time.Microsecond,
				0.999: 100 * time.Microsecond, 1: 100 * time.Microsecond, 0: time.Microsecond,
			},
		},
		{
			name: "1 to 1000 milliseconds",
			give: seq(1, 1000, time.Millisecond),
			want: map[float64]time.Duration{
				0.5: 500 * time.Millisecond, 0.9: 900 * time.Millisecond, 0.99: 990 * time.Millisecond,
				0.999: 999 * time.Millisecond, 1: time.Second, 0.07: 70 * time.Millisecond,
			},
		},
		{
			name: "nanoseconds below 1000 have a bucket each",
			give: seq(0, 999, time.Nanosecond),
			want: map[float64]time.Duration{0.5: 499, 0.999: 998, 1: 999},
		},
		{
			name: "three significant digits across decades",
			give: []time.Duration{
				1500 * time.Microsecond, 250 * time.Microsecond, 42 * time.Second,
				123 * time.Millisecond, 7 * time.Microsecond,
			},
			want: map[float64]time.Duration{
				0.2: 7 * time.Microsecond, 0.4: 250 * time.Microsecond, 0.6: 1500 * time.Microsecond,
				0.8: 123 * time.Millisecond, 0.99: 42 * time.Second,
			},
		},
		{
			name: "one value",
			give: []time.Duration{1234567},
			want: map[float64]time.Duration{0.5: 1234567, 0.99: 1234567, 1: 1234567},
		},
		{
			name: "beyond the range",
			give: []time.Duration{200 * time.Second, 300 * time.Second},
			want: map[float64]time.Duration{0.5: 200 * time.Second, 1: 300 * time.Second},
		},
		{
			name: "negative counts as zero",
			give: []time.Duration{-5, 10},
			want: map[float64]time.Duration{0.5: 0, 1: 10},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHistogram()
			for _, d := range slices.Backward(tt.give) {
				h.Record(d)
			}
			if got := h.Count(); got != int64(len(tt.give)) {
				t.Errorf("Count() = %d, want %d", got, len(tt.give))
			}
			for q, want := range tt.want {
				if got := h.Quantile(q); got != want {
					t.Errorf("Quantile(%v) = %v, want %v", q, got, want)
				}
			}
		})
	}
}

func seq(from, to int, unit time.Duration) []time.Duration {
	var ds []time.Duration
	for i := from; i <= to; i++ {
		ds = append(ds, time.Duration(i)*unit)
	}
	return ds
}

func TestHistogramMinMaxMean(t *testing.T) {
	h := NewHistogram()
	if h.Quantile(0.5) != 0 || h.Max() != 0 || h.Min() != 0 || h.Mean() != 0 {
		t.Fatalf("empty histogram: Quantile(0.5) %v, Max %v, Min %v, Mean %v, want all 0", h.Quantile(0.5), h.Max(), h.Min(), h.Mean())
	}
	for _, d := range []time.Duration{3 * time.Millisecond, 1001, 7 * time.Second} {
		h.Record(d)
	}
	if got, want := h.Min(), time.Duration(1001); got != want {
		t.Errorf("Min() = %v, want %v", got, want)
	}
	if got, want := h.Max(), 7*time.Second; got != want {
		t.Errorf("Max() = %v, want %v", got, want)
	}
	if got, want := h.Mean(), (3*time.Millisecond+1001+7*time.Second)/3; got != want {
		t.Errorf("Mean() = %v, want %v", got, want)
	}
	// 1001ns shares the bucket of 1000ns; the minimum is exact anyway.
	if got, want := h.Quantile(0.1), time.Duration(1001); got != want {
		t.Errorf("Quantile(0.1) = %v, want %v (clamped to Min)", got, want)
	}
	h.Reset()
	if h.Count() != 0 || h.Max() != 0 {
		t.Errorf("after Reset: Count %d, Max %v, want 0, 0", h.Count(), h.Max())
	}
}

func TestHistogramBuckets(t *testing.T) {
	for i := range histBuckets {
		lo := histLowerBound(i)
		if got := histIndex(lo); got != i {
			t.Fatalf("histIndex(histLowerBound(%d) = %d) = %d, want %d", i, lo, got, i)
		}
		if i+1 < histBuckets {
			next := histLowerBound(i + 1)
			if next <= lo {
				t.Fatalf("bucket %d starts at %d, bucket %d at %d: not increasing", i, lo, i+1, next)
			}
			if got := histIndex(next - 1); got != i {
				t.Fatalf("histIndex(%d) = %d, want %d (last value of bucket)", next-1, got, i)
			}
			// Exact below 1µs; above, at most 1% of the lower bound.
			if lo < histExact && next-lo != 1 {
				t.Fatalf("bucket %d: [%d, %d) is not exact", i, lo, next)
			}
			if lo >= histExact && float64(next-lo)/float64(lo) > 0.01+1e-12 {
				t.Fatalf("bucket %d: [%d, %d) is wider than 1%%", i, lo, next)
			}
		}
	}
	if got, want := histLowerBound(histBuckets-1), int64(99_900_000_000); got != want {
		t.Errorf("last bucket starts at %d, want %d", got, want)
	}
}

// TestHistogramWithinOnePercent compares against exact nearest-rank
// quantiles of random log-uniform latencies.
func TestHistogramWithinOnePercent(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	h := NewHistogram()
	var all []time.Duration
	for range 20000 {
		// 1µs to 60s, log-uniform.
		d := time.Duration(float64(time.Microsecond) * math.Pow(6e7, r.Float64()))
		all = append(all, d)
		h.Record(d)
	}
	slices.Sort(all)
	for _, q := range []float64{0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 0.9999} {
		want := all[nearestRank(q, int64(len(all)))-1]
		got := h.Quantile(q)
		if got > want || float64(want-got) > 0.01*float64(want) {
			t.Errorf("Quantile(%v) = %v, want within 1%% below %v", q, got, want)
		}
	}
}

func TestHistogramMerge(t *testing.T) {
	a, b, all := NewHistogram(), NewHistogram(), NewHistogram()
	for i := 1; i <= 500; i++ {
		d := time.Duration(i) * 37 * time.Microsecond
		if i%3 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
		all.Record(d)
	}
	a.Merge(b)
	a.Merge(NewHistogram())
	for _, q := range []float64{0, 0.3, 0.5, 0.99, 1} {
		if got, want := a.Quantile(q), all.Quantile(q); got != want {
			t.Errorf("merged Quantile(%v) = %v, want %v", q, got, want)
		}
	}
	if a.Count() != all.Count() || a.Mean() != all.Mean() || a.Min() != all.Min() {
		t.Errorf("merged Count/Mean/Min = %d/%v/%v, want %d/%v/%v", a.Count(), a.Mean(), a.Min(), all.Count(), all.Mean(), all.Min())
	}
}

func TestNearestRank(t *testing.T) {
	tests := []struct {
		q    float64
		n    int64
		want int64
	}{
		{0.07, 100, 7}, {0.5, 1, 1}, {0.5, 3, 2}, {0.99, 100, 99}, {0.999, 1000, 999},
		{0.999, 10, 10}, {0.0001, 10, 1}, {0.9, 1000, 900},
	}
	for _, tt := range tests {
		if got := nearestRank(tt.q, tt.n); got != tt.want {
			t.Errorf("nearestRank(%v, %d) = %d, want %d", tt.q, tt.n, got, tt.want)
		}
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	h := NewHistogram()
	b.ReportAllocs()
	var d time.Duration
	for b.Loop() {
		d = (d + 7919) % (10 * time.Second)
		h.Record(d)
	}
}
