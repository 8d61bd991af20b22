package node

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/metadata"
)

// TestTxnVerifierAsksTheCoordinator: the verifier sends one
// AddPartitionsToTxn v4+ VerifyOnly request to the coordinator and turns
// its answer into a code per partition.
func TestTxnVerifierAsksTheCoordinator(t *testing.T) {
	var sent []*kmsg.AddPartitionsToTxnRequest
	var sentTo []int32
	answer := func(req *kmsg.AddPartitionsToTxnRequest, topErr int16, codes map[string]map[int32]int16) *kmsg.AddPartitionsToTxnResponse {
		resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
		resp.Version, resp.ErrorCode = req.Version, topErr
		if topErr != 0 {
			return resp
		}
		for _, tx := range req.Transactions {
			rtx := kmsg.NewAddPartitionsToTxnResponseTransaction()
			rtx.TransactionalID = tx.TransactionalID
			for _, tp := range tx.Topics {
				rt := kmsg.NewAddPartitionsToTxnResponseTransactionTopic()
				rt.Topic = tp.Topic
				for _, p := range tp.Partitions {
					if c, ok := codes[tp.Topic][p]; ok || codes == nil {
						rp := kmsg.NewAddPartitionsToTxnResponseTransactionTopicPartition()
						rp.Partition, rp.ErrorCode = p, c
						rt.Partitions = append(rt.Partitions, rp)
					}
				}
				rtx.Topics = append(rtx.Topics, rt)
			}
			resp.Transactions = append(resp.Transactions, rtx)
		}
		return resp
	}
	var topErr int16
	var codes map[string]map[int32]int16
	var sendErr error
	v := newTxnVerifier(metadata.Empty, func(_ context.Context, id int32, req kmsg.Request) (kmsg.Response, error) {
		r := req.(*kmsg.AddPartitionsToTxnRequest)
		sent, sentTo = append(sent, r), append(sentTo, id)
		if sendErr != nil {
			return nil, sendErr
		}
		return answer(r, topErr, codes), nil
	})
	ask := map[string][]int32{"b": {1}, "a": {0, 2}}

	// No __transaction_state yet: no coordinator, nothing sent.
	got, err := v.VerifyTxnPartitions(t.Context(), "tx", 5, 1, ask, false)
	want := map[string]map[int32]int16{"a": {0: kerr.CoordinatorNotAvailable.Code, 2: kerr.CoordinatorNotAvailable.Code}, "b": {1: kerr.CoordinatorNotAvailable.Code}}
	if diff := cmp.Diff(want, got); err != nil || diff != "" || len(sent) != 0 {
		t.Fatalf("VerifyTxnPartitions without a coordinator = err %v, %d requests, codes (-want +got):\n%s", err, len(sent), diff)
	}

	v.coordinatorOf = func(txnID string) (int32, int16) { return 3, 0 }
	codes = map[string]map[int32]int16{"a": {0: 0, 2: kerr.InvalidTxnState.Code}} // b-1 left out
	got, err = v.VerifyTxnPartitions(t.Context(), "tx", 5, 1, ask, false)
	want = map[string]map[int32]int16{"a": {0: 0, 2: kerr.InvalidTxnState.Code}, "b": {}}
	if diff := cmp.Diff(want, got); err != nil || diff != "" {
		t.Errorf("VerifyTxnPartitions = err %v, codes (-want +got):\n%s", err, diff)
	}
	if len(sent) != 1 || sentTo[0] != 3 {
		t.Fatalf("sent %d requests to %v, want one to broker 3", len(sent), sentTo)
	}
	r := sent[0]
	if r.Version < 4 || len(r.Transactions) != 1 {
		t.Fatalf("request v%d with %d transactions, want v4+ with one", r.Version, len(r.Transactions))
	}
	tx := r.Transactions[0]
	if tx.TransactionalID != "tx" || tx.ProducerID != 5 || tx.ProducerEpoch != 1 || !tx.VerifyOnly ||
		len(tx.Topics) != 2 || tx.Topics[0].Topic != "a" || tx.Topics[1].Topic != "b" {
		t.Errorf("request transaction = %+v, want tx, producer 5 epoch 1, verify only, topics a and b", tx)
	}

	topErr = kerr.ClusterAuthorizationFailed.Code
	got, _ = v.VerifyTxnPartitions(t.Context(), "tx", 5, 1, map[string][]int32{"a": {0}}, false)
	if got["a"][0] != kerr.InvalidTxnState.Code {
		t.Errorf("top-level CLUSTER_AUTHORIZATION_FAILED gave %d, want INVALID_TXN_STATE", got["a"][0])
	}
	topErr = 0

	sendErr = errors.New("connection refused")
	if _, err := v.VerifyTxnPartitions(t.Context(), "tx", 5, 1, ask, false); !errors.Is(err, sendErr) {
		t.Errorf("VerifyTxnPartitions with the coordinator unreachable = %v, want %v", err, sendErr)
	}
}
