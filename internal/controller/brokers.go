package controller

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/strata-io/strata/internal/metadata"
)

// liveness is the active controller's in-memory view of broker sessions.
// Owned by the loop in Run.
type liveness struct {
	// active is set while this node acts as the active controller;
	// activeSince is when it last became so. A broker's session clock
	// starts no earlier than activeSince.
	active      bool
	activeSince time.Time
	// lastContact is the time of each broker's last registration or
	// heartbeat seen by this controller.
	lastContact map[int32]time.Time
	// registered holds, per broker, the raft index of the registration
	// this controller proposed; a broker is caught up once its metadata
	// offset reaches it.
	registered map[int32]registration
	// shutdownOffset holds, per broker in controlled shutdown, the offset
	// it must have applied before it may exit: by then it knows it leads
	// nothing.
	shutdownOffset map[int32]uint64
	// lastLeader is the last quorum leader seen while this node was not
	// active, -1 if none. At activation it becomes previous, with
	// previousSince: the broker on the node that led the quorum before
	// this one (-1 if none) and the session start it gets (see activate).
	lastLeader    int32
	previous      int32
	previousSince time.Time
}

type registration struct {
	epoch  int64
	offset uint64
}

func newLiveness() liveness {
	return liveness{
		lastContact:    map[int32]time.Time{},
		registered:     map[int32]registration{},
		shutdownOffset: map[int32]uint64{},
		lastLeader:     -1,
		previous:       -1,
	}
}

// activate marks this node active and, if it was not, restarts every
// broker's session clock at now: a new active controller cannot know when
// a broker last heartbeated its predecessor, so each gets a full session
// (as in Kafka). The exception is the broker on the node that led the
// quorum before (self is this node's id): it lost the quorum's leadership,
// most likely because it died (with it the broker, in combined mode), so
// its session is counted as if it had begun sessionTimeout-grace before
// now, and it is fenced after grace unless it heartbeats this controller.
// A live one does within a heartbeat interval; fencing is safe either way
// (issue 9: kill -9 of the active controller stopped acks=all writes for
// the election plus a whole session). It reports whether it was inactive.
func (l *liveness) activate(now time.Time, self int32, sessionTimeout, grace time.Duration) bool {
	if l.active {
		return false
	}
	l.active, l.activeSince = true, now
	clear(l.lastContact)
	clear(l.shutdownOffset)
	l.previous = -1
	if l.lastLeader >= 0 && l.lastLeader != self && grace < sessionTimeout {
		l.previous, l.previousSince = l.lastLeader, now.Add(grace-sessionTimeout)
	}
	l.lastLeader = -1
	return true
}

// deactivate marks this node inactive; leader is the quorum leader it
// knows of, -1 if none.
func (l *liveness) deactivate(leader int32) {
	l.active = false
	if leader >= 0 {
		l.lastLeader = leader
	}
}

// contact returns when broker id was last heard from, as far as the
// session timeout is concerned.
func (l *liveness) contact(id int32) time.Time {
	t, ok := l.lastContact[id]
	if !ok || t.Before(l.activeSince) {
		if id == l.previous {
			return l.previousSince
		}
		return l.activeSince
	}
	return t
}

// catchUpOffset is the metadata offset broker b must have applied to be
// unfenced: the index of its registration when this controller proposed
// it, else its broker epoch, which the controller picks as the image index
// before the registration plus one, so it never exceeds the registration's
// index.
func (l *liveness) catchUpOffset(b metadata.BrokerInfo) int64 {
	if r, ok := l.registered[b.NodeID]; ok && r.epoch == b.BrokerEpoch {
		return int64(r.offset)
	}
	return b.BrokerEpoch
}

// BrokerRegistration is what a broker tells the controller about itself.
type BrokerRegistration struct {
	NodeID int32
	// IncarnationID is random per process start; zero is allowed.
	IncarnationID metadata.UUID
	// Host and Port are the broker's inter-broker listener; Listeners,
	// when set, are all its advertised listeners with that one first.
	// Empty Listeners means one PLAINTEXT listener on Host:Port.
	Host      string
	Port      int32
	Listeners []metadata.Endpoint
	Rack      string
	// RaftAddr is set by broker-only nodes: the address of their metadata
	// quorum observer, which the controller adds to the quorum as a
	// non-voter so that the broker receives the metadata log.
	RaftAddr string
	// CleanShutdown: the broker's log holds everything it had when it last
	// stopped (a clean shutdown, or every append fsynced). Without it a
	// re-registering broker may have lost committed records and leaves the
	// ISRs and ELRs (KIP-966).
	CleanShutdown bool
	// Features are the feature levels the broker's software supports; nil
	// skips the check that they include every finalized level.
	Features []metadata.SupportedFeature
}

// RegisterBroker registers or re-registers a broker with a new broker
// epoch, readable from Image().Broker(NodeID) once this returns.
//
// The broker registers fenced and is unfenced by a heartbeat showing it
// has caught up with the metadata log (Kafka's KRaft rule); a previous
// registration's leaderships move away and it leaves the ISRs that have
// other members, in the same batch. The broker of this very node registers
// unfenced instead (see the package doc). Another incarnation of the id
// that is unfenced and still within its session fails the registration
// with ErrDuplicateBrokerRegistration.
func (c *Controller) RegisterBroker(ctx context.Context, reg BrokerRegistration) error {
	if reg.NodeID < 0 {
		return fmt.Errorf("%w: negative broker id %d", ErrInvalidRequest, reg.NodeID)
	}
	if reg.Host == "" || reg.Port <= 0 || reg.Port > math.MaxUint16 {
		return fmt.Errorf("%w: broker %d address %q:%d", ErrInvalidRequest, reg.NodeID, reg.Host, reg.Port)
	}
	names := map[string]bool{}
	for i, l := range reg.Listeners {
		switch {
		case l.Name == "" || names[l.Name]:
			return fmt.Errorf("%w: broker %d listener name %q empty or repeated", ErrInvalidRequest, reg.NodeID, l.Name)
		case l.Host == "" || l.Port <= 0 || l.Port > math.MaxUint16:
			return fmt.Errorf("%w: broker %d listener %s address %q:%d", ErrInvalidRequest, reg.NodeID, l.Name, l.Host, l.Port)
		case i == 0 && (l.Host != reg.Host || l.Port != reg.Port):
			return fmt.Errorf("%w: broker %d first listener %s is not %s:%d", ErrInvalidRequest, reg.NodeID, l.Name, reg.Host, reg.Port)
		}
		names[l.Name] = true
	}
	var opErr error
	if err := c.do(ctx, func(ctx context.Context) {
		opErr = c.registerBroker(ctx, reg)
	}); err != nil {
		return err
	}
	return opErr
}

func (c *Controller) registerBroker(ctx context.Context, reg BrokerRegistration) error {
	img, err := c.begin(ctx)
	if err != nil {
		return err
	}
	if reg.RaftAddr != "" {
		if err := c.cfg.Quorum.AddNonvoter(ctx, reg.NodeID, reg.RaftAddr); err != nil {
			return c.quorumError(err)
		}
	}
	now := c.cfg.Now()
	id := reg.NodeID
	local := id == c.cfg.NodeID
	prev, had := img.Broker(id)
	if had && !local && prev.IncarnationID != reg.IncarnationID && !prev.Fenced &&
		now.Sub(c.live.contact(id)) < c.cfg.BrokerSessionTimeout {
		return fmt.Errorf("%w: broker %d, incarnation %s; the registration of incarnation %s is live",
			ErrDuplicateBrokerRegistration, id, reg.IncarnationID, prev.IncarnationID)
	}
	if reg.Features != nil {
		if err := checkFinalizedSupported(img, reg.Features); err != nil {
			return fmt.Errorf("%w: broker %d: %w", ErrUnsupportedFeatureLevel, id, err)
		}
	}
	// Every registration is proposed after the image reached Index, and is
	// applied at a higher index, so Index+1 increases from one
	// registration to the next, as a broker epoch must.
	epoch := int64(img.Index()) + 1
	if had && prev.BrokerEpoch >= epoch {
		epoch = prev.BrokerEpoch + 1
	}
	recs := []metadata.Record{&metadata.RegisterBrokerRecord{
		NodeID: id, IncarnationID: reg.IncarnationID, BrokerEpoch: epoch,
		Host: reg.Host, Port: reg.Port, Rack: reg.Rack, Fenced: !local, Features: reg.Features,
		Listeners: reg.Listeners,
	}}
	e := eligibleIn(img)
	moved := 0
	// KIP-966: after an unclean shutdown the broker leaves every ISR and
	// ELR, since it may have lost committed records.
	unclean := had && !reg.CleanShutdown && img.ELREnabled()
	switch {
	case local && unclean:
		e.with = id
		recs, moved = c.appendPartitionChanges(recs, img, e,
			func(p *metadata.PartitionInfo) bool { return involves(id)(p) || leaderless(id)(p) }, c.uncleanRestart(img, id))
	case local:
		e.with = id
		recs, moved = c.appendPartitionChanges(recs, img, e, leaderless(id), c.comesBack(img))
	case unclean:
		e.without = id
		recs, moved = c.appendPartitionChanges(recs, img, e, involves(id), c.uncleanRestart(img, id))
	case had:
		e.without = id
		recs, moved = c.appendPartitionChanges(recs, img, e, involves(id), c.leaves(img, id))
	}
	index, err := c.proposeIndex(ctx, recs)
	if err != nil {
		return err
	}
	c.live.registered[id] = registration{epoch: epoch, offset: index}
	c.live.lastContact[id] = now
	c.dirs.forget(id)
	delete(c.live.shutdownOffset, id)
	c.logger.Info("broker registered", "broker_id", id, "host", reg.Host, "port", reg.Port, "rack", reg.Rack,
		"broker_epoch", epoch, "fenced", !local, "unclean_shutdown", had && !reg.CleanShutdown, "partitions_changed", moved)
	return nil
}

// comesBack returns the change for leaderless partitions of a broker that
// becomes eligible: elect a leader, uncleanly if the topic allows it.
func (c *Controller) comesBack(img *metadata.Image) func(t *metadata.Topic) partitionChange {
	return func(t *metadata.Topic) partitionChange {
		return c.topicChange(img, t, partitionChange{removeFromISR: -1, uncleanShutdown: -1})
	}
}

// uncleanRestart returns the change for partitions of broker id after an
// unclean shutdown: it leaves the ISR and the ELR (KIP-966).
func (c *Controller) uncleanRestart(img *metadata.Image, id int32) func(t *metadata.Topic) partitionChange {
	return func(t *metadata.Topic) partitionChange {
		return c.topicChange(img, t, partitionChange{removeFromISR: id, uncleanShutdown: id})
	}
}

// HeartbeatRequest is a broker's periodic heartbeat (BrokerHeartbeat).
type HeartbeatRequest struct {
	BrokerID    int32
	BrokerEpoch int64
	// CurrentMetadataOffset is the index of the last metadata batch the
	// broker has applied.
	CurrentMetadataOffset int64
	// WantFence asks to be (or stay) fenced, e.g. while the broker loads
	// its logs.
	WantFence bool
	// WantShutDown starts a controlled shutdown.
	WantShutDown bool
	// OfflineLogDirs are the broker's failed log directories (KIP-858):
	// its replicas assigned to them are offline (see log_dirs.go).
	OfflineLogDirs []metadata.UUID
}

// HeartbeatResponse is the controller's answer to a heartbeat.
type HeartbeatResponse struct {
	// IsCaughtUp: the broker has applied the metadata up to its own
	// registration.
	IsCaughtUp bool
	IsFenced   bool
	// ShouldShutDown: the broker is in controlled shutdown, leads no
	// partition, and has applied the metadata that says so.
	ShouldShutDown bool
}

// BrokerHeartbeat records a heartbeat and acts on it: a fenced broker that
// is caught up (CurrentMetadataOffset at or past its registration's index)
// and does not want to be fenced is unfenced, and leaderless partitions
// that have it in the ISR get it as leader; WantFence fences an unfenced
// broker; WantShutDown moves its leaderships away and takes it out of the
// ISRs that have other members, and answers ShouldShutDown once that is
// applied and the broker has seen it.
//
// Errors: ErrBrokerNotRegistered, ErrStaleBrokerEpoch, ErrNotController.
func (c *Controller) BrokerHeartbeat(ctx context.Context, req HeartbeatRequest) (HeartbeatResponse, error) {
	var resp HeartbeatResponse
	var opErr error
	if err := c.do(ctx, func(ctx context.Context) {
		resp, opErr = c.brokerHeartbeat(ctx, req)
	}); err != nil {
		return HeartbeatResponse{}, err
	}
	return resp, opErr
}

func (c *Controller) brokerHeartbeat(ctx context.Context, req HeartbeatRequest) (HeartbeatResponse, error) {
	img, err := c.begin(ctx)
	if err != nil {
		return HeartbeatResponse{}, err
	}
	id := req.BrokerID
	b, ok := img.Broker(id)
	if !ok {
		return HeartbeatResponse{}, fmt.Errorf("%w: broker %d", ErrBrokerNotRegistered, id)
	}
	if b.BrokerEpoch != req.BrokerEpoch {
		return HeartbeatResponse{}, fmt.Errorf("%w: broker %d sent epoch %d, its registration has %d", ErrStaleBrokerEpoch, id, req.BrokerEpoch, b.BrokerEpoch)
	}
	c.live.lastContact[id] = c.cfg.Now()
	c.applied.report(id, req.CurrentMetadataOffset, c.cfg.Now())
	caughtUp := req.CurrentMetadataOffset >= c.live.catchUpOffset(b)
	switch {
	case req.WantShutDown:
		if b.Fenced {
			// A fenced broker leads nothing: it may go at once.
			return HeartbeatResponse{IsCaughtUp: caughtUp, IsFenced: true, ShouldShutDown: true}, nil
		}
		if err := c.controlledShutdown(ctx, img, b); err != nil {
			return HeartbeatResponse{}, err
		}
	case req.WantFence:
		if !b.Fenced {
			if err := c.fence(ctx, id, "the broker asked to be fenced"); err != nil {
				return HeartbeatResponse{}, err
			}
		}
	case b.Fenced && caughtUp && !b.InControlledShutdown:
		if err := c.unfence(ctx, id); err != nil {
			return HeartbeatResponse{}, err
		}
	}
	if err := c.handleOfflineDirs(ctx, id, req.OfflineLogDirs); err != nil {
		return HeartbeatResponse{}, err
	}
	img = c.Image()
	b, _ = img.Broker(id)
	resp := HeartbeatResponse{IsCaughtUp: caughtUp, IsFenced: b.Fenced}
	if off, ok := c.live.shutdownOffset[id]; ok && b.InControlledShutdown {
		resp.ShouldShutDown = req.CurrentMetadataOffset >= int64(off) && !leadsAny(img, id)
	}
	return resp, nil
}

// controlledShutdown marks b in controlled shutdown, moves its leaderships
// away and takes it out of ISRs with other members, in one batch, and
// remembers the offset b must reach before it exits.
func (c *Controller) controlledShutdown(ctx context.Context, img *metadata.Image, b metadata.BrokerInfo) error {
	var recs []metadata.Record
	if !b.InControlledShutdown {
		recs = append(recs, &metadata.BrokerRegistrationChangeRecord{
			NodeID: b.NodeID, BrokerEpoch: b.BrokerEpoch, Fenced: b.Fenced, InControlledShutdown: true,
		})
	}
	e := eligibleIn(img)
	e.without = b.NodeID
	recs, moved := c.appendPartitionChanges(recs, img, e, involves(b.NodeID), c.leaves(img, b.NodeID))
	if len(recs) == 0 {
		if _, ok := c.live.shutdownOffset[b.NodeID]; !ok {
			// A controller that took over mid-shutdown: the current image
			// already says what the broker must know.
			c.live.shutdownOffset[b.NodeID] = img.Index()
		}
		return nil
	}
	index, err := c.proposeIndex(ctx, recs)
	if err != nil {
		return err
	}
	c.live.shutdownOffset[b.NodeID] = index
	c.logger.Info("broker in controlled shutdown", "broker_id", b.NodeID, "partitions_changed", moved)
	return nil
}

// fence fences broker id in one batch with the partition changes that
// follow: leaderships move away and it leaves the ISRs that have other
// members.
func (c *Controller) fence(ctx context.Context, id int32, reason string) error {
	img := c.Image()
	b, ok := img.Broker(id)
	if !ok || b.Fenced {
		return nil
	}
	recs := []metadata.Record{&metadata.BrokerRegistrationChangeRecord{
		NodeID: id, BrokerEpoch: b.BrokerEpoch, Fenced: true, InControlledShutdown: b.InControlledShutdown,
	}}
	e := eligibleIn(img)
	e.without = id
	recs, moved := c.appendPartitionChanges(recs, img, e, involves(id), c.leaves(img, id))
	if err := c.propose(ctx, recs); err != nil {
		return err
	}
	c.logger.Info("broker fenced", "broker_id", id, "broker_epoch", b.BrokerEpoch, "reason", reason, "partitions_changed", moved)
	return nil
}

// unfence unfences broker id in one batch with leader elections for the
// leaderless partitions it can lead.
func (c *Controller) unfence(ctx context.Context, id int32) error {
	img := c.Image()
	b, ok := img.Broker(id)
	if !ok || !b.Fenced {
		return nil
	}
	recs := []metadata.Record{&metadata.BrokerRegistrationChangeRecord{
		NodeID: id, BrokerEpoch: b.BrokerEpoch, Fenced: false, InControlledShutdown: b.InControlledShutdown,
	}}
	e := eligibleIn(img)
	e.with = id
	recs, moved := c.appendPartitionChanges(recs, img, e, c.withoutOfflineReplicas(img, leaderless(id)), c.comesBack(img))
	if err := c.propose(ctx, recs); err != nil {
		return err
	}
	c.logger.Info("broker unfenced", "broker_id", id, "broker_epoch", b.BrokerEpoch, "partitions_changed", moved)
	return nil
}

// checkLiveness fences every broker, other than this node's own, whose
// session expired. Run on the loop.
func (c *Controller) checkLiveness(ctx context.Context) {
	if !c.cfg.Quorum.IsLeader() {
		c.deactivate()
		return
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.BrokerSessionTimeout)
	defer cancel()
	img, err := c.begin(ctx)
	if err != nil {
		c.logger.Debug("liveness check skipped", "err", err)
		return
	}
	now := c.cfg.Now()
	for _, b := range img.Brokers() {
		if b.Fenced || b.NodeID == c.cfg.NodeID {
			continue
		}
		silent := now.Sub(c.live.contact(b.NodeID))
		if silent < c.cfg.BrokerSessionTimeout {
			continue
		}
		reason := fmt.Sprintf("no heartbeat for %s", silent.Round(time.Millisecond))
		if last := c.live.contact(b.NodeID); b.NodeID == c.live.previous && last.Equal(c.live.previousSince) {
			reason = fmt.Sprintf("no heartbeat for %s since its node lost the controller role to this one",
				now.Sub(c.live.activeSince).Round(time.Millisecond))
		}
		if err := c.fence(ctx, b.NodeID, reason); err != nil {
			c.logger.Warn("fencing broker", "broker_id", b.NodeID, "err", err)
			return
		}
	}
}

// rebalanceLeaders moves leadership back to each partition's preferred
// replica where it is in the ISR and eligible, and retries leaderless
// partitions (uncleanly where the topic allows it). Run on the loop.
func (c *Controller) rebalanceLeaders(ctx context.Context) {
	if !c.cfg.Quorum.IsLeader() {
		c.deactivate()
		return
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.LeaderImbalanceCheckInterval)
	defer cancel()
	img, err := c.begin(ctx)
	if err != nil {
		c.logger.Debug("preferred leader check skipped", "err", err)
		return
	}
	recs, n := c.appendPartitionChanges(nil, img, eligibleIn(img),
		c.withoutOfflineReplicas(img, func(p *metadata.PartitionInfo) bool { return p.Leader < 0 || p.Leader != p.Replicas[0] }),
		func(t *metadata.Topic) partitionChange {
			return c.topicChange(img, t, partitionChange{removeFromISR: -1, uncleanShutdown: -1, preferred: true})
		})
	if n == 0 {
		return
	}
	if err := c.propose(ctx, recs); err != nil {
		c.logger.Warn("preferred leader election", "err", err)
		return
	}
	c.logger.Info("preferred leaders elected", "partitions_changed", n)
}

// leadsAny reports whether broker id leads a partition in img.
func leadsAny(img *metadata.Image, id int32) bool {
	for _, t := range img.Topics() {
		for i := range t.Partitions {
			if t.Partitions[i].Leader == id {
				return true
			}
		}
	}
	return false
}
