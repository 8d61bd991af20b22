package group

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/strata-io/strata/internal/storage"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnCommit describes one TxnOffsetCommit of one partition.
type txnCommit struct {
	group      string
	version    int16 // 3 when zero
	producerID int64
	epoch      int16
	generation int32
	memberID   string
	instanceID *string
	topic      string
	partition  int32
	offset     int64
	metadata   string
}

func (tc txnCommit) request() *kmsg.TxnOffsetCommitRequest {
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.Version = 3
	if tc.version != 0 {
		req.Version = tc.version
	}
	req.TransactionalID = "tx"
	req.Group, req.ProducerID, req.ProducerEpoch = tc.group, tc.producerID, tc.epoch
	req.Generation, req.MemberID, req.InstanceID = tc.generation, tc.memberID, tc.instanceID
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = tc.topic
	rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset, rp.LeaderEpoch = tc.partition, tc.offset, 3
	md := tc.metadata
	rp.Metadata = &md
	rt.Partitions = []kmsg.TxnOffsetCommitRequestTopicPartition{rp}
	req.Topics = []kmsg.TxnOffsetCommitRequestTopic{rt}
	return req
}

// simpleTxn is a TxnOffsetCommit of producerID without group membership.
func simpleTxn(group string, producerID int64, topic string, partition int32, offset int64) txnCommit {
	return txnCommit{group: group, producerID: producerID, generation: -1, topic: topic, partition: partition, offset: offset}
}

// txnOffsetCommit sends tc and returns its partition's error code.
func (c *Coordinator) txnOffsetCommit(t *testing.T, tc txnCommit) int16 {
	t.Helper()
	resp := c.TxnOffsetCommit(context.Background(), tc.request())
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("TxnOffsetCommit(%+v): %d topics, want one partition", tc, len(resp.Topics))
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}

// fetchStable fetches one partition with require_stable (v7) and returns
// its offset and error code.
func (c *Coordinator) fetchStable(t *testing.T, group, topic string, partition int32) (int64, int16) {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 7
	req.Group = group
	req.RequireStable = true
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic, rt.Partitions = topic, []int32{partition}
	req.Topics = []kmsg.OffsetFetchRequestTopic{rt}
	resp := c.OffsetFetch(context.Background(), req)
	wantCode(t, "OffsetFetch(require_stable)", resp.ErrorCode, nil)
	p := resp.Topics[0].Partitions[0]
	return p.Offset, p.ErrorCode
}

func TestTxnOffsetsAreVisibleOnlyOnceCommitted(t *testing.T) {
	bubble(t, func(t *testing.T) {
		c := startCoordinator(t, testConfig(t), &memLog{})
		ctx := context.Background()
		wantCode(t, "OffsetCommit", c.commit("g", "", -1, "t", 0, 5), nil)

		wantCode(t, "TxnOffsetCommit of producer 1", c.txnOffsetCommit(t, simpleTxn("g", 1, "t", 0, 10)), nil)
		if got := c.fetch(t, "g", "t", 0); got != 5 {
			t.Fatalf("OffsetFetch with producer 1's offset pending = %d, want the committed 5", got)
		}
		if off, code := c.fetchStable(t, "g", "t", 0); code != kerr.UnstableOffsetCommit.Code || off != -1 {
			t.Fatalf("OffsetFetch(require_stable) with an offset pending = %d, %s; want -1, UNSTABLE_OFFSET_COMMIT", off, codeName(code))
		}
		if off, code := c.fetchStable(t, "g", "t", 1); code != 0 || off != -1 {
			t.Fatalf("OffsetFetch(require_stable) of another partition = %d, %s; want -1, NONE", off, codeName(code))
		}

		if err := c.CompleteTransaction(ctx, 0, 1, 0, 0, true); err != nil {
			t.Fatalf("CompleteTransaction(producer 1, commit) = %v", err)
		}
		if off, code := c.fetchStable(t, "g", "t", 0); code != 0 || off != 10 {
			t.Fatalf("OffsetFetch(require_stable) after the commit marker = %d, %s; want 10, NONE", off, codeName(code))
		}

		wantCode(t, "TxnOffsetCommit of producer 2", c.txnOffsetCommit(t, simpleTxn("g", 2, "t", 0, 99)), nil)
		if err := c.CompleteTransaction(ctx, 0, 2, 0, 0, false); err != nil {
			t.Fatalf("CompleteTransaction(producer 2, abort) = %v", err)
		}
		if off, code := c.fetchStable(t, "g", "t", 0); code != 0 || off != 10 {
			t.Fatalf("OffsetFetch(require_stable) after the abort marker = %d, %s; want 10, NONE", off, codeName(code))
		}
	})
}

func TestRequireStableFetchOfAllPartitions(t *testing.T) {
	bubble(t, func(t *testing.T) {
		c := startCoordinator(t, testConfig(t), &memLog{})
		wantCode(t, "OffsetCommit t-0", c.commit("g", "", -1, "t", 0, 5), nil)
		wantCode(t, "TxnOffsetCommit t-0", c.txnOffsetCommit(t, simpleTxn("g", 1, "t", 0, 6)), nil)
		wantCode(t, "TxnOffsetCommit t-1", c.txnOffsetCommit(t, simpleTxn("g", 1, "t", 1, 7)), nil)

		req := kmsg.NewPtrOffsetFetchRequest()
		req.Version = 7
		req.Group = "g"
		req.RequireStable = true // Topics nil: every committed partition
		resp := c.OffsetFetch(context.Background(), req)
		wantCode(t, "OffsetFetch(all, require_stable)", resp.ErrorCode, nil)
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("OffsetFetch(all, require_stable) = %+v, want t-0 only (t-1 has nothing committed)", resp.Topics)
		}
		p := resp.Topics[0].Partitions[0]
		if p.Partition != 0 || p.ErrorCode != kerr.UnstableOffsetCommit.Code || p.Offset != -1 {
			t.Fatalf("OffsetFetch(all, require_stable) t-%d = %d, %s; want t-0 -1 UNSTABLE_OFFSET_COMMIT", p.Partition, p.Offset, codeName(p.ErrorCode))
		}
	})
}

func TestLaterPlainCommitWinsOverCommittedTransaction(t *testing.T) {
	bubble(t, func(t *testing.T) {
		log := &memLog{}
		c := startCoordinator(t, testConfig(t), log)
		wantCode(t, "TxnOffsetCommit", c.txnOffsetCommit(t, simpleTxn("g", 1, "t", 0, 10)), nil)
		wantCode(t, "OffsetCommit after it", c.commit("g", "", -1, "t", 0, 20), nil)
		if err := c.CompleteTransaction(context.Background(), 0, 1, 0, 0, true); err != nil {
			t.Fatalf("CompleteTransaction(commit) = %v", err)
		}
		if got := c.fetch(t, "g", "t", 0); got != 20 {
			t.Fatalf("OffsetFetch = %d, want 20: the plain commit's record is later", got)
		}
		c.Load(0, 1, log)
		synctest.Wait()
		if got := c.fetch(t, "g", "t", 0); got != 20 {
			t.Fatalf("OffsetFetch after reload = %d, want 20", got)
		}
	})
}

func TestTxnOffsetCommitValidation(t *testing.T) {
	bubble(t, func(t *testing.T) {
		cfg := testConfig(t)
		cfg.OffsetMetadataMaxBytes = 4
		cfg.PartitionExists = func(topic string, _ int32) bool { return topic != "gone" }
		c := startCoordinator(t, cfg, &memLog{})
		ids, gen := stableGroup(t, c, "g", 1, joinOpts{})
		m := ids[0]
		ghost := "ghost"

		tests := []struct {
			name string
			give txnCommit
			want *kerr.Error
		}{
			{"member at its generation", txnCommit{group: "g", producerID: 1, generation: gen, memberID: m, topic: "t"}, nil},
			{"older generation", txnCommit{group: "g", producerID: 1, generation: gen - 1, memberID: m, topic: "t"}, kerr.IllegalGeneration},
			{"unknown member", txnCommit{group: "g", producerID: 1, generation: gen, memberID: "stranger", topic: "t"}, kerr.UnknownMemberID},
			{"unknown instance id", txnCommit{group: "g", producerID: 1, generation: gen, memberID: m, instanceID: &ghost, topic: "t"}, kerr.UnknownMemberID},
			{"no generation, no member (v2 client) to a group with members", txnCommit{group: "g", version: 2, producerID: 1, generation: -1, topic: "t"}, nil},
			{"generation to an unknown group", txnCommit{group: "nope", producerID: 1, generation: 1, memberID: m, topic: "t"}, kerr.IllegalGeneration},
			{"simple commit to an unknown group", simpleTxn("new", 1, "t", 0, 1), nil},
			{"metadata too large", txnCommit{group: "g", producerID: 1, generation: gen, memberID: m, topic: "t", metadata: "12345"}, kerr.OffsetMetadataTooLarge},
			{"unknown topic", txnCommit{group: "g", producerID: 1, generation: gen, memberID: m, topic: "gone"}, kerr.UnknownTopicOrPartition},
		}
		for _, tt := range tests {
			wantCode(t, "TxnOffsetCommit "+tt.name, c.txnOffsetCommit(t, tt.give), tt.want)
		}
		if got := c.listGroups(t)["new"]; got != "Empty" {
			t.Fatalf("ListGroups: new is %q after a simple TxnOffsetCommit, want Empty", got)
		}

		// The append fences an older producer epoch.
		wantCode(t, "TxnOffsetCommit at epoch 5", c.txnOffsetCommit(t, txnCommit{group: "g", producerID: 9, epoch: 5, generation: -1, topic: "t"}), nil)
		wantCode(t, "TxnOffsetCommit at epoch 4", c.txnOffsetCommit(t, txnCommit{group: "g", producerID: 9, epoch: 4, generation: -1, topic: "t"}), kerr.InvalidProducerEpoch)
	})
}

func TestTxnOffsetCommitOfConsumerGroupMember(t *testing.T) {
	bubble(t, func(t *testing.T) {
		topics := newFakeTopics(map[string]int32{"t": 2})
		c := startCoordinator(t, consumerConfig(t, topics), &memLog{})
		m := newConsumer848(t, c, "cg", "m1", "t")
		m.join()

		wantCode(t, "TxnOffsetCommit at the member epoch", c.txnOffsetCommit(t, txnCommit{group: "cg", producerID: 1, generation: m.epoch, memberID: m.id, topic: "t"}), nil)
		wantCode(t, "TxnOffsetCommit at another epoch", c.txnOffsetCommit(t, txnCommit{group: "cg", producerID: 1, generation: m.epoch + 1, memberID: m.id, topic: "t"}), kerr.IllegalGeneration)
		wantCode(t, "TxnOffsetCommit of an unknown member", c.txnOffsetCommit(t, txnCommit{group: "cg", producerID: 1, generation: m.epoch, memberID: "x", topic: "t"}), kerr.UnknownMemberID)
	})
}

func TestReloadRebuildsPendingAndCompletedTxnOffsets(t *testing.T) {
	bubble(t, func(t *testing.T) {
		log := &memLog{}
		c := startCoordinator(t, testConfig(t), log)
		ctx := context.Background()
		wantCode(t, "TxnOffsetCommit of producer 1", c.txnOffsetCommit(t, simpleTxn("g", 1, "t", 0, 10)), nil)
		wantCode(t, "TxnOffsetCommit of producer 2", c.txnOffsetCommit(t, simpleTxn("g", 2, "t", 1, 20)), nil)
		wantCode(t, "TxnOffsetCommit of producer 3", c.txnOffsetCommit(t, simpleTxn("g", 3, "t", 2, 30)), nil)
		if err := c.CompleteTransaction(ctx, 0, 2, 0, 0, true); err != nil {
			t.Fatalf("CompleteTransaction(producer 2, commit) = %v", err)
		}
		if err := c.CompleteTransaction(ctx, 0, 3, 0, 0, false); err != nil {
			t.Fatalf("CompleteTransaction(producer 3, abort) = %v", err)
		}

		// Failover: a new shard replays the same log.
		c.Load(0, 1, log)
		synctest.Wait()
		if _, code := c.fetchStable(t, "g", "t", 0); code != kerr.UnstableOffsetCommit.Code {
			t.Fatalf("after reload, t-0 (producer 1 undecided) = %s, want UNSTABLE_OFFSET_COMMIT", codeName(code))
		}
		if got := c.fetch(t, "g", "t", 0); got != -1 {
			t.Fatalf("after reload, OffsetFetch t-0 = %d, want -1 (pending)", got)
		}
		if off, code := c.fetchStable(t, "g", "t", 1); code != 0 || off != 20 {
			t.Fatalf("after reload, t-1 (producer 2 committed) = %d, %s; want 20, NONE", off, codeName(code))
		}
		if off, code := c.fetchStable(t, "g", "t", 2); code != 0 || off != -1 {
			t.Fatalf("after reload, t-2 (producer 3 aborted) = %d, %s; want -1, NONE", off, codeName(code))
		}

		// The marker reaches the new shard.
		if err := c.CompleteTransaction(ctx, 0, 1, 0, 0, true); err != nil {
			t.Fatalf("CompleteTransaction(producer 1, commit) after reload = %v", err)
		}
		if off, code := c.fetchStable(t, "g", "t", 0); code != 0 || off != 10 {
			t.Fatalf("t-0 after producer 1's commit = %d, %s; want 10, NONE", off, codeName(code))
		}
	})
}

func TestCompleteTransactionErrors(t *testing.T) {
	bubble(t, func(t *testing.T) {
		log := &memLog{}
		c := startCoordinator(t, testConfig(t), log)
		ctx := context.Background()
		wantCode(t, "TxnOffsetCommit", c.txnOffsetCommit(t, simpleTxn("g", 1, "t", 0, 10)), nil)
		if err := c.CompleteTransaction(ctx, 0, 1, 0, 5, false); err != nil {
			t.Fatalf("CompleteTransaction(coordinator epoch 5) = %v", err)
		}
		wantCode(t, "TxnOffsetCommit again", c.txnOffsetCommit(t, simpleTxn("g", 1, "t", 0, 11)), nil)

		err := c.CompleteTransaction(ctx, 0, 1, 0, 4, true)
		if !errors.Is(err, storage.ErrCoordinatorFenced) {
			t.Fatalf("CompleteTransaction(coordinator epoch 4 after 5) = %v, want ErrCoordinatorFenced", err)
		}
		if _, code := c.fetchStable(t, "g", "t", 0); code != kerr.UnstableOffsetCommit.Code {
			t.Fatalf("after a fenced marker t-0 = %s, want still UNSTABLE_OFFSET_COMMIT", codeName(code))
		}
		err = c.CompleteTransaction(ctx, 0, 1, -1, 5, true)
		if !errors.Is(err, storage.ErrProducerFenced) {
			t.Fatalf("CompleteTransaction(producer epoch -1 after 0) = %v, want ErrProducerFenced", err)
		}

		if err := c.CompleteTransaction(ctx, 7, 1, 0, 5, true); !errors.Is(err, ErrNotCoordinator) {
			t.Fatalf("CompleteTransaction(partition 7, not hosted) = %v, want ErrNotCoordinator", err)
		}
		loading := &memLog{replayGate: make(chan struct{})}
		c.Load(0, 1, loading)
		synctest.Wait()
		if err := c.CompleteTransaction(ctx, 0, 1, 0, 5, true); !errors.Is(err, ErrLoadInProgress) {
			t.Fatalf("CompleteTransaction while loading = %v, want ErrLoadInProgress", err)
		}
		close(loading.replayGate)
		synctest.Wait()
	})
}

func TestPendingTxnOffsetsAndGroupDeletion(t *testing.T) {
	bubble(t, func(t *testing.T) {
		c := startCoordinator(t, testConfig(t), &memLog{})
		wantCode(t, "TxnOffsetCommit", c.txnOffsetCommit(t, simpleTxn("g", 1, "t", 0, 10)), nil)
		req := kmsg.NewPtrDeleteGroupsRequest()
		req.Version = 2
		req.Groups = []string{"g"}
		resp := c.DeleteGroups(context.Background(), req)
		wantCode(t, "DeleteGroups", resp.Groups[0].ErrorCode, nil)
		if err := c.CompleteTransaction(context.Background(), 0, 1, 0, 0, true); err != nil {
			t.Fatalf("CompleteTransaction(commit) = %v", err)
		}
		if got := c.fetch(t, "g", "t", 0); got != -1 {
			t.Fatalf("OffsetFetch after the group was deleted and the transaction committed = %d, want -1 (its tombstone dropped it)", got)
		}
	})
}

func TestPendingTxnOffsetsDoNotExpire(t *testing.T) {
	bubble(t, func(t *testing.T) {
		cfg := testConfig(t)
		cfg.OffsetsRetention = time.Hour
		cfg.OffsetsRetentionCheckInterval = time.Minute
		c := startCoordinator(t, cfg, &memLog{})
		wantCode(t, "standalone commit", c.commit("solo", "", -1, "t", 0, 1), nil)
		wantCode(t, "TxnOffsetCommit", c.txnOffsetCommit(t, simpleTxn("solo", 1, "t", 0, 2)), nil)

		advance(2 * time.Hour)
		if got := c.fetch(t, "solo", "t", 0); got != 1 {
			t.Fatalf("offset with a pending transactional one, after retention = %d, want 1 (kept)", got)
		}
		if err := c.CompleteTransaction(context.Background(), 0, 1, 0, 0, true); err != nil {
			t.Fatalf("CompleteTransaction(commit) = %v", err)
		}
		if got := c.fetch(t, "solo", "t", 0); got != 2 {
			t.Fatalf("offset after the commit marker = %d, want 2", got)
		}
		advance(2 * time.Hour)
		if got := c.fetch(t, "solo", "t", 0); got != -1 {
			t.Fatalf("offset once nothing is pending, after retention = %d, want expired (-1)", got)
		}
	})
}
