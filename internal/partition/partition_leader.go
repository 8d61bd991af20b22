package partition

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/strata-io/strata/internal/failpoint"
	"github.com/strata-io/strata/internal/storage"
)

// AppendAsLeader appends client batches in the current leader epoch. It
// fails with a *NotLeaderError on a follower, and for requiredAcks -1 with
// ErrNotEnoughReplicas while the ISR is smaller than min.insync.replicas
// (nothing is appended then). Without SyncBeforeAck a leader that is its own
// whole ISR has committed the records on return; otherwise WaitCommitted
// waits for them.
func (p *Partition) AppendAsLeader(batches []byte, now time.Time, requiredAcks int16) (storage.AppendInfo, error) {
	return p.appendAsLeader(requiredAcks, func(epoch int32) (storage.AppendInfo, error) {
		return p.Log().AppendAsLeader(batches, epoch, now)
	})
}

// AppendVerifiedAsLeader is AppendAsLeader for a produce whose
// transactional batches went through transaction verification (KIP-890
// part 1): see storage.Log.AppendVerifiedAsLeader for how guard, from
// StartTxnVerification, gates a batch that starts a transaction.
func (p *Partition) AppendVerifiedAsLeader(batches []byte, now time.Time, requiredAcks int16, guard *storage.VerificationGuard) (storage.AppendInfo, error) {
	return p.appendAsLeader(requiredAcks, func(epoch int32) (storage.AppendInfo, error) {
		return p.Log().AppendVerifiedAsLeader(batches, epoch, now, guard)
	})
}

// StartTxnVerification begins verifying that this partition is in the
// ongoing transaction of producerID in producerEpoch: nil when the log
// already has that transaction (no need to ask the coordinator), else the
// guard for AppendVerifiedAsLeader (storage.Log.StartTxnVerification).
func (p *Partition) StartTxnVerification(producerID int64, producerEpoch int16) *storage.VerificationGuard {
	return p.Log().StartTxnVerification(producerID, producerEpoch, p.cfg.Now())
}

// AppendControlAsLeader appends a transaction marker (WriteTxnMarkers)
// ending producerID's ongoing transaction on this leader, in the current
// leader epoch, as an acks=all append (min.insync.replicas applies, as in
// Kafka); see storage.Log.AppendControlAsLeader for the fencing errors.
// WaitCommitted then waits for the marker to be replicated.
func (p *Partition) AppendControlAsLeader(producerID int64, producerEpoch int16, coordinatorEpoch int32, commit bool, now time.Time) (storage.AppendInfo, error) {
	return p.appendAsLeader(-1, func(epoch int32) (storage.AppendInfo, error) {
		return p.Log().AppendControlAsLeader(producerID, producerEpoch, coordinatorEpoch, commit, epoch, now)
	})
}

// AppendAsCoordinator appends batches a coordinator writes to this
// internal-topic partition it leads (the group coordinator's transactional
// offset commits: producer id and epoch, no sequence), as an acks=all
// append; see storage.Log.AppendAsCoordinator for what is skipped and what
// is still checked. WaitCommitted then waits for them to be replicated.
func (p *Partition) AppendAsCoordinator(batches []byte, now time.Time) (storage.AppendInfo, error) {
	return p.appendAsLeader(-1, func(epoch int32) (storage.AppendInfo, error) {
		return p.Log().AppendAsCoordinator(batches, epoch, now)
	})
}

// appendAsLeader runs appendFn in the current leader epoch with the leader
// checks of AppendAsLeader, then moves the high watermark and wakes
// waiters.
func (p *Partition) appendAsLeader(requiredAcks int16, appendFn func(epoch int32) (storage.AppendInfo, error)) (storage.AppendInfo, error) {
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
	info, err := appendFn(epoch)
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
		if err := p.Log().Sync(end); err != nil {
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
	if failpoint.Inject(failpoint.AckBeforeISR) {
		return nil // broken on purpose: acks=all answered before the ISR has the records
	}
	wake := make(chan struct{}, 1)
	p.AddWaiter(wake)
	defer p.RemoveWaiter(wake)
	p.acksWaiting.Add(1)
	defer p.acksWaiting.Add(-1)
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
// offset) at time now; brokerEpoch is the broker epoch the fetch carried
// (Fetch v15+ ReplicaState), -1 if none. It may advance the high watermark
// (reported by hwChanged; waiters are woken either way) and may propose
// adding the follower to the ISR. The API layer must not call it for a
// fetch that diverged (see DivergingEpoch): that offset is not on the
// leader's log. logStartOffset is the follower's log start offset (Fetch
// v5+; -1 if not sent), for DeleteRecords' low watermark. Unknown replicas,
// fetch offsets beyond the log end offset and calls on a follower are
// ignored.
func (p *Partition) UpdateFollower(replicaID int32, brokerEpoch, fetchOffset, logStartOffset int64, now time.Time) (hwChanged bool) {
	p.mu.Lock()
	if !p.mu.isLeader {
		p.mu.Unlock()
		return false
	}
	f := p.mu.followers[replicaID]
	leo := p.Log().LogEndOffset()
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
	if brokerEpoch >= 0 {
		f.brokerEpoch = brokerEpoch
	}
	lowWatermarkMoved := logStartOffset > f.logStartOffset
	if lowWatermarkMoved {
		f.logStartOffset = logStartOffset
	}

	var proposal *ISRProposal
	st := &p.mu.st
	// NB: an ineligible replica (fenced, shutting down, another broker
	// epoch) is never proposed: the controller would refuse it, and while
	// the proposal is pending it would hold the high watermark back.
	if !slices.Contains(st.ISR, replicaID) && p.canProposeLocked() && st.eligible(replicaID, f.brokerEpoch) &&
		fetchOffset >= p.mu.highWatermark && fetchOffset >= p.mu.leaderEpochStartOffset {
		proposal = p.proposeLocked(append(slices.Clone(st.ISR), replicaID), now)
	}
	hwChanged = p.maybeIncrementHighWatermarkLocked(now)
	if lowWatermarkMoved && !hwChanged {
		p.notifyLocked() // a DeleteRecords may wait for it
	}
	p.mu.Unlock()
	if proposal != nil {
		p.logger.Info("proposing ISR expansion", "leader_epoch", proposal.LeaderEpoch, "node_id", replicaID, "offset", fetchOffset, "isr", proposal.ISR)
		p.cfg.ISRChanger.ProposeISR(p, *proposal)
	}
	return hwChanged
}

// MaybeShrinkISR proposes removing ISR followers that have not caught up
// with the leader within ReplicaLagTimeMax (Kafka's isr-expiration task),
// or that fetch below the high watermark,
// and logs why the high watermark is stuck if acks=all producers have
// waited on it for long. The replication manager calls it periodically for
// the partitions it leads.
func (p *Partition) MaybeShrinkISR(now time.Time) {
	p.mu.Lock()
	if !p.mu.isLeader {
		p.mu.Unlock()
		return
	}
	p.logStallLocked(now)
	if !p.canProposeLocked() {
		p.mu.Unlock()
		return
	}
	leo := p.Log().LogEndOffset()
	var out []int32
	for _, id := range p.mu.st.ISR {
		if id == p.cfg.NodeID {
			continue
		}
		f := p.mu.followers[id]
		// NB: an in-sync follower holds everything below the high
		// watermark; one fetching below it has lost committed records (it
		// truncated a corrupt batch to fetch it again) and must not be
		// elected until it has them back.
		if f == nil || (f.logEndOffset != leo && now.Sub(f.lastCaughtUp) > p.cfg.ReplicaLagTimeMax) ||
			(f.logEndOffset >= 0 && f.logEndOffset < p.mu.highWatermark) {
			out = append(out, id)
		}
	}
	if len(out) == 0 {
		p.mu.Unlock()
		return
	}
	isr := slices.DeleteFunc(slices.Clone(p.mu.st.ISR), func(id int32) bool { return slices.Contains(out, id) })
	proposal := p.proposeLocked(isr, now)
	p.mu.Unlock()
	p.logger.Info("proposing ISR shrink", "leader_epoch", proposal.LeaderEpoch, "out_of_sync", out, "isr", proposal.ISR)
	p.cfg.ISRChanger.ProposeISR(p, *proposal)
}

// canProposeLocked reports whether an ISR proposal may be made: there is a
// changer and no proposal is pending. NB: a pending proposal is never
// replaced on a timer. Its outcome is unknown until the image or the
// controller's answer says; had the controller applied it, a second
// proposal based on the older state would leave the leader computing the
// high watermark over a smaller ISR than the controller's, and a replica
// the controller may elect could miss records consumers have seen.
func (p *Partition) canProposeLocked() bool {
	return p.cfg.ISRChanger != nil && p.mu.pending == nil
}

// proposeLocked records the proposal of isr, based on the current state,
// as pending and returns a copy for the caller to send once it has
// released mu.
func (p *Partition) proposeLocked(isr []int32, now time.Time) *ISRProposal {
	next := ISRProposal{LeaderAndISR: p.mu.st.clone()}
	next.ISR = isr
	next.BrokerEpochs = make([]int64, len(isr))
	for i, id := range isr {
		next.BrokerEpochs[i] = -1
		if f := p.mu.followers[id]; f != nil {
			next.BrokerEpochs[i] = f.brokerEpoch
		}
	}
	p.mu.pending = &next
	p.mu.pendingAt = now
	out := next
	out.LeaderAndISR = next.clone()
	out.BrokerEpochs = slices.Clone(next.BrokerEpochs)
	return &out
}

// ISRProposalPending reports whether prop is still the pending proposal,
// so a changer knows whether to keep retrying it.
func (p *Partition) ISRProposalPending(prop ISRProposal) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.isLeader && p.mu.pending != nil && sameProposal(p.mu.pending, &prop)
}

// RejectISRProposal drops prop if it is still pending: the controller
// refused it without applying it (INELIGIBLE_REPLICA: the partition epoch
// was current, so no earlier attempt can have been applied either). The
// committed ISR is again the maximal one, which may let the high watermark
// advance, and the next fetch or shrink check may propose again.
func (p *Partition) RejectISRProposal(prop ISRProposal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.mu.isLeader || p.mu.pending == nil || !sameProposal(p.mu.pending, &prop) {
		return
	}
	p.mu.pending = nil
	p.maybeIncrementHighWatermarkLocked(p.cfg.Now())
	p.notifyLocked()
}

func sameProposal(a, b *ISRProposal) bool {
	return a.LeaderEpoch == b.LeaderEpoch && a.PartitionEpoch == b.PartitionEpoch && slices.Equal(a.ISR, b.ISR)
}

// maybeIncrementHighWatermarkLocked moves the leader's high watermark up to
// the minimum log end offset over the maximal ISR (Kafka's
// maybeIncrementLeaderHW). The caller holds mu and leads.
func (p *Partition) maybeIncrementHighWatermarkLocked(now time.Time) bool {
	hw, _ := p.highWatermarkBoundLocked(now)
	if hw <= p.mu.highWatermark {
		return false
	}
	p.setHighWatermarkLocked(hw)
	return true
}

// highWatermarkBoundLocked returns how far the high watermark may go now,
// and the replica that bounds it (-1 for this broker's own log end or
// durable offset). A replica counts when it is in the maximal ISR (the
// committed ISR plus the members of a pending proposal), or when it is
// outside the ISR but caught up and eligible to join: it holds the high
// watermark back so that a fast producer cannot keep it from ever
// reaching the high watermark. An ineligible replica (fenced, shutting
// down, restarted with another broker epoch) holds nothing back from
// outside the ISR.
func (p *Partition) highWatermarkBoundLocked(now time.Time) (hw int64, by int32) {
	leo := p.Log().LogEndOffset()
	hw, by = leo, -1
	if p.cfg.SyncBeforeAck {
		// NB: only durable records may be acknowledged or shown, or a crash
		// of this broker could take back what consumers saw.
		hw = min(hw, p.Log().RecoveryPoint())
	}
	for id, f := range p.mu.followers {
		if f.logEndOffset >= hw {
			continue
		}
		if p.inMaximalISRLocked(id) || p.waitsToJoinLocked(id, f, leo, now) {
			hw, by = f.logEndOffset, id
		}
	}
	return hw, by
}

func (p *Partition) inMaximalISRLocked(id int32) bool {
	return slices.Contains(p.mu.st.ISR, id) || (p.mu.pending != nil && slices.Contains(p.mu.pending.ISR, id))
}

// waitsToJoinLocked reports whether follower id, outside the maximal ISR,
// is caught up and eligible, so the high watermark waits for it.
func (p *Partition) waitsToJoinLocked(id int32, f *followerState, leo int64, now time.Time) bool {
	return f.logEndOffset >= 0 && (f.logEndOffset == leo || now.Sub(f.lastCaughtUp) <= p.cfg.ReplicaLagTimeMax) &&
		p.mu.st.eligible(id, f.brokerEpoch)
}

// logStallLocked logs, at most every stallLogAfter, why the high watermark
// has not moved for stallLogAfter while acks=all producers wait on it:
// which replica bounds it and what ISR change is pending.
func (p *Partition) logStallLocked(now time.Time) {
	waiting := p.acksWaiting.Load()
	if waiting == 0 || now.Sub(p.mu.hwMovedAt) < stallLogAfter || now.Sub(p.mu.stallLoggedAt) < stallLogAfter {
		return
	}
	p.mu.stallLoggedAt = now
	hw, by := p.highWatermarkBoundLocked(now)
	attrs := []any{
		"high_watermark", p.mu.highWatermark, "stalled_for", now.Sub(p.mu.hwMovedAt).Round(time.Millisecond),
		"acks_all_waiting", waiting, "log_end_offset", p.Log().LogEndOffset(), "isr", p.mu.st.ISR,
		"leader_epoch", p.mu.st.LeaderEpoch,
	}
	if by >= 0 {
		f := p.mu.followers[by]
		why := "in the ISR"
		switch {
		case !slices.Contains(p.mu.st.ISR, by) && p.inMaximalISRLocked(by):
			why = "joining the ISR in the pending change"
		case !slices.Contains(p.mu.st.ISR, by):
			why = "caught up and eligible, outside the ISR"
		}
		attrs = append(attrs, "waiting_for", by, "replica_log_end_offset", f.logEndOffset, "replica_role", why)
		if !f.lastFetchTime.IsZero() {
			attrs = append(attrs, "replica_last_fetch", now.Sub(f.lastFetchTime).Round(time.Millisecond))
		} else {
			attrs = append(attrs, "replica_last_fetch", "none in this leader epoch")
		}
	} else if hw < p.Log().LogEndOffset() {
		attrs = append(attrs, "waiting_for", "local fsync")
	}
	if p.mu.pending != nil {
		attrs = append(attrs, "pending_isr", p.mu.pending.ISR, "pending_for", now.Sub(p.mu.pendingAt).Round(time.Millisecond))
	}
	p.logger.Warn("high watermark stalled while acks=all producers wait", attrs...)
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
	epoch, endOffset = p.endOffsetForEpoch(lastFetchedEpoch, curEpoch, leading)
	if epoch < lastFetchedEpoch || endOffset < fetchOffset {
		return epoch, endOffset, true
	}
	return -1, -1, false
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch (KIP-101, KIP-320) for a
// consumer or a follower: the largest epoch <= epoch this leader knows and
// the offset where it ends, the log end offset for the current epoch, or
// (-1, -1) when unknown. NB: it is the log's answer, not capped at the high
// watermark: a consumer compares it with the position it reached on an
// earlier leader, and a new leader's high watermark may still be below
// that position (it advances once the followers fetch in the new epoch),
// which would look like a truncation (issue 9). Only the leader answers; a
// follower gives a *NotLeaderError, as in Kafka.
func (p *Partition) EndOffsetForEpoch(epoch int32) (int32, int64, error) {
	p.mu.Lock()
	if !p.mu.isLeader {
		err := p.notLeaderLocked()
		p.mu.Unlock()
		return -1, -1, err
	}
	curEpoch := p.mu.st.LeaderEpoch
	p.mu.Unlock()
	e, end := p.endOffsetForEpoch(epoch, curEpoch, true)
	return e, end, nil
}

// endOffsetForEpoch is the log's EndOffsetForEpoch, answered as if the
// current epoch were in the epoch cache already. NB: the cache learns an
// epoch at its first append, while Kafka adds it when the broker becomes
// leader: the current epoch starts at the log end offset until then.
func (p *Partition) endOffsetForEpoch(epoch, curEpoch int32, leading bool) (int32, int64) {
	e, end := p.Log().EndOffsetForEpoch(epoch)
	latest := p.Log().LatestEpoch()
	if e >= 0 || !leading || epoch < 0 || epoch > curEpoch || epoch <= latest {
		return e, end
	}
	switch {
	case epoch == curEpoch:
		return curEpoch, p.Log().LogEndOffset()
	case latest < 0:
		return epoch, p.Log().LogEndOffset()
	default:
		return latest, p.Log().LogEndOffset()
	}
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
		return ReadResult{HighWatermark: -1, LogStartOffset: -1, LastStableOffset: -1}, err
	}
	hw := p.mu.highWatermark
	p.mu.Unlock()
	for {
		log := p.Log()
		res := ReadResult{HighWatermark: hw, LogStartOffset: log.LogStartOffset(), LastStableOffset: log.LastStableOffset(hw)}
		r, err := log.Read(offset, maxBytes, math.MaxInt64, true)
		if errors.Is(err, storage.ErrLogClosed) && p.Log() != log {
			continue // moved to another log directory meanwhile (SwapLog)
		}
		if err != nil {
			return res, err
		}
		res.ReadResult = r
		return res, nil
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
