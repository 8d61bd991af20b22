//go:build failpoints

package txn

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/failpoint"
)

// TestFailpointTxnMarkers: txn-before-markers=1*return keeps a commit's
// markers from being sent, txn-after-markers=1*return keeps the sent
// markers' completion from being logged; either way the transaction stays
// PrepareCommit until the coordinator reloads (moves), which completes it.
func TestFailpointTxnMarkers(t *testing.T) {
	for _, tc := range []struct {
		name    failpoint.Name
		markers int // sent while the failpoint holds the transaction
	}{{failpoint.TxnBeforeMarkers, 0}, {failpoint.TxnAfterMarkers, 1}} {
		t.Run(string(tc.name), func(t *testing.T) {
			h := newHarness(t, nil)
			ctx := context.Background()
			pe := h.mustInit("app")
			if err := h.c.AddPartitions(ctx, "app", pe, []Partition{pa}); err != nil {
				t.Fatal(err)
			}
			before := failpoint.Hits(tc.name)
			restore, err := failpoint.Enable(tc.name, "1*return")
			if err != nil {
				t.Fatal(err)
			}
			defer restore()
			if err := h.c.EndTxn(ctx, "app", pe, true); err != nil {
				t.Fatalf("EndTxn(commit): %v", err)
			}
			h.eventually("the failpoint to fire", func() bool { return failpoint.Hits(tc.name) > before })
			time.Sleep(100 * time.Millisecond) // what would follow without the failpoint takes a few ms
			if got := h.state("app"); got != kmsg.TransactionStatePrepareCommit {
				t.Fatalf("state = %s, want PrepareCommit (held by %s)", got, tc.name)
			}
			if got := len(h.sender.markers()); got != tc.markers {
				t.Fatalf("markers sent = %d, want %d", got, tc.markers)
			}
			h.load() // the coordinator moves: the new one sends the markers again
			h.eventually("CompleteCommit after the reload", func() bool { return h.state("app") == kmsg.TransactionStateCompleteCommit })
		})
	}
}
