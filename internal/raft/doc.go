// Package raft runs the metadata quorum on hashicorp/raft (imported as
// hraft): the log and stable store (raft-boltdb/v2 on bbolt, Dir/raft.db),
// the snapshot store (hraft.FileSnapshotStore, Dir/snapshots), the
// transport, and the adapter from a StateMachine to hraft.FSM.
//
// It knows nothing about metadata records: entries are opaque bytes, applied
// in order to a StateMachine (internal/metadata's Loader in Strata). The
// controller proposes entries through Node.Propose.
//
// A single voter with no listen address uses hraft's in-memory transport, so
// the single-node default needs no extra port and elects itself within
// about two heartbeat timeouts (50ms each by default for a single voter). A
// multi-voter quorum uses hraft's NetworkTransport over TCP; every voter
// bootstraps the same voter set when its Dir is empty. The voter set never
// changes after that; the leader adds broker-only nodes as non-voters
// (AddNonvoter) and removes them again (RemoveNonvoter) when their broker
// is unregistered.
//
// # Goroutines
//
// Node.Run owns everything: it starts hraft (whose goroutines, including the
// FSM goroutine that calls the StateMachine, are listed in hashicorp/raft's
// docs), logs leadership changes until its context ends, then shuts hraft
// down and closes the stores and transport. Propose, WaitReady and Snapshot
// each start one short-lived goroutine that waits on an hraft future; Run
// waits for them before it shuts hraft down (hraft answers every future
// while it runs, but drops those of committed entries still queued for its
// FSM goroutine when it shuts down), so none outlives Run.
package raft
