package storage

import (
	"sync"
	"time"

	"github.com/strata-io/strata/internal/storage/vfs"
)

// groupSyncer runs the fsyncs of a log directory (group commit across
// partitions). A log with Sync waiters is queued once, however many
// waiters it has; up to threads workers take logs from the queue in FIFO
// order and fsync each (Log.runSync), releasing every waiter the fsync
// covers. Waiters that arrive while a log's fsync runs either join it (it
// covers their offset) or wait for the log's next one, so concurrent
// appenders of one log share fsyncs, and a produce request spanning many
// partitions waits for roughly one parallel fsync rather than one per
// partition.
//
// Workers start on demand when a log is queued and exit when the queue is
// empty; LogDir.Close waits for them. With a GroupCommitDelay, one worker
// sleeps until the head of the queue is due (or GroupCommitBytes cuts the
// wait short) while the others exit.
type groupSyncer struct {
	threads  int           // set in newGroupSyncer, never changed
	delay    time.Duration // set in newGroupSyncer, never changed
	maxBytes int64         // set in newGroupSyncer, never changed
	metrics  *Metrics      // set in newGroupSyncer, never changed; nil records nothing

	// fsyncFile makes one segment file durable: fdatasync. Tests replace it
	// before any log is synced to observe or fail fsyncs.
	fsyncFile func(l *Log, f vfs.File) error

	mu struct {
		sync.Mutex
		queue     []queuedLog // FIFO from head on; a log at most once (Log.sync.queued)
		head      int         // index of the first entry still queued
		workers   int         // running workerLoops
		sleeping  bool        // a worker waits for the head's delay to pass
		expedited int         // entries from head on that skip the delay (GroupCommitBytes)
		closed    bool        // wait was called: no more workers start
	}
	wake chan struct{} // buffer 1: cuts a sleeping worker's wait short
	wg   sync.WaitGroup
}

// queuedLog is a log waiting for a worker, due for its fsync at due.
type queuedLog struct {
	l   *Log
	due time.Time
}

func newGroupSyncer(cfg Config) *groupSyncer {
	threads := cfg.FsyncThreads
	if threads <= 0 {
		threads = defaultFsyncThreads
	}
	return &groupSyncer{
		threads:   threads,
		delay:     cfg.GroupCommitDelay,
		maxBytes:  cfg.GroupCommitBytes,
		metrics:   cfg.Metrics,
		fsyncFile: func(_ *Log, f vfs.File) error { return f.SyncData() },
		wake:      make(chan struct{}, 1),
	}
}

// enqueue queues l, whose Log.sync.queued the caller just set, and starts
// a worker if one more may run. NB: while a worker sleeps for the head's
// delay no worker starts: l is due after the head, and the sleeper starts
// helpers when it wakes.
func (s *groupSyncer) enqueue(l *Log) {
	var due time.Time
	if s.delay > 0 {
		due = time.Now().Add(s.delay)
	}
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		// Only a log closed meanwhile gets here (LogDir.Close closes every
		// log first): runSync does no I/O for it.
		l.runSync()
		return
	}
	s.mu.queue = append(s.mu.queue, queuedLog{l: l, due: due})
	if s.mu.workers < s.threads && !s.mu.sleeping {
		s.mu.workers++
		s.wg.Go(s.workerLoop)
	}
	s.mu.Unlock()
}

// expedite makes every queued log due now: one of them holds
// GroupCommitBytes unsynced bytes.
func (s *groupSyncer) expedite() {
	s.mu.Lock()
	s.mu.expedited = len(s.mu.queue) - s.mu.head
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// workerLoop fsyncs queued logs until the queue is empty.
func (s *groupSyncer) workerLoop() {
	for {
		l := s.take()
		if l == nil {
			return
		}
		l.runSync()
	}
}

// take removes the head of the queue once it is due and returns it; nil
// tells the worker to exit (the queue is empty, or another worker already
// sleeps until the head is due).
func (s *groupSyncer) take() *Log {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.mu.head == len(s.mu.queue) {
			s.mu.queue, s.mu.head = s.mu.queue[:0], 0
			s.mu.workers--
			return nil
		}
		q := s.mu.queue[s.mu.head]
		if s.mu.expedited == 0 && s.delay > 0 && !s.mu.closed {
			if wait := time.Until(q.due); wait > 0 {
				if s.mu.sleeping {
					s.mu.workers--
					return nil
				}
				s.mu.sleeping = true
				s.mu.Unlock()
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-s.wake:
				}
				t.Stop()
				s.mu.Lock()
				s.mu.sleeping = false
				continue
			}
		}
		s.mu.queue[s.mu.head] = queuedLog{}
		s.mu.head++
		s.mu.expedited = max(s.mu.expedited-1, 0)
		if n := len(s.mu.queue); s.mu.head >= 1024 && s.mu.head*2 >= n {
			// Reuse the front of the array instead of growing it forever
			// under a queue that never drains.
			k := copy(s.mu.queue, s.mu.queue[s.mu.head:])
			clear(s.mu.queue[k:])
			s.mu.queue, s.mu.head = s.mu.queue[:k], 0
		}
		if s.mu.head < len(s.mu.queue) && s.mu.workers < s.threads && !s.mu.sleeping && !s.mu.closed {
			// More work queued while other workers exited (a sleeper just
			// woke, or workers left during the delay): spread it.
			s.mu.workers++
			s.wg.Go(s.workerLoop)
		}
		return q.l
	}
}

// close stops workers from starting and returns once every worker has
// exited. The caller closed every log first, so the queue drains at once.
func (s *groupSyncer) close() {
	s.mu.Lock()
	s.mu.closed = true
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}: // a sleeping worker stops waiting out the delay
	default:
	}
	s.wg.Wait()
}
