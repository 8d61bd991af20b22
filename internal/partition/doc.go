// Package partition owns the replica state of one partition on this broker:
// whether it leads or follows, the leader epoch, the in-sync replica set
// (ISR) and the high watermark, the acks=all and fetch long-poll waiters
// that are woken when the high watermark (or the log end offset) moves, and
// the isolation of consumers from uncommitted records. The bytes on disk
// belong to package storage; fetching from a leader belongs to package
// replication; the ISR is changed only by the controller (AlterPartition),
// which the partition asks through an ISRChanger and learns the outcome of
// from the next MakeLeader.
//
// # Leader
//
// The leader appends client batches (AppendAsLeader) and learns each
// follower's log end offset from its fetches (UpdateFollower). The high
// watermark is the minimum log end offset over the ISR (Kafka's
// Partition.maybeIncrementLeaderHW): the leader's own contribution is its
// log end offset, or its durable offset when the partition syncs before
// acknowledging; a pending ISR expansion counts the joining replica, a
// pending shrink still counts the leaving one (the "maximal ISR"), and a
// caught-up replica outside the ISR holds the high watermark back so it can
// join, if it is ISR-eligible. Eligibility comes from the image with every
// state (LeaderAndISR.ReplicaEpochs): a replica that is fenced, in
// controlled shutdown, or fetches with another broker epoch than its
// registration's (KIP-903) is never proposed for the ISR and holds nothing
// back from outside it, so a broker that stops or dies stalls acks=all
// writes only until the controller has recorded it (issue 9). The high
// watermark never decreases while leading. On a new leader epoch every
// follower's log end offset becomes unknown, so the high watermark cannot
// advance until each ISR member has fetched in the new epoch, after it
// truncated any divergent tail (KIP-101, KIP-279): the API layer answers
// DivergingEpoch and calls UpdateFollower only for fetches that did not
// diverge.
//
// acks=all waiters (WaitCommitted) complete once the high watermark reaches
// their end offset; min.insync.replicas refuses acks=all appends while the
// ISR is too small (ErrNotEnoughReplicas) and fails a waiter whose records
// were committed by an ISR that shrank below it (ErrNotEnoughReplicasAfterAppend).
// The ISR shrinks (MaybeShrinkISR, called periodically) when a follower has
// not caught up within ReplicaLagTimeMax, and expands when a follower reaches
// the high watermark and the start of the current leader epoch. One ISR
// proposal is pending at a time, until the image applies or supersedes it
// or the controller refuses it as INELIGIBLE_REPLICA (RejectISRProposal);
// it is never replaced on a timer, since a proposal the controller applied
// unbeknown to the leader would leave the leader's maximal ISR smaller than
// the controller's. A leader whose high watermark has not moved for a few
// seconds while acks=all producers wait logs which replica and which
// pending change it waits for.
//
// # Follower
//
// A follower appends what the fetcher brings (AppendAsFollower), truncates
// divergent tails (TruncateTo) and keeps its high watermark at the minimum
// of the leader's and its own log end offset. Consumers are refused
// (NotLeaderError): only the leader serves them, below the high watermark.
//
// # Single node
//
// A partition whose replicas are this broker alone is its own ISR: the high
// watermark follows the log end offset immediately after an append, or after
// the fsync when the log directory runs with fsync=always, and whatever
// survived recovery is committed when it is opened.
//
// # Concurrency
//
// The package starts no goroutines. roleMu (Kafka's leaderIsrUpdateLock) is
// held shared by appends and exclusively by role changes and truncation, so
// a role change never interleaves with an append. mu guards the replica
// state and is taken after roleMu, never across I/O. ISRChanger.ProposeISR
// is called with no lock held.
package partition
