package coordinator

import (
	"context"
	"fmt"
)

// Writes. The loop appends (fast) and queues the end for the committer; the
// committer waits in Log.Commit and posts the result back; the loop then
// completes every write up to the committed end, in log order.

type pendingWrite struct {
	end  int64
	done func(err error) // runs on the loop
	then []func()        // run on the loop after done
}

type commitResult struct {
	end int64
	err error
}

// Write appends recs as one batch and calls done on the loop once they are
// committed, or with the error. It returns the offset of the first record
// (record i is at that offset + i), -1 when the append failed. Call it on
// the loop. NB: when the append itself fails, done runs before Write
// returns. A write still in flight when the loop stops never completes:
// its request is answered by the loop stopping (Call's ErrNotCoordinator).
func (l *Loop) Write(recs []Record, done func(err error)) int64 {
	return l.write(int64(len(recs)), func() (int64, error) { return l.log.Append(recs) }, done)
}

// WriteTransactional is Write for a transactional batch of the producer
// (Log.AppendTransactional): the records take effect once the producer's
// COMMIT marker follows them (WriteMarker, and MarkerShard at load).
func (l *Loop) WriteTransactional(producerID int64, producerEpoch int16, recs []Record, done func(err error)) int64 {
	return l.write(int64(len(recs)), func() (int64, error) {
		return l.log.AppendTransactional(producerID, producerEpoch, recs)
	}, done)
}

// WriteMarker writes the transaction marker (COMMIT or ABORT) that ends
// the producer's transaction on this partition (Log.AppendMarker), ordered
// with the loop's other writes, and calls done on the loop once it is
// committed, or with the error (fencing errors pass through, errors.Is
// finds them). It returns the marker's offset, -1 when the append failed.
func (l *Loop) WriteMarker(producerID int64, producerEpoch int16, coordinatorEpoch int32, commit bool, done func(err error)) int64 {
	return l.write(1, func() (int64, error) {
		return l.log.AppendMarker(producerID, producerEpoch, coordinatorEpoch, commit)
	}, done)
}

// write appends n offsets with appendFn and queues their commit.
func (l *Loop) write(n int64, appendFn func() (int64, error), done func(err error)) int64 {
	end, err := appendFn()
	if err != nil {
		done(fmt.Errorf("append to %s-%d: %w", l.topic, l.partition, err))
		return -1
	}
	l.inflight = append(l.inflight, &pendingWrite{end: end, done: done})
	l.commitQ.Lock()
	if end > l.commitQ.want {
		l.commitQ.want = end
	}
	l.commitQ.Unlock()
	select {
	case l.commitSignal <- struct{}{}:
	default:
	}
	return end - n
}

// AfterPendingWrites runs fn on the loop once every write appended so far
// has completed (at once when none is in flight). Call it on the loop.
func (l *Loop) AfterPendingWrites(fn func()) {
	if len(l.inflight) == 0 {
		fn()
		return
	}
	last := l.inflight[len(l.inflight)-1]
	last.then = append(last.then, fn)
}

func (l *Loop) onCommitted(r commitResult) {
	for len(l.inflight) > 0 && l.inflight[0].end <= r.end {
		w := l.inflight[0]
		l.inflight[0] = nil
		l.inflight = l.inflight[1:]
		err := r.err
		if err != nil {
			err = fmt.Errorf("commit %s-%d up to %d: %w", l.topic, l.partition, r.end, err)
		}
		w.done(err)
		for _, fn := range w.then {
			fn()
		}
	}
}

// commitLoop waits for commits the loop asked for; owned by run.
func (l *Loop) commitLoop(ctx context.Context) {
	var committed int64 = -1
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.commitSignal:
		}
		l.commitQ.Lock()
		want := l.commitQ.want
		l.commitQ.Unlock()
		if want <= committed {
			continue
		}
		err := l.log.Commit(ctx, want)
		if err == nil {
			committed = want
		}
		select {
		case l.commit <- commitResult{end: want, err: err}:
		case <-ctx.Done():
			return
		}
	}
}
