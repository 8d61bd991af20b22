package kafkaapi

// AddPartitionsToTxn v0-v5.
//   v0-v3 (clients): one transaction; v1: throttle; v2 (KIP-588):
//   PRODUCER_FENCED; v3: flexible. v4+ (KIP-890, brokers): several
//   transactions per request, each add or verify-only (a partition leader
//   asking whether a partition is in the producer's ongoing transaction
//   before it appends a transactional batch), and a top-level error. v5:
//   no wire change. An add (not verify-only) at v4+ comes from a broker
//   adding a partition for a client at transaction version 2 (Produce
//   v12+, TxnOffsetCommit v5+: KIP-890 part 2), and the transaction is
//   recorded as version 2: it ends with an epoch bump.
// Partitions of topics that do not exist fail with
// UNKNOWN_TOPIC_OR_PARTITION and the others of the transaction with
// OPERATION_NOT_ATTEMPTED, as in Kafka; otherwise the coordinator's answer
// applies to each partition.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/acl"
	"github.com/strata-io/strata/internal/server"
	"github.com/strata-io/strata/internal/txn"
)

// txnPartitionRequest is one transaction of an AddPartitionsToTxn request,
// in either form.
type txnPartitionRequest struct {
	id         string
	pe         txn.ProducerIDAndEpoch
	verifyOnly bool
	topics     map[string][]int32
	order      []string // topics in request order
}

// txnPartitionCodes is the answer per topic and partition.
type txnPartitionCodes map[string]map[int32]int16

func (h *Handler) addPartitionsToTxn(rc *reqCtx, req *kmsg.AddPartitionsToTxnRequest) server.Response {
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	var txns []txnPartitionRequest
	if req.Version < 4 {
		t := txnPartitionRequest{id: req.TransactionalID, pe: txn.ProducerIDAndEpoch{ID: req.ProducerID, Epoch: req.ProducerEpoch}, topics: map[string][]int32{}}
		for _, rt := range req.Topics {
			if _, ok := t.topics[rt.Topic]; !ok {
				t.order = append(t.order, rt.Topic)
			}
			t.topics[rt.Topic] = append(t.topics[rt.Topic], rt.Partitions...)
		}
		txns = append(txns, t)
		if refused := h.authorizeAddPartitions(rc, req, t); refused != nil {
			return done(refused)
		}
	} else {
		for _, rtx := range req.Transactions {
			t := txnPartitionRequest{id: rtx.TransactionalID, pe: txn.ProducerIDAndEpoch{ID: rtx.ProducerID, Epoch: rtx.ProducerEpoch}, verifyOnly: rtx.VerifyOnly, topics: map[string][]int32{}}
			for _, rt := range rtx.Topics {
				if _, ok := t.topics[rt.Topic]; !ok {
					t.order = append(t.order, rt.Topic)
				}
				t.topics[rt.Topic] = append(t.topics[rt.Topic], rt.Partitions...)
			}
			txns = append(txns, t)
		}
	}
	return later(rc, func() kmsg.Response {
		results := make([]txnPartitionCodes, len(txns))
		for i, t := range txns {
			results[i] = h.addPartitionsOne(rc, t, req.Version)
		}
		if req.Version < 4 {
			for _, topic := range txns[0].order {
				rt := kmsg.NewAddPartitionsToTxnResponseTopic()
				rt.Topic = topic
				for _, p := range txns[0].topics[topic] {
					rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
					rp.Partition, rp.ErrorCode = p, results[0][topic][p]
					rt.Partitions = append(rt.Partitions, rp)
				}
				resp.Topics = append(resp.Topics, rt)
			}
			return resp
		}
		for i, t := range txns {
			rtx := kmsg.NewAddPartitionsToTxnResponseTransaction()
			rtx.TransactionalID = t.id
			for _, topic := range t.order {
				rt := kmsg.NewAddPartitionsToTxnResponseTransactionTopic()
				rt.Topic = topic
				for _, p := range t.topics[topic] {
					rp := kmsg.NewAddPartitionsToTxnResponseTransactionTopicPartition()
					rp.Partition, rp.ErrorCode = p, results[i][topic][p]
					rt.Partitions = append(rt.Partitions, rp)
				}
				rtx.Topics = append(rtx.Topics, rt)
			}
			resp.Transactions = append(resp.Transactions, rtx)
		}
		return resp
	})
}

// addPartitionsOne adds (or verifies) the partitions of one transaction.
func (h *Handler) addPartitionsOne(rc *reqCtx, t txnPartitionRequest, version int16) txnPartitionCodes {
	codes := make(txnPartitionCodes, len(t.topics))
	all := func(code int16) {
		for topic, ps := range t.topics {
			codes[topic] = make(map[int32]int16, len(ps))
			for _, p := range ps {
				codes[topic][p] = code
			}
		}
	}
	img := h.ctrl.Image()
	exists := func(topic string, p int32) bool {
		ti, ok := img.TopicByName(topic)
		if !ok {
			return false
		}
		_, ok = ti.Partition(p)
		return ok
	}
	var parts []txn.Partition
	missing := false
	for topic, ps := range t.topics {
		for _, p := range ps {
			missing = missing || !exists(topic, p)
			parts = append(parts, txn.Partition{Topic: topic, Partition: p})
		}
	}
	if missing {
		all(kerr.OperationNotAttempted.Code)
		for topic, ps := range t.topics {
			for _, p := range ps {
				if !exists(topic, p) {
					codes[topic][p] = kerr.UnknownTopicOrPartition.Code
				}
			}
		}
		return codes
	}
	if !t.verifyOnly {
		add := h.txns.AddPartitions
		if version >= 4 {
			// Only brokers send v4+: a partition leader for a Produce
			// v12+ or a group coordinator for a TxnOffsetCommit v5+,
			// both from a client at transaction version 2.
			add = h.txns.AddPartitionsV2
		}
		all(txnCode(rc, add(rc.ctx, t.id, t.pe, parts), version, 2))
		return codes
	}
	per, err := h.txns.VerifyPartitions(rc.ctx, t.id, t.pe, parts)
	if err != nil {
		all(txnCode(rc, err, version, 2))
		return codes
	}
	all(0)
	for p, perr := range per {
		codes[p.Topic][p.Partition] = txnCode(rc, perr, version, 2)
	}
	return codes
}

// authorizeAddPartitions checks a client's AddPartitionsToTxn (v0-v3) as
// Kafka: WRITE on the transactional id, else every partition fails with
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED; WRITE on each topic, else its
// partitions fail with TOPIC_AUTHORIZATION_FAILED and the others with
// OPERATION_NOT_ATTEMPTED (nothing is added). It returns nil when the
// request may go on.
func (h *Handler) authorizeAddPartitions(rc *reqCtx, req *kmsg.AddPartitionsToTxnRequest, t txnPartitionRequest) *kmsg.AddPartitionsToTxnResponse {
	idOK := h.allowed(rc, acl.OpWrite, acl.ResourceTransactionalID, t.id)
	codes := map[string]int16{}
	refused := !idOK
	for _, topic := range t.order {
		switch {
		case !idOK:
			codes[topic] = kerr.TransactionalIDAuthorizationFailed.Code
		case !h.allowed(rc, acl.OpWrite, acl.ResourceTopic, topic):
			codes[topic], refused = kerr.TopicAuthorizationFailed.Code, true
		default:
			codes[topic] = kerr.OperationNotAttempted.Code
		}
	}
	if !refused {
		return nil
	}
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	for _, topic := range t.order {
		rt := kmsg.NewAddPartitionsToTxnResponseTopic()
		rt.Topic = topic
		for _, p := range t.topics[topic] {
			rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p, codes[topic]
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
