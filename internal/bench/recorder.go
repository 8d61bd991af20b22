package bench

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// recorder counts what a workload moved: totals, a latency histogram, and
// the current one-second interval. Produce promises (on kgo goroutines) and
// consumer goroutines add to it; progressLoop closes intervals.
type recorder struct {
	start   time.Time // set in newRecorder, never changed
	latency bool      // whether latencies are kept; set in newRecorder, never changed

	stopped atomic.Bool  // set by the first failure, read by producers
	txns    atomic.Int64 // transactions committed (transactional produce)

	mu struct {
		sync.Mutex
		records, bytes int64
		errors         int64
		firstErr       error
		first, last    time.Time // when the first and the last counted record arrived
		total          *Histogram
		interval       *Histogram // latencies of the current interval
		prevInterval   *Histogram // latencies of the last closed interval, for finish
		ivStart        time.Time
		ivRecords      int64
		ivBytes        int64
		series         []Interval
	}
}

func newRecorder(start time.Time, latency bool) *recorder {
	r := &recorder{start: start, latency: latency}
	r.mu.ivStart = start
	if latency {
		r.mu.total = NewHistogram()
		r.mu.interval = NewHistogram()
		r.mu.prevInterval = NewHistogram()
	}
	return r
}

// addOne counts one record of size bytes that arrived at now after latency.
func (r *recorder) addOne(now time.Time, size int, latency time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.countLocked(now, 1, int64(size))
	if r.latency {
		r.mu.total.Record(latency)
		r.mu.interval.Record(latency)
	}
}

// addBatch counts n records of bytes in total that arrived at now, with
// the latencies of those of them that have one.
func (r *recorder) addBatch(now time.Time, n, bytes int64, latencies []time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.countLocked(now, n, bytes)
	if r.latency {
		for _, l := range latencies {
			r.mu.total.Record(l)
			r.mu.interval.Record(l)
		}
	}
}

func (r *recorder) countLocked(now time.Time, n, bytes int64) {
	if r.mu.records == 0 {
		r.mu.first = now
	}
	if now.After(r.mu.last) {
		r.mu.last = now
	}
	r.mu.records += n
	r.mu.bytes += bytes
	r.mu.ivRecords += n
	r.mu.ivBytes += bytes
}

// fail counts one failed record (or fetch); the first error is kept.
func (r *recorder) fail(err error) {
	r.stopped.Store(true)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mu.errors++
	if r.mu.firstErr == nil {
		r.mu.firstErr = err
	}
}

// addTransaction counts one committed transaction.
func (r *recorder) addTransaction() { r.txns.Add(1) }

// failed reports whether any record failed.
func (r *recorder) failed() bool { return r.stopped.Load() }

func (r *recorder) records() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.records
}

// tick closes the interval ending at now and returns the progress line.
func (r *recorder) tick(now time.Time) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	iv := r.closeIntervalLocked(now)
	line := fmt.Sprintf("%6.0fs %10.0f records/s %9.2f MB/s", iv.EndSeconds, iv.RecordsPerSecond, iv.MBPerSecond)
	if r.latency {
		line += fmt.Sprintf("  p99 %-8s", formatMs(ms(r.mu.total.Quantile(0.99))))
	}
	line += fmt.Sprintf(" %12d records", r.mu.records)
	return line
}

// shortInterval is the length below which the last, partial interval of a
// run is folded into the one before: a few records in a few milliseconds
// would otherwise show as a rate spike.
const shortInterval = 250 * time.Millisecond

// finish closes the last, partial interval at now.
func (r *recorder) finish(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	dur := now.Sub(r.mu.ivStart)
	n := len(r.mu.series)
	if dur >= shortInterval || n == 0 {
		if r.mu.ivRecords > 0 || dur >= shortInterval {
			r.closeIntervalLocked(now)
		}
		return
	}
	last := &r.mu.series[n-1]
	last.EndSeconds = now.Sub(r.start).Seconds()
	last.Seconds += dur.Seconds()
	last.Records += r.mu.ivRecords
	last.Bytes += r.mu.ivBytes
	last.RecordsPerSecond = float64(last.Records) / last.Seconds
	last.MBPerSecond = float64(last.Bytes) / last.Seconds / 1e6
	if r.latency && r.mu.interval.Count() > 0 {
		r.mu.prevInterval.Merge(r.mu.interval)
		p99 := ms(r.mu.prevInterval.Quantile(0.99))
		last.P99Ms = &p99
	}
	r.mu.ivStart = now
	r.mu.ivRecords, r.mu.ivBytes = 0, 0
}

func (r *recorder) closeIntervalLocked(now time.Time) Interval {
	secs := now.Sub(r.mu.ivStart).Seconds()
	iv := Interval{
		EndSeconds: now.Sub(r.start).Seconds(),
		Seconds:    secs,
		Records:    r.mu.ivRecords,
		Bytes:      r.mu.ivBytes,
	}
	if secs > 0 {
		iv.RecordsPerSecond = float64(iv.Records) / secs
		iv.MBPerSecond = float64(iv.Bytes) / secs / 1e6
	}
	if r.latency {
		if r.mu.interval.Count() > 0 {
			p99 := ms(r.mu.interval.Quantile(0.99))
			iv.P99Ms = &p99
		}
		r.mu.interval, r.mu.prevInterval = r.mu.prevInterval, r.mu.interval
		r.mu.interval.Reset()
	}
	r.mu.series = append(r.mu.series, iv)
	r.mu.ivStart = now
	r.mu.ivRecords, r.mu.ivBytes = 0, 0
	return iv
}

// fill copies the totals into res.
func (r *recorder) fill(res *Result, stop time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	res.Records, res.Bytes = r.mu.records, r.mu.bytes
	res.Errors = r.mu.errors
	if r.mu.firstErr != nil {
		res.FirstError = r.mu.firstErr.Error()
	}
	end := stop
	if r.mu.records > 0 {
		end = r.mu.last
	}
	elapsed := end.Sub(r.start).Seconds()
	res.ElapsedSeconds = elapsed
	if elapsed > 0 {
		res.RecordsPerSecond = float64(res.Records) / elapsed
		res.MBPerSecond = float64(res.Bytes) / elapsed / 1e6
	}
	if res.Transactional {
		res.Transactions = r.txns.Load()
		if elapsed > 0 {
			res.TransactionsPerSecond = float64(res.Transactions) / elapsed
		}
	}
	if r.latency {
		res.Latency = latencyOf(r.mu.total)
	}
	res.Series = append([]Interval(nil), r.mu.series...)
}

// fillFetch sets the consume figures that leave out the wait for the
// first record.
func (r *recorder) fillFetch(res *Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mu.records == 0 {
		return
	}
	res.FirstRecordSeconds = r.mu.first.Sub(r.start).Seconds()
	if secs := r.mu.last.Sub(r.mu.first).Seconds(); secs >= 0.01 {
		res.FetchRecordsPerSecond = float64(r.mu.records) / secs
		res.FetchMBPerSecond = float64(r.mu.bytes) / secs / 1e6
	}
}

func (r *recorder) firstError() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.firstErr
}

// progressLoop writes rec's progress line to w every second until ctx is
// done. With inPlace each line overwrites the last; the caller ends the
// line after the loop returns.
func progressLoop(done <-chan struct{}, rec *recorder, w io.Writer, inPlace bool) (wrote bool) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-done:
			return wrote
		case now := <-t.C:
			line := rec.tick(now)
			if w == nil {
				continue
			}
			if inPlace {
				line = "\r" + line + "\x1b[K"
			} else {
				line += "\n"
			}
			// A failed progress write (closed stderr) must not stop the
			// run; the summary reports what matters.
			_, _ = io.WriteString(w, line)
			wrote = true
		}
	}
}

// mergeErrors adds the failures of o to r.
func (r *recorder) mergeErrors(o *recorder) {
	o.mu.Lock()
	n, first := o.mu.errors, o.mu.firstErr
	o.mu.Unlock()
	if n == 0 {
		return
	}
	r.stopped.Store(true)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mu.errors += n
	if r.mu.firstErr == nil {
		r.mu.firstErr = first
	}
}
