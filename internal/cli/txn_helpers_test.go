package cli_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// txnBootstrapEnv names a running broker that serves transactions. When it
// is set, the transaction tests (consume --isolation, txn list/describe,
// bench --transactional) run against it instead of an in-process kfake
// cluster, so the same test bodies check a strata node once issue 10's
// APIs land:
//
//	STRATATEST_TXN_BOOTSTRAP=127.0.0.1:9092 go test -run 'Txn|Isolation|Transactional' ./internal/cli
//
// Tests then use topic and transactional ids unique to the run and assert
// only on what they created.
const txnBootstrapEnv = "STRATATEST_TXN_BOOTSTRAP"

// txnCluster returns the bootstrap list of a cluster with transactions.
func txnCluster(t *testing.T) string {
	t.Helper()
	if bs := os.Getenv(txnBootstrapEnv); bs != "" {
		return bs
	}
	return fakeCluster(t)
}

var uniqueSeq atomic.Int64

// unique returns name with a suffix unique to this process and run, so tests
// sharing a real broker do not see each other's topics or transactions.
func unique(name string) string {
	return fmt.Sprintf("%s-%d-%d", name, time.Now().UnixNano()%1e9, uniqueSeq.Add(1))
}

// txnProducer is a transactional kgo client for tests.
type txnProducer struct {
	t  *testing.T
	cl *kgo.Client
}

// newTxnProducer starts a transactional producer with id txnID writing to
// partition 0 of whatever topic its records name. It is closed at cleanup,
// aborting a transaction left open.
func newTxnProducer(t *testing.T, bootstrap, txnID string) *txnProducer {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(bootstrap, ",")...),
		kgo.TransactionalID(txnID),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	)
	if err != nil {
		t.Fatalf("kgo.NewClient(TransactionalID %s): %v", txnID, err)
	}
	p := &txnProducer{t: t, cl: cl}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// EndTransaction does nothing when no transaction is open.
		_ = cl.AbortBufferedRecords(ctx)
		_ = cl.EndTransaction(ctx, kgo.TryAbort)
		cl.Close()
	})
	return p
}

// begin starts a transaction and writes values to topic's partition 0,
// waiting for each to be acknowledged; the transaction stays open.
func (p *txnProducer) begin(topic string, values ...string) {
	p.t.Helper()
	if err := p.cl.BeginTransaction(); err != nil {
		p.t.Fatalf("BeginTransaction: %v", err)
	}
	ctx, cancel := context.WithTimeout(p.t.Context(), 30*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for _, v := range values {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: 0, Value: []byte(v)})
	}
	if err := p.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		p.t.Fatalf("ProduceSync in a transaction to %s: %v", topic, err)
	}
}

// end commits or aborts the open transaction.
func (p *txnProducer) end(commit bool) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.t.Context(), 30*time.Second)
	defer cancel()
	if err := p.cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		p.t.Fatalf("EndTransaction(commit %v): %v", commit, err)
	}
}

// transact writes values in one transaction and commits or aborts it.
func (p *txnProducer) transact(commit bool, topic string, values ...string) {
	p.t.Helper()
	p.begin(topic, values...)
	p.end(commit)
}
