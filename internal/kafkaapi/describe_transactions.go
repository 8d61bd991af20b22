package kafkaapi

// DescribeTransactions v0 (KIP-664): the state of transactional ids this
// broker coordinates; NOT_COORDINATOR for others (the admin client asks
// each id's coordinator), TRANSACTIONAL_ID_NOT_FOUND for unknown ids.

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/acl"
	"github.com/strata-io/strata/internal/server"
)

func (h *Handler) describeTransactions(rc *reqCtx, req *kmsg.DescribeTransactionsRequest) server.Response {
	resp := req.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	return later(rc, func() kmsg.Response {
		for _, id := range req.TransactionalIDs {
			st := kmsg.NewDescribeTransactionsResponseTransactionState()
			st.TransactionalID = id
			if !h.allowed(rc, acl.OpDescribe, acl.ResourceTransactionalID, id) {
				st.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
				st.ProducerID, st.ProducerEpoch, st.StartTimestamp = -1, -1, -1
				resp.TransactionStates = append(resp.TransactionStates, st)
				continue
			}
			d, err := h.txns.Describe(rc.ctx, id)
			if err != nil {
				st.ErrorCode = txnCode(rc, err, req.Version, 0)
				st.ProducerID, st.ProducerEpoch, st.StartTimestamp = -1, -1, -1
				resp.TransactionStates = append(resp.TransactionStates, st)
				continue
			}
			st.State, st.TimeoutMillis, st.StartTimestamp = d.State.String(), d.TimeoutMs, d.StartTimestamp
			st.ProducerID, st.ProducerEpoch = d.ProducerID, d.ProducerEpoch
			at := map[string]int{}
			for _, p := range d.Partitions {
				if !h.allowed(rc, acl.OpDescribe, acl.ResourceTopic, p.Topic) {
					continue // as Kafka: topics the client may not describe are left out
				}
				i, ok := at[p.Topic]
				if !ok {
					i = len(st.Topics)
					at[p.Topic] = i
					t := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
					t.Topic = p.Topic
					st.Topics = append(st.Topics, t)
				}
				st.Topics[i].Partitions = append(st.Topics[i].Partitions, p.Partition)
			}
			resp.TransactionStates = append(resp.TransactionStates, st)
		}
		return resp
	})
}
