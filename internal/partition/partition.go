// Package partition owns the replica state of one partition on this broker:
// the storage log, the leader epoch, the high watermark and the waiters that
// are woken when it advances (fetch long-polls now; acks=all waiters when
// replication arrives). It leaves the bytes on disk to package storage.
//
// On a single node the in-sync replica set is this broker alone, so the high
// watermark follows the log end offset: immediately after an append, or
// after the fsync when the log directory runs with fsync=always (so that no
// consumer ever sees a record that a crash could take back).
package partition

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-io/strata/internal/storage"
)

// Errors for the API layer.
var (
	ErrFencedLeaderEpoch  = errors.New("fenced leader epoch")
	ErrUnknownLeaderEpoch = errors.New("unknown leader epoch")
)

// Config sets a partition's replica state.
type Config struct {
	LeaderEpoch int32
	// SyncBeforeAck makes the high watermark wait for fsync (fsync=always).
	SyncBeforeAck bool
	Limits        Limits
}

// Limits are the topic settings the produce path checks, parsed once from
// the topic's configs and replaced when they change.
type Limits struct {
	MaxMessageBytes      int64 // max.message.bytes
	LogAppendTime        bool  // message.timestamp.type=LogAppendTime
	TimestampBeforeMaxMs int64 // message.timestamp.before.max.ms
	TimestampAfterMaxMs  int64 // message.timestamp.after.max.ms
	Compact              bool  // cleanup.policy has compact: every record needs a key
}

// Partition is one replica hosted on this broker.
type Partition struct {
	Topic   string   // set in New, never changed
	Index   int32    // set in New, never changed
	TopicID [16]byte // set in New, never changed
	log     *storage.Log
	sync    bool // set in New, never changed
	limits  atomic.Pointer[Limits]

	mu struct {
		sync.Mutex
		leaderEpoch   int32
		highWatermark int64
		waiters       map[chan<- struct{}]struct{}
	}
}

// New wraps an open log as the leader replica.
func New(log *storage.Log, cfg Config) *Partition {
	tp := log.TopicPartition()
	p := &Partition{Topic: tp.Topic, Index: tp.Partition, TopicID: log.TopicID(), log: log, sync: cfg.SyncBeforeAck}
	p.mu.leaderEpoch = cfg.LeaderEpoch
	p.SetLimits(cfg.Limits)
	// Whatever survived recovery is committed: this broker is the whole ISR.
	p.mu.highWatermark = log.LogEndOffset()
	log.SetHighWatermark(p.mu.highWatermark)
	p.mu.waiters = make(map[chan<- struct{}]struct{})
	return p
}

// Limits returns the current produce limits.
func (p *Partition) Limits() *Limits { return p.limits.Load() }

// SetLimits replaces the produce limits (topic config change).
func (p *Partition) SetLimits(l Limits) { p.limits.Store(&l) }

// Log returns the underlying log.
func (p *Partition) Log() *storage.Log { return p.log }

// LeaderEpoch returns the current leader epoch.
func (p *Partition) LeaderEpoch() int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.leaderEpoch
}

// HighWatermark returns the offset below which records are committed.
func (p *Partition) HighWatermark() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.highWatermark
}

// CheckLeaderEpoch validates a client's current leader epoch (KIP-320); -1
// skips the check.
func (p *Partition) CheckLeaderEpoch(epoch int32) error {
	if epoch < 0 {
		return nil
	}
	cur := p.LeaderEpoch()
	switch {
	case epoch < cur:
		return fmt.Errorf("%w: %d < %d", ErrFencedLeaderEpoch, epoch, cur)
	case epoch > cur:
		return fmt.Errorf("%w: %d > %d", ErrUnknownLeaderEpoch, epoch, cur)
	}
	return nil
}

// AppendAsLeader appends client batches. Unless the partition syncs before
// acknowledging, the records are committed on return.
func (p *Partition) AppendAsLeader(batches []byte, now time.Time) (storage.AppendInfo, error) {
	info, err := p.log.AppendAsLeader(batches, p.LeaderEpoch(), now)
	if err != nil {
		return info, err
	}
	if !p.sync {
		p.advanceHighWatermark(p.log.LogEndOffset())
	}
	return info, nil
}

// NeedsSync reports whether appends must be followed by Commit before they
// are acknowledged.
func (p *Partition) NeedsSync() bool { return p.sync }

// Commit makes every record below end durable and committed. It may block on
// fsync; concurrent callers share fsyncs.
func (p *Partition) Commit(end int64) error {
	if p.sync {
		if err := p.log.Sync(end); err != nil {
			return err
		}
	}
	p.advanceHighWatermark(end)
	return nil
}

func (p *Partition) advanceHighWatermark(hw int64) {
	if leo := p.log.LogEndOffset(); hw > leo {
		hw = leo
	}
	p.mu.Lock()
	if hw <= p.mu.highWatermark {
		p.mu.Unlock()
		return
	}
	p.mu.highWatermark = hw
	// Retention and DeleteRecords must never pass the high watermark.
	p.log.SetHighWatermark(hw)
	for ch := range p.mu.waiters {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	p.mu.Unlock()
}

// AddWaiter registers ch (buffered) to receive a value whenever the high
// watermark advances, until RemoveWaiter.
func (p *Partition) AddWaiter(ch chan<- struct{}) {
	p.mu.Lock()
	p.mu.waiters[ch] = struct{}{}
	p.mu.Unlock()
}

// RemoveWaiter unregisters ch.
func (p *Partition) RemoveWaiter(ch chan<- struct{}) {
	p.mu.Lock()
	delete(p.mu.waiters, ch)
	p.mu.Unlock()
}

// ReadResult is what a consumer fetch gets from a partition.
type ReadResult struct {
	storage.ReadResult
	HighWatermark  int64
	LogStartOffset int64
}

// Read reads committed batches starting at offset.
func (p *Partition) Read(offset int64, maxBytes int32, minOneBatch bool) (ReadResult, error) {
	hw := p.HighWatermark()
	res := ReadResult{HighWatermark: hw, LogStartOffset: p.log.LogStartOffset()}
	if offset > hw && offset <= p.log.LogEndOffset() {
		// Above the high watermark but in the log: nothing to read yet.
		return res, nil
	}
	r, err := p.log.Read(offset, maxBytes, hw, minOneBatch)
	if err != nil {
		return res, err
	}
	res.ReadResult = r
	return res, nil
}
