package group

// TxnOffsetCommit v0-v5 (KIP-98).
//   v2 (KIP-320): committed leader epoch. v3 (KIP-447): generation,
//   member id and group instance id, checked as OffsetCommit checks them
//   (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID), flexible.
//   v4 (KIP-890 part 1): no change here. v5 (KIP-890 part 2, from a
//   client at transaction version 2, which sends no AddOffsetsToTxn):
//   before writing, the group's __consumer_offsets partition is added to
//   the producer's transaction through its transaction coordinator
//   (TxnPartitionAdder: AddPartitionsToTxn v5 without VerifyOnly, as
//   Kafka's group coordinator does through its AddPartitionsToTxnManager).
// The offsets are written as a transactional batch of the request's
// producer id and epoch (no sequence) to the group's __consumer_offsets
// partition and stay pending until the producer's transaction marker
// reaches it (CompleteTransaction): OffsetFetch does not show them, and
// require_stable fetches answer UNSTABLE_OFFSET_COMMIT for their
// partitions. As Kafka's OffsetMetadataManager:
//   - generation -1 with no member id and no instance id is not checked
//     (older clients send none); an unknown group is created as an empty
//     classic group for such a commit and ILLEGAL_GENERATION otherwise;
//   - the group's state is not enforced (no REBALANCE_IN_PROGRESS);
//   - a consumer group (KIP-848) member at another epoch gets
//     ILLEGAL_GENERATION (Kafka maps STALE_MEMBER_EPOCH to it here);
//   - an older producer epoch is INVALID_PRODUCER_EPOCH (the append
//     checks it).
// Per partition: UNKNOWN_TOPIC_OR_PARTITION as OffsetCommit, then
// OFFSET_METADATA_TOO_LARGE. Deliberate difference: below v5 Kafka
// verifies with the transaction coordinator that the partition is in the
// transaction (KIP-890 part 1); this does not.

import (
	"context"
	"errors"

	"github.com/strata-io/strata/internal/storage"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TxnPartitionAdder adds partition of __consumer_offsets to the ongoing
// transaction of transactionalID (starting one if none is) through the
// transaction coordinator, and returns the coordinator's error code, 0
// once added; a coordinator that cannot be reached is NETWORK_EXCEPTION.
type TxnPartitionAdder func(ctx context.Context, transactionalID string, producerID int64, producerEpoch int16, partition int32) int16

// SetTxnPartitionAdder makes TxnOffsetCommit v5+ add the group's partition
// to the transaction with add. Call it before serving; without one, v5 is
// served as v4 (unit tests).
func (c *Coordinator) SetTxnPartitionAdder(add TxnPartitionAdder) { c.addTxnPartition = add }

// TxnOffsetCommit stages offsets of a group in a producer's transaction.
func (c *Coordinator) TxnOffsetCommit(ctx context.Context, req *kmsg.TxnOffsetCommitRequest) *kmsg.TxnOffsetCommitResponse {
	s, err := c.shardFor(req.Group)
	if err != nil {
		return txnOffsetCommitError(req, statusCode(err))
	}
	if req.Version >= 5 && c.addTxnPartition != nil {
		code := c.addTxnPartition(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, c.PartitionFor(req.Group))
		if code != 0 {
			return txnOffsetCommitError(req, txnAddCode(code))
		}
	}
	resp, err := call(ctx, s, func(reply func(*kmsg.TxnOffsetCommitResponse)) { s.txnOffsetCommit(req, reply) })
	if err != nil {
		return txnOffsetCommitError(req, statusCode(err))
	}
	return resp
}

// txnOffsetCommitError answers every partition with err.
func txnOffsetCommitError(req *kmsg.TxnOffsetCommitRequest, err *kerr.Error) *kmsg.TxnOffsetCommitResponse {
	resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewTxnOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode = err.Code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

func (s *shard) txnOffsetCommit(req *kmsg.TxnOffsetCommitRequest, reply func(*kmsg.TxnOffsetCommitResponse)) {
	generation, memberID, instanceID := int32(-1), "", (*string)(nil)
	if req.Version >= 3 {
		generation, memberID, instanceID = req.Generation, req.MemberID, req.InstanceID
	}
	var groupErr *kerr.Error
	if g := s.groups[req.Group]; g != nil {
		groupErr = g.validateTxnOffsetCommit(memberID, instanceID, generation)
	} else if generation >= 0 {
		groupErr = kerr.IllegalGeneration
	}
	// NB: an unknown group is created only once the offsets are written
	// (putPendingOffset), as for plain commits.

	now := nowMs()
	type commit struct {
		ti, pi    int
		topic     string
		partition int32
		entry     offsetEntry
	}
	var commits []commit
	var recs []Record
	resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	for ti, t := range req.Topics {
		rt := kmsg.NewTxnOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		for pi, p := range t.Partitions {
			rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			rp.Partition = p.Partition
			switch {
			case s.cfg.PartitionExists != nil && !s.cfg.PartitionExists(t.Topic, p.Partition):
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case groupErr != nil:
				rp.ErrorCode = groupErr.Code
			case p.Metadata != nil && javaLength(*p.Metadata) > s.cfg.OffsetMetadataMaxBytes:
				rp.ErrorCode = kerr.OffsetMetadataTooLarge.Code
			default:
				e := offsetEntry{offset: p.Offset, leaderEpoch: -1, commitTimestamp: now, expireTimestamp: -1}
				if req.Version >= 2 {
					e.leaderEpoch = p.LeaderEpoch
				}
				if p.Metadata != nil {
					e.metadata = *p.Metadata
				}
				commits = append(commits, commit{ti: ti, pi: pi, topic: t.Topic, partition: p.Partition, entry: e})
				recs = append(recs, offsetCommitRecord(req.Group, t.Topic, p.Partition, e))
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if len(recs) == 0 {
		reply(resp)
		return
	}
	// NB: done runs with a nil error only after WriteTransactional
	// returned, so base (the first record's offset) is set by then.
	var base int64
	base = s.loop.WriteTransactional(req.ProducerID, req.ProducerEpoch, recs, func(err error) {
		if err != nil {
			code := txnCommitWriteCode(err).Code
			s.logger.Warn("writing transactional offset commit failed", "group", req.Group, "producer_id", req.ProducerID, "err", err)
			for _, c := range commits {
				resp.Topics[c.ti].Partitions[c.pi].ErrorCode = code
			}
			reply(resp)
			return
		}
		for i, c := range commits {
			c.entry.recordOffset = base + int64(i)
			s.putPendingOffset(req.ProducerID, req.Group, c.topic, c.partition, c.entry)
		}
		reply(resp)
	})
}

// txnAddCode is the TxnOffsetCommit error for the transaction
// coordinator's answer to adding the group's partition, as Kafka's group
// coordinator passes it on: a coordinator that is not ready or reachable
// becomes COORDINATOR_NOT_AVAILABLE (the client finds the group
// coordinator again and retries), PRODUCER_FENCED INVALID_PRODUCER_EPOCH.
func txnAddCode(code int16) *kerr.Error {
	switch code {
	case kerr.NetworkException.Code, kerr.NotCoordinator.Code, kerr.CoordinatorNotAvailable.Code,
		kerr.CoordinatorLoadInProgress.Code, kerr.ConcurrentTransactions.Code, kerr.NotEnoughReplicas.Code,
		kerr.RequestTimedOut.Code:
		return kerr.CoordinatorNotAvailable
	case kerr.ProducerFenced.Code:
		return kerr.InvalidProducerEpoch
	}
	if err := kerr.ErrorForCode(code); err != nil {
		if ke, ok := err.(*kerr.Error); ok {
			return ke
		}
	}
	return kerr.UnknownServerError
}

// txnCommitWriteCode is commitWriteCode for TxnOffsetCommit, where the
// append's producer fencing reaches the client as Kafka passes it.
func txnCommitWriteCode(err error) *kerr.Error {
	switch {
	case errors.Is(err, storage.ErrInvalidProducerEpoch):
		return kerr.InvalidProducerEpoch
	case errors.Is(err, storage.ErrProducerFenced):
		return kerr.ProducerFenced
	}
	return commitWriteCode(err)
}

// validateTxnOffsetCommit follows Kafka's ClassicGroup.validateOffsetCommit
// with isTransactional: members are checked only when the request names
// one (or a generation), and the group's state is not enforced.
func (g *classicGroup) validateTxnOffsetCommit(memberID string, instanceID *string, generation int32) *kerr.Error {
	if g.state == stateDead {
		return kerr.CoordinatorNotAvailable
	}
	if generation < 0 && g.state == stateEmpty {
		return nil
	}
	if generation >= 0 || memberID != "" || instanceID != nil {
		if err := g.validateMember(memberID, instanceID); err != nil {
			return err
		}
		if generation != g.generation {
			return kerr.IllegalGeneration
		}
	}
	return nil
}

// validateTxnOffsetCommit follows Kafka's ConsumerGroup.validateOffsetCommit
// with isTransactional: any request version, and a member at another
// epoch is ILLEGAL_GENERATION (TxnOffsetCommit has no STALE_MEMBER_EPOCH).
func (g *consumerGroup) validateTxnOffsetCommit(memberID string, _ *string, memberEpoch int32) *kerr.Error {
	if g.deleting {
		return kerr.CoordinatorNotAvailable
	}
	if memberEpoch < 0 && len(g.members) == 0 {
		return nil
	}
	m := g.members[memberID]
	if m == nil {
		return kerr.UnknownMemberID
	}
	if memberEpoch != m.cur.memberEpoch {
		return kerr.IllegalGeneration
	}
	return nil
}
