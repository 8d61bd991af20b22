package node

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/record"
)

// TestTxnBadInputGetsKafkaErrors: out-of-order, stale and malformed
// transactional calls get Kafka's error codes, and a transactional write to
// a partition outside the producer's transaction is refused and never
// appended.
func TestTxnBadInputGetsKafkaErrors(t *testing.T) {
	tn := startNode(t, withTxnPartitions(3))
	tn.createTopic("tbad", 1, nil)
	rc := dialRaw(t, tn.addr)
	code := func(what string, got int16, want *kerr.Error) {
		t.Helper()
		w := int16(0)
		if want != nil {
			w = want.Code
		}
		if got != w {
			t.Errorf("%s: %v, want %v", what, kerr.ErrorForCode(got), kerr.ErrorForCode(w))
		}
	}
	init := func(id string, timeout int32, pid int64, epoch int16) *kmsg.InitProducerIDResponse {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.Version = 4
		req.TransactionalID, req.TransactionTimeoutMillis, req.ProducerID, req.ProducerEpoch = &id, timeout, pid, epoch
		return rc.send(req).(*kmsg.InitProducerIDResponse)
	}
	var pid int64
	var epoch int16
	waitFor(t, "the transaction coordinator", 20*time.Second, func() bool {
		// The first lookup creates __transaction_state, as in Kafka.
		fc := kmsg.NewPtrFindCoordinatorRequest()
		fc.Version, fc.CoordinatorType, fc.CoordinatorKey = 3, 1, "tbad-app"
		if rc.send(fc).(*kmsg.FindCoordinatorResponse).ErrorCode != 0 {
			return false
		}
		r := init("tbad-app", 10000, -1, -1)
		pid, epoch = r.ProducerID, r.ProducerEpoch
		return r.ErrorCode == 0
	})

	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.Version, fc.CoordinatorType, fc.CoordinatorKey = 3, 1, ""
	code("FindCoordinator for an empty transactional id", rc.send(fc).(*kmsg.FindCoordinatorResponse).ErrorCode, kerr.InvalidRequest)
	code("InitProducerId with timeout 0", init("tbad-app", 0, -1, -1).ErrorCode, kerr.InvalidTransactionTimeout)
	code("InitProducerId with a producer id but no epoch", init("tbad-app", 10000, pid, -1).ErrorCode, kerr.InvalidRequest)
	code("InitProducerId with another producer's id", init("tbad-app", 10000, pid+100, 3).ErrorCode, kerr.ProducerFenced)

	add := func(id string, pid int64, epoch int16, topics map[string][]int32) map[string]map[int32]int16 {
		req := kmsg.NewPtrAddPartitionsToTxnRequest()
		req.Version = 3
		req.TransactionalID, req.ProducerID, req.ProducerEpoch = id, pid, epoch
		for topic, ps := range topics {
			rt := kmsg.NewAddPartitionsToTxnRequestTopic()
			rt.Topic, rt.Partitions = topic, ps
			req.Topics = append(req.Topics, rt)
		}
		out := map[string]map[int32]int16{}
		for _, rt := range rc.send(req).(*kmsg.AddPartitionsToTxnResponse).Topics {
			out[rt.Topic] = map[int32]int16{}
			for _, rp := range rt.Partitions {
				out[rt.Topic][rp.Partition] = rp.ErrorCode
			}
		}
		return out
	}
	code("AddPartitionsToTxn for an unknown transactional id", add("nobody", pid, epoch, map[string][]int32{"tbad": {0}})["tbad"][0], kerr.InvalidProducerIDMapping)
	mixed := add("tbad-app", pid, epoch, map[string][]int32{"tbad": {0}, "no-such-topic": {0}})
	code("AddPartitionsToTxn of an unknown topic", mixed["no-such-topic"][0], kerr.UnknownTopicOrPartition)
	code("AddPartitionsToTxn of a good partition next to an unknown topic", mixed["tbad"][0], kerr.OperationNotAttempted)
	code("AddPartitionsToTxn at an old epoch", add("tbad-app", pid, epoch-1, map[string][]int32{"tbad": {0}})["tbad"][0], kerr.ProducerFenced)

	end := func(version int16, pid int64, epoch int16, commit bool) int16 {
		req := kmsg.NewPtrEndTxnRequest()
		req.Version = version
		req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = "tbad-app", pid, epoch, commit
		return rc.send(req).(*kmsg.EndTxnResponse).ErrorCode
	}
	code("EndTxn with nothing ongoing", end(3, pid, epoch, true), kerr.InvalidTxnState)
	code("EndTxn v3 at an old epoch", end(3, pid, epoch-1, true), kerr.ProducerFenced)
	code("EndTxn v1 at an old epoch (KIP-588: older clients)", end(1, pid, epoch-1, true), kerr.InvalidProducerEpoch)
	code("EndTxn with another producer id", end(3, pid+1, epoch, true), kerr.InvalidProducerIDMapping)

	// A transactional write to a partition not in the transaction, from a
	// client of transaction version 1 (Produce v11: verified, never added;
	// v12 adds the partition, KIP-890 part 2).
	req := txnProduceRequest(t, "tbad", 0, "tbad-app", pid, epoch, "not-added")
	req.Version = 11
	resp := rc.send(req).(*kmsg.ProduceResponse)
	code("transactional produce v11 outside the transaction", resp.Topics[0].Partitions[0].ErrorCode, kerr.InvalidTxnState)
	if n := len(valuesOf(t, tn.addr, "tbad", 0, kgo.ReadUncommitted())[0]); n != 0 {
		t.Errorf("the refused transactional batch was appended: %d records in tbad-0", n)
	}

	tc := kmsg.NewPtrTxnOffsetCommitRequest()
	tc.Version = 3
	tc.TransactionalID, tc.Group, tc.ProducerID, tc.ProducerEpoch, tc.Generation, tc.MemberID = "tbad-app", "tbad-group", pid, epoch, 5, "m"
	tt := kmsg.NewTxnOffsetCommitRequestTopic()
	tt.Topic = "tbad"
	tp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	tp.Partition, tp.Offset = 0, 1
	tt.Partitions = append(tt.Partitions, tp)
	tc.Topics = append(tc.Topics, tt)
	code("TxnOffsetCommit for an unknown group with a generation", rc.send(tc).(*kmsg.TxnOffsetCommitResponse).Topics[0].Partitions[0].ErrorCode, kerr.IllegalGeneration)

	dt := kmsg.NewPtrDescribeTransactionsRequest()
	dt.TransactionalIDs = []string{"nobody"}
	code("DescribeTransactions of an unknown id", rc.send(dt).(*kmsg.DescribeTransactionsResponse).TransactionStates[0].ErrorCode, kerr.TransactionalIDNotFound)
	lt := kmsg.NewPtrListTransactionsRequest()
	lt.Version = 2
	bad := "(["
	lt.TransactionalIDPattern = &bad
	code("ListTransactions with a bad pattern", rc.send(lt).(*kmsg.ListTransactionsResponse).ErrorCode, kerr.InvalidRegularExpression)
	lt.TransactionalIDPattern, lt.StateFilters = nil, []string{"Sleeping"}
	lr := rc.send(lt).(*kmsg.ListTransactionsResponse)
	if lr.ErrorCode != 0 || len(lr.UnknownStateFilters) != 1 || len(lr.TransactionStates) != 0 {
		t.Errorf("ListTransactions with an unknown state = %+v, want it listed as unknown and nothing matched", lr)
	}

	wm := kmsg.NewPtrWriteTxnMarkersRequest()
	wm.Version = 1
	mk := kmsg.NewWriteTxnMarkersRequestMarker()
	mk.ProducerID, mk.ProducerEpoch, mk.Committed, mk.CoordinatorEpoch = pid, epoch, true, 0
	mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
	mt.Topic, mt.Partitions = "no-such-topic", []int32{0}
	mk.Topics = append(mk.Topics, mt)
	wm.Markers = append(wm.Markers, mk)
	wr := rc.send(wm).(*kmsg.WriteTxnMarkersResponse)
	code("WriteTxnMarkers to an unknown partition", wr.Markers[0].Topics[0].Partitions[0].ErrorCode, kerr.UnknownTopicOrPartition)
}

// txnProduceRequest is a produce of one transactional record.
func txnProduceRequest(t *testing.T, topic string, partition int32, txnID string, pid int64, epoch int16, value string) *kmsg.ProduceRequest {
	t.Helper()
	now := time.Now().UnixMilli()
	bb := record.NewBuilder(record.CodecNone, now)
	bb.SetProducer(pid, epoch, 0)
	bb.SetTransactional(true)
	bb.Add(now, nil, []byte(value), nil)
	raw, err := bb.Build()
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.TransactionID, req.Acks, req.TimeoutMillis = &txnID, -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = partition, raw
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}
