//go:build failpoints

package node

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strata-io/strata/internal/failpoint"
)

func enableFailpoint(t *testing.T, name failpoint.Name, spec string) {
	t.Helper()
	restore, err := failpoint.Enable(name, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(restore)
}

// TestFailpointDuplicateOnRetry: the broker drops the answer to a produce
// once (produce-drop-response=1*return) and the idempotent client retries.
// A correct broker deduplicates the retry; with duplicate-on-retry the
// consumer sees the record twice.
func TestFailpointDuplicateOnRetry(t *testing.T) {
	tn := startNode(t, withAutoCreate(false))
	for _, broken := range []bool{false, true} {
		topic := "dup-correct"
		if broken {
			topic = "dup-broken"
			enableFailpoint(t, failpoint.DuplicateOnRetry, "return")
		}
		tn.createTopic(topic, 1, nil)
		before := failpoint.Hits(failpoint.ProduceDropResponse)
		enableFailpoint(t, failpoint.ProduceDropResponse, "1*return")
		cl := tn.client(kgo.RecordRetries(10), kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }))
		ctx := ctxTimeout(t, 60*time.Second)
		for _, v := range []string{"a", "b"} {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatalf("produce %q: %v", v, err)
			}
		}
		cl.Close()
		if n := failpoint.Hits(failpoint.ProduceDropResponse) - before; n != 1 {
			t.Fatalf("produce-drop-response fired %d times, want 1", n)
		}
		want := []string{"a", "b"}
		if broken {
			want = []string{"a", "a", "b"}
		}
		var got []string
		for _, r := range consumeAll(t, tn, topic, len(want)) {
			got = append(got, string(r.Value))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s: consumed %q, want %q", topic, got, want)
		}
	}
}

// TestFailpointReadCommittedIgnoresAborts: a read_committed consumer skips
// an aborted transaction's records; with read-committed-ignores-aborts the
// client delivers them.
func TestFailpointReadCommittedIgnoresAborts(t *testing.T) {
	tn := startNode(t, withAutoCreate(false), withTxnPartitions(1))
	tn.createTopic("rc", 1, nil)
	p := tn.client(kgo.TransactionalID("fp-app"))
	produceTxn(t, p, "rc", 1, []string{"aborted"}, false)
	produceTxn(t, p, "rc", 1, []string{"committed"}, true)
	p.Close()
	got := valuesOf(t, tn.addr, "rc", 1, kgo.ReadCommitted())
	if want := []string{"committed"}; !slices.Equal(got[0], want) {
		t.Fatalf("read_committed = %q, want %q", got[0], want)
	}
	enableFailpoint(t, failpoint.ReadCommittedIgnoresAborts, "return")
	got = valuesOf(t, tn.addr, "rc", 2, kgo.ReadCommitted())
	if want := []string{"aborted", "committed"}; !slices.Equal(got[0], want) {
		t.Fatalf("read_committed with the failpoint = %q, want %q (the aborted read)", got[0], want)
	}
}

// TestFailpointFetchSkipBatch: with fetch-skip-batch=1*return a consumer's
// first fetch skips the batch at its fetch offset, and the consumer moves
// past it: it never sees that record (poll skip).
func TestFailpointFetchSkipBatch(t *testing.T) {
	tn := startNode(t, withAutoCreate(false))
	tn.createTopic("skip", 1, nil)
	cl := tn.client()
	ctx := ctxTimeout(t, 30*time.Second)
	for _, v := range []string{"a", "b", "c"} { // one batch each
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "skip", Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cl.Close()
	if got := valuesOf(t, tn.addr, "skip", 3, kgo.ReadUncommitted()); !slices.Equal(got[0], []string{"a", "b", "c"}) {
		t.Fatalf("without the failpoint consumed %q", got[0])
	}
	enableFailpoint(t, failpoint.FetchSkipBatch, "1*return")
	if got := valuesOf(t, tn.addr, "skip", 2, kgo.ReadUncommitted()); !slices.Equal(got[0], []string{"b", "c"}) {
		t.Fatalf("with fetch-skip-batch consumed %q, want [b c]: record a skipped", got[0])
	}
}
