package kafkaapi

// TxnOffsetCommit v0-4 (KIP-98).
//   v2 (KIP-320): committed leader epoch. v3 (KIP-447): generation, member
//   id and group instance id, checked as OffsetCommit checks them;
//   flexible. v4 (KIP-890): no change here. v5 (transaction version 2:
//   the group's partition is added to the transaction implicitly) is not
//   served.
// Served by package group like the other group APIs (see groups.go): the
// offsets are written to the group's __consumer_offsets partition as a
// transactional batch of the request's producer and stay pending until
// the transaction's marker (WriteTxnMarkers → group.CompleteTransaction).
// Deliberate difference from Apache Kafka: the coordinator does not yet
// verify with the transaction coordinator that the group's partition is
// in the transaction (KIP-890); no ACLs are checked (none are anywhere).

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/server"
)

// txnOffsetCommit runs a TxnOffsetCommit off the reader goroutine, in
// order with the connection's other group requests.
func (h *Handler) txnOffsetCommit(rc *reqCtx, req *kmsg.TxnOffsetCommitRequest) server.Response {
	return h.groupRequest(rc, req)
}
