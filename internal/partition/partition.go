package partition

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-io/strata/internal/storage"
)

// DefaultReplicaLagTimeMax is replica.lag.time.max.ms's default.
const DefaultReplicaLagTimeMax = 30 * time.Second

// stallLogAfter is how long the high watermark may stay put while acks=all
// producers wait before the leader logs what it waits for (and how often it
// logs again while the stall lasts).
const stallLogAfter = 5 * time.Second

// LeaderAndISR is a partition's replica state as the metadata image gives it.
type LeaderAndISR struct {
	Leader         int32 // -1 when the partition is offline
	LeaderEpoch    int32
	PartitionEpoch int32
	Replicas       []int32
	ISR            []int32
	// ReplicaEpochs has, for each of Replicas in the same order, the
	// broker epoch of that replica's registration when it is ISR-eligible,
	// or -1 when it is not: unregistered, fenced or in controlled shutdown
	// (KIP-841; the epoch is KIP-903's check). Only eligible replicas are
	// added to the ISR or hold the high watermark back from outside it.
	// Nil means every replica is eligible at any epoch.
	ReplicaEpochs []int64
}

func (s LeaderAndISR) clone() LeaderAndISR {
	s.Replicas = slices.Clone(s.Replicas)
	s.ISR = slices.Clone(s.ISR)
	s.ReplicaEpochs = slices.Clone(s.ReplicaEpochs)
	return s
}

// eligible reports whether replica id may be in the ISR, given the broker
// epoch its fetches carry (-1 when unknown).
func (s *LeaderAndISR) eligible(id int32, fetchEpoch int64) bool {
	if s.ReplicaEpochs == nil {
		return true
	}
	i := slices.Index(s.Replicas, id)
	if i < 0 || i >= len(s.ReplicaEpochs) || s.ReplicaEpochs[i] < 0 {
		return false
	}
	return fetchEpoch < 0 || fetchEpoch == s.ReplicaEpochs[i]
}

// ISRProposal is a leader's request to change the ISR (AlterPartition).
type ISRProposal struct {
	// LeaderAndISR is the committed state the proposal is based on (its
	// leader and partition epochs, so a stale one is rejected) with the
	// proposed ISR.
	LeaderAndISR
	// BrokerEpochs has, for each member of ISR in the same order, the
	// broker epoch its fetches carried, or -1 when unknown (KIP-903).
	BrokerEpochs []int64
}

// ISRChanger carries ISR proposals to the controller (AlterPartition). It is
// asynchronous: an applied proposal arrives as a new image (MakeLeader with
// a higher partition epoch). Until then the proposal is pending: its members
// count toward the high watermark (the maximal ISR) and no other proposal
// is made. The changer retries a proposal whose outcome it does not know;
// when the controller rejects it without applying it (INELIGIBLE_REPLICA)
// it calls Partition.RejectISRProposal.
type ISRChanger interface {
	ProposeISR(p *Partition, prop ISRProposal)
}

// Config sets a partition's behaviour. Zero values take defaults.
type Config struct {
	NodeID int32 // this broker
	// SyncBeforeAck makes the high watermark wait for fsync (fsync=always):
	// the leader counts only its durable offset, and a follower syncs what
	// it appended before it fetches (reports) again.
	SyncBeforeAck bool
	Limits        Limits
	// MinInsyncReplicas applies when Limits.MinInsyncReplicas is 0; 0 means 1.
	MinInsyncReplicas int
	// ReplicaLagTimeMax is replica.lag.time.max.ms (0: 30s).
	ReplicaLagTimeMax time.Duration
	// ISRChanger receives ISR proposals; nil drops them (the ISR then never
	// changes, which is right only for a single replica).
	ISRChanger ISRChanger
	Now        func() time.Time // nil: time.Now
	// Metrics, shared by a broker's partitions, counts traffic and leader
	// changes; nil counts nothing.
	Metrics *Metrics
	Logger  *slog.Logger // nil: discard
}

// Limits are the topic settings the produce path checks, parsed once from
// the topic's configs and replaced when they change.
type Limits struct {
	MaxMessageBytes      int64 // max.message.bytes
	LogAppendTime        bool  // message.timestamp.type=LogAppendTime
	TimestampBeforeMaxMs int64 // message.timestamp.before.max.ms
	TimestampAfterMaxMs  int64 // message.timestamp.after.max.ms
	Compact              bool  // cleanup.policy has compact: every record needs a key
	MinInsyncReplicas    int   // min.insync.replicas; 0 defers to Config.MinInsyncReplicas
}

// followerState is what the leader knows of one follower, from its fetches
// in the current leader epoch (Kafka's ReplicaState).
type followerState struct {
	logEndOffset       int64     // -1 until it fetches in this epoch
	brokerEpoch        int64     // from its last fetch (Fetch v15+), -1 if unknown
	logStartOffset     int64     // from its last fetch (Fetch v5+), -1 if unknown
	lastCaughtUp       time.Time // last time it had everything the leader had
	lastFetchLeaderLEO int64     // leader's log end offset at its previous fetch, -1 if none
	lastFetchTime      time.Time
}

// Partition is one replica hosted on this broker.
type Partition struct {
	Topic   string   // set in New, never changed
	Index   int32    // set in New, never changed
	TopicID [16]byte // set in New, never changed
	// log is the current log: replaced only by SwapLog (a move between
	// log directories), under roleMu held exclusively.
	log    atomic.Pointer[storage.Log]
	cfg    Config // set in New, never changed (defaults filled)
	logger *slog.Logger
	limits atomic.Pointer[Limits]
	// counters are the topic's metrics; set in New, never changed; nil
	// when metrics are off.
	counters *topicCounters
	// acksWaiting counts acks=all WaitCommitted calls in progress, for the
	// stall log; atomic so the produce path takes no extra lock for it.
	acksWaiting atomic.Int32

	// roleMu is held shared by appends (leader and follower) and
	// exclusively by MakeLeader, MakeFollower and truncations, so that no
	// append straddles a role change (Kafka's leaderIsrUpdateLock).
	// Taken before mu.
	roleMu sync.RWMutex

	mu struct {
		sync.Mutex
		st            LeaderAndISR // from the image
		isLeader      bool
		highWatermark int64
		// leaderEpochStartOffset is the log end offset when this broker
		// became leader in the current epoch; a follower must reach it
		// to join the ISR.
		leaderEpochStartOffset int64
		followers              map[int32]*followerState // leader only: every replica but this one
		pending                *ISRProposal             // ISR proposal in flight, nil if none
		pendingAt              time.Time
		waiters                map[chan<- struct{}]struct{}
		// hwMovedAt is when the high watermark last moved (or this
		// broker became leader), and stallLoggedAt when a stall was
		// last logged (see logStallLocked).
		hwMovedAt     time.Time
		stallLoggedAt time.Time
	}
}

// New wraps an open log. st is the partition's state in the metadata image:
// the partition starts as leader when st.Leader is cfg.NodeID, else as
// follower. A leader that is its own whole ISR treats whatever survived
// recovery as committed; otherwise the high watermark starts at the log
// start offset and moves up as replicas report.
func New(log *storage.Log, cfg Config, st LeaderAndISR) *Partition {
	if cfg.ReplicaLagTimeMax <= 0 {
		cfg.ReplicaLagTimeMax = DefaultReplicaLagTimeMax
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	tp := log.TopicPartition()
	p := &Partition{Topic: tp.Topic, Index: tp.Partition, TopicID: log.TopicID(), cfg: cfg, counters: cfg.Metrics.topic(tp.Topic)}
	p.log.Store(log)
	p.logger = cfg.Logger.With("topic", tp.Topic, "partition", tp.Partition)
	p.SetLimits(cfg.Limits)
	p.mu.waiters = make(map[chan<- struct{}]struct{})
	p.mu.st = st.clone()
	// The high watermark restarts where it was checkpointed (a committed
	// offset, at most the log end), so consumers need not wait for the ISR
	// to report again; a leader alone in its ISR has committed everything.
	p.mu.highWatermark = max(log.LogStartOffset(), log.CheckpointedHighWatermark())
	if st.Leader == cfg.NodeID && slices.Equal(st.ISR, []int32{cfg.NodeID}) {
		p.mu.highWatermark = log.LogEndOffset()
	}
	if st.Leader == cfg.NodeID {
		p.becomeLeaderLocked(st, true)
	}
	log.SetHighWatermark(p.mu.highWatermark)
	return p
}

// Limits returns the current produce limits.
func (p *Partition) Limits() *Limits { return p.limits.Load() }

// SetLimits replaces the produce limits (topic config change).
func (p *Partition) SetLimits(l Limits) { p.limits.Store(&l) }

// NeedsSync reports whether the partition syncs before acknowledging, so
// that even acks=1 and acks=0 appends must go through WaitCommitted.
func (p *Partition) NeedsSync() bool { return p.cfg.SyncBeforeAck }

// Log returns the underlying log.
func (p *Partition) Log() *storage.Log { return p.log.Load() }

// minInsyncReplicas returns the effective min.insync.replicas.
func (p *Partition) minInsyncReplicas() int {
	n := p.Limits().MinInsyncReplicas
	if n <= 0 {
		n = p.cfg.MinInsyncReplicas
	}
	return max(n, 1)
}

// State returns the replica state last applied from the image.
func (p *Partition) State() LeaderAndISR {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.st.clone()
}

// IsLeader reports whether this broker leads the partition.
func (p *Partition) IsLeader() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.isLeader
}

// LeaderEpoch returns the current leader epoch.
func (p *Partition) LeaderEpoch() int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.st.LeaderEpoch
}

// HighWatermark returns the offset below which records are committed.
func (p *Partition) HighWatermark() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.highWatermark
}

// LogEndOffset returns the offset the next record gets.
func (p *Partition) LogEndOffset() int64 { return p.Log().LogEndOffset() }

// LastFetchedEpoch returns the leader epoch of the last batch in the log, -1
// if none (a follower's Fetch LastFetchedEpoch).
func (p *Partition) LastFetchedEpoch() int32 { return p.Log().LatestEpoch() }

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

// MakeLeader applies an image state that names this broker leader: it
// becomes leader, moves to a new leader epoch, or takes an ISR or replica
// change. A new epoch forgets what the followers had fetched and records the
// log end offset as the epoch's start (the log's epoch cache gets the epoch
// at the first append). A state older than the current one is ignored; one
// from an older leader epoch gives ErrFencedLeaderEpoch.
func (p *Partition) MakeLeader(st LeaderAndISR) error {
	if st.Leader != p.cfg.NodeID {
		return fmt.Errorf("make leader: state names leader %d, this broker is %d", st.Leader, p.cfg.NodeID)
	}
	p.roleMu.Lock()
	defer p.roleMu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	cur := p.mu.st
	if st.LeaderEpoch < cur.LeaderEpoch {
		return fmt.Errorf("%w: make leader with epoch %d < %d", ErrFencedLeaderEpoch, st.LeaderEpoch, cur.LeaderEpoch)
	}
	newEpoch := !p.mu.isLeader || st.LeaderEpoch != cur.LeaderEpoch
	if !newEpoch && st.PartitionEpoch < cur.PartitionEpoch {
		return nil // an image older than what we already applied
	}
	p.becomeLeaderLocked(st, newEpoch)
	return nil
}

// becomeLeaderLocked installs st as leader state. The caller holds mu (and
// roleMu exclusively, or is New).
func (p *Partition) becomeLeaderLocked(st LeaderAndISR, newEpoch bool) {
	now := p.cfg.Now()
	prev := p.mu.st
	p.countLeaderChange(newEpoch, prev.ISR, st.ISR)
	p.mu.st = st.clone()
	p.mu.isLeader = true
	if newEpoch {
		p.mu.leaderEpochStartOffset = p.Log().LogEndOffset()
		p.mu.followers = make(map[int32]*followerState)
		p.mu.pending = nil
		p.mu.hwMovedAt = now
		p.logger.Debug("became leader", "leader_epoch", st.LeaderEpoch, "offset", p.mu.leaderEpochStartOffset, "isr", st.ISR)
	} else if !slices.Equal(prev.ISR, st.ISR) {
		p.logger.Info("ISR changed", "leader_epoch", st.LeaderEpoch, "isr", st.ISR, "partition_epoch", st.PartitionEpoch)
	}
	if p.mu.pending != nil && st.PartitionEpoch > p.mu.pending.PartitionEpoch {
		// Applied or superseded: either way the controller has answered.
		p.mu.pending = nil
	}
	// Track exactly the other replicas. A new epoch starts every follower
	// unknown; an ISR member gets ReplicaLagTimeMax from now to report.
	for id := range p.mu.followers {
		if id == p.cfg.NodeID || !slices.Contains(st.Replicas, id) {
			delete(p.mu.followers, id)
		}
	}
	for _, id := range st.Replicas {
		if id == p.cfg.NodeID || p.mu.followers[id] != nil {
			continue
		}
		f := &followerState{logEndOffset: -1, brokerEpoch: -1, logStartOffset: -1, lastFetchLeaderLEO: -1}
		if slices.Contains(st.ISR, id) {
			f.lastCaughtUp = now
		}
		p.mu.followers[id] = f
	}
	p.maybeIncrementHighWatermarkLocked(now)
	p.notifyLocked() // acks=all waiters re-check the ISR and epoch
}

// MakeFollower applies an image state that names another broker (or none)
// leader. It ends leader duties: acks=all waiters get a NotLeaderError.
// changed reports a new leader or leader epoch, after which the fetcher must
// check for divergence again; Manager.Follow is idempotent, so callers may
// call it either way. A state older than the current one is ignored; one
// from an older leader epoch gives ErrFencedLeaderEpoch.
func (p *Partition) MakeFollower(st LeaderAndISR) (changed bool, err error) {
	if st.Leader == p.cfg.NodeID {
		return false, fmt.Errorf("make follower: state names this broker (%d) leader", st.Leader)
	}
	p.roleMu.Lock()
	defer p.roleMu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	cur := p.mu.st
	if st.LeaderEpoch < cur.LeaderEpoch {
		return false, fmt.Errorf("%w: make follower with epoch %d < %d", ErrFencedLeaderEpoch, st.LeaderEpoch, cur.LeaderEpoch)
	}
	changed = p.mu.isLeader || st.LeaderEpoch != cur.LeaderEpoch || st.Leader != cur.Leader
	if !changed && st.PartitionEpoch < cur.PartitionEpoch {
		return false, nil
	}
	if changed {
		p.logger.Debug("became follower", "leader_epoch", st.LeaderEpoch, "leader", st.Leader)
	}
	p.mu.st = st.clone()
	p.mu.isLeader = false
	p.mu.followers = nil
	p.mu.pending = nil
	p.capHighWatermarkLocked()
	p.notifyLocked()
	return changed, nil
}

// notLeaderLocked returns the error for a leader-only call on a follower.
func (p *Partition) notLeaderLocked() error {
	return &NotLeaderError{Leader: p.mu.st.Leader, LeaderEpoch: p.mu.st.LeaderEpoch}
}

// setHighWatermarkLocked publishes hw to the log and wakes waiters.
func (p *Partition) setHighWatermarkLocked(hw int64) {
	p.mu.highWatermark = hw
	p.mu.hwMovedAt = p.cfg.Now()
	// Retention and DeleteRecords must never pass the high watermark.
	p.Log().SetHighWatermark(hw)
	p.notifyLocked()
}

// capHighWatermarkLocked keeps the high watermark at or below the log end
// offset (after a truncation or when leadership ends).
func (p *Partition) capHighWatermarkLocked() {
	if leo := p.Log().LogEndOffset(); p.mu.highWatermark > leo {
		p.setHighWatermarkLocked(leo)
	}
}

// notifyLocked wakes every waiter without blocking.
func (p *Partition) notifyLocked() {
	for ch := range p.mu.waiters {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// AddWaiter registers ch (buffered) to receive a value whenever the high
// watermark or the log end offset advances, or the replica state changes,
// until RemoveWaiter.
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
