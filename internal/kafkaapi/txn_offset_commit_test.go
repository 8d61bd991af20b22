package kafkaapi

import (
	"net"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/group"
	"github.com/strata-io/strata/internal/server"
)

// TestTxnOffsetCommitReachesTheGroupCoordinator: the handler hands the
// request to the group coordinator, which answers NOT_COORDINATOR per
// partition when the group's partition is not loaded here.
func TestTxnOffsetCommitReachesTheGroupCoordinator(t *testing.T) {
	th := newTestHandler(t)
	th.h.groups = group.NewCoordinator(group.DefaultConfig())
	rc := th.rc(t, 3)
	rc.conn = &server.Conn{Remote: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}}

	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.Version = 3
	req.TransactionalID, req.Group, req.ProducerID, req.Generation = "tx", "g", 1, -1
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = "t"
	rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset = 0, 5
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)

	resp, ok := await(t, th.h.txnOffsetCommit(rc, req)).(*kmsg.TxnOffsetCommitResponse)
	if !ok || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("txnOffsetCommit(g t-0) = %+v, want one partition", resp)
	}
	if got := resp.Topics[0].Partitions[0].ErrorCode; got != kerr.NotCoordinator.Code {
		t.Fatalf("txnOffsetCommit(g t-0) partition error = %d, want NOT_COORDINATOR (%d)", got, kerr.NotCoordinator.Code)
	}
}
