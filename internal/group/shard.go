package group

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/strata-io/strata/internal/coordinator"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// shard is the state of one loaded partition of __consumer_offsets: its
// groups and committed offsets. The coordinator runtime runs it: loop
// replays the partition into it at load, then every method runs on the
// loop, which also carries its timers and writes. Everything below
// "owned by the loop" is touched only there.
type shard struct {
	cfg    *Config           // the coordinator's; never changed
	loop   *coordinator.Loop // set in newShard, never changed
	logger *slog.Logger      // loop's logger; never changed

	// Owned by the loop.
	groups  map[string]group
	offsets map[string]map[string]map[int32]offsetEntry // group → topic → partition
	// pending holds transactional offsets awaiting their producer's
	// marker, by producer id (txn_offsets.go).
	pending map[int64]pendingOffsets
	// consumerOps serializes the operations of each consumer group
	// (runConsumerOp); an entry exists while one runs.
	consumerOps map[string]*consumerOpQueue
}

var _ coordinator.MarkerShard = (*shard)(nil)

func newShard(cfg *Config, loop *coordinator.Loop) *shard {
	return &shard{
		cfg:         cfg,
		loop:        loop,
		logger:      loop.Logger(),
		groups:      make(map[string]group),
		offsets:     make(map[string]map[string]map[int32]offsetEntry),
		pending:     make(map[int64]pendingOffsets),
		consumerOps: make(map[string]*consumerOpQueue),
	}
}

// call runs fn on s's loop and waits for the value fn (or a later event on
// the loop) passes to reply, as coordinator.Call; a shard not serving
// gives an error wrapping ErrNotCoordinator.
func call[T any](ctx context.Context, s *shard, fn func(reply func(T))) (T, error) {
	v, err := coordinator.Call(ctx, s.loop, fn)
	return v, routingErr(err)
}

// Timers of the shard run on the loop (Loop.Schedule); schedule and
// cancelTimer keep their keys to timerKey. A key's new timer replaces its
// previous one.

type timerKind uint8

const (
	timerJoin              timerKind = iota + 1 // group's join phase (rebalance or initial delay)
	timerSync                                   // group's pending-sync expiration
	timerHeartbeat                              // member's session (or pending member's join)
	timerConsumerSession                        // consumer group member's session
	timerConsumerRebalance                      // consumer group member's revocation deadline
)

type timerKey struct {
	kind   timerKind
	group  string
	member string
}

func (s *shard) schedule(key timerKey, d time.Duration, fn func()) { s.loop.Schedule(key, d, fn) }

func (s *shard) cancelTimer(key timerKey) { s.loop.CancelTimer(key) }

// Loading.

// Replay applies one record read from the log at load. An offset commit
// of a transactional batch stays pending until its producer's marker
// (ReplayMarker).
func (s *shard) Replay(r coordinator.ReplayRecord) error {
	d, err := decodeRecord(r.Key, r.Value)
	if err != nil {
		var unknown errUnknownRecordType
		if errors.As(err, &unknown) {
			// As Kafka: possibly left over from an aborted upgrade.
			s.logger.Warn("skipping unknown __consumer_offsets record type", "offset", r.Offset, "type", unknown.typ)
			return nil
		}
		return fmt.Errorf("offset %d: %w", r.Offset, err)
	}
	switch d.typ {
	case recordTypeOffsetCommitV0, recordTypeOffsetCommit:
		k := d.offsetKey
		switch {
		case d.offsetValue == nil:
			s.deleteOffset(k.Group, k.Topic, k.Partition)
		case r.Transactional:
			e := entryFromValue(d.offsetValue)
			e.recordOffset = r.Offset
			s.putPendingOffset(r.ProducerID, k.Group, k.Topic, k.Partition, e)
		default:
			e := entryFromValue(d.offsetValue)
			e.recordOffset = r.Offset
			s.putOffset(k.Group, k.Topic, k.Partition, e)
		}
	case recordTypeGroupMetadata:
		s.replayGroupMetadata(d.groupKey.Group, d.groupValue)
	default:
		if d.consumer != nil {
			s.applyConsumerRecord(d.consumer)
		}
	}
	return nil
}

// replayGroupMetadata applies a GroupMetadata record (nil value: tombstone).
func (s *shard) replayGroupMetadata(id string, v *kmsg.GroupMetadataValue) {
	if v == nil {
		if g, ok := s.groups[id]; ok && g.groupType() == groupTypeClassic {
			delete(s.groups, id)
		}
		return
	}
	if g, ok := s.groups[id]; ok && g.groupType() != groupTypeClassic {
		s.logger.Warn("classic group metadata replaces a group of another type", "group", id, "type", g.groupType())
	}
	s.groups[id] = classicGroupFromRecord(id, v)
}

// Loaded restarts what Kafka restarts once a shard is loaded: the session
// timer of every restored member, the revocation deadline of consumer group
// members that must revoke partitions, and a rebalance of classic groups
// above group.max.size.
func (s *shard) Loaded() {
	for _, g := range s.groups {
		if cg, ok := g.(*consumerGroup); ok {
			s.afterLoadConsumerGroup(cg)
			continue
		}
		cg, ok := g.(*classicGroup)
		if !ok {
			continue
		}
		for _, m := range cg.memberList() {
			s.scheduleHeartbeat(cg, m, m.sessionTimeout())
		}
		if len(cg.members) > s.cfg.GroupMaxSize {
			s.prepareRebalance(cg, "group is over group.max.size after loading")
		}
	}
	s.logger.Debug("restored groups", "groups", len(s.groups))
}

// Tick runs every OffsetsRetentionCheckInterval on the loop: offset expiry.
func (s *shard) Tick() { s.expireOffsets() }
