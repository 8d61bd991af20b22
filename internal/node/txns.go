package node

import (
	"context"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/coordinator"
	"github.com/strata-io/strata/internal/txn"
)

// txnStateTopic is Kafka's internal topic of transaction state.
const txnStateTopic = txn.TransactionStateTopic

func (n *Node) txnConfig(channel *controllerChannel, producerIDs func(context.Context) (int64, error)) txn.Config {
	st := n.cfg.Static
	cfg := txn.DefaultConfig()
	cfg.NodeID = st.NodeID
	cfg.Logger = n.log
	cfg.NumPartitions = st.TransactionStatePartitions
	if t, ok := n.ctrl.Image().TopicByName(txnStateTopic); ok {
		// The id-to-partition mapping depends on the count the topic was
		// created with; a changed flag cannot change it.
		if got := int32(len(t.Partitions)); got != cfg.NumPartitions {
			n.log.Warn("transaction-state-partitions differs from the existing __transaction_state; keeping the existing count",
				"configured", cfg.NumPartitions, "existing", got)
			cfg.NumPartitions = got
		}
	}
	cfg.MaxTimeout = st.TransactionMaxTimeout
	cfg.IDExpiration = st.TransactionalIDExpiration
	cfg.AbortTimedOutInterval = st.TransactionAbortInterval
	cfg.ProducerIDs = producerIDs
	cfg.Markers = markerSender{n: n, channel: channel}
	return cfg
}

// coordinatorHost is a coordinator whose shards follow the leadership of
// its internal topic's partitions.
type coordinatorHost interface {
	Load(partition, leaderEpoch int32, log coordinator.Log)
	Unload(partition int32)
}

// coordinatorOf returns the coordinator hosted on topic's partitions, nil
// for other topics.
func (n *Node) coordinatorOf(topic string) coordinatorHost {
	switch topic {
	case offsetsTopic:
		return n.groups
	case txnStateTopic:
		return n.txns
	}
	return nil
}

// markerSender carries the transaction coordinator's markers to partition
// leaders, this broker included, over the brokers' Kafka listeners.
type markerSender struct {
	n       *Node
	channel *controllerChannel
}

func (m markerSender) Leader(p txn.Partition) (int32, bool) {
	t, ok := m.n.ctrl.Image().TopicByName(p.Topic)
	if !ok {
		return -1, false
	}
	pi, ok := t.Partition(p.Partition)
	if !ok {
		return -1, false
	}
	return pi.Leader, true
}

func (m markerSender) WriteTxnMarkers(ctx context.Context, broker int32, req *kmsg.WriteTxnMarkersRequest) (*kmsg.WriteTxnMarkersResponse, error) {
	resp, err := m.channel.RequestTo(ctx, broker, req)
	if err != nil {
		return nil, err
	}
	r, ok := resp.(*kmsg.WriteTxnMarkersResponse)
	if !ok {
		return nil, fmt.Errorf("WriteTxnMarkers answered with %T", resp)
	}
	return r, nil
}

// txnTopicWanted asks for __transaction_state to be created (the first
// FindCoordinator of a transactional id does, as in Kafka); never blocks.
func (n *Node) txnTopicWanted() {
	select {
	case n.wantTxnTopic <- struct{}{}:
	default:
	}
}

// runTxnTopicCreator creates __transaction_state when first asked for,
// with Kafka's settings: compacted, replication factor min(3, voters),
// min.insync.replicas 2 capped by it, 100 MiB segments. It returns once
// the topic exists or ctx ends.
func (n *Node) runTxnTopicCreator(ctx context.Context, channel *controllerChannel) error {
	if _, ok := n.ctrl.Image().TopicByName(txnStateTopic); ok {
		return nil
	}
	select {
	case <-ctx.Done():
		return nil
	case <-n.wantTxnTopic:
	}
	err := n.ensureInternalTopic(ctx, channel, txnStateTopic, n.cfg.Static.TransactionStatePartitions, func(rf int16) map[string]string {
		return map[string]string{
			"cleanup.policy":                 "compact",
			"min.insync.replicas":            strconv.Itoa(int(min(rf, 2))), // transaction.state.log.min.isr
			"segment.bytes":                  strconv.Itoa(100 << 20),       // transaction.state.log.segment.bytes
			"compression.type":               "uncompressed",
			"unclean.leader.election.enable": "false",
		}
	})
	if ctx.Err() != nil {
		return nil
	}
	return err
}
