package partition

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/strata-io/strata/internal/storage"
)

// AppendAsLeader appends client batches in the current leader epoch. It
// fails with a *NotLeaderError on a follower, and for requiredAcks -1 with
// ErrNotEnoughReplicas while the ISR is smaller than min.insync.replicas
// (nothing is appended then). Without SyncBeforeAck a leader that is its own
// whole ISR has committed the records on return; otherwise WaitCommitted
// waits for them.
func (p *Partition) AppendAsLeader(batches []byte, now time.Time, requiredAcks int16) (storage.AppendInfo, error) {
	p.roleMu.RLock()
	defer p.roleMu.RUnlock()
	p.mu.Lock()
	if !p.mu.isLeader {
		err := p.notLeaderLocked()
		p.mu.Unlock()
		return storage.AppendInfo{}, err
	}
	if requiredAcks == -1 && len(p.mu.st.ISR) < p.minInsyncReplicas() {
		n := len(p.mu.st.ISR)
		p.mu.Unlock()
		return storage.AppendInfo{}, fmt.Errorf("%w: ISR has %d, min.insync.replicas is %d", ErrNotEnoughReplicas, n, p.minInsyncReplicas())
	}
	epoch := p.mu.st.LeaderEpoch
	p.mu.Unlock()

	// NB: roleMu (shared) keeps the epoch valid for the whole append: a
	// role change waits for it.
	info, err := p.log.AppendAsLeader(batches, epoch, now)
	if err != nil {
		return info, err
	}
	p.mu.Lock()
	p.maybeIncrementHighWatermarkLocked(p.cfg.Now())
	p.notifyLocked() // follower long-polls wait for the log end offset
	p.mu.Unlock()
	return info, nil
}

// WaitCommitted returns once the records below end may be acknowledged for
// requiredAcks: with SyncBeforeAck it first makes them durable (concurrent
// callers share fsyncs); for acks=-1 it then waits until the high watermark
// reaches end. It fails with ErrNotEnoughReplicasAfterAppend when the ISR
// that committed them is smaller than min.insync.replicas, with a
// *NotLeaderError when leadership (or the leader epoch) changes first, and
// with ctx's error when ctx ends (the request timeout: REQUEST_TIMED_OUT).
func (p *Partition) WaitCommitted(ctx context.Context, end int64, requiredAcks int16) error {
	if p.cfg.SyncBeforeAck {
		if err := p.log.Sync(end); err != nil {
			return err
		}
		p.mu.Lock()
		if p.mu.isLeader {
			p.maybeIncrementHighWatermarkLocked(p.cfg.Now())
		}
		p.mu.Unlock()
	}
	if requiredAcks != -1 {
		return nil
	}
	wake := make(chan struct{}, 1)
	p.AddWaiter(wake)
	defer p.RemoveWaiter(wake)
	p.mu.Lock()
	epoch := p.mu.st.LeaderEpoch
	p.mu.Unlock()
	for {
		p.mu.Lock()
		if !p.mu.isLeader || p.mu.st.LeaderEpoch != epoch {
			err := p.notLeaderLocked()
			p.mu.Unlock()
			return err
		}
		if p.mu.highWatermark >= end {
			n, minISR := len(p.mu.st.ISR), p.minInsyncReplicas()
			p.mu.Unlock()
			if n < minISR {
				return fmt.Errorf("%w: ISR has %d, min.insync.replicas is %d", ErrNotEnoughReplicasAfterAppend, n, minISR)
			}
			return nil
		}
		p.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// UpdateFollower records a follower's fetch at fetchOffset (its log end
// offset) at time now. It may advance the high watermark (reported by
// hwChanged; waiters are woken either way) and may propose adding the
// follower to the ISR. The API layer must not call it for a fetch that
// diverged (see DivergingEpoch): that offset is not on the leader's log.
// Unknown replicas, fetch offsets beyond the log end offset and calls on a
// follower are ignored.
func (p *Partition) UpdateFollower(replicaID int32, fetchOffset int64, now time.Time) (hwChanged bool) {
	p.mu.Lock()
	if !p.mu.isLeader {
		p.mu.Unlock()
		return false
	}
	f := p.mu.followers[replicaID]
	leo := p.log.LogEndOffset()
	if f == nil || fetchOffset < 0 || fetchOffset > leo {
		p.mu.Unlock()
		return false
	}
	// Kafka's ReplicaState.updateFetchState: a follower that fetched
	// everything is caught up now; one that reached what the leader had at
	// its previous fetch was caught up then.
	switch {
	case fetchOffset >= leo:
		f.lastCaughtUp = later(f.lastCaughtUp, now)
	case f.lastFetchLeaderLEO >= 0 && fetchOffset >= f.lastFetchLeaderLEO:
		f.lastCaughtUp = later(f.lastCaughtUp, f.lastFetchTime)
	}
	f.lastFetchLeaderLEO = leo
	f.lastFetchTime = now
	f.logEndOffset = fetchOffset

	var proposal *LeaderAndISR
	st := &p.mu.st
	if !slices.Contains(st.ISR, replicaID) && p.canProposeLocked(now) &&
		fetchOffset >= p.mu.highWatermark && fetchOffset >= p.mu.leaderEpochStartOffset {
		next := st.clone()
		next.ISR = append(next.ISR, replicaID)
		proposal = p.proposeLocked(next, now)
	}
	hwChanged = p.maybeIncrementHighWatermarkLocked(now)
	p.mu.Unlock()
	if proposal != nil {
		p.logger.Info("proposing ISR expansion", "leader_epoch", proposal.LeaderEpoch, "node_id", replicaID, "offset", fetchOffset, "isr", proposal.ISR)
		p.cfg.ISRChanger.ProposeISR(p, *proposal)
	}
	return hwChanged
}

// MaybeShrinkISR proposes removing ISR followers that have not caught up
// with the leader within ReplicaLagTimeMax (Kafka's isr-expiration task).
// The replication manager calls it periodically for the partitions it leads.
func (p *Partition) MaybeShrinkISR(now time.Time) {
	p.mu.Lock()
	if !p.mu.isLeader || !p.canProposeLocked(now) {
		p.mu.Unlock()
		return
	}
	leo := p.log.LogEndOffset()
	var out []int32
	for _, id := range p.mu.st.ISR {
		if id == p.cfg.NodeID {
			continue
		}
		f := p.mu.followers[id]
		if f == nil || (f.logEndOffset != leo && now.Sub(f.lastCaughtUp) > p.cfg.ReplicaLagTimeMax) {
			out = append(out, id)
		}
	}
	if len(out) == 0 {
		p.mu.Unlock()
		return
	}
	next := p.mu.st.clone()
	next.ISR = slices.DeleteFunc(next.ISR, func(id int32) bool { return slices.Contains(out, id) })
	proposal := p.proposeLocked(next, now)
	p.mu.Unlock()
	if proposal != nil {
		p.logger.Info("proposing ISR shrink", "leader_epoch", proposal.LeaderEpoch, "out_of_sync", out, "isr", proposal.ISR)
		p.cfg.ISRChanger.ProposeISR(p, *proposal)
	}
}

// canProposeLocked reports whether no ISR proposal is outstanding (or the
// outstanding one has gone unanswered too long).
func (p *Partition) canProposeLocked(now time.Time) bool {
	return p.cfg.ISRChanger != nil && (p.mu.pending == nil || now.Sub(p.mu.pendingAt) > isrProposalTimeout)
}

// proposeLocked records next as the outstanding proposal and returns a copy
// for the caller to send once it has released mu.
func (p *Partition) proposeLocked(next LeaderAndISR, now time.Time) *LeaderAndISR {
	p.mu.pending = &next
	p.mu.pendingAt = now
	out := next.clone()
	return &out
}

// maybeIncrementHighWatermarkLocked moves the leader's high watermark up to
// the minimum log end offset over the maximal ISR (Kafka's
// maybeIncrementLeaderHW). The caller holds mu and leads.
func (p *Partition) maybeIncrementHighWatermarkLocked(now time.Time) bool {
	leo := p.log.LogEndOffset()
	hw := leo
	if p.cfg.SyncBeforeAck {
		// NB: only durable records may be acknowledged or shown, or a crash
		// of this broker could take back what consumers saw.
		hw = min(hw, p.log.RecoveryPoint())
	}
	for id, f := range p.mu.followers {
		inMaximalISR := slices.Contains(p.mu.st.ISR, id) || (p.mu.pending != nil && slices.Contains(p.mu.pending.ISR, id))
		// A caught-up replica outside the ISR holds the high watermark
		// back, or a fast producer could keep it from ever reaching the
		// high watermark and joining.
		waitToJoin := f.logEndOffset >= 0 && (f.logEndOffset == leo || now.Sub(f.lastCaughtUp) <= p.cfg.ReplicaLagTimeMax)
		if (inMaximalISR || waitToJoin) && f.logEndOffset < hw {
			hw = f.logEndOffset
		}
	}
	if hw <= p.mu.highWatermark {
		return false
	}
	p.setHighWatermarkLocked(hw)
	return true
}

// DivergingEpoch checks a follower's fetch position against the leader's
// log (KIP-595's fetch-time truncation, as Kafka does it for Fetch v12+):
// when the follower's last fetched epoch ends earlier on the leader than
// fetchOffset, or the leader does not know that epoch, diverged is true and
// the Fetch response's DivergingEpoch gets (epoch, endOffset): the largest
// epoch <= lastFetchedEpoch the leader has and where it ends. A
// lastFetchedEpoch of -1 skips the check.
func (p *Partition) DivergingEpoch(lastFetchedEpoch int32, fetchOffset int64) (epoch int32, endOffset int64, diverged bool) {
	if lastFetchedEpoch < 0 {
		return -1, -1, false
	}
	p.mu.Lock()
	curEpoch, leading := p.mu.st.LeaderEpoch, p.mu.isLeader
	p.mu.Unlock()
	epoch, endOffset = p.log.EndOffsetForEpoch(lastFetchedEpoch)
	if epoch < 0 && leading && lastFetchedEpoch <= curEpoch {
		// NB: the epoch cache learns the current epoch only at its first
		// append. Kafka adds it when the broker becomes leader; answer as
		// if it had: an epoch after the latest cached one ends where the
		// current epoch starts, which is the log end offset until then.
		epoch = p.log.LatestEpoch()
		if epoch < 0 {
			epoch = lastFetchedEpoch
		}
		endOffset = p.log.LogEndOffset()
	}
	if epoch < lastFetchedEpoch || endOffset < fetchOffset {
		return epoch, endOffset, true
	}
	return -1, -1, false
}

// ReadForFollower reads batches for a follower's fetch, up to the log end
// offset, with the high watermark and log start offset for the response.
// Offsets outside the log give storage.ErrOffsetOutOfRange; a follower
// partition gives a *NotLeaderError.
func (p *Partition) ReadForFollower(offset int64, maxBytes int32) (ReadResult, error) {
	p.mu.Lock()
	if !p.mu.isLeader {
		err := p.notLeaderLocked()
		p.mu.Unlock()
		return ReadResult{HighWatermark: -1, LogStartOffset: -1}, err
	}
	res := ReadResult{HighWatermark: p.mu.highWatermark, LogStartOffset: p.log.LogStartOffset()}
	p.mu.Unlock()
	r, err := p.log.Read(offset, maxBytes, math.MaxInt64, true)
	if err != nil {
		return res, err
	}
	res.ReadResult = r
	return res, nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
