package failpoint

import (
	"errors"
	"fmt"
)

// Name names a failpoint.
type Name string

// Deliberately broken broker behaviours. Each breaks a Kafka guarantee when
// its failpoint fires (action return); they exist to prove that a history
// checker (strata verify) reports the anomaly each one causes.
const (
	// AckBeforeISR: the leader answers an acks=all produce once its own
	// append is done, without waiting for the ISR (the high watermark).
	// With a leader SIGKILL before the followers fetched, acknowledged
	// records are lost (lost write). partition.WaitCommitted.
	AckBeforeISR Name = "ack-before-isr"
	// ServePastHW: consumer fetches read up to the log end offset instead
	// of the high watermark (and report it as the high watermark).
	// Consumers see records no follower has; after a failover those
	// offsets hold other records (inconsistent offsets, reads of writes
	// that were never acknowledged). partition.Read.
	ServePastHW Name = "serve-past-hw"
	// DuplicateOnRetry: idempotent producer deduplication is off: a retried
	// batch (same producer, epoch and sequence) is appended again at new
	// offsets (duplicate). Retries need a lost answer: combine it with
	// ProduceDropResponse. storage producer state.
	DuplicateOnRetry Name = "duplicate-on-retry"
	// ReadCommittedIgnoresAborts: read_committed fetches get no aborted
	// transactions list, so consumers deliver records of aborted
	// transactions (aborted read). partition.Read.
	ReadCommittedIgnoresAborts Name = "read-committed-ignores-aborts"
	// FetchSkipBatch: a consumer fetch skips the first batch at the fetch
	// offset and answers from the next one, as if the skipped records did
	// not exist; the consumer moves past them (poll skip). Fetches at the
	// log end offset, and fetches whose first batch is the last one below
	// the high watermark, are not affected. partition.Read.
	FetchSkipBatch Name = "fetch-skip-batch"
)

// Legal faults: behaviour Kafka may show, used to time the broken ones (or
// the tests of recovery) reliably.
const (
	// ProduceDropResponse: after appending a produce request (acks 1 or
	// all) the broker closes the connection instead of answering, as when
	// the network drops the answer; the client retries. kafkaapi produce.
	ProduceDropResponse Name = "produce-drop-response"
	// ReplicaFetch is evaluated before each follower fetch request is
	// built: sleep(D) delays every fetch by D, so records stay on the
	// leader alone for about D; return skips the fetch (the follower waits
	// its fetch back-off and asks the failpoint again), holding
	// replication back while it is on. Followers stay in the ISR for
	// replica.lag.time.max.ms. replication fetcher.
	ReplicaFetch Name = "replica-fetch"
)

// Durability steps: crash (kill -9 at that step), sleep, panic or return
// (the step fails with an injected I/O error, which fails the log, the
// checkpoint write or the raft append as a disk error would).
const (
	// SegmentBeforeFsync / SegmentAfterFsync: around the fsync of a log
	// segment (storage).
	SegmentBeforeFsync Name = "segment-before-fsync"
	SegmentAfterFsync  Name = "segment-after-fsync"
	// CheckpointBeforeRename / CheckpointAfterRename: around the rename of
	// a checkpoint file's temporary copy over the file: every storage
	// writeFileAtomic (recovery points, log start offsets, high watermarks,
	// cleaner offsets, leader epochs, partition.metadata, meta.properties,
	// the clean-shutdown marker).
	CheckpointBeforeRename Name = "checkpoint-before-rename"
	CheckpointAfterRename  Name = "checkpoint-after-rename"
	// RaftBeforePersist / RaftAfterPersist: around the raft log store's
	// write of new entries (hashicorp/raft StoreLogs on bbolt).
	RaftBeforePersist Name = "raft-before-persist"
	RaftAfterPersist  Name = "raft-after-persist"
	// TxnBeforeMarkers / TxnAfterMarkers: the transaction coordinator has
	// logged PrepareCommit/PrepareAbort and is about to send the commit or
	// abort markers to the partitions' leaders / has had every marker
	// acknowledged and is about to log CompleteCommit/CompleteAbort. They
	// run on the coordinator's loop: sleep stalls the coordinator. return
	// skips the step (the markers are not sent / the completion is not
	// logged), so the transaction stays prepared until its coordinator
	// moves or restarts and resends the markers: a stuck transaction.
	TxnBeforeMarkers Name = "txn-before-markers"
	TxnAfterMarkers  Name = "txn-after-markers"
)

// All lists every failpoint; Enable and STRATA_FAILPOINTS refuse other names.
var All = []Name{
	AckBeforeISR, ServePastHW, DuplicateOnRetry, ReadCommittedIgnoresAborts, FetchSkipBatch,
	ProduceDropResponse, ReplicaFetch,
	SegmentBeforeFsync, SegmentAfterFsync, CheckpointBeforeRename, CheckpointAfterRename,
	RaftBeforePersist, RaftAfterPersist, TxnBeforeMarkers, TxnAfterMarkers,
}

// EnvVar is the environment variable read at start (failpoints builds).
const EnvVar = "STRATA_FAILPOINTS"

// ErrInjected is the error a failpoint's return action injects at an I/O
// step (wrapped by Error).
var ErrInjected = errors.New("injected failure")

// Error is the error a call site returns when name fires at an I/O step.
func Error(name Name) error { return fmt.Errorf("failpoint %s: %w", name, ErrInjected) }

func known(name Name) bool {
	for _, n := range All {
		if n == name {
			return true
		}
	}
	return false
}
